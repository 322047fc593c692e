package vendorhttp

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CutBytes cuts s to at most n bytes without splitting a character, so that a
// cut id or header stays valid UTF-8 and the same input gives the same cut.
func CutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// CutChars cuts s to at most n characters (n > 0), ending a cut text with "…".
func CutChars(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// JSONInt reads an integer given as a JSON number or as a JSON string holding
// one (spaces around it allowed); anything else is not one.
func JSONInt(raw json.RawMessage) (int, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		n = json.Number(strings.TrimSpace(s))
	}
	i, err := strconv.Atoi(n.String())
	return i, err == nil
}

// jsonSafe reports whether encoding/json, with HTML escaping on, writes the
// ASCII byte c as it is: all but the controls, '"', '\\', '<', '>' and '&'.
func jsonSafe(c byte) bool {
	return c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string exactly as encoding/json's
// default (HTML-escaping) encoder writes it: \b \f \n \r \t \" \\ as short
// escapes, other controls and <, >, & as \u00XX, U+2028 and U+2029 as \u2028
// and \u2029, and each byte of invalid UTF-8 as \ufffd. The vendor clients
// append their JSON bodies with it instead of marshalling maps and structs.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// TTL formats how long a vendor should keep a message as Google's duration
// string, whole seconds with an "s" ("86400s"), rounded up and between 0
// (deliver now or drop) and limit: FCM's android.ttl and Huawei's take it.
func TTL(d, limit time.Duration) string {
	d = min(max(d, 0), limit)
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10) + "s"
}
