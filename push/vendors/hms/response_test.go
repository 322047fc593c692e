package hms

import (
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

func TestParseAnswer(t *testing.T) {
	cases := []struct {
		name string
		body string
		want answer
	}{
		{"success", `{"code":"80000000","msg":"Success","requestId":"1"}`, answer{code: "80000000", msg: "Success"}},
		{"partial, msg a JSON string", `{"code":"80100000","msg":"{\"success\":1,\"failure\":2,\"illegal_tokens\":[\"a\",\"b\"]}"}`,
			answer{code: "80100000", msg: `{"success":1,"failure":2,"illegal_tokens":["a","b"]}`, illegalTokens: []string{"a", "b"}}},
		{"partial, msg an object", `{"code":"80100000","msg":{"illegal_tokens":["a"]}}`,
			answer{code: "80100000", msg: `{"illegal_tokens":["a"]}`, illegalTokens: []string{"a"}}},
		{"numeric code", `{"code":80300007,"msg":"x"}`, answer{code: "80300007", msg: "x"}},
		{"odd types", `{"code":true,"msg":[1]}`, answer{}},
		{"msg JSON but not the counts", `{"code":"80100000","msg":"{\"illegal_tokens\":\"a\"}"}`,
			answer{code: "80100000", msg: `{"illegal_tokens":"a"}`}},
		{"not JSON", `<html>`, answer{}},
		{"empty", ``, answer{}},
	}
	for _, tc := range cases {
		if got := parseAnswer([]byte(tc.body)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: parseAnswer = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestVerdictFallbacks(t *testing.T) {
	cases := []struct {
		status int
		code   string
		want   push.Verdict
	}{
		{200, "80000000", push.Delivered},
		{400, "80000000", push.Delivered}, // the code decides when Huawei gives one
		{401, "", push.AuthExpired},
		{401, "89999999", push.AuthExpired},
		{408, "", push.Retry},
		{429, "", push.Retry},
		{503, "", push.Retry},
		{500, "80300008", push.BadRequest},
		{200, "", push.BadRequest},
		{400, "", push.BadRequest},
		{404, "", push.BadRequest},
	}
	for _, tc := range cases {
		if got := verdictFor(tc.status, tc.code); got != tc.want {
			t.Errorf("verdictFor(%d, %q) = %s, want %s", tc.status, tc.code, got, tc.want)
		}
	}
}

func TestNotifyIDIsStableAndPositive(t *testing.T) {
	a, b := notifyID("msg-1"), notifyID("msg-2")
	if a != notifyID("msg-1") || a == b {
		t.Errorf("notifyID: msg-1 %d, again %d, msg-2 %d", a, notifyID("msg-1"), b)
	}
	for _, s := range []string{"", "x", "msg-1", "\xff\xfe", "a very long collapse id with spaces"} {
		if id := notifyID(s); id <= 0 || id > 1<<31-1 {
			t.Errorf("notifyID(%q) = %d, not a positive int32", s, id)
		}
	}
	// FNV-1a 32 of "a" is 0xe40c292c; the sign bit is cleared.
	if got := notifyID("a"); got != 0x640c292c {
		t.Errorf("notifyID(a) = %#x, want 0x640c292c", got)
	}
}

func TestTTL(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{time.Hour, "3600s"},
		{1500 * time.Millisecond, "2s"},
		{time.Millisecond, "1s"},
		{16 * 24 * time.Hour, "1296000s"},
	}
	for _, tc := range cases {
		if got := vendorhttp.TTL(tc.d, maxTTL); got != tc.want {
			t.Errorf("ttl(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// FuzzParseResponse feeds arbitrary Huawei answers to the parser: it must not
// panic, must reach a verdict, must report only tokens that were sent as
// invalid, and must never call a whole batch of several tokens invalid.
func FuzzParseResponse(f *testing.F) {
	f.Add(200, []byte(`{"code":"80000000","msg":"Success","requestId":"1"}`), 1)
	f.Add(200, []byte(`{"code":"80100000","msg":"{\"success\":1,\"failure\":1,\"illegal_tokens\":[\"t0\",\"zz\"]}"}`), 2)
	f.Add(200, []byte(`{"code":"80100000","msg":{"illegal_tokens":["t0","t1"]}}`), 2)
	f.Add(400, []byte(`{"code":"80300007","msg":"All the tokens are invalid."}`), 3)
	f.Add(401, []byte(`{"code":80200003}`), 1)
	f.Add(503, []byte(`<html>`), 1)
	f.Add(200, []byte(`{"code":"80100000","msg":"{\"illegal_tokens\":[\"t0\"]}"}`), 1)
	f.Fuzz(func(t *testing.T, status int, body []byte, n int) {
		n = 1 + int(uint(n)%5)
		sentTokens := make([]string, n)
		for i := range sentTokens {
			sentTokens[i] = "t" + string(rune('0'+i))
		}
		r := parseResponse(status, http.Header{}, body, sentTokens, time.Now())
		switch r.Verdict {
		case push.Delivered, push.Retry, push.TokenInvalid, push.AuthExpired, push.BadRequest:
		default:
			t.Fatalf("verdict %q for status %d", r.Verdict, status)
		}
		if r.Status != status || r.Reason == "" {
			t.Fatalf("status %d reason %q", r.Status, r.Reason)
		}
		for _, tok := range r.InvalidTokens {
			if !slices.Contains(sentTokens, tok) {
				t.Fatalf("invalid token %q was not sent", tok)
			}
		}
		if len(r.InvalidTokens) >= n {
			t.Fatalf("all %d tokens listed invalid with verdict %s", n, r.Verdict)
		}
		if r.Verdict == push.TokenInvalid && n > 1 {
			t.Fatalf("a batch of %d called invalid: %q", n, body)
		}
		if len(r.InvalidTokens) > 0 && r.Verdict != push.Delivered {
			t.Fatalf("invalid tokens with verdict %s", r.Verdict)
		}
	})
}
