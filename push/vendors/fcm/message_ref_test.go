package fcm

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// The structs and json.Marshal that built the messages:send body before it
// was appended (message.go), kept as the oracle of FuzzMessageBodyMatchesJSON.

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
	Badge            int    `json:"badge,omitempty"`
	ContentAvailable int    `json:"content-available,omitempty"`
	Sound            string `json:"sound,omitempty"`
}

// messageBody builds the messages:send JSON for n. now is the clock that turns
// Expiration into android.ttl.
func messageBodyRef(n *push.Notification, now time.Time) ([]byte, error) {
	if n.Token == "" {
		return nil, errors.New("MissingToken: the notification has no Token")
	}
	m := message{Token: n.Token}
	alert := !n.Passthrough && (n.Title != "" || n.Body != "")
	if alert {
		m.Notification = &notification{Title: n.Title, Body: n.Body}
	}
	silentText := n.Passthrough && (n.Title != "" || n.Body != "")

	if len(n.Data) > 0 || n.Payload != "" || silentText {
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
		if n.Passthrough && n.Title != "" {
			m.Data["title"] = n.Title
		}
		if n.Passthrough && n.Body != "" {
			m.Data["body"] = n.Body
		}
	}

	// High and medium (and unset) are HIGH: an IM message should wake the
	// device; low is NORMAL, which Android may batch.
	m.Android = &androidConfig{Priority: "HIGH", CollapseKey: n.CollapseID}
	if n.Priority == push.PriorityLow {
		m.Android.Priority = "NORMAL"
	}
	if !n.Expiration.IsZero() {
		m.Android.TTL = vendorhttp.TTL(n.Expiration.Sub(now), maxTTL)
	}
	// Android display settings only with a notification: on a data-only
	// message they would turn it into a displayed one the app never handles.
	if alert && (n.ChannelID != "" || n.Sound != "" || n.Badge > 0) {
		m.Android.Notification = &androidNotification{ChannelID: n.ChannelID, Sound: n.Sound, NotificationCount: n.Badge}
	}

	m.APNs = apnsBlockRef(n, alert)
	return json.Marshal(sendRequest{Message: m})
}

// apnsBlock is the apns override for iOS devices reached through FCM, or nil
// when it would be empty.
func apnsBlockRef(n *push.Notification, alert bool) *apnsConfig {
	h := map[string]string{}
	switch {
	case n.Passthrough:
		h["apns-priority"], h["apns-push-type"] = "5", "background"
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
	if n.Passthrough {
		a = aps{ContentAvailable: 1}
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

// checkBody compares messageBody with the reference for n: the same bytes,
// or both an error.
func checkBody(t *testing.T, n *push.Notification, now time.Time) {
	t.Helper()
	got, err := messageBody(n, now)
	want, wantErr := messageBodyRef(n, now)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("messageBody error %v, reference %v", err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("messageBody\n got %s\nwant %s", got, want)
	}
}

func TestMessageBodyMatchesJSON(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, n := range []*push.Notification{
		{Token: "t"},
		{Token: "t", Title: "Ada"},
		{Token: "t", Body: "hello <there> & \u2028 \xff"},
		{Token: "t", Title: "Ada", Body: "hi", Payload: `{"m":1}`, Data: map[string]string{"message_id": "m1", "payload": "lost", "b": "2", "a": "1"}},
		{Token: "t", Data: map[string]string{"payload": "kept"}},
		{Token: "t", Priority: push.PriorityLow, CollapseID: "c", Expiration: now.Add(90 * time.Minute)},
		{Token: "t", Priority: push.PriorityLow, Expiration: time.Unix(-5, 0)},
		{Token: "t", Title: "x", ChannelID: "im", Sound: "ding", Badge: 3},
		{Token: "t", Title: "x", ChannelID: "im", Badge: -2},
		{Token: "t", Body: "x", Sound: "ding"},
		{Token: "t", Badge: 4},
		{Token: "t", CollapseID: strings.Repeat("é", 40)},
		{Token: "t", Data: map[string]string{"google.x": "1"}},
		{Token: "t", Title: "Ada", Body: "hi", Passthrough: true, Badge: 2, Sound: "ding", ChannelID: "im", Data: map[string]string{"title": "lost", "a": "1"}},
		{Token: "t", Passthrough: true, CollapseID: "c", Expiration: now.Add(time.Hour)},
		{Token: "t", Body: "only", Passthrough: true, Priority: push.PriorityLow, Data: map[string]string{"title": "kept"}},
		{Token: ""},
	} {
		checkBody(t, n, now)
	}
}

func FuzzMessageBodyMatchesJSON(f *testing.F) {
	f.Add("tok", "Ada", "hello <there>", `{"m":1}`, "message_id", "m1", "c1", "im", "ding", 3, 2, int64(3600))
	f.Add("tok", "", "", "", "payload", "x", "", "", "", 0, 1, int64(0))
	f.Add("tok", "\u2028", "\xff\x00", "&", "gcm.x", "v", "\xc3", "\x7f", "<", -1, 3, int64(-10))
	f.Fuzz(func(t *testing.T, token, title, body, payload, key, value, collapse, channel, sound string, badge, priority int, ttlSeconds int64) {
		now := time.Unix(1_700_000_000, 0)
		n := &push.Notification{Token: token, Title: title, Body: body, Payload: payload, CollapseID: collapse,
			ChannelID: channel, Sound: sound, Badge: badge, Priority: push.Priority(priority),
			Data: map[string]string{key: value, "message_id": value + key}, Passthrough: priority%2 == 0}
		if ttlSeconds != 0 {
			n.Expiration = now.Add(time.Duration(ttlSeconds%(60*24*3600)) * time.Second)
		}
		checkBody(t, n, now)
	})
}

func BenchmarkMessageBody(b *testing.B) {
	now := time.Now()
	n := &push.Notification{Token: strings.Repeat("f", 152), Title: "Ada Lovelace", Body: "Are we still on for the <analytical engine> demo tomorrow?",
		Payload: `{"conversation":"c-8812"}`, CollapseID: "m-99120", Expiration: now.Add(24 * time.Hour), Badge: 1,
		Data: map[string]string{"message_id": "m-99120", "stream": "inbox", "seq": "1042", "sender": "ada"}}
	for _, f := range []struct {
		name string
		fn   func(*push.Notification, time.Time) ([]byte, error)
	}{{"appended", messageBody}, {"json", messageBodyRef}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.fn(n, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
