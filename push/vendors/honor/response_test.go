package honor

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

// TestVerdicts: each row of the table, and the guards on a batch.
func TestVerdicts(t *testing.T) {
	one, three := []string{"t0"}, []string{"t0", "t1", "t2"}
	cases := []struct {
		name    string
		status  int
		body    string
		sent    []string
		want    push.Verdict
		invalid []string
	}{
		{"success", 200, `{"code":200,"message":"success","data":{"sendResult":true}}`, one, push.Delivered, nil},
		{"success as a string", 200, `{"code":"200","message":"success"}`, one, push.Delivered, nil},
		{"expired tokens of a batch", 200, `{"code":200,"data":{"expireTokens":["t1"],"failTokens":["t2"]}}`, three, push.Delivered, []string{"t1", "t2"}},
		{"the one token expired", 200, `{"code":200,"data":{"expireTokens":["t0"]}}`, one, push.TokenInvalid, nil},
		{"a whole batch refused", 200, `{"code":200,"data":{"failTokens":["t0","t1","t2"]}}`, three, push.BadRequest, nil},
		{"all invalid, one token", 200, `{"code":80300007}`, one, push.TokenInvalid, nil},
		{"all invalid, a batch", 200, `{"code":80300007}`, three, push.BadRequest, nil},
		{"access token expired", 401, `{"code":80200003,"message":"expired"}`, one, push.AuthExpired, nil},
		{"foreign access token", 401, `{"code":80200001}`, one, push.AuthExpired, nil},
		{"too large", 400, `{"code":80300008}`, one, push.BadRequest, nil},
		{"internal", 500, `{"code":81000001}`, one, push.Retry, nil},
		{"unknown code, 503", 503, `{"code":503,"message":"flow control"}`, one, push.Retry, nil},
		{"unknown code, 401", 401, `{"code":12345}`, one, push.AuthExpired, nil},
		{"a proxy's page", 502, `<html>bad gateway</html>`, one, push.Retry, nil},
		{"a proxy's 401", 401, ``, one, push.AuthExpired, nil},
		{"not JSON, 200", 200, `ok`, one, push.BadRequest, nil},
	}
	for _, c := range cases {
		r := parseResponse(c.status, http.Header{}, []byte(c.body), c.sent, time.Now())
		if r.Verdict != c.want || !slices.Equal(r.InvalidTokens, c.invalid) || r.Status != c.status {
			t.Errorf("%s: %+v, want %s invalid %v", c.name, r, c.want, c.invalid)
		}
	}
}

// FuzzParseResponse feeds arbitrary answers to the parser: it must reach a
// verdict, name only tokens that were sent, and never unbind a whole batch.
func FuzzParseResponse(f *testing.F) {
	f.Add(200, []byte(`{"code":200,"data":{"expireTokens":["t0"]}}`), 2)
	f.Add(200, []byte(`{"code":80300007}`), 3)
	f.Add(401, []byte(`{"code":"80200003"}`), 1)
	f.Add(503, []byte(`<html>`), 1)
	f.Fuzz(func(t *testing.T, status int, body []byte, n int) {
		sent := make([]string, 1+int(uint(n)%5))
		for i := range sent {
			sent[i] = "t" + string(rune('0'+i))
		}
		r := parseResponse(status, http.Header{}, body, sent, time.Now())
		switch r.Verdict {
		case push.Delivered, push.Retry, push.TokenInvalid, push.AuthExpired, push.BadRequest:
		default:
			t.Fatalf("verdict %q", r.Verdict)
		}
		if r.Reason == "" && r.Verdict != push.Delivered {
			t.Fatalf("no reason for %s", r.Verdict)
		}
		if len(sent) > 1 && (r.Verdict == push.TokenInvalid || len(r.InvalidTokens) >= len(sent)) {
			t.Fatalf("a whole batch of %d unbound: %+v", len(sent), r)
		}
	})
}
