package apns

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sideshow/apns2"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Payload limits. 4096 bytes is Apple's documented limit; 5120 bytes for VoIP
// pushes is UNCONFIRMED (docs/vendors.md, APNs) and kept here to be corrected in one place.
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
		CollapseID:  vendorhttp.CutBytes(n.CollapseID, maxCollapseID),
		Expiration:  n.Expiration,
	}
	switch {
	case voip:
		note.PushType = apns2.PushTypeVOIP
	case n.Passthrough:
		// A pass-through push is a background push: Apple takes one only
		// with push type background and priority 5, and wakes the app
		// without showing anything.
		note.PushType = apns2.PushTypeBackground
		note.Priority = apns2.PriorityLow
	}
	if isUUID(n.ID) {
		// apns-id must be a UUID; anything else makes APNs answer BadMessageId,
		// so other ids are left out and APNs assigns one.
		note.ApnsID = n.ID
	}
	body, err := payload(n, voip, !voip && n.Passthrough)
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
// replace "aps" or the other keys the body sets itself. A VoIP or background
// (silent) push shows nothing, so its title and body go at the top level too,
// for the app to read.
//
// The body is appended byte by byte rather than marshalled from maps, but it is
// exactly what json.Marshal gives for the equivalent map[string]any: keys sorted
// byte-wise, strings escaped as encoding/json escapes them (HTML-safe). apns2
// passes the []byte through json.Marshal again when it sends it, which only
// compacts and HTML-escapes, so these bytes, already compact and escaped, are
// the bytes checked against the limit and the bytes sent.
func payload(n *push.Notification, voip, silent bool) ([]byte, error) {
	// The fixed keys this body sets. A data key that is one of them is dropped
	// (the fixed value wins); a fixed key that is not set leaves a data key of
	// the same name in place.
	set := keyAPS
	if voip && n.VoIP != nil {
		set |= keyHandleType | keyHandleValue | keyHasVideo
	}
	if voip || silent {
		if n.Title != "" {
			set |= keyTitle
		}
		if n.Body != "" {
			set |= keyBody
		}
	}
	if n.Payload != "" {
		set |= keyPayload
	}

	var keysBuf [16]string
	keys := keysBuf[:0]
	size := 128 + len(n.Title) + len(n.Body) + len(n.Payload) + len(n.Sound) + len(n.Category)
	for k, v := range n.Data {
		if fixedKey(k)&set == 0 {
			keys = append(keys, k)
			size += len(k) + len(v) + 6
		}
	}
	for i, name := range fixedKeys {
		if set&(1<<i) != 0 {
			keys = append(keys, name)
		}
	}
	if n.VoIP != nil {
		size += len(n.VoIP.HandleValue)
	}
	// encoding/json sorts map keys with strings.Compare on the unescaped key.
	slices.Sort(keys)

	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = vendorhttp.AppendJSONString(b, k)
		b = append(b, ':')
		switch f := fixedKey(k); {
		case f&set == 0:
			b = vendorhttp.AppendJSONString(b, n.Data[k])
		case f == keyAPS && voip:
			// A VoIP push wakes the app to report a call to CallKit; it carries
			// data and no alert.
			b = append(b, "{}"...)
		case f == keyAPS && silent:
			// content-available alone: no alert, sound or badge, which
			// Apple refuses on a background push.
			b = append(b, `{"content-available":1}`...)
		case f == keyAPS:
			b = appendAPS(b, n)
		case f == keyHandleType:
			b = strconv.AppendInt(b, int64(n.VoIP.HandleType), 10)
		case f == keyHandleValue:
			b = vendorhttp.AppendJSONString(b, n.VoIP.HandleValue)
		case f == keyHasVideo:
			b = strconv.AppendBool(b, n.VoIP.HasVideo)
		case f == keyTitle:
			b = vendorhttp.AppendJSONString(b, n.Title)
		case f == keyBody:
			b = vendorhttp.AppendJSONString(b, n.Body)
		case f == keyPayload:
			b = vendorhttp.AppendJSONString(b, n.Payload)
		}
	}
	b = append(b, '}')
	return b, nil
}

// appendAPS appends the aps object of an alert push, its keys in sorted order.
func appendAPS(b []byte, n *push.Notification) []byte {
	b = append(b, '{')
	if n.Title != "" || n.Body != "" {
		b = append(b, `"alert":{`...)
		if n.Body != "" {
			b = append(b, `"body":`...)
			b = vendorhttp.AppendJSONString(b, n.Body)
			if n.Title != "" {
				b = append(b, ',')
			}
		}
		if n.Title != "" {
			b = append(b, `"title":`...)
			b = vendorhttp.AppendJSONString(b, n.Title)
		}
		b = append(b, "},"...)
	}
	if n.Badge > 0 {
		b = append(b, `"badge":`...)
		b = strconv.AppendInt(b, int64(n.Badge), 10)
		b = append(b, ',')
	}
	if n.Category != "" {
		b = append(b, `"category":`...)
		b = vendorhttp.AppendJSONString(b, n.Category)
		b = append(b, ',')
	}
	if n.Wake {
		b = append(b, `"content-available":1,`...)
	}
	b = append(b, `"mutable-content":1,"sound":`...)
	sound := n.Sound
	if sound == "" {
		sound = "default"
	}
	b = vendorhttp.AppendJSONString(b, sound)
	return append(b, '}')
}

// bodyKey is a set of the top-level keys payload sets itself.
type bodyKey uint8

// The top-level keys payload sets itself; bit i is fixedKeys[i].
const (
	keyAPS bodyKey = 1 << iota
	keyPayload
	keyHandleType
	keyHandleValue
	keyHasVideo
	keyTitle
	keyBody
)

var fixedKeys = [...]string{"aps", "payload", "handle_type", "handle_value", "has_video", "title", "body"}

// fixedKey is the bodyKey named k, 0 for a key payload never sets.
func fixedKey(k string) bodyKey {
	switch k {
	case "aps":
		return keyAPS
	case "payload":
		return keyPayload
	case "handle_type":
		return keyHandleType
	case "handle_value":
		return keyHandleValue
	case "has_video":
		return keyHasVideo
	case "title":
		return keyTitle
	case "body":
		return keyBody
	}
	return 0
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
