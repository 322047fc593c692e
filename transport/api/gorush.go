package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/push"
)

// POST /api/push takes gorush's request body and answers in gorush's shape,
// so that a gorush user switches by changing the base URL and adding
// X-API-Key. Each token becomes one push through the outbox (durable before
// the answer, with pushd's retries and verdicts), to the raw token: no user
// binding is needed.

// The gorush platforms.
const (
	gorushIOS     = 1
	gorushAndroid = 2
	gorushHuawei  = 3
)

// Limits of one gorush request.
const (
	maxGorushNotifications = 100   // gorush's core.max_notification default
	maxGorushTokens        = 1000  // per notification
	maxGorushPushes        = 10000 // tokens in one request, all notifications together
	maxGorushToken         = 4096
	maxGorushData          = 4096 // bytes of the encoded data object
)

// gorushRequest is gorush's body: {"notifications": [...]}.
type gorushRequest struct {
	Notifications []gorushNotification `json:"notifications"`
}

// gorushAlert is gorush's iOS alert object; title and body are used.
type gorushAlert struct {
	Title    string `json:"title"`
	Body     string `json:"body"`
	Subtitle string `json:"subtitle"`
}

// gorushNotification is one notification of a gorush request: the fields
// gorush users send. Fields pushd takes but does not use (it has its own
// notion of them, or the vendor client sets them) are json.RawMessage or
// ignored values, listed so that a request that has them is not refused.
type gorushNotification struct {
	Tokens           []string       `json:"tokens"`
	To               string         `json:"to"`
	Platform         int            `json:"platform"`
	Message          string         `json:"message"`
	Title            string         `json:"title"`
	Topic            string         `json:"topic"`
	Priority         string         `json:"priority"`
	Badge            *int           `json:"badge"`
	Data             map[string]any `json:"data"`
	CollapseID       string         `json:"collapse_id"`
	CollapseKey      string         `json:"collapse_key"`
	ApnsID           string         `json:"apns_id"`
	NotifID          string         `json:"notif_id"`
	Expiration       *int64         `json:"expiration"`
	PushType         string         `json:"push_type"`
	Development      bool           `json:"development"`
	Production       bool           `json:"production"`
	Alert            *gorushAlert   `json:"alert"`
	ContentAvailable bool           `json:"content_available"`
	MutableContent   bool           `json:"mutable_content"`
	Category         string         `json:"category"`
	ThreadID         string         `json:"thread-id"`
	Sound            any            `json:"sound"`
	Image            string         `json:"image"`
	Retry            int            `json:"retry"`
	DryRun           bool           `json:"dry_run"`
	TimeToLive       *int64         `json:"time_to_live"`
	// Accepted and not used: gorush's FCM, Huawei and iOS extras.
	Notification       json.RawMessage `json:"notification"`
	Android            json.RawMessage `json:"android"`
	APNS               json.RawMessage `json:"apns"`
	Webpush            json.RawMessage `json:"webpush"`
	FCMOptions         json.RawMessage `json:"fcm_options"`
	HuaweiNotification json.RawMessage `json:"huawei_notification"`
	HuaweiData         string          `json:"huawei_data"`
	HuaweiCollapseKey  int             `json:"huawei_collapse_key"`
	HuaweiTTL          string          `json:"huawei_ttl"`
	BiTag              string          `json:"bi_tag"`
	URLArgs            []string        `json:"url-args"`
	InterruptionLevel  string          `json:"interruption_level"`
	SoundName          string          `json:"name"`
	SoundVolume        float32         `json:"volume"`
	Condition          string          `json:"condition"`
	AppID              string          `json:"app_id"`
	AppSecret          string          `json:"app_secret"`
	FastAppTarget      int             `json:"fast_app_target"`
}

// decodeGorush decodes and checks a gorush body into the pushes it asks for.
// Unknown fields are ignored, as gorush ignores them; wrong types and
// values out of range are errors naming the field.
func decodeGorush(body []byte, now time.Time) ([]actors.RawPush, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badField("body", "is empty; a JSON object with notifications is required")
	}
	if !utf8.Valid(body) {
		return nil, badField("body", "is not valid UTF-8")
	}
	var r gorushRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badField("body", "has data after the JSON object")
	}
	if len(r.Notifications) == 0 {
		return nil, badField("notifications", "is missing or empty")
	}
	if len(r.Notifications) > maxGorushNotifications {
		return nil, badField("notifications", "has %d notifications, more than %d", len(r.Notifications), maxGorushNotifications)
	}
	var out []actors.RawPush
	for i := range r.Notifications {
		ps, e := r.Notifications[i].pushes(fmt.Sprintf("notifications[%d]", i), now)
		if e != nil {
			return nil, e
		}
		if len(out)+len(ps) > maxGorushPushes {
			return nil, badField("notifications", "name more than %d tokens in all", maxGorushPushes)
		}
		out = append(out, ps...)
	}
	return out, nil
}

