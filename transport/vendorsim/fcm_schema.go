package vendorsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// The FCM v1 send request schema, as Google's proto3 JSON parser applies it: every
// field may be spelt in snake_case or lowerCamelCase, unknown fields are refused
// with "Unknown name … Cannot find field.", and values must have the field's type.

// fcmKind is the JSON type a schema field takes.
type fcmKind int

const (
	kindString     fcmKind = iota // a JSON string
	kindBool                      // true or false
	kindInt                       // a number, or a string of digits (proto3 int64)
	kindStringMap                 // map<string,string>
	kindStringList                // repeated string
	kindStruct                    // google.protobuf.Struct: any JSON object
	kindObject                    // a nested message with its own schema
	kindAny                       // not checked (messages the simulator does not model)
)

// fcmField is one field of a schema.
type fcmField struct {
	kind     fcmKind
	typeName string    // the proto type, for kindObject error messages
	fields   fcmSchema // for kindObject
}

// fcmSchema maps snake_case field names to fields.
type fcmSchema map[string]fcmField

var (
	fcmNotificationSchema = fcmSchema{
		"title": {kind: kindString}, "body": {kind: kindString}, "image": {kind: kindString},
	}
	fcmAndroidNotificationSchema = fcmSchema{
		"title": {kind: kindString}, "body": {kind: kindString}, "icon": {kind: kindString},
		"color": {kind: kindString}, "sound": {kind: kindString}, "tag": {kind: kindString},
		"click_action": {kind: kindString}, "body_loc_key": {kind: kindString},
		"body_loc_args": {kind: kindStringList}, "title_loc_key": {kind: kindString},
		"title_loc_args": {kind: kindStringList}, "channel_id": {kind: kindString},
		"ticker": {kind: kindString}, "sticky": {kind: kindBool}, "event_time": {kind: kindString},
		"local_only": {kind: kindBool}, "notification_priority": {kind: kindString},
		"default_sound": {kind: kindBool}, "default_vibrate_timings": {kind: kindBool},
		"default_light_settings": {kind: kindBool}, "vibrate_timings": {kind: kindStringList},
		"visibility": {kind: kindString}, "notification_count": {kind: kindInt},
		"light_settings": {kind: kindAny}, "image": {kind: kindString},
		"bypass_proxy_notification": {kind: kindBool}, "proxy": {kind: kindString},
	}
	fcmAndroidSchema = fcmSchema{
		"collapse_key": {kind: kindString}, "priority": {kind: kindString}, "ttl": {kind: kindString},
		"restricted_package_name": {kind: kindString}, "data": {kind: kindStringMap},
		"notification":   {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.AndroidNotification", fields: fcmAndroidNotificationSchema},
		"fcm_options":    {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.AndroidFcmOptions", fields: fcmSchema{"analytics_label": {kind: kindString}}},
		"direct_boot_ok": {kind: kindBool}, "bandwidth_constrained_ok": {kind: kindBool},
		"restricted_satellite_ok": {kind: kindBool},
	}
	fcmApnsSchema = fcmSchema{
		"headers": {kind: kindStringMap}, "payload": {kind: kindStruct},
		"fcm_options": {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.ApnsFcmOptions",
			fields: fcmSchema{"analytics_label": {kind: kindString}, "image": {kind: kindString}}},
		"live_activity_token": {kind: kindString},
	}
	fcmWebpushSchema = fcmSchema{
		"headers": {kind: kindStringMap}, "data": {kind: kindStringMap}, "notification": {kind: kindStruct},
		"fcm_options": {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.WebpushFcmOptions",
			fields: fcmSchema{"link": {kind: kindString}, "analytics_label": {kind: kindString}}},
	}
	fcmMessageSchema = fcmSchema{
		"name": {kind: kindString}, "data": {kind: kindStringMap},
		"notification": {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.Notification", fields: fcmNotificationSchema},
		"android":      {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.AndroidConfig", fields: fcmAndroidSchema},
		"webpush":      {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.WebpushConfig", fields: fcmWebpushSchema},
		"apns":         {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.ApnsConfig", fields: fcmApnsSchema},
		"fcm_options":  {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.FcmOptions", fields: fcmSchema{"analytics_label": {kind: kindString}}},
		"token":        {kind: kindString}, "topic": {kind: kindString}, "condition": {kind: kindString},
	}
	fcmSendRequestSchema = fcmSchema{
		"validate_only": {kind: kindBool},
		"message":       {kind: kindObject, typeName: "type.googleapis.com/google.firebase.fcm.v1.Message", fields: fcmMessageSchema},
	}
)

// lookup finds the field a JSON key names, in snake_case or lowerCamelCase.
func (s fcmSchema) lookup(key string) (string, fcmField, bool) {
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

// lowerCamel turns snake_case into lowerCamelCase, as protobuf names JSON fields.
func lowerCamel(snake string) string {
	var b strings.Builder
	up := false
	for _, c := range snake {
		switch {
		case c == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(c)))
			up = false
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// jsonMember is one key and value of a JSON object, in document order.
type jsonMember struct {
	key   string
	value json.RawMessage
}

// jsonMembers returns the members of a JSON object in document order; nil when raw
// is not an object.
func jsonMembers(raw json.RawMessage) []jsonMember {
	members, ok := decodeMembers(raw)
	if !ok {
		return nil
	}
	return members
}

func decodeMembers(raw json.RawMessage) ([]jsonMember, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var members []jsonMember
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
		members = append(members, jsonMember{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	return members, true
}

// normalized returns an object's members keyed by their snake_case schema names
// (unknown keys dropped); nil when raw is not an object.
func normalized(raw json.RawMessage, schema fcmSchema) map[string]json.RawMessage {
	members, ok := decodeMembers(raw)
	if !ok {
		return nil
	}
	out := make(map[string]json.RawMessage, len(members))
	for _, m := range members {
		if name, _, ok := schema.lookup(m.key); ok {
			out[name] = m.value
		}
	}
	return out
}

// checkSchema reports every unknown field and wrongly typed value in the object raw
// at path ("" for the request itself), as Google's JSON parser words them.
func checkSchema(path string, raw json.RawMessage, schema fcmSchema) []fieldViolation {
	members, ok := decodeMembers(raw)
	if !ok {
		return []fieldViolation{{Field: path, Description: "Invalid JSON payload received. Expected an object" + at(path) + "."}}
	}
	var out []fieldViolation
	for _, m := range members {
		_, f, ok := schema.lookup(m.key)
		if !ok {
			out = append(out, fieldViolation{Field: path,
				Description: fmt.Sprintf("Invalid JSON payload received. Unknown name %q%s: Cannot find field.", m.key, at(path))})
			continue
		}
		child := m.key
		if path != "" {
			child = path + "." + m.key
		}
		out = append(out, checkValue(child, m.value, f)...)
	}
	return out
}

// checkValue checks one value against its field.
func checkValue(path string, raw json.RawMessage, f fcmField) []fieldViolation {
	if string(raw) == "null" {
		return nil
	}
	first := raw[0]
	switch f.kind {
	case kindString:
		if first != '"' {
			return []fieldViolation{invalidValue(path, "TYPE_STRING", raw)}
		}
	case kindBool:
		if string(raw) != "true" && string(raw) != "false" {
			return []fieldViolation{invalidValue(path, "TYPE_BOOL", raw)}
		}
	case kindInt:
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return []fieldViolation{invalidValue(path, "TYPE_INT64", raw)}
		}
		if _, err := n.Int64(); err != nil {
			return []fieldViolation{invalidValue(path, "TYPE_INT64", raw)}
		}
	case kindStringMap:
		members, ok := decodeMembers(raw)
		if !ok {
			return []fieldViolation{invalidValue(path, "map<string, string>", raw)}
		}
		var out []fieldViolation
		for i, m := range members {
			if string(m.value) == "null" || m.value[0] != '"' {
				out = append(out, invalidValue(fmt.Sprintf("%s[%d].value", path, i), "TYPE_STRING", m.value))
			}
		}
		return out
	case kindStringList:
		var list []json.RawMessage
		if first != '[' || json.Unmarshal(raw, &list) != nil {
			return []fieldViolation{invalidValue(path, "TYPE_STRING", raw)}
		}
		var out []fieldViolation
		for i, v := range list {
			if v[0] != '"' {
				out = append(out, invalidValue(fmt.Sprintf("%s[%d]", path, i), "TYPE_STRING", v))
			}
		}
		return out
	case kindStruct:
		if first != '{' {
			return []fieldViolation{invalidValue(path, "type.googleapis.com/google.protobuf.Struct", raw)}
		}
	case kindObject:
		if first != '{' {
			return []fieldViolation{invalidValue(path, f.typeName, raw)}
		}
		return checkSchema(path, raw, f.fields)
	}
	return nil
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return " at '" + path + "'"
}
