package vendorsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// jsonFields is a JSON object's members, read by name with a type check. The
// one reader for every vendor's JSON: the errors say what the member should
// be, and each vendor turns them into its own code. A nil jsonFields (an
// absent object) has no members.
//
// Every read reports whether the member is set: false when it is absent or
// null, as the vendors treat a null member as a missing one.
type jsonFields map[string]json.RawMessage

// decodeJSONObject decodes raw as an object; ok is false for anything else,
// null included.
func decodeJSONObject(raw []byte) (f jsonFields, ok bool) {
	if json.Unmarshal(raw, &f) != nil || f == nil {
		return nil, false
	}
	return f, true
}

// set reports whether member name is there and not null.
func (f jsonFields) set(name string) bool {
	raw := bytes.TrimSpace(f[name])
	return len(raw) > 0 && string(raw) != "null"
}

// object returns member name as an object.
func (f jsonFields) object(name string) (jsonFields, bool, error) {
	if !f.set(name) {
		return nil, false, nil
	}
	o, ok := decodeJSONObject(f[name])
	if !ok {
		return nil, true, fmt.Errorf("%s must be an object", name)
	}
	return o, true, nil
}

// str returns member name as a string.
func (f jsonFields) str(name string) (string, bool, error) {
	if !f.set(name) {
		return "", false, nil
	}
	var s string
	if json.Unmarshal(f[name], &s) != nil {
		return "", true, fmt.Errorf("%s must be a string", name)
	}
	return s, true, nil
}

// integer returns member name as a JSON integer.
func (f jsonFields) integer(name string) (int, bool, error) {
	if !f.set(name) {
		return 0, false, nil
	}
	var n int
	if json.Unmarshal(f[name], &n) != nil {
		return 0, true, fmt.Errorf("%s must be an integer", name)
	}
	return n, true, nil
}

// boolean returns member name as a JSON boolean.
func (f jsonFields) boolean(name string) (bool, bool, error) {
	if !f.set(name) {
		return false, false, nil
	}
	var b bool
	if json.Unmarshal(f[name], &b) != nil {
		return false, true, fmt.Errorf("%s must be a boolean", name)
	}
	return b, true, nil
}

// The loose forms below are for vendors whose Java parsers also take a
// string holding the number or boolean (OPPO, vivo). They differ where
// those parsers do.

// looseInteger returns member name as a JSON integer or a string holding
// one, space around it allowed, as OPPO takes them.
func (f jsonFields) looseInteger(name string) (int, bool, error) {
	n, set, err := f.integer(name)
	if !set || err == nil {
		return n, set, nil
	}
	if s, _, serr := f.str(name); serr == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			return n, true, nil
		}
	}
	return 0, true, err
}

// looseBoolean returns member name as a JSON boolean or a string holding one
// (strconv.ParseBool's forms), as OPPO takes them.
func (f jsonFields) looseBoolean(name string) (bool, bool, error) {
	b, set, err := f.boolean(name)
	if !set || err == nil {
		return b, set, nil
	}
	if s, _, serr := f.str(name); serr == nil {
		if b, err := strconv.ParseBool(s); err == nil {
			return b, true, nil
		}
	}
	return false, true, err
}

// integerText returns member name as the text of a 64-bit integer as sent:
// a JSON integer, or a string holding exactly one (vivo's Java side coerces
// those, and its own doc example sends "networkType":"1"). The text is kept
// because vivo signs and compares it: "+1" is not "1" there, and space around
// the digits is refused.
func (f jsonFields) integerText(name string) (string, bool, error) {
	if !f.set(name) {
		return "", false, nil
	}
	text, _, err := f.str(name)
	if err != nil {
		text = string(bytes.TrimSpace(f[name])) // not a string: the JSON text itself
	}
	if _, perr := strconv.ParseInt(text, 10, 64); perr != nil {
		return "", true, fmt.Errorf("%s must be an integer", name)
	}
	return text, true, nil
}

// integerTextValue is integerText's value.
func (f jsonFields) integerTextValue(name string) (int64, bool, error) {
	text, set, err := f.integerText(name)
	if err != nil {
		return 0, set, err
	}
	n, _ := strconv.ParseInt(text, 10, 64)
	return n, set, nil
}
