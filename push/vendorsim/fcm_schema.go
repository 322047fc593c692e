package vendorsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
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

// fcmCamelNames maps the lowerCamelCase spelling of every field of the request
// schema, and of the schemas nested in it, to its snake_case name, where the two
// differ. lowerCamel is one-to-one on these names (camelNames checks it), so a key
// names at most one field of a schema in either spelling.
var fcmCamelNames = camelNames(fcmSendRequestSchema, map[string]string{})

func camelNames(s fcmSchema, names map[string]string) map[string]string {
	for name, f := range s {
		if camel := lowerCamel(name); camel != name {
			if prev, ok := names[camel]; ok && prev != name {
				panic("vendorsim: FCM fields " + prev + " and " + name + " are both " + camel + " in lowerCamelCase")
			}
			names[camel] = name
		}
		if f.kind == kindObject {
			camelNames(f.fields, names)
		}
	}
	return names
}

// lookup finds the field a JSON key names, in snake_case or lowerCamelCase.
func (s fcmSchema) lookup(key string) (string, fcmField, bool) {
	if f, ok := s[key]; ok {
		return key, f, true
	}
	if name, ok := fcmCamelNames[key]; ok {
		if f, ok := s[name]; ok {
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

// --- reading a request against the schema ---
//
// serve checks the whole body with json.Valid first, then reads it as one string:
// every key and value below is a substring of it (only strings with escapes or
// invalid UTF-8 are decoded into new ones), and nothing is validated again. Each
// object is split into its members once, by the byte scanner at the end of this
// file: readObject checks the members against the schema and keeps the known
// ones, with the nested messages read the same way, for serve to look at.

// fcmObject is a JSON object read against its schema.
type fcmObject struct {
	members []fcmMember // the members the schema knows, in document order
}

// fcmMember is a member of an fcmObject.
type fcmMember struct {
	name  string // the snake_case schema name, whichever spelling the key used
	value string // the JSON value as sent
	// object is the value read against the field's schema, for a nested message
	// (kindObject) whose value is an object; nil otherwise.
	object *fcmObject
}

// member returns the last member called name: of duplicate keys (or a field
// spelt both ways) the last one counts, as in encoding/json. It returns nil when
// there is none, or when o is nil.
func (o *fcmObject) member(name string) *fcmMember {
	if o == nil {
		return nil
	}
	for i := len(o.members) - 1; i >= 0; i-- {
		if o.members[i].name == name {
			return &o.members[i]
		}
	}
	return nil
}

// field returns the JSON value of the member called name; "" when it is absent.
func (o *fcmObject) field(name string) string {
	if m := o.member(name); m != nil {
		return m.value
	}
	return ""
}

// object returns the nested message called name; nil when it is absent or null.
func (o *fcmObject) object(name string) *fcmObject {
	if m := o.member(name); m != nil {
		return m.object
	}
	return nil
}

// readObject checks the JSON object raw at path ("" for the request itself)
// against schema, appending to vs every unknown field and wrongly typed value, as
// Google's JSON parser words them, and returns the object's known members. It
// returns nil (and an "Expected an object" violation) when raw is not an object.
func readObject(path, raw string, schema fcmSchema, vs []fieldViolation) (*fcmObject, []fieldViolation) {
	members, ok := splitObject(raw)
	if !ok {
		return nil, append(vs, fieldViolation{Field: path, Description: "Invalid JSON payload received. Expected an object" + at(path) + "."})
	}
	obj := &fcmObject{members: make([]fcmMember, 0, len(members))}
	for _, m := range members {
		name, f, ok := schema.lookup(m.key)
		if !ok {
			vs = append(vs, fieldViolation{Field: path,
				Description: fmt.Sprintf("Invalid JSON payload received. Unknown name %q%s: Cannot find field.", m.key, at(path))})
			continue
		}
		member := fcmMember{name: name, value: m.value}
		if f.kind == kindObject && m.value[0] == '{' {
			member.object, vs = readObject(fieldPath(path, m.key), m.value, f.fields, vs)
		} else {
			vs = checkValue(path, m.key, m.value, f, vs)
		}
		obj.members = append(obj.members, member)
	}
	return obj, vs
}

// checkValue checks the JSON value raw of the member key of the object at parent
// against its field, and appends what is wrong with it to vs. A nested message
// (kindObject) that is an object is readObject's to check.
func checkValue(parent, key, raw string, f fcmField, vs []fieldViolation) []fieldViolation {
	if raw == "null" {
		return vs
	}
	first := raw[0]
	switch f.kind {
	case kindString:
		if first != '"' {
			vs = append(vs, invalidValue(fieldPath(parent, key), "TYPE_STRING", raw))
		}
	case kindBool:
		if raw != "true" && raw != "false" {
			vs = append(vs, invalidValue(fieldPath(parent, key), "TYPE_BOOL", raw))
		}
	case kindInt:
		if !protoInt64(raw) {
			vs = append(vs, invalidValue(fieldPath(parent, key), "TYPE_INT64", raw))
		}
	case kindStringMap:
		members, ok := splitObject(raw)
		if !ok {
			return append(vs, invalidValue(fieldPath(parent, key), "map<string, string>", raw))
		}
		for i, m := range members {
			if m.value == "null" || m.value[0] != '"' {
				vs = append(vs, invalidValue(fmt.Sprintf("%s[%d].value", fieldPath(parent, key), i), "TYPE_STRING", m.value))
			}
		}
	case kindStringList:
		var list []json.RawMessage
		if first != '[' || json.Unmarshal([]byte(raw), &list) != nil {
			return append(vs, invalidValue(fieldPath(parent, key), "TYPE_STRING", raw))
		}
		for i, v := range list {
			if v[0] != '"' {
				vs = append(vs, invalidValue(fmt.Sprintf("%s[%d]", fieldPath(parent, key), i), "TYPE_STRING", string(v)))
			}
		}
	case kindStruct:
		if first != '{' {
			vs = append(vs, invalidValue(fieldPath(parent, key), "type.googleapis.com/google.protobuf.Struct", raw))
		}
	case kindObject:
		if first != '{' {
			vs = append(vs, invalidValue(fieldPath(parent, key), f.typeName, raw))
		}
	}
	return vs
}

// protoInt64 reports whether the JSON value raw is an int64 as proto3 JSON takes
// one: a number, or a string holding one, without fraction or exponent and in
// range. It answers as json.Unmarshal into a json.Number followed by Number.Int64
// does; short plain integers, the usual case, are told without them.
func protoInt64(raw string) bool {
	digits := strings.TrimPrefix(raw, "-")
	// Up to 18 digits without a leading zero: always an int64.
	if n := len(digits); n > 0 && n <= 18 && (digits[0] != '0' || n == 1) && allDigits(digits) {
		return true
	}
	var n json.Number
	if json.Unmarshal([]byte(raw), &n) != nil {
		return false
	}
	_, err := n.Int64()
	return err == nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fieldPath is the path of the member key of the object at parent.
func fieldPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return " at '" + path + "'"
}

// --- splitting JSON objects ---

// jsonMember is one key and value of a JSON object, in document order.
type jsonMember struct {
	key   string // decoded, as encoding/json decodes keys
	value string // the JSON value as sent, without the whitespace around it
}

// jsonMembers returns the members of the JSON object raw in document order; nil
// when raw is not an object.
func jsonMembers(raw string) []jsonMember {
	members, ok := splitObject(raw)
	if !ok {
		return nil
	}
	return members
}

// splitObject splits the JSON object raw into its members, in document order and
// keeping duplicate keys; ok is false when raw is not an object. It gives what
// reading raw with json.Decoder.Token would, far cheaper: it walks the text once,
// skipping over each value (a string to its closing quote, a nested object or
// array to its closing bracket by depth) without decoding it; values and plain
// keys are substrings of raw, and a key goes through encoding/json only when it
// holds an escape or a byte that is not plain ASCII (see jsonString).
//
// raw must be valid JSON (see readObject): splitObject does not check literals,
// numbers or escapes. It fails on what it does notice, never panics, and ignores
// what follows the object.
func splitObject(raw string) (members []jsonMember, ok bool) {
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		return nil, false
	}
	if i = skipSpace(raw, i+1); i < len(raw) && raw[i] == '}' {
		return nil, true
	}
	for {
		// "key"
		if i == len(raw) || raw[i] != '"' {
			return nil, false
		}
		end := stringEnd(raw, i)
		if end < 0 {
			return nil, false
		}
		key, ok := jsonString(raw[i:end])
		if !ok {
			return nil, false
		}
		// :
		if i = skipSpace(raw, end); i == len(raw) || raw[i] != ':' {
			return nil, false
		}
		// value
		i = skipSpace(raw, i+1)
		if end = valueEnd(raw, i); end < 0 {
			return nil, false
		}
		if members == nil {
			members = make([]jsonMember, 0, 8)
		}
		members = append(members, jsonMember{key: key, value: raw[i:end]})
		// , or }
		if i = skipSpace(raw, end); i == len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return members, true
		default:
			return nil, false
		}
	}
}

// jsonString decodes the JSON value raw as json.Unmarshal into a string does: ok
// is false when Unmarshal would fail, and null (ok) or a failure leave s empty.
// A string without escapes, control characters or invalid UTF-8, which
// encoding/json takes as it is, is returned as a substring of raw.
func jsonString(raw string) (string, bool) {
	switch raw {
	case "": // no value at all: Unmarshal fails
		return "", false
	case "null":
		return "", true
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		text := raw[1 : len(raw)-1]
		plain, ascii := true, true
		for i := 0; i < len(text) && plain; i++ {
			switch c := text[i]; {
			case c < 0x20 || c == '"' || c == '\\':
				plain = false
			case c >= utf8.RuneSelf:
				ascii = false
			}
		}
		if plain && (ascii || utf8.ValidString(text)) {
			return text, true
		}
	}
	return unmarshalString(raw)
}

// unmarshalString is jsonString's slow path, apart so that jsonString's fast path
// does not allocate the string Unmarshal writes to.
func unmarshalString(raw string) (string, bool) {
	var s string
	err := json.Unmarshal([]byte(raw), &s)
	return s, err == nil
}

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t'
}

