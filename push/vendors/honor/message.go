package honor

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// The limits a message must keep (docs/vendors.md, Honor).
const (
	// maxBody is the largest message body Honor takes, the token list left
	// out. UNCONFIRMED: Huawei's 4096 bytes, which Honor's API mirrors.
	maxBody = 4096
	// maxTTL is the longest android.ttl. UNCONFIRMED: Huawei's 15 days.
	maxTTL = 15 * 24 * time.Hour
	// clickOpenApp is clickAction.type 3: open the app.
	clickOpenApp = 3
)

// message is the sendMessage body: Honor's fields are camelCase where
// Huawei's are snake_case.
type message struct {
	Data    string   `json:"data,omitempty"`
	Android android  `json:"android"`
	Token   []string `json:"token"`
}

type android struct {
	TTL          string        `json:"ttl,omitempty"`
	BiTag        string        `json:"biTag,omitempty"`
	Notification *notification `json:"notification,omitempty"`
}

type notification struct {
	Title       string      `json:"title"`
	Body        string      `json:"body"`
	ClickAction clickAction `json:"clickAction"`
	// Importance is Honor's message class: NORMAL for service and
	// communication messages, LOW for marketing ones, which Honor caps.
	Importance string `json:"importance,omitempty"`
	Badge      *badge `json:"badge,omitempty"`
	NotifyID   int    `json:"notifyId,omitempty"`
}

type clickAction struct {
	Type int `json:"type"`
}

// badge sets the icon's badge to setNum, the absolute number (Honor takes it
// over addNum, as Huawei does).
type badge struct {
	SetNum int    `json:"setNum"`
	Class  string `json:"badgeClass"`
}

// importance is n's class at Honor: the profile's, else NORMAL for an IM or
// VOIP push (uncapped) and LOW for anything else.
func importance(n *push.Notification, category string) string {
	if n.Importance != "" {
		return n.Importance
	}
	if category == "IM" || category == "VOIP" {
		return "NORMAL"
	}
	return "LOW"
}

// messageBody is the JSON of n to tokens. A data push has no notification;
// the payload and pushd's data ride in data, one JSON object as a string.
func messageBody(n *push.Notification, tokens []string, defCategory, badgeClass string, now time.Time) ([]byte, error) {
	data := make(map[string]string, len(n.Data)+1)
	for k, v := range n.Data {
		data[k] = v
	}
	if n.Payload != "" {
		data["payload"] = n.Payload
	}
	m := message{Token: tokens, Android: android{BiTag: n.ID}}
	if len(data) > 0 {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		m.Data = string(b)
	}
	if !n.Expiration.IsZero() {
		left := n.Expiration.Sub(now)
		if left <= 0 {
			return nil, errors.New("Expired: the push's expiration has passed")
		}
		m.Android.TTL = vendorhttp.TTL(left, maxTTL)
	}
	if !n.Passthrough {
		if n.Title == "" || n.Body == "" {
			return nil, errors.New("MissingTitleOrBody: an Honor notification needs both")
		}
		category := n.Category
		if category == "" {
			category = defCategory
		}
		nt := &notification{Title: n.Title, Body: n.Body, ClickAction: clickAction{Type: clickOpenApp},
			Importance: importance(n, category)}
		if n.Badge > 0 && badgeClass != "" {
			nt.Badge = &badge{SetNum: min(n.Badge, 99), Class: badgeClass}
		}
		m.Android.Notification = nt
	}
	withoutTokens := m
	withoutTokens.Token = nil
	if b, _ := json.Marshal(withoutTokens); len(b) > maxBody {
		return nil, fmt.Errorf("PayloadTooLarge: %d bytes without the tokens; Honor takes at most %d", len(b), maxBody)
	}
	return json.Marshal(m)
}
