package vendorsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// This file keeps the FCM request checks as they were written first, on
// encoding/json's Decoder.Token, as the oracle of the differential tests in
// fcm_schema_test.go: the byte scanner that replaced them must give the same
// answers. Apart from the names (a Ref suffix) and conversions where invalidValue
// now takes a string, the code is unchanged.

// jsonMemberRef is one key and value of a JSON object, in document order.
type jsonMemberRef struct {
	key   string
	value json.RawMessage
}

func (s fcmSchema) lookupRef(key string) (string, fcmField, bool) {
	if f, ok := s[key]; ok {
		return key, f, true
	}
	for name, f := range s {
		if lowerCamel(name) == key {
			return name, f, true
		}
	}
	return "", fcmField{}, false
}

func jsonMembersRef(raw json.RawMessage) []jsonMemberRef {
	members, ok := decodeMembersRef(raw)
	if !ok {
		return nil
	}
	return members
}

func decodeMembersRef(raw json.RawMessage) ([]jsonMemberRef, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var members []jsonMemberRef
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, ok := kt.(string)
		if !ok {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		members = append(members, jsonMemberRef{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	return members, true
}

func normalizedRef(raw json.RawMessage, schema fcmSchema) map[string]json.RawMessage {
	members, ok := decodeMembersRef(raw)
	if !ok {
		return nil
	}
	out := make(map[string]json.RawMessage, len(members))
	for _, m := range members {
		if name, _, ok := schema.lookupRef(m.key); ok {
			out[name] = m.value
		}
	}
	return out
}

func checkSchemaRef(path string, raw json.RawMessage, schema fcmSchema) []fieldViolation {
	members, ok := decodeMembersRef(raw)
	if !ok {
		return []fieldViolation{{Field: path, Description: "Invalid JSON payload received. Expected an object" + at(path) + "."}}
	}
	var out []fieldViolation
	for _, m := range members {
		_, f, ok := schema.lookupRef(m.key)
		if !ok {
			out = append(out, fieldViolation{Field: path,
				Description: fmt.Sprintf("Invalid JSON payload received. Unknown name %q%s: Cannot find field.", m.key, at(path))})
			continue
		}
		child := m.key
		if path != "" {
			child = path + "." + m.key
		}
		out = append(out, checkValueRef(child, m.value, f)...)
	}
	return out
}

func checkValueRef(path string, raw json.RawMessage, f fcmField) []fieldViolation {
	if string(raw) == "null" {
		return nil
	}
	first := raw[0]
	switch f.kind {
	case kindString:
		if first != '"' {
			return []fieldViolation{invalidValue(path, "TYPE_STRING", string(raw))}
		}
	case kindBool:
		if string(raw) != "true" && string(raw) != "false" {
			return []fieldViolation{invalidValue(path, "TYPE_BOOL", string(raw))}
		}
	case kindInt:
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return []fieldViolation{invalidValue(path, "TYPE_INT64", string(raw))}
		}
		if _, err := n.Int64(); err != nil {
			return []fieldViolation{invalidValue(path, "TYPE_INT64", string(raw))}
		}
	case kindStringMap:
		members, ok := decodeMembersRef(raw)
		if !ok {
			return []fieldViolation{invalidValue(path, "map<string, string>", string(raw))}
		}
		var out []fieldViolation
		for i, m := range members {
			if string(m.value) == "null" || m.value[0] != '"' {
				out = append(out, invalidValue(fmt.Sprintf("%s[%d].value", path, i), "TYPE_STRING", string(m.value)))
			}
		}
		return out
	case kindStringList:
		var list []json.RawMessage
		if first != '[' || json.Unmarshal(raw, &list) != nil {
			return []fieldViolation{invalidValue(path, "TYPE_STRING", string(raw))}
		}
		var out []fieldViolation
		for i, v := range list {
			if v[0] != '"' {
				out = append(out, invalidValue(fmt.Sprintf("%s[%d]", path, i), "TYPE_STRING", string(v)))
			}
		}
		return out
	case kindStruct:
		if first != '{' {
			return []fieldViolation{invalidValue(path, "type.googleapis.com/google.protobuf.Struct", string(raw))}
		}
	case kindObject:
		if first != '{' {
			return []fieldViolation{invalidValue(path, f.typeName, string(raw))}
		}
		return checkSchemaRef(path, raw, f.fields)
	}
	return nil
}

func (v *fcmVendor) serveRef(_ *http.Request, body []byte, _ []string) answer {
	if !json.Valid(body) {
		return fcmBadRequest("", []fieldViolation{{Description: "Invalid JSON payload received. Unexpected token.\n" + snippet(body)}})
	}
	if violations := checkSchemaRef("", body, fcmSendRequestSchema); len(violations) > 0 {
		return fcmBadRequest("", violations)
	}
	req := normalizedRef(body, fcmSendRequestSchema)
	msg := normalizedRef(req["message"], fcmMessageSchema)
	if msg == nil {
		return fcmBadRequest("", []fieldViolation{{Field: "message", Description: "Message must be set."}})
	}

	var token, topic, condition string
	_ = json.Unmarshal(msg["token"], &token)
	_ = json.Unmarshal(msg["topic"], &topic)
	_ = json.Unmarshal(msg["condition"], &condition)
	var set []string
	for _, t := range []struct{ name, val string }{{"token", token}, {"topic", topic}, {"condition", condition}} {
		if t.val != "" {
			set = append(set, t.name)
		}
	}
	switch {
	case len(set) == 0:
		return fcmBadRequest("", []fieldViolation{{Field: "message", Description: "Recipient of the message is not set."}})
	case len(set) > 1:
		return fcmBadRequest("", []fieldViolation{{Field: "message",
			Description: "Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '" + set[len(set)-1] + "'"}})
	case token != "" && !validFCMTokenRef(token):
		return fcmBadRequest("INVALID_ARGUMENT", []fieldViolation{{Field: "message.token",
			Description: "The registration token is not a valid FCM registration token"}})
	case topic != "" && !validFCMTopic(topic):
		return fcmBadRequest("INVALID_ARGUMENT", []fieldViolation{{Field: "message.topic", Description: "Invalid topic name " + strconv.Quote(topic)}})
	}

	android := normalizedRef(msg["android"], fcmAndroidSchema)
	if vs := checkAndroidRef(android); len(vs) > 0 {
		return fcmBadRequest("INVALID_ARGUMENT", vs)
	}
	for _, where := range []struct {
		field string
		raw   json.RawMessage
	}{{"message.data", msg["data"]}, {"message.android.data", android["data"]}} {
		for _, m := range jsonMembersRef(where.raw) {
			if reservedDataKey(m.key) {
				return fcmBadRequest("INVALID_ARGUMENT", []fieldViolation{{Field: where.field,
					Description: "Invalid data payload key: " + m.key}})
			}
		}
	}
	limit := fcmMaxPayload
	if topic != "" {
		limit = fcmMaxTopicPayload
	}
	if size := fcmPayloadSizeRef(msg, android); size > limit {
		return fcmBadRequest("INVALID_ARGUMENT", []fieldViolation{{Field: "message",
			Description: fmt.Sprintf("Message is too big: %d bytes; the limit is %d.", size, limit)}})
	}

	var validateOnly bool
	_ = json.Unmarshal(req["validate_only"], &validateOnly)
	id := "fake_message_id"
	if !validateOnly {
		id = fmt.Sprintf("0:%d%%%s", v.env.now().UnixMicro(), randomHex(8))
	}
	a := jsonAnswer(http.StatusOK, "", map[string]string{"name": "projects/" + v.projectID + "/messages/" + id})
	a.accepted, a.dryRun = true, validateOnly
	return a
}

func checkAndroidRef(android map[string]json.RawMessage) []fieldViolation {
	var vs []fieldViolation
	if raw, ok := android["priority"]; ok && string(raw) != "null" {
		var p string
		if json.Unmarshal(raw, &p) != nil || (!strings.EqualFold(p, "NORMAL") && !strings.EqualFold(p, "HIGH")) {
			vs = append(vs, invalidValue("message.android.priority", "type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority", string(raw)))
		}
	}
	if raw, ok := android["ttl"]; ok && string(raw) != "null" {
		var ttl string
		d, err := time.Duration(0), error(nil)
		if json.Unmarshal(raw, &ttl) != nil || !durationRE.MatchString(ttl) {
			err = errors.New("bad duration")
		} else {
			d, err = time.ParseDuration(ttl)
		}
		switch {
		case err != nil:
			vs = append(vs, invalidValue("message.android.ttl", "type.googleapis.com/google.protobuf.Duration", string(raw)))
		case d > fcmMaxTTL:
			vs = append(vs, fieldViolation{Field: "message.android.ttl", Description: "TTL must not exceed 4 weeks (2419200s)."})
		}
	}
	return vs
}

func fcmPayloadSizeRef(msg, android map[string]json.RawMessage) int {
	size := 0
	for _, raw := range []json.RawMessage{msg["data"], android["data"]} {
		for _, m := range jsonMembersRef(raw) {
			var s string
			_ = json.Unmarshal(m.value, &s)
			size += len(m.key) + len(s)
		}
	}
	for _, raw := range []json.RawMessage{msg["notification"], android["notification"]} {
		if len(raw) > 0 && string(raw) != "null" {
			var buf bytes.Buffer
			if json.Compact(&buf, raw) == nil {
				size += buf.Len()
			}
		}
	}
	return size
}

// fcmTokenRERef is the alphabet of FCM registration tokens, as validFCMToken
// checked it first.
var fcmTokenRERef = regexp.MustCompile(`^[A-Za-z0-9_\-:.]+$`)

func validFCMTokenRef(t string) bool {
	return len(t) <= fcmMaxToken && fcmTokenRERef.MatchString(t)
}

// targetsRef is fcmVendor.targets as first written, on json.Unmarshal.
func targetsRef(body []byte) []string {
	var req struct {
		Message struct {
			Token string `json:"token"`
			Topic string `json:"topic"`
		} `json:"message"`
	}
	if json.Unmarshal(body, &req) != nil {
		return nil
	}
	switch {
	case req.Message.Token != "":
		return []string{req.Message.Token}
	case req.Message.Topic != "":
		return []string{"/topics/" + strings.TrimPrefix(req.Message.Topic, "/topics/")}
	}
	return nil
}
