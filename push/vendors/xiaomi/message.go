package xiaomi

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// The MiPush limits checked or applied before sending (docs/vendors.md, Xiaomi).
const (
	// maxTitle and maxDescription are the longest title (< 50) and description
	// (< 128) MiPush takes, in characters. Longer ones are cut, ending in "…":
	// a long chat message still gets its notification.
	maxTitle       = 49
	maxDescription = 127
	// maxPayload is the most bytes of payload sent. UNCONFIRMED: 4 KB is the
	// limit commonly quoted for a MiPush message; a larger payload is refused
	// here rather than cut, since the app parses it.
	maxPayload = 4096
	// maxTTL is the longest time_to_live MiPush keeps a message: 2 weeks.
	maxTTL = 14 * 24 * time.Hour
	// notifyTypeDefaults (-1) asks for every default effect: sound, vibration, lights.
	notifyTypeDefaults = "-1"
	// defaultSound names the device's default sound: no extra.sound_uri is sent for it.
	defaultSound = "default"
)

// reservedExtras are extra.* keys MiPush interprets itself (docs/vendors.md, Xiaomi). A
// Data key with one of these names would silently change the notification
// (its channel, its sound, what a tap opens), so it is refused. Keys starting
// with "callback." are refused as well.
var reservedExtras = []string{
	"channel_id", "sound_uri", "badge", "notify_effect", "intent_uri", "web_uri", "notify_foreground", "callback",
}

// buildForm builds the /v3/message/regid form for n and returns the target
// registration ids with it. now is the clock that turns Expiration into
// time_to_live.
//
// Mapping: Title → title, Body → description, Payload → payload, Passthrough →
// pass_through, CollapseID (else ID) → notify_id, Expiration → time_to_live,
// ChannelID (else Options.ChannelID) → extra.channel_id, Sound →
// extra.sound_uri, BadgeAdd → extra.badge (the launcher adds up the numbers of
// the notifications shown, so a push gives its own, not the total), Data[k] → extra.k. MiPush has no
// field for Priority, Category, Importance or Classification: its private
// channel (extra.channel_id) is how a message is classified.
func (c *Client) buildForm(n *push.Notification, now time.Time) ([]string, url.Values, error) {
	tokens, err := targets(n)
	if err != nil {
		return nil, nil, err
	}
	form := url.Values{}
	form.Set("registration_id", strings.Join(tokens, ","))
	form.Set("restricted_package_name", c.packageName)

	title := vendorhttp.CutChars(n.Title, maxTitle)
	description := vendorhttp.CutChars(n.Body, maxDescription)
	if n.Passthrough {
		form.Set("pass_through", "1")
	} else {
		// A notification needs both texts: MiPush refuses an empty or blank
		// title or description on one (21305).
		if isBlank(title) {
			return nil, nil, errors.New("MissingTitle: a MiPush notification needs a title (or send it as Passthrough)")
		}
		if isBlank(description) {
			return nil, nil, errors.New("MissingDescription: a MiPush notification needs a body (or send it as Passthrough)")
		}
		form.Set("pass_through", "0")
		form.Set("notify_type", notifyTypeDefaults)
		if key := cmp.Or(n.CollapseID, n.ID); key != "" {
			form.Set("notify_id", strconv.Itoa(NotifyID(key)))
		}
	}
	if title != "" {
		form.Set("title", title)
	}
	if description != "" {
		form.Set("description", description)
	}
	if n.Payload != "" {
		if len(n.Payload) > maxPayload {
			return nil, nil, fmt.Errorf("PayloadTooLarge: the payload is %d bytes, MiPush takes at most %d", len(n.Payload), maxPayload)
		}
		form.Set("payload", n.Payload)
	}
	if !n.Expiration.IsZero() {
		ms, err := timeToLive(n.Expiration.Sub(now))
		if err != nil {
			return nil, nil, err
		}
		form.Set("time_to_live", strconv.FormatInt(ms, 10))
	}

	if channel := cmp.Or(n.ChannelID, c.channelID); channel != "" {
		form.Set("extra.channel_id", channel)
	}
	if n.Sound != "" && n.Sound != defaultSound && !n.Passthrough {
		form.Set("extra.sound_uri", soundURI(c.packageName, n.Sound))
	}
	if n.BadgeAdd > 0 {
		form.Set("extra.badge", strconv.Itoa(n.BadgeAdd))
	}
	for k, v := range n.Data {
		if err := checkExtraKey(k); err != nil {
			return nil, nil, err
		}
		form.Set("extra."+k, v)
	}
	return tokens, form, nil
}

// targets returns the registration ids of n: n.Token, or n.Tokens for a batch.
func targets(n *push.Notification) ([]string, error) {
	tokens, err := n.Targets(MaxBatch)
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		if t == "" || strings.ContainsFunc(t, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			return nil, fmt.Errorf("BadToken: registration id %q is empty or holds a comma or a space", t)
		}
	}
	return tokens, nil
}

// NotifyID is the notify_id sent for a collapse key: the FNV-1a hash of key,
// folded into 1..2^31-1 (MiPush takes a non-negative int32). The same key always
// gives the same id, so a push duplicated after a crash replaces the first one's
// notification instead of showing twice.
func NotifyID(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	id := int(h.Sum32() & 0x7fffffff)
	if id == 0 {
		id = 1
	}
	return id
}

// timeToLive turns how long a message may wait into time_to_live milliseconds,
// rounded up and capped at maxTTL. A message already expired is refused: there
// is nothing left to deliver.
func timeToLive(d time.Duration) (int64, error) {
	if d <= 0 {
		return 0, fmt.Errorf("Expired: the notification expired %v ago", -d.Round(time.Millisecond))
	}
	d = min(d, maxTTL)
	return int64((d + time.Millisecond - 1) / time.Millisecond), nil
}

// soundURI turns a sound name into the extra.sound_uri MiPush plays: a raw
// resource of the app, named without its extension. A value that already is a
// URI is kept.
func soundURI(packageName, sound string) string {
	if strings.Contains(sound, "://") {
		return sound
	}
	name := strings.TrimSuffix(sound, path.Ext(sound))
	return "android.resource://" + packageName + "/raw/" + name
}

// checkExtraKey refuses a Data key that cannot travel as extra.<key>.
func checkExtraKey(k string) error {
	if k == "" {
		return errors.New("BadDataKey: a Data key is empty")
	}
	if slices.Contains(reservedExtras, k) || strings.HasPrefix(k, "callback.") {
		return fmt.Errorf("ReservedDataKey: extra.%s is a MiPush setting, not app data", k)
	}
	return nil
}

func isBlank(s string) bool {
	return strings.TrimFunc(s, unicode.IsSpace) == ""
}