// skipSpace returns the index of the first byte of raw from i on that is not
// whitespace (len(raw) when there is none).
func skipSpace(raw string, i int) int {
	for i < len(raw) && isSpace(raw[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string that opens at raw[i] (a
// quote); -1 when it does not close.
func stringEnd(raw string, i int) int {
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++ // the escaped byte cannot close the string
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the JSON value that starts at raw[i]; -1
// when it does not end.
func valueEnd(raw string, i int) int {
	if i >= len(raw) {
		return -1
	}
	switch raw[i] {
	case '"':
		return stringEnd(raw, i)
	case '{', '[':
		// Up to the bracket that closes this one; brackets in strings do not count.
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				end := stringEnd(raw, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		// A number, true, false or null: up to the next delimiter.
		j := i
		for j < len(raw) && raw[j] != ',' && raw[j] != '}' && raw[j] != ']' && !isSpace(raw[j]) {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// compactLen is the length json.Compact gives the valid JSON raw: raw without the
// whitespace between its tokens.
func compactLen(raw string) int {
	n := 0
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c == '"':
			end := stringEnd(raw, i)
			if end < 0 {
				end = len(raw)
			}
			n += end - i
			i = end
		case isSpace(c):
			i++
		default:
			n++
			i++
		}
	}
	return n
}
