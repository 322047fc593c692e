package apns

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sideshow/apns2"

	"github.com/pushd-im/pushd/push"
)

// Payload limits. 4096 bytes is Apple's documented limit; 5120 bytes for VoIP
// pushes is UNCONFIRMED (vendors.md §1) and kept here to be corrected in one place.
const (
	maxPayload     = 4096
	maxVoIPPayload = 5120
)

// maxCollapseID is the longest apns-collapse-id APNs accepts, in bytes.
const maxCollapseID = 64

// payloadLimit is the largest body APNs accepts for note.
func payloadLimit(note *apns2.Notification) int {
	if note.PushType == apns2.PushTypeVOIP {
		return maxVoIPPayload
	}
	return maxPayload
}

// notification maps n to an apns2.Notification whose Payload is the JSON body
// as []byte, so that the bytes checked against the size limit, shown in the
// Exchange and sent are the same.
func (c *Client) notification(n *push.Notification) (*apns2.Notification, error) {
	if n.Token == "" {
		return nil, errors.New(apns2.ReasonMissingDeviceToken)
	}
	voip := n.PushType == string(apns2.PushTypeVOIP)
	topic := n.BundleID
	if topic == "" {
		topic = c.bundleID
	}
	switch {
	case topic == "" && (voip || c.token != nil):
		// Only a single-topic certificate lets APNs infer the topic; a token or a
		// VoIP push without one is refused as MissingTopic, so do not send it.
		return nil, errors.New(apns2.ReasonMissingTopic)
	case voip && !strings.HasSuffix(topic, ".voip"):
		topic += ".voip"
	}

	note := &apns2.Notification{
		DeviceToken: n.Token,
		Topic:       topic,
		PushType:    apns2.PushTypeAlert,
		Priority:    priority(n.Priority),
		CollapseID:  truncateUTF8(n.CollapseID, maxCollapseID),
		Expiration:  n.Expiration,
	}
	if voip {
		note.PushType = apns2.PushTypeVOIP
	}
	if isUUID(n.ID) {
		// apns-id must be a UUID; anything else makes APNs answer BadMessageId,
		// so other ids are left out and APNs assigns one.
		note.ApnsID = n.ID
	}
	body, err := payload(n, voip)
	if err != nil {
		return nil, err
	}
	note.Payload = body
	return note, nil
}

// priority maps pushd's priority to apns-priority. High and medium (and unset)
// are 10, delivered immediately: IM messages are meant to arrive now. Low is 5,
// which lets the device batch it to save power.
func priority(p push.Priority) int {
	if p == push.PriorityLow {
		return apns2.PriorityLow
	}
	return apns2.PriorityHigh
}

// payload builds the APNs JSON body. Data keys go at the top level, but cannot
// replace "aps" or the other keys the body sets itself.
func payload(n *push.Notification, voip bool) ([]byte, error) {
	body := make(map[string]any, len(n.Data)+7)
	for k, v := range n.Data {
		body[k] = v
	}
	if voip {
		// A VoIP push wakes the app to report a call to CallKit; it carries data
		// and no alert.
		body["aps"] = map[string]any{}
		if n.VoIP != nil {
			body["handle_type"] = n.VoIP.HandleType
			body["handle_value"] = n.VoIP.HandleValue
			body["has_video"] = n.VoIP.HasVideo
		}
		setIf(body, "title", n.Title)
		setIf(body, "body", n.Body)
	} else {
		aps := map[string]any{"mutable-content": 1}
		alert := map[string]any{}
		setIf(alert, "title", n.Title)
		setIf(alert, "body", n.Body)
		if len(alert) > 0 {
			aps["alert"] = alert
		}
		if n.Badge > 0 {
			aps["badge"] = n.Badge
		}
		aps["sound"] = "default"
		setIf(aps, "sound", n.Sound)
		setIf(aps, "category", n.Category)
		body["aps"] = aps
	}
	setIf(body, "payload", n.Payload)

	// json.Marshal escapes HTML as apns2 does when it marshals the notification
	// again, so the bytes checked against the limit are the bytes sent.
	return json.Marshal(body)
}

// setIf sets m[k] = v when v is not empty.
func setIf(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// truncateUTF8 cuts s to at most max bytes without splitting a character, so a
// long collapse id stays a valid header and the same input gives the same id.
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// isUUID reports whether s has the 8-4-4-4-12 hex form that apns-id requires.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if s[i] != '-' {
				return false
			}
		case !isHex(s[i]):
			return false
		}
	}
	return true
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// requestHeaders are the headers apns2 sends for note (mirroring its setHeaders),
// for an Exchange that was not sent. bearer is the JWT, "" with certificate auth.
func requestHeaders(note *apns2.Notification, bearer string) map[string]string {
	h := map[string]string{
		"content-type":   "application/json; charset=utf-8",
		"apns-push-type": string(note.PushType),
		"apns-priority":  strconv.Itoa(note.Priority),
	}
	if note.Topic != "" {
		h["apns-topic"] = note.Topic
	}
	if note.ApnsID != "" {
		h["apns-id"] = note.ApnsID
	}
	if note.CollapseID != "" {
		h["apns-collapse-id"] = note.CollapseID
	}
	if note.Expiration.After(time.Unix(0, 0)) {
		h["apns-expiration"] = strconv.FormatInt(note.Expiration.Unix(), 10)
	}
	if bearer != "" {
		h["authorization"] = "bearer " + push.MaskSecret(bearer)
	}
	return h
}
