package vendorhttp

import (
	"encoding/json"
	"testing"
)

func TestCutBytes(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 64, "short"},
		{"abcdef", 4, "abcd"},
		{"ab€", 4, "ab"}, // € is 3 bytes; cutting inside it would leave invalid UTF-8
		{"ab€", 5, "ab€"},
		{"€", 0, ""},
	}
	for _, tc := range cases {
		if got := CutBytes(tc.in, tc.max); got != tc.want {
			t.Errorf("CutBytes(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestCutChars(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 5, "short"},
		{"abcdef", 4, "abc…"},
		{"标题标题标题", 6, "标题标题标题"},
		{"标题标题标题", 3, "标题…"},
		{"ab", 1, "…"},
	}
	for _, tc := range cases {
		if got := CutChars(tc.in, tc.max); got != tc.want {
			t.Errorf("CutChars(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestJSONInt(t *testing.T) {
	cases := []struct {
		raw  string
		want int
		ok   bool
	}{
		{`0`, 0, true},
		{`-2`, -2, true},
		{` 20301 `, 20301, true},
		{`"11"`, 11, true},
		{`" 11 "`, 11, true},
		{`1.5`, 0, false},
		{`1e3`, 0, false},
		{`"x"`, 0, false},
		{`""`, 0, false},
		{`null`, 0, false},
		{``, 0, false},
		{`{}`, 0, false},
		{`true`, 0, false},
	}
	for _, tc := range cases {
		if got, ok := JSONInt(json.RawMessage(tc.raw)); got != tc.want || ok != tc.ok {
			t.Errorf("JSONInt(%s) = %d, %v; want %d, %v", tc.raw, got, ok, tc.want, tc.ok)
		}
	}
}
