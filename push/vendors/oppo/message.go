package oppo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Notification limits and fixed values (docs/vendors.md, OPPO).
const (
	// maxTitle and maxContent are in characters, as OPPO counts them (a Chinese
	// character or an emoji is one). Older docs give 32 for the title.
	maxTitle   = 50
	maxContent = 200
	// maxActionParameters is the limit of action_parameters ("4K characters"),
	// counted here in bytes, which is never less.
	maxActionParameters = 4096
	// maxOfflineTTL is the longest off_line_ttl OPPO keeps a message for.
	maxOfflineTTL = 3 * 24 * time.Hour
	// defaultOfflineTTL is sent when a Notification has no Expiration. OPPO's
	// own default is short (an hour in one client's notes, UNCONFIRMED); an IM
	// push should outlive a phone's night offline, so the maximum is sent.
	defaultOfflineTTL = maxOfflineTTL
	// maxTargets is the most regIds one broadcast takes.
	maxTargets = 1000

	// targetRegID is target_type 2: the target is a registration_id.
	targetRegID = 2
	// clickLaunchApp is click_action_type 0: a tap opens the app.
	clickLaunchApp = 0
	// payloadKey is the action_parameters key carrying Notification.Payload.
	payloadKey = "payload"
)

// The notify_level values OPPO's new classification takes with a category
// (docs/vendors.md, OPPO: the value list is UNCONFIRMED).
const (
	// NotifyLevelBar shows the notification in the notification bar only.
	NotifyLevelBar = 1
	// NotifyLevelLockScreen adds the lock screen; it is the default.
	NotifyLevelLockScreen = 2
	// NotifyLevelBanner adds a heads-up banner, vibration and ringtone; OPPO
	// grants it to approved IM and call categories only.
	NotifyLevelBanner = 16

	// DefaultNotifyLevel is sent with a category when Options.NotifyLevel is 0.
	DefaultNotifyLevel = NotifyLevelLockScreen
)

// notifyLevels lists the valid notify_level values.
var notifyLevels = []int{NotifyLevelBar, NotifyLevelLockScreen, NotifyLevelBanner}

// importanceLevels maps Notification.Importance to a notify_level; an
// importance not listed leaves the provider's NotifyLevel.
var importanceLevels = map[string]int{
	"LOW":    NotifyLevelBar,
	"NORMAL": NotifyLevelLockScreen,
	"HIGH":   NotifyLevelBanner,
}

// notification is OPPO's notification-bar message body: the "notification"
// object of a unicast message, or the form fields of save_message_content.
type notification struct {
	Title            string `json:"title"`
	Content          string `json:"content"`
	ClickActionType  int    `json:"click_action_type"`
	ActionParameters string `json:"action_parameters,omitempty"`
	OffLine          bool   `json:"off_line"`
	OffLineTTL       int    `json:"off_line_ttl,omitempty"`
	ChannelID        string `json:"channel_id,omitempty"`
	Category         string `json:"category,omitempty"`
	NotifyLevel      int    `json:"notify_level,omitempty"`
	AppMessageID     string `json:"app_message_id,omitempty"`
}

// unicastMessage is the "message" form field of a unicast.
type unicastMessage struct {
	TargetType   int          `json:"target_type"`
	TargetValue  string       `json:"target_value"`
	Notification notification `json:"notification"`
}

// defaults are the provider config's classification, applied when a
// Notification leaves a field empty.
type defaults struct {
	channelID   string
	category    string
	notifyLevel int
}

// buildNotification maps n to OPPO's notification. now turns Expiration into
// off_line_ttl. An error names what OPPO would refuse.
func buildNotification(n *push.Notification, d defaults, now time.Time) (notification, error) {
	if n.Passthrough {
		return notification{}, errors.New("PassthroughUnsupported: OPPO Push sends notification-bar messages only")
	}
	if strings.TrimSpace(n.Title) == "" {
		return notification{}, errors.New("MissingTitle: OPPO requires a notification title")
	}
	if strings.TrimSpace(n.Body) == "" {
		return notification{}, errors.New("MissingContent: OPPO requires notification content")
	}
	params, err := actionParameters(n)
	if err != nil {
		return notification{}, err
	}
	nt := notification{
		Title:            vendorhttp.CutChars(n.Title, maxTitle),
		Content:          vendorhttp.CutChars(n.Body, maxContent),
		ClickActionType:  clickLaunchApp,
		ActionParameters: params,
		OffLine:          true,
		ChannelID:        firstNonEmpty(n.ChannelID, d.channelID),
		Category:         firstNonEmpty(n.Category, d.category),
		AppMessageID:     appMessageID(n),
	}
	ttl := defaultOfflineTTL
	if !n.Expiration.IsZero() {
		ttl = min(n.Expiration.Sub(now), maxOfflineTTL)
	}
	if secs := int(math.Ceil(ttl.Seconds())); secs > 0 {
		nt.OffLineTTL = secs
	} else {
		// Already expired: deliver to a connected device or not at all.
		nt.OffLine = false
	}
	if nt.Category != "" {
		nt.NotifyLevel = d.notifyLevel
		if lvl, ok := importanceLevels[strings.ToUpper(n.Importance)]; ok {
			nt.NotifyLevel = lvl
		}
	}
	return nt, nil
}

