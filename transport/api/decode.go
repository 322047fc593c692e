package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
	"github.com/pushd-im/pushd/wire"
)

// Limits of the API: the README ("HTTP API") states the ids' and the body's,
// openapi.json every field's.
const (
	maxUserID      = 64
	maxDeviceID    = 128
	maxPushID      = 64
	maxCallID      = 64
	maxBody        = 32 << 10
	maxToken       = 4096
	maxClientMsgID = 128
	maxBatch       = 1000
	maxTitle       = 256
	maxContent     = 4096
	maxPayload     = 4096
	maxResourcesID = 64
	maxBadge       = 99
)

// validID reports whether s is 1..max bytes of A-Z a-z 0-9 _ - . @ :
func validID(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.', c == '@', c == ':':
		default:
			return false
		}
	}
	return true
}

func checkID(field, s string, max int) *apiError {
	if !validID(s, max) {
		if s == "" {
			return badField(field, "is required")
		}
		return badField(field, "must be 1 to %d characters of A-Z a-z 0-9 _ - . @ :", max)
	}
	return nil
}

// decodeValid decodes body strictly into r (see decodeStrict) and checks it.
func decodeValid(body []byte, r interface{ validate() *apiError }) *apiError {
	if e := decodeStrict(body, r); e != nil {
		return e
	}
	return r.validate()
}

// fieldPath names field inside prefix ("push_config.title"), or field alone
// when prefix is "" (a top-level field).
func fieldPath(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// decodeStrict decodes one JSON object into v: unknown fields, wrong types,
// trailing data and invalid UTF-8 are errors that name the field.
func decodeStrict(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return badField("body", "is empty; a JSON object is required")
	}
	if !utf8.Valid(body) {
		return badField("body", "is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badField("body", "has data after the JSON object")
	}
	return nil
}

func jsonError(err error) *apiError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return badField(field, "must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return badField("body", "is not valid JSON at offset %d: %v", syntaxErr.Offset, syntaxErr)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &apiError{Status: http.StatusBadRequest, Code: codeUnknownField, Message: name + ": unknown field"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badField("body", "ends before the JSON object does")
	}
	return badField("body", "%v", err)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int32", "int64", "uint64":
		return "an integer"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return k
}

// bindRequest is the body of POST /v1/devices.
type bindRequest struct {
	DeviceID string `json:"device_id"`
	Provider string `json:"provider"`
	Token    string `json:"token"`
	BundleID string `json:"bundle_id"`
	APNsEnv  string `json:"apns_env"`
	PushType string `json:"push_type"`
	Locale   string `json:"locale"`
}

func (r *bindRequest) validate() *apiError {
	if e := checkID("device_id", r.DeviceID, maxDeviceID); e != nil {
		return e
	}
	vendor, ok := vendors.Lookup(push.Provider(r.Provider))
	if !ok {
		return badField("provider", "must be one of %s; got %q", vendors.Providers(), r.Provider)
	}
	if r.Token == "" {
		return badField("token", "is required")
	}
	if len(r.Token) > maxToken || strings.ContainsAny(r.Token, " \t\r\n") {
		return badField("token", "must be at most %d characters without spaces", maxToken)
	}
	if vendor.CheckToken != nil {
		if why := vendor.CheckToken(r.Token); why != "" {
			return badField("token", "%s", why)
		}
	}
	// An APNs binding that names no environment gets the app's default
	// (Server.bind); auto finds the environment on the first push.
	switch r.APNsEnv {
	case "", "development", "production", "auto":
	default:
		return badField("apns_env", "must be development, production or auto; got %q", r.APNsEnv)
	}
	switch r.PushType {
	case "":
		r.PushType = "alert"
	case "alert":
	case "voip":
		if push.Provider(r.Provider) != push.APNs {
			return badField("push_type", "voip is for apns bindings only")
		}
	default:
		return badField("push_type", "must be alert or voip; got %q", r.PushType)
	}
	if len(r.BundleID) > 255 {
		return badField("bundle_id", "must be at most 255 characters")
	}
	if len(r.Locale) > 35 {
		return badField("locale", "must be at most 35 characters")
	}
	return nil
}

// defaultEnv gives an APNs binding that names no environment the app's
// default (def, "" meaning production).
func (r *bindRequest) defaultEnv(def string) {
	if r.APNsEnv != "" || push.Provider(r.Provider) != push.APNs {
		return
	}
	r.APNsEnv = def
	if r.APNsEnv == "" {
		r.APNsEnv = "production"
	}
}

// voipConfig and pushConfig are push_config as the API takes it.
type voipConfig struct {
	HandleType  int    `json:"handle_type"`
	HandleValue string `json:"handle_value"`
	HasVideo    bool   `json:"has_video"`
}

type pushConfig struct {
	Title          string      `json:"title"`
	Content        string      `json:"content"`
	Payload        string      `json:"payload"`
	ResourcesID    string      `json:"resources_id"`
	BadgeIncrement int         `json:"badge_increment"`
	VoIP           *voipConfig `json:"voip"`
}