// pushes checks one notification and makes a push for each of its tokens.
func (n *gorushNotification) pushes(field string, now time.Time) ([]actors.RawPush, *apiError) {
	var provider push.Provider
	switch n.Platform {
	case gorushIOS:
		provider = push.APNs
	case gorushAndroid:
		provider = push.FCM
	case gorushHuawei:
		provider = push.HMS
	default:
		return nil, badField(field+".platform", "must be 1 (iOS), 2 (Android, FCM) or 3 (Huawei); got %d", n.Platform)
	}
	if provider != push.APNs && (n.Topic != "" || n.Condition != "" || strings.HasPrefix(n.To, "/topics/")) {
		return nil, badField(field+".topic", "pushes to FCM or Huawei topics and conditions are not supported; name the tokens")
	}
	tokens := n.Tokens
	if n.To != "" {
		tokens = append(append([]string(nil), tokens...), n.To)
	}
	if len(tokens) == 0 {
		return nil, badField(field+".tokens", "is required (pushes to topics and conditions are not supported)")
	}
	if len(tokens) > maxGorushTokens {
		return nil, badField(field+".tokens", "has %d tokens, more than %d", len(tokens), maxGorushTokens)
	}
	for j, t := range tokens {
		if t == "" || len(t) > maxGorushToken {
			return nil, badField(fmt.Sprintf("%s.tokens[%d]", field, j), "must be 1 to %d bytes", maxGorushToken)
		}
	}
	pc := pushConfig{Title: n.Title, Content: n.Message}
	if n.Alert != nil {
		if pc.Title == "" {
			pc.Title = n.Alert.Title
		}
		if pc.Content == "" {
			pc.Content = n.Alert.Body
		}
	}
	if n.Badge != nil {
		if *n.Badge < 0 || *n.Badge > maxBadge {
			return nil, badField(field+".badge", "must be 0 to %d", maxBadge)
		}
		pc.BadgeIncrement = *n.Badge
	}
	if e := pc.validate(field, nil); e != nil {
		return nil, e
	}
	data, e := gorushData(field+".data", n.Data)
	if e != nil {
		return nil, e
	}
	prio := push.PriorityHigh
	switch n.Priority {
	case "", "high":
	case "normal":
		prio = push.PriorityLow
	default:
		return nil, badField(field+".priority", "must be high or normal; got %q", n.Priority)
	}
	pushType := "alert"
	switch n.PushType {
	case "", "alert", "background":
	case "voip":
		if provider != push.APNs {
			return nil, badField(field+".push_type", "voip is for platform 1 (iOS) only")
		}
		pushType = "voip"
	default:
		return nil, badField(field+".push_type", "must be alert, background or voip; got %q", n.PushType)
	}
	env := ""
	if provider == push.APNs && n.Development && !n.Production {
		env = "development"
	}
	var expires time.Time
	switch {
	case n.Expiration != nil && *n.Expiration > 0:
		expires = time.Unix(*n.Expiration, 0)
	case n.TimeToLive != nil && *n.TimeToLive > 0 && *n.TimeToLive < 1<<31:
		expires = now.Add(time.Duration(*n.TimeToLive) * time.Second)
	}
	if !expires.IsZero() && !expires.After(now) {
		return nil, badField(field+".expiration", "is in the past")
	}
	collapse := firstNonEmpty(n.CollapseID, n.CollapseKey, n.ApnsID)
	if len(collapse) > 64 {
		return nil, badField(field+".collapse_id", "must be at most 64 bytes")
	}
	bundle := ""
	if provider == push.APNs {
		bundle = n.Topic
		if pushType == "voip" && len(bundle) > 5 && bundle[len(bundle)-5:] == ".voip" {
			bundle = bundle[:len(bundle)-5] // the APNs client adds .voip itself
		}
	}
	if n.DryRun {
		return nil, nil // checked, not sent (gorush's Android dry_run)
	}
	out := make([]actors.RawPush, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, actors.RawPush{
			Provider: provider, Token: t, BundleID: bundle, APNsEnv: env, PushType: pushType,
			Config: pc.wire(), Priority: prio, CollapseID: collapse, Data: data, Expires: expires,
		})
	}
	return out, nil
}

// gorushData turns gorush's data object into the string values pushes
// carry: strings as they are, anything else as its JSON.
func gorushData(field string, d map[string]any) (map[string]string, *apiError) {
	if len(d) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(d))
	size := 0
	for k, v := range d {
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, badField(field+"."+k, "cannot be encoded: %v", err)
			}
			s = string(b)
		}
		if size += len(k) + len(s); size > maxGorushData {
			return nil, badField(field, "must be at most %d bytes", maxGorushData)
		}
		out[k] = s
	}
	return out, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// gorushPush is POST /api/push.
func (s *Server) gorushPush(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	pushes, e := decodeGorush(ctx.PostBody(), s.o.Now())
	if e != nil {
		writeGorushError(ctx, e)
		return nil
	}
	if e := s.limit(ctx, c, len(pushes)); e != nil {
		return e
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	if err := s.o.Node.PushRaw(rctx, c.app.ID, pushes); err != nil {
		writeGorushError(ctx, s.fromActorError(err))
		return nil
	}
	// gorush answers its logs only when it sends synchronously; the pushes
	// here are queued (durably), as gorush's default queues them.
	writeJSON(ctx, http.StatusOK, map[string]any{"counts": len(pushes), "logs": []any{}, "success": "ok"})
	return nil
}

// writeGorushError answers as gorush does ({"code": status, "message": …})
// and as pushd does ({"error": {code, message}}) in one body.
func writeGorushError(ctx *fasthttp.RequestCtx, e *apiError) {
	writeJSON(ctx, e.Status, map[string]any{"code": e.Status, "message": e.Message, "error": e.object()})
}
