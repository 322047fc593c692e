package hms

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// sendRequest is the body of messages:send (docs/vendors.md, Huawei).
type sendRequest struct {
	ValidateOnly bool    `json:"validate_only"`
	Message      message `json:"message"`
}

type message struct {
	// Data is the custom payload: a JSON object as a string. With no
	// notification the message is a pass-through (data) message.
	Data    string         `json:"data,omitempty"`
	Android *androidConfig `json:"android"`
	Token   []string       `json:"token"`
}

type androidConfig struct {
	// CollapseKey -1 keeps every offline message of the app (Huawei's default);
	// 0 would keep only the latest, 1–100 one per group.
	CollapseKey  int                  `json:"collapse_key"`
	Urgency      string               `json:"urgency"`
	Category     string               `json:"category,omitempty"`
	TTL          string               `json:"ttl,omitempty"`
	BiTag        string               `json:"bi_tag,omitempty"`
	Notification *androidNotification `json:"notification,omitempty"`
}

type androidNotification struct {
	Title        string      `json:"title"`
	Body         string      `json:"body"`
	ChannelID    string      `json:"channel_id,omitempty"`
	Sound        string      `json:"sound,omitempty"`
	DefaultSound bool        `json:"default_sound,omitempty"`
	NotifyID     int         `json:"notify_id,omitempty"`
	Importance   string      `json:"importance,omitempty"`
	Badge        *badge      `json:"badge,omitempty"`
	ClickAction  clickAction `json:"click_action"`
}

// badge sets the icon's badge: set_num, the absolute number, which Huawei
// takes over add_num.
type badge struct {
	SetNum int    `json:"set_num"`
	Class  string `json:"class"`
}

type clickAction struct {
	// Type 3 opens the app's launcher activity.
	Type int `json:"type"`
}

// Huawei's message limits (docs/vendors.md, Huawei).
const (
	// maxBody is the most bytes a request body may have, its token array not
	// counted (80300008). What exactly Huawei leaves out when it measures is
	// UNCONFIRMED; this client and the simulator count the compact JSON body
	// minus the token array.
	maxBody = 4096
	// maxTTL is the longest android.ttl: 15 days.
	maxTTL = 1296000 * time.Second
	// maxBadgeSet is the largest badge.set_num.
	maxBadgeSet = 99
)

// The fixed android values this client sends.
const (
	collapseKeepAll = -1
	clickOpenApp    = 3
	urgencyHigh     = "HIGH"
	urgencyNormal   = "NORMAL"
)

// BadgeClassKey is the Notification.Data key that names the app's launcher
// activity class (e.g. "im.pushd.demo.MainActivity") for this push, over
// Options.BadgeClass. The key is not passed on in the custom data.
const BadgeClassKey = "badge_class"

// categories are the android.category values Huawei takes for
// self-classified messages (docs/vendors.md, Huawei): all but MARKETING are service and
// communication messages, which ring and are not capped.
var categories = []string{
	"IM", "VOIP", "SUBSCRIPTION", "TRAVEL", "HEALTH", "WORK", "ACCOUNT", "EXPRESS",
	"FINANCE", "DEVICE_REMINDER", "MAIL", "PLAY_VOICE", "MARKETING",
}

// importances are the android.notification.importance values (docs/vendors.md, Huawei):
// NORMAL for service and communication messages, LOW for marketing ones.
var importances = []string{"LOW", "NORMAL"}

func validCategory(c string) bool { return slices.Contains(categories, c) }

