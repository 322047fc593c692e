package vendorhttp

import (
	"encoding/json"
	"strconv"
	"strings"
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
