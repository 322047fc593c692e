package xiaomi

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

func TestParseAnswer(t *testing.T) {
	cases := []struct {
		body    string
		ok      bool
		code    int
		hasCode bool
		text    string
		bad     []string
	}{
		{`{"result":"ok","code":0,"data":{"id":"x","bad_regids":"a, b,,c"}}`, true, 0, true, "", []string{"a", "b", "c"}},
		{`{"result":"ok","code":0,"data":{"bad_regIds":"a"}}`, true, 0, true, "", []string{"a"}},
		{`{"result":"ok","code":0,"data":{"bad_regids":["a","b"]}}`, true, 0, true, "", []string{"a", "b"}},
		{`{"result":"error","code":21305,"reason":"Missing","description":"缺少"}`, true, 21305, true, "Missing", nil},
		{`{"result":"error","code":"200001","description":"超过"}`, true, 200001, true, "超过", nil},
		{`{"result":"error","code":1.5}`, true, 0, false, "", nil},
		{`{"result":"error","code":null,"data":"oops"}`, true, 0, false, "", nil},
		{`{"result":"ok","data":{"bad_regids":7}}`, true, 0, false, "", nil},
		{`[1,2]`, false, 0, false, "", nil},
		{`null`, false, 0, false, "", nil},
		{``, false, 0, false, "", nil},
	}
	for _, tc := range cases {
		a, ok := parseAnswer([]byte(tc.body))
		if ok != tc.ok || a.code != tc.code || a.hasCode != tc.hasCode || a.text != tc.text || !slices.Equal(a.badRegIDs, tc.bad) {
			t.Errorf("parseAnswer(%s) = %+v %v", tc.body, a, ok)
		}
	}
}

func TestTimeToLive(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want int64
		err  bool
	}{
		{time.Hour, 3600000, false},
		{time.Microsecond, 1, false},
		{1500 * time.Microsecond, 2, false},
		{14 * 24 * time.Hour, 1209600000, false},
		{15 * 24 * time.Hour, 1209600000, false},
		{0, 0, true},
		{-time.Second, 0, true},
	}
	for _, tc := range cases {
		got, err := timeToLive(tc.d)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("timeToLive(%v) = %d, %v", tc.d, got, err)
		}
	}
}

// FuzzParseResponse feeds arbitrary MiPush answers to the parser: it must not
// panic, must always reach one of the verdicts, and may call only ids of the
// request invalid — and only on code 20301 or bad_regids.
func FuzzParseResponse(f *testing.F) {
	f.Add(200, []byte(`{"result":"ok","code":0,"data":{"id":"x","bad_regids":"a,c"}}`))
	f.Add(200, []byte(`{"result":"ok","code":0,"data":{"bad_regids":"a,b"}}`))
	f.Add(200, []byte(`{"result":"error","code":20301}`))
	f.Add(200, []byte(`{"result":"error","code":"200001"}`))
	f.Add(200, []byte(`{"code":10002,"data":[1]}`))
	f.Add(503, []byte(`<html>`))
	f.Add(401, []byte(``))
	tokens := []string{"a", "b"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r := parseResponse(status, http.Header{}, body, tokens, time.Now())
		switch r.Verdict {
		case push.Delivered, push.Retry, push.TokenInvalid, push.QuotaExhausted, push.BadRequest:
		default:
			t.Fatalf("verdict %q for %d %q", r.Verdict, status, body)
		}
		if r.Status != status {
			t.Fatalf("status %d reported as %d", status, r.Status)
		}
		for _, id := range r.InvalidTokens {
			if !slices.Contains(tokens, id) {
				t.Fatalf("invalid id %q is not one of the request's", id)
			}
		}
		a, _ := parseAnswer(body)
		if len(r.InvalidTokens) > 0 && !(a.hasCode && (a.code == codeInvalidRegIDs || a.code == codeOK && len(a.badRegIDs) > 0) ||
			!a.hasCode && len(a.badRegIDs) > 0) {
			t.Fatalf("invalid ids %v from %q", r.InvalidTokens, body)
		}
		if r.Verdict == push.TokenInvalid && len(r.InvalidTokens) == 0 {
			t.Fatalf("token invalid without the ids, from %q", body)
		}
	})
}