// messageBody builds the messages:send JSON for n to tokens. defCategory is
// the category when n has none; now turns Expiration into android.ttl. A body
// over Huawei's size limit is returned with the error, for the Exchange.
func messageBody(n *push.Notification, tokens []string, defCategory, badgeClass string, now time.Time) ([]byte, error) {
	category := strings.ToUpper(strings.TrimSpace(n.Category))
	if category == "" {
		category = defCategory
	}
	if category != "" && !validCategory(category) {
		return nil, fmt.Errorf("BadCategory: category %q is not one of %s", n.Category, strings.Join(categories, ", "))
	}

	a := &androidConfig{CollapseKey: collapseKeepAll, Urgency: urgencyHigh, Category: category, BiTag: n.ID}
	if n.Priority == push.PriorityLow {
		a.Urgency = urgencyNormal
	}
	if !n.Expiration.IsZero() {
		left := n.Expiration.Sub(now)
		if left <= 0 {
			return nil, fmt.Errorf("Expired: the notification expired %v ago", -left.Round(time.Second))
		}
		a.TTL = vendorhttp.TTL(left, maxTTL)
	}

	data := make(map[string]string, len(n.Data)+3)
	for k, v := range n.Data {
		if k != BadgeClassKey {
			data[k] = v
		}
	}
	if n.Payload != "" {
		data["payload"] = n.Payload
	}

	if n.Passthrough {
		// A data message shows nothing by itself: the title and body go to the
		// app with the data, unless the app's own data uses those keys.
		for k, v := range map[string]string{"title": n.Title, "body": n.Body} {
			if _, taken := data[k]; v != "" && !taken {
				data[k] = v
			}
		}
		if len(data) == 0 {
			return nil, errors.New("EmptyDataMessage: a pass-through message needs a title, body, payload or data")
		}
	} else {
		notification, err := androidNotificationFor(n, badgeClass)
		if err != nil {
			return nil, err
		}
		a.Notification = notification
	}

	m := message{Android: a, Token: tokens}
	if len(data) > 0 {
		d, err := marshalCompact(data)
		if err != nil {
			return nil, err
		}
		m.Data = string(d)
	}
	body, err := marshalCompact(sendRequest{Message: m})
	if err != nil {
		return nil, err
	}
	tokenJSON, err := marshalCompact(tokens)
	if err != nil {
		return nil, err
	}
	if size := len(body) - len(tokenJSON); size > maxBody {
		return body, fmt.Errorf("PayloadTooLarge: the message is %d bytes without its tokens; Huawei takes at most %d (80300008)", size, maxBody)
	}
	return body, nil
}

// androidNotificationFor builds the displayed notification of n.
func androidNotificationFor(n *push.Notification, badgeClass string) (*androidNotification, error) {
	if n.Title == "" || n.Body == "" {
		return nil, errors.New("MissingTitleOrBody: a Huawei notification needs both a title and a body; set Passthrough for a data message")
	}
	importance := strings.ToUpper(strings.TrimSpace(n.Importance))
	if importance != "" && !slices.Contains(importances, importance) {
		return nil, fmt.Errorf("BadImportance: importance %q is not one of %s", n.Importance, strings.Join(importances, ", "))
	}
	an := &androidNotification{
		Title:       n.Title,
		Body:        n.Body,
		ChannelID:   n.ChannelID,
		Sound:       n.Sound,
		Importance:  importance,
		ClickAction: clickAction{Type: clickOpenApp},
	}
	if n.Sound == "" {
		an.DefaultSound = true
	}
	if n.CollapseID != "" {
		an.NotifyID = notifyID(n.CollapseID)
	}
	if class := cmp.Or(n.Data[BadgeClassKey], badgeClass); n.Badge > 0 && class != "" {
		an.Badge = &badge{SetNum: min(n.Badge, maxBadgeSet), Class: class}
	}
	return an, nil
}

// notifyID derives Huawei's integer notify_id from a collapse id: the FNV-1a
// 32-bit hash with the sign bit cleared, so the same CollapseID always gives
// the same positive id and a duplicated push replaces the earlier one on the
// device. 0 (which Huawei may read as "unset") becomes 1.
func notifyID(collapseID string) int {
	h := fnv.New32a()
	h.Write([]byte(collapseID))
	id := int(h.Sum32() & math.MaxInt32)
	if id == 0 {
		id = 1
	}
	return id
}

// marshalCompact encodes v as compact JSON without HTML escaping, so that the
// size Huawei measures is the size of the text.
func marshalCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