// actionParameters is the JSON object handed to the app when the notification
// is tapped: Data's keys and, under "payload", the app's Payload.
func actionParameters(n *push.Notification) (string, error) {
	if len(n.Data) == 0 && n.Payload == "" {
		return "", nil
	}
	m := make(map[string]string, len(n.Data)+1)
	for k, v := range n.Data {
		m[k] = v
	}
	if n.Payload != "" {
		m[payloadKey] = n.Payload
	}
	b, err := json.Marshal(m)
	if err != nil { // a map of strings always marshals
		return "", err
	}
	if len(b) > maxActionParameters {
		return "", fmt.Errorf("PayloadTooLarge: action_parameters (payload and data) is %d bytes; OPPO takes %d", len(b), maxActionParameters)
	}
	return string(b), nil
}

// appMessageID is OPPO's dedupe id: OPPO pushes a unicast with an id it has
// seen to the same target only once, and saves a broadcast body once. It is
// the push's ID, identical on every retry, plus a short hash of its
// CollapseID (the message id): the outbox ID starts again from 1 when a data
// directory is wiped, and a reused ID must not make OPPO drop a new message.
func appMessageID(n *push.Notification) string {
	if n.ID == "" {
		return ""
	}
	if n.CollapseID == "" {
		return n.ID
	}
	sum := sha256.Sum256([]byte(n.App + "\x00" + n.CollapseID))
	return n.ID + "-" + hex.EncodeToString(sum[:4])
}

// unicastForm is the form of a unicast to token, without auth_token.
func unicastForm(token string, nt notification) (url.Values, error) {
	msg, err := json.Marshal(unicastMessage{TargetType: targetRegID, TargetValue: token, Notification: nt})
	if err != nil {
		return nil, err
	}
	return url.Values{"message": {string(msg)}}, nil
}

// saveForm is the form of save_message_content: the notification's fields as
// form parameters, without auth_token.
func saveForm(nt notification) url.Values {
	f := url.Values{}
	f.Set("title", nt.Title)
	f.Set("content", nt.Content)
	f.Set("click_action_type", strconv.Itoa(nt.ClickActionType))
	if nt.ActionParameters != "" {
		f.Set("action_parameters", nt.ActionParameters)
	}
	f.Set("off_line", strconv.FormatBool(nt.OffLine))
	if nt.OffLineTTL > 0 {
		f.Set("off_line_ttl", strconv.Itoa(nt.OffLineTTL))
	}
	if nt.ChannelID != "" {
		f.Set("channel_id", nt.ChannelID)
	}
	if nt.Category != "" {
		f.Set("category", nt.Category)
	}
	if nt.NotifyLevel != 0 {
		f.Set("notify_level", strconv.Itoa(nt.NotifyLevel))
	}
	if nt.AppMessageID != "" {
		f.Set("app_message_id", nt.AppMessageID)
	}
	return f
}

// broadcastForm is the form of a broadcast of a saved message to tokens,
// without auth_token.
func broadcastForm(messageID string, tokens []string) url.Values {
	return url.Values{
		"message_id":   {messageID},
		"target_type":  {strconv.Itoa(targetRegID)},
		"target_value": {strings.Join(tokens, ";")},
	}
}

// checkTokens refuses tokens OPPO's list cannot carry (push.Notification.Targets
// has checked their number).
func checkTokens(tokens []string) error {
	for i, t := range tokens {
		if strings.TrimSpace(t) == "" || strings.ContainsAny(t, ";,") {
			return fmt.Errorf("InvalidToken: Tokens[%d] %q is empty or holds a list separator", i, t)
		}
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
