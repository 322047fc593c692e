package fcm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/transport/vendors/vendorhttp"
)

// sendRequest is the body of messages:send. Empty fields are left out: FCM
// rejects some empty objects, and absent is what "not set" means to it.
type sendRequest struct {
	Message message `json:"message"`
}

type message struct {
	Token        string            `json:"token"`
	Notification *notification     `json:"notification,omitempty"`
	Data         map[string]string `json:"data,omitempty"`
	Android      *androidConfig    `json:"android,omitempty"`
	APNs         *apnsConfig       `json:"apns,omitempty"`
}

type notification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

type androidConfig struct {
	Priority     string               `json:"priority"`
	TTL          string               `json:"ttl,omitempty"`
	CollapseKey  string               `json:"collapse_key,omitempty"`
	Notification *androidNotification `json:"notification,omitempty"`
}

type androidNotification struct {
	ChannelID         string `json:"channel_id,omitempty"`
	Sound             string `json:"sound,omitempty"`
	NotificationCount int    `json:"notification_count,omitempty"`
}

type apnsConfig struct {
	Headers map[string]string `json:"headers,omitempty"`
	Payload *apnsPayload      `json:"payload,omitempty"`
}

type apnsPayload struct {
	APS aps `json:"aps"`
}

type aps struct {
	Badge int    `json:"badge,omitempty"`
	Sound string `json:"sound,omitempty"`
}

// maxTTL is the longest android.ttl FCM keeps a message for: 4 weeks.
const maxTTL = 28 * 24 * time.Hour

// maxAPNsCollapseID is the longest apns-collapse-id APNs accepts, in bytes.
const maxAPNsCollapseID = 64

// reservedDataKeys are data keys FCM refuses with 400 "Invalid data payload
// key"; reservedDataPrefixes the prefixes it refuses. "from" is confirmed by
// Firebase's DataMessagePayload reference and by reports of live v1 answers;
// "message_type" and the "gcm" prefix come from the legacy API docs
// (UNCONFIRMED for v1). Sending them would fail the whole message, so they
// are refused before sending, naming the key.
var (
	reservedDataKeys     = []string{"from", "message_type"}
	reservedDataPrefixes = []string{"google", "gcm"}
)

// messageBody builds the messages:send JSON for n. now is the clock that turns
// Expiration into android.ttl.
func messageBody(n *push.Notification, now time.Time) ([]byte, error) {
	if n.Token == "" {
		return nil, errors.New("MissingToken: the notification has no Token")
	}
	m := message{Token: n.Token}
	alert := n.Title != "" || n.Body != ""
	if alert {
		m.Notification = &notification{Title: n.Title, Body: n.Body}
	}

	if len(n.Data) > 0 || n.Payload != "" {
		m.Data = make(map[string]string, len(n.Data)+1)
		for k, v := range n.Data {
			if err := checkDataKey(k); err != nil {
				return nil, err
			}
			m.Data[k] = v
		}
		if n.Payload != "" {
			m.Data["payload"] = n.Payload
		}
	}

	// High and medium (and unset) are HIGH: an IM message should wake the
	// device; low is NORMAL, which Android may batch.
	m.Android = &androidConfig{Priority: "HIGH", CollapseKey: n.CollapseID}
	if n.Priority == push.PriorityLow {
		m.Android.Priority = "NORMAL"
	}
	if !n.Expiration.IsZero() {
		m.Android.TTL = ttl(n.Expiration.Sub(now))
	}
	// Android display settings only with a notification: on a data-only
	// message they would turn it into a displayed one the app never handles.
	if alert && (n.ChannelID != "" || n.Sound != "" || n.Badge > 0) {
		m.Android.Notification = &androidNotification{ChannelID: n.ChannelID, Sound: n.Sound, NotificationCount: n.Badge}
	}

	m.APNs = apnsBlock(n, alert)
	return json.Marshal(sendRequest{Message: m})
}

// apnsBlock is the apns override for iOS devices reached through FCM, or nil
// when it would be empty.
func apnsBlock(n *push.Notification, alert bool) *apnsConfig {
	h := map[string]string{}
	switch {
	case n.Priority == push.PriorityLow:
		h["apns-priority"] = "5"
	case alert:
		// 10 only on an alert: Apple refuses 10 on a background (data-only) push.
		h["apns-priority"] = "10"
	}
	if n.CollapseID != "" {
		h["apns-collapse-id"] = vendorhttp.CutBytes(n.CollapseID, maxAPNsCollapseID)
	}
	if !n.Expiration.IsZero() {
		h["apns-expiration"] = strconv.FormatInt(max(n.Expiration.Unix(), 0), 10)
	}
	a := aps{Badge: max(n.Badge, 0), Sound: n.Sound}
	if alert && a.Sound == "" {
		a.Sound = "default" // as the APNs client does: iOS alerts are silent without one
	}
	cfg := &apnsConfig{}
	if len(h) > 0 {
		cfg.Headers = h
	}
	if a != (aps{}) {
		cfg.Payload = &apnsPayload{APS: a}
	}
	if cfg.Headers == nil && cfg.Payload == nil {
		return nil
	}
	return cfg
}

// ttl formats how long FCM should keep a message as a duration string in whole
// seconds, rounded up, between 0 (deliver now or drop) and maxTTL.
func ttl(d time.Duration) string {
	d = min(max(d, 0), maxTTL)
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10) + "s"
}

// checkDataKey refuses a data key FCM would refuse.
func checkDataKey(k string) error {
	bad := slices.Contains(reservedDataKeys, k)
	for _, p := range reservedDataPrefixes {
		bad = bad || strings.HasPrefix(k, p)
	}
	if bad {
		return fmt.Errorf("ReservedDataKey: FCM refuses the data key %q", k)
	}
	return nil
}
