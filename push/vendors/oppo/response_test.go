package oppo

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

func TestParseAnswer(t *testing.T) {
	cases := []struct {
		body string
		ok   bool
		code int
		msg  string
	}{
		{`{"code":0,"message":"Success","data":{"messageId":"m"}}`, true, 0, "Success"},
		{`{"code":-2,"message":"Service in Flow Control"}`, true, -2, "Service in Flow Control"},
		{`{"code":"33"}`, true, 33, ""},
		{`{"code":11,"message":7}`, true, 11, "7"},
		{`{"message":"no code"}`, false, 0, ""},
		{`{"code":1.5}`, false, 0, ""},
		{`{"code":null}`, false, 0, ""},
		{`[1]`, false, 0, ""},
		{``, false, 0, ""},
	}
	for _, tc := range cases {
		a, ok := parseAnswer([]byte(tc.body))
		if ok != tc.ok || a.code != tc.code || a.message != tc.msg {
			t.Errorf("%s: %v %d %q, want %v %d %q", tc.body, ok, a.code, a.message, tc.ok, tc.code, tc.msg)
		}
	}
}

func TestDeadRegIDs(t *testing.T) {
	targets := []string{"a", "b", "c", "d", "e"}
	cases := []struct {
		data string
		want []string
	}{
		{`{"message_id":"m","task_id":"t"}`, nil},
		{`{"message_id":"m","10000":["c","a"],"10004":["b"]}`, []string{"a", "c"}},
		{`{"10001":"e;d","10000":"b"}`, []string{"b", "d", "e"}},
		{`{"10000":["x","a"]}`, []string{"a"}}, // only the request's targets
		{`{"10000":[1,2]}`, nil},
		{`"text"`, nil},
		{`null`, nil},
	}
	for _, tc := range cases {
		if got := deadRegIDs(json.RawMessage(tc.data), targets); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.data, got, tc.want)
		}
	}
}

func TestVerdictForRegIDCodes(t *testing.T) {
	for _, code := range invalidRegIDCodes {
		if verdictFor(code) != push.TokenInvalid {
			t.Errorf("dead-regId code %d is not TokenInvalid", code)
		}
	}
	if verdictFor(codeRepeatedRegID) == push.TokenInvalid {
		t.Error("a repeated target is not a dead token")
	}
}

// FuzzParseResponse feeds arbitrary OPPO answers to the parser: it must not
// panic, must always reach a known verdict, must call a token dead only on a
// dead-regId code, and must report only listed targets as dead.
func FuzzParseResponse(f *testing.F) {
	f.Add(200, []byte(`{"code":0,"message":"Success","data":{"messageId":"m"}}`))
	f.Add(200, []byte(`{"code":0,"data":{"message_id":"m","task_id":"t","10000":["a"],"10001":"b;c","10004":["d"]}}`))
	f.Add(200, []byte(`{"code":10000,"message":"Invalid RegistrationId"}`))
	f.Add(200, []byte(`{"code":"11"}`))
	f.Add(502, []byte(`<html>`))
	f.Add(400, []byte(`{"code":{},"data":[]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r, a := parseResponse(status, http.Header{}, body, time.Now())
		switch r.Verdict {
		case push.Delivered, push.Retry, push.TokenInvalid, push.AuthExpired, push.QuotaExhausted, push.BadRequest:
		default:
			t.Fatalf("verdict %q", r.Verdict)
		}
		if r.Status != status {
			t.Fatalf("status %d reported as %d", status, r.Status)
		}
		if r.Verdict == push.TokenInvalid && !slices.Contains(invalidRegIDCodes, a.code) {
			t.Fatalf("token invalid on code %d", a.code)
		}
		if r.Verdict == push.Delivered && a.code != codeSuccess {
			t.Fatalf("delivered on code %d", a.code)
		}
		targets := []string{"a", "b", "c"}
		for _, d := range deadRegIDs(a.data, targets) {
			if !slices.Contains(targets, d) {
				t.Fatalf("dead %q is not a target", d)
			}
		}
		_ = messageID(a.data)
	})
}
