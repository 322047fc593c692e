package vivo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// message is the body of /message/send (with RegID) and of
// /message/saveListPayload (without). How push.Notification fields map:
//
//	Title          → title, cut to 40 (a CJK character counts 2) with "…"
//	Body           → content, cut to 100 likewise
//	Payload        → clientCustomMap["payload"]
//	Data           → clientCustomMap (Payload wins a "payload" key); over 10
//	                 pairs or 1024 characters is refused before sending
//	Classification → classification (else Options.Classification, default 1)
//	Category       → category (else Options.Category)
//	Priority       → notifyType: low 1 (silent), else 4 (sound and vibration)
//	Expiration     → timeToLive, seconds, clamped to 60 s..7 d; zero: vivo's 1 d
//	ID             → requestId, with a random suffix so every request is unique
//	Passthrough    → refused: vivo's server API has no pass-through message
//
// vivo's API has no field for Badge, Sound (a notification plays the system
// sound that notifyType allows), ChannelID, Importance or CollapseID (the
// notifyId some newer docs mention is not in docs/vendors.md: UNCONFIRMED, not sent),
// so those are not sent. skipType is 1 (open the app), networkType -1 (any),
// pushMode 0 (production).
type message struct {
	AppID           int               `json:"appId"`
	RegID           string            `json:"regId,omitempty"`
	NotifyType      int               `json:"notifyType"`
	Title           string            `json:"title"`
	Content         string            `json:"content"`
	TimeToLive      int64             `json:"timeToLive,omitempty"`
	SkipType        int               `json:"skipType"`
	NetworkType     int               `json:"networkType"`
	ClientCustomMap map[string]string `json:"clientCustomMap,omitempty"`
	RequestID       string            `json:"requestId"`
	Classification  int               `json:"classification"`
	Category        string            `json:"category,omitempty"`
	PushMode        int               `json:"pushMode"`
}

// listRequest is the body of /message/pushToList.
type listRequest struct {
	AppID     int      `json:"appId"`
	RegIDs    []string `json:"regIds"`
	TaskID    string   `json:"taskId"`
	RequestID string   `json:"requestId"`
}

// vivo's limits on the message fields (docs/vendors.md, vivo).
const (
	// maxTitle and maxContent are widths: a CJK character counts 2, anything
	// else (an emoji too) 1.
	maxTitle   = 40
	maxContent = 100
	// minTTL and maxTTL bound timeToLive. Some doc versions say at least 900 s:
	// UNCONFIRMED, 60 kept.
	minTTL = 60 * time.Second
	maxTTL = 7 * 24 * time.Hour
	// maxCustomPairs and maxCustomChars limit clientCustomMap: pairs, and
	// characters of all keys and values together.
	maxCustomPairs = 10
	maxCustomChars = 1024
	// maxRequestID caps requestId's length: UNCONFIRMED, vivo documents none.
	maxRequestID = 64
)

// The notifyType values used: 1 no sound or vibration, 4 sound and vibration.
const (
	notifySilent = 1
	notifyAll    = 4
)

// ellipsis ends a title or content that was cut.
const ellipsis = "…"

// message builds the content fields of n (no regId, no requestId). now turns
// Expiration into timeToLive.
func (c *Client) message(n *push.Notification, now time.Time) (message, error) {
	if n.Passthrough {
		return message{}, errors.New("Passthrough: vivo push has no pass-through message")
	}
	if isBlank(n.Title) {
		return message{}, errors.New("MissingTitle: vivo requires a title")
	}
	if isBlank(n.Body) {
		return message{}, errors.New("MissingContent: vivo requires a content (Body)")
	}
	m := message{
		AppID:          c.appID,
		NotifyType:     notifyAll,
		Title:          cutWidth(n.Title, maxTitle),
		Content:        cutWidth(n.Body, maxContent),
		SkipType:       1,
		NetworkType:    -1,
		Classification: c.classification,
		Category:       c.category,
	}
	if n.Priority == push.PriorityLow {
		m.NotifyType = notifySilent
	}
	if n.Classification != nil {
		m.Classification = *n.Classification
	}
	if m.Classification != 0 && m.Classification != 1 {
		return message{}, fmt.Errorf("BadClassification: vivo takes 0 or 1, got %d", m.Classification)
	}
	if n.Category != "" {
		m.Category = n.Category
	}
	if !n.Expiration.IsZero() {
		m.TimeToLive = ttlSeconds(n.Expiration.Sub(now))
	}
	custom, err := customMap(n)
	if err != nil {
		return message{}, err
	}
	m.ClientCustomMap = custom
	return m, nil
}

// customMap is clientCustomMap: Data, plus Payload under "payload".
func customMap(n *push.Notification) (map[string]string, error) {
	if len(n.Data) == 0 && n.Payload == "" {
		return nil, nil
	}
	m := make(map[string]string, len(n.Data)+1)
	for k, v := range n.Data {
		m[k] = v
	}
	if n.Payload != "" {
		m["payload"] = n.Payload
	}
	if len(m) > maxCustomPairs {
		return nil, fmt.Errorf("CustomDataTooLarge: %d custom pairs, vivo takes at most %d", len(m), maxCustomPairs)
	}
	chars := 0
	for k, v := range m {
		chars += utf8.RuneCountInString(k) + utf8.RuneCountInString(v)
	}
	if chars > maxCustomChars {
		return nil, fmt.Errorf("CustomDataTooLarge: custom data of %d characters, vivo takes at most %d", chars, maxCustomChars)
	}
	return m, nil
}

// ttlSeconds is how long vivo should keep a message, in whole seconds rounded
// up, between minTTL and maxTTL.
func ttlSeconds(d time.Duration) int64 {
	d = min(max(d, minTTL), maxTTL)
	return int64(math.Ceil(d.Seconds()))
}

// requestID is a fresh requestId: id, cut to leave room, a dash and 16 random
// hex digits; vivo refuses a requestId it has seen before.
func requestID(id string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	suffix := hex.EncodeToString(b)
	if id == "" {
		return suffix
	}
	if room := maxRequestID - len(suffix) - 1; len(id) > room {
		id = vendorhttp.CutBytes(id, room)
	}
	return id + "-" + suffix
}

// textWidth is the length of s as vivo counts title and content: a CJK
// character counts 2, anything else (an emoji too) 1. Which scripts count
// double beyond Han is UNCONFIRMED.
func textWidth(s string) int {
	w := 0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w
}

func runeWidth(r rune) int {
	if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		r >= 0x3000 && r <= 0x303f || r >= 0xff00 && r <= 0xffef {
		return 2
	}
	return 1
}

// cutWidth returns s when it fits in width, else its longest prefix that fits
// with an ellipsis after it. A long IM message is shown cut rather than dropped.
func cutWidth(s string, width int) string {
	if textWidth(s) <= width {
		return s
	}
	room := width - textWidth(ellipsis)
	w := 0
	for i, r := range s {
		if w+runeWidth(r) > room {
			return s[:i] + ellipsis
		}
		w += runeWidth(r)
	}
	return s
}

func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}