// validate checks p; field is where p is in the body ("push_config"), "" when
// its fields are top-level.
func (p *pushConfig) validate(field string, resources map[string]bool) *apiError {
	switch {
	case len(p.Title) > maxTitle:
		return badField(fieldPath(field, "title"), "must be at most %d bytes", maxTitle)
	case len(p.Content) > maxContent:
		return badField(fieldPath(field, "content"), "must be at most %d bytes", maxContent)
	case len(p.Payload) > maxPayload:
		return badField(fieldPath(field, "payload"), "must be at most %d bytes", maxPayload)
	case len(p.ResourcesID) > maxResourcesID:
		return badField(fieldPath(field, "resources_id"), "must be at most %d bytes", maxResourcesID)
	case p.ResourcesID != "" && !resources[p.ResourcesID]:
		return badField(fieldPath(field, "resources_id"), "%q is not a resources profile of this app", p.ResourcesID)
	case p.BadgeIncrement < 0 || p.BadgeIncrement > maxBadge:
		return badField(fieldPath(field, "badge_increment"), "must be 0 to %d", maxBadge)
	}
	if v := p.VoIP; v != nil {
		if v.HandleType < 0 || v.HandleType > 3 {
			return badField(fieldPath(field, "voip.handle_type"), "must be 0 to 3 (CallKit CXHandle types: 1 generic, 2 phone number, 3 email)")
		}
		if len(v.HandleValue) > 256 {
			return badField(fieldPath(field, "voip.handle_value"), "must be at most 256 bytes")
		}
	}
	return nil
}

func (p *pushConfig) wire() *wire.PushConfig {
	if p == nil {
		return nil
	}
	w := &wire.PushConfig{Title: p.Title, Content: p.Content, Payload: p.Payload, ResourcesId: p.ResourcesID, BadgeIncrement: int32(p.BadgeIncrement)}
	if p.VoIP != nil {
		w.Voip = &wire.VoIP{HandleType: int32(p.VoIP.HandleType), HandleValue: p.VoIP.HandleValue, HasVideo: p.VoIP.HasVideo}
	}
	return w
}

// sendRequest is the body of POST /v1/messages (and each item of a batch).
type sendRequest struct {
	From             string      `json:"from"`
	To               string      `json:"to"`
	ConversationType *int        `json:"conversation_type"`
	Type             int         `json:"type"`
	Body             string      `json:"body"`
	Priority         int         `json:"priority"`
	PushConfig       *pushConfig `json:"push_config"`
	ClientMsgID      string      `json:"client_msg_id"`
}

// validMessageTypes are ZIM's message type numbers that pushd carries.
func validMessageType(t int) bool {
	switch t {
	case 1, 2, 11, 12, 13, 14, 200:
		return true
	}
	return false
}

// validate checks the message; fromServer says whether the caller is the app's
// backend (which must name the sender) or a client (which is the sender).
// Errors name top-level fields; a batch puts the item's place before them.
func (r *sendRequest) validate(fromServer bool, resources map[string]bool) *apiError {
	if fromServer {
		if e := checkID("from", r.From, maxUserID); e != nil {
			return e
		}
	} else if r.From != "" {
		return badField("from", "only a server call names the sender; a client sends as itself")
	}
	if r.ConversationType == nil {
		return badField("conversation_type", "is required (0 peer, 2 group)")
	}
	if e := checkID("to", r.To, maxUserID); e != nil {
		return e
	}
	switch *r.ConversationType {
	case 0, 2:
	default:
		return badField("conversation_type", "must be 0 (peer) or 2 (group); got %d", *r.ConversationType)
	}
	if !validMessageType(r.Type) {
		return badField("type", "must be one of 1, 2, 11, 12, 13, 14, 200; got %d", r.Type)
	}
	if len(r.Body) > maxBody {
		return badField("body", "must be at most %d bytes; got %d", maxBody, len(r.Body))
	}
	switch r.Priority {
	case 0:
		r.Priority = int(push.PriorityMedium)
	case 1, 2, 3:
	default:
		return badField("priority", "must be 1 (low), 2 (medium) or 3 (high); got %d", r.Priority)
	}
	if len(r.ClientMsgID) > maxClientMsgID {
		return badField("client_msg_id", "must be at most %d bytes", maxClientMsgID)
	}
	if r.PushConfig != nil {
		if e := r.PushConfig.validate("push_config", resources); e != nil {
			return e
		}
	}
	return nil
}

func (r *sendRequest) message(app string) *wire.Message {
	return &wire.Message{
		App: app, From: r.From, To: r.To, ConversationType: int32(*r.ConversationType), Type: int32(r.Type),
		Body: r.Body, Priority: int32(r.Priority), PushConfig: r.PushConfig.wire(), ClientMsgId: r.ClientMsgID,
	}
}

// batchRequest is the body of POST /v1/messages/batch. Items are kept raw so
// that one bad item is an error for that item alone.
type batchRequest struct {
	Messages []json.RawMessage `json:"messages"`
}

// logoutRequest is the body of POST /v1/logout.
type logoutRequest struct {
	DeviceID string `json:"device_id"`
}

func (r *logoutRequest) validate() *apiError { return checkID("device_id", r.DeviceID, maxDeviceID) }

// clientFrame is one frame a client sends on the long connection.
type clientFrame struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Seq        uint64 `json:"seq"`
	Foreground *bool  `json:"foreground"`
}

// parseClientFrame decodes and checks one client frame.
func parseClientFrame(b []byte) (*clientFrame, *apiError) {
	f := &clientFrame{}
	if e := decodeStrict(b, f); e != nil {
		return nil, e
	}
	switch f.Type {
	case "ping":
	case "ack":
		if f.Stream == "" {
			return nil, badField("stream", "is required in an ack")
		}
		if f.Stream != "inbox" && !strings.HasPrefix(f.Stream, "group:") {
			return nil, badField("stream", "must be inbox or group:<group_id>; got %q", f.Stream)
		}
		if f.Seq == 0 {
			return nil, badField("seq", "must be at least 1 in an ack")
		}
	case "state":
		if f.Foreground == nil {
			return nil, badField("foreground", "is required in a state frame")
		}
	case "":
		return nil, badField("type", "is required (ack, ping or state)")
	default:
		return nil, badField("type", "must be ack, ping or state; got %q", f.Type)
	}
	return f, nil
}
