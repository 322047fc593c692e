package fcm

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

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
// Expiration into android.ttl. Empty fields are left out: FCM rejects some
// empty objects, and absent is what "not set" means to it.
//
// The body is appended rather than marshalled from structs and maps (a send's
// largest cost outside HTTP/2), but it is byte for byte what json.Marshal
// gives for the same message: fields in their fixed order, map keys sorted,
// strings escaped as encoding/json escapes them. A fuzz target holds the two
// to that.
func messageBody(n *push.Notification, now time.Time) ([]byte, error) {
	if n.Token == "" {
		return nil, errors.New("MissingToken: the notification has no Token")
	}
	var keysBuf [16]string
	keys := keysBuf[:0]
	size := 256 + len(n.Token) + len(n.Title) + len(n.Body) + len(n.Payload) + len(n.CollapseID) + len(n.ChannelID) + len(n.Sound)
	// A pass-through push is a data message: no notification block, so the
	// app handles it itself, and its title and body reach the app as the data
	// keys "title" and "body" (they win over data keys of those names, as
	// "payload" does).
	fixed := dataFixed(n)
	for k, v := range n.Data {
		if err := checkDataKey(k); err != nil {
			return nil, err
		}
		if !fixed(k) {
			keys = append(keys, k)
			size += len(k) + len(v) + 6
		}
	}
	for _, k := range []string{"body", "payload", "title"} {
		if fixed(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)

	b := make([]byte, 0, size)
	b = append(b, `{"message":{"token":`...)
	b = vendorhttp.AppendJSONString(b, n.Token)
	alert := !n.Passthrough && (n.Title != "" || n.Body != "")
	if alert {
		b = append(b, `,"notification":{`...)
		if n.Title != "" {
			b = append(b, `"title":`...)
			b = vendorhttp.AppendJSONString(b, n.Title)
			if n.Body != "" {
				b = append(b, ',')
			}
		}
		if n.Body != "" {
			b = append(b, `"body":`...)
			b = vendorhttp.AppendJSONString(b, n.Body)
		}
		b = append(b, '}')
	}
	if len(keys) > 0 {
		b = append(b, `,"data":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = vendorhttp.AppendJSONString(b, k)
			b = append(b, ':')
			b = vendorhttp.AppendJSONString(b, dataValue(n, fixed, k))
		}
		b = append(b, '}')
	}

	// High and medium (and unset) are HIGH: an IM message should wake the
	// device; low is NORMAL, which Android may batch.
	b = append(b, `,"android":{"priority":`...)
	if n.Priority == push.PriorityLow {
		b = append(b, `"NORMAL"`...)
	} else {
		b = append(b, `"HIGH"`...)
	}
	if !n.Expiration.IsZero() {
		b = append(b, `,"ttl":`...)
		b = vendorhttp.AppendJSONString(b, vendorhttp.TTL(n.Expiration.Sub(now), maxTTL))
	}
	if n.CollapseID != "" {
		b = append(b, `,"collapse_key":`...)
		b = vendorhttp.AppendJSONString(b, n.CollapseID)
	}
	// Android display settings only with a notification: on a data-only
	// message they would turn it into a displayed one the app never handles.
	if alert && (n.ChannelID != "" || n.Sound != "" || n.Badge > 0) {
		b = append(b, `,"notification":{`...)
		first := true
		field := func(name string) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, name...)
		}
		if n.ChannelID != "" {
			field(`"channel_id":`)
			b = vendorhttp.AppendJSONString(b, n.ChannelID)
		}
		if n.Sound != "" {
			field(`"sound":`)
			b = vendorhttp.AppendJSONString(b, n.Sound)
		}
		if n.Badge != 0 {
			field(`"notification_count":`)
			b = strconv.AppendInt(b, int64(n.Badge), 10)
		}
		b = append(b, '}')
	}
	b = append(b, '}')
	b = appendAPNs(b, n, alert)
	return append(b, "}}"...), nil
}

// dataFixed reports which data keys n's own fields set: "payload" when it has
// one, and a pass-through push's "title" and "body".
func dataFixed(n *push.Notification) func(k string) bool {
	return func(k string) bool {
		switch k {
		case "payload":
			return n.Payload != ""
		case "title":
			return n.Passthrough && n.Title != ""
		case "body":
			return n.Passthrough && n.Body != ""
		}
		return false
	}
}

// dataValue is the value of data key k.
func dataValue(n *push.Notification, fixed func(string) bool, k string) string {
	if fixed(k) {
		switch k {
		case "payload":
			return n.Payload
		case "title":
			return n.Title
		case "body":
			return n.Body
		}
	}
	return n.Data[k]
}

// appendAPNs appends the apns override for iOS devices reached through FCM
// (its headers sorted by name), or nothing when it would be empty. A
// pass-through push is an APNs background push there: content-available,
// push type background and priority 5, no alert, sound or badge (Apple's rule).
func appendAPNs(b []byte, n *push.Notification, alert bool) []byte {
	priority, pushType := "", ""
	switch {
	case n.Passthrough:
		priority, pushType = "5", "background"
	case n.Priority == push.PriorityLow:
		priority = "5"
	case alert:
		// 10 only on an alert: Apple refuses 10 on a background (data-only) push.
		priority = "10"
	}
	badge := max(n.Badge, 0)
	sound := n.Sound
	if alert && sound == "" {
		sound = "default" // as the APNs client does: iOS alerts are silent without one
	}
	if n.Passthrough {
		badge, sound = 0, ""
	}
	headers := priority != "" || n.CollapseID != "" || !n.Expiration.IsZero()
	payload := badge != 0 || sound != "" || n.Passthrough
	if !headers && !payload {
		return b
	}
	b = append(b, `,"apns":{`...)
	if headers {
		b = append(b, `"headers":{`...)
		sep := ""
		if n.CollapseID != "" {
			b = append(b, `"apns-collapse-id":`...)
			b = vendorhttp.AppendJSONString(b, vendorhttp.CutBytes(n.CollapseID, maxAPNsCollapseID))
			sep = ","
		}
		if !n.Expiration.IsZero() {
			b = append(b, sep+`"apns-expiration":"`...)
			b = strconv.AppendInt(b, max(n.Expiration.Unix(), 0), 10)
			b = append(b, '"')
			sep = ","
		}
		if priority != "" {
			b = append(b, sep+`"apns-priority":"`+priority+`"`...)
		}
		if pushType != "" {
			b = append(b, `,"apns-push-type":"`+pushType+`"`...)
		}
		b = append(b, '}')
		if payload {
			b = append(b, ',')
		}
	}
	if payload {
		b = append(b, `"payload":{"aps":{`...)
		if n.Passthrough {
			b = append(b, `"content-available":1`...)
		}
		if badge != 0 {
			b = append(b, `"badge":`...)
			b = strconv.AppendInt(b, int64(badge), 10)
			if sound != "" {
				b = append(b, ',')
			}
		}
		if sound != "" {
			b = append(b, `"sound":`...)
			b = vendorhttp.AppendJSONString(b, sound)
		}
		b = append(b, "}}"...)
	}
	return append(b, '}')
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
