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

// checkJSONString compares AppendJSONString with json.Marshal of s.
func checkJSONString(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
		t.Fatalf("AppendJSONString(%q) = %s, json.Marshal = %s", s, got[1:], want)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted" \back\`, "\b\f\n\r\t\x00\x1f\x7f", "<a href='x'>&amp;</a>",
		"\u2028\u2029", "é中🙂", "\xff", "a\xc3", "\xed\xa0\x80", "\ufffd"} {
		checkJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "<&>", "\u2028", "\xff\xfe", "\x00\"\\"} {
		f.Add(s)
	}
	f.Fuzz(checkJSONString)
}
