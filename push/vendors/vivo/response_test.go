package vivo

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pushd-im/pushd/push"
)

func TestEveryTableCodeMaps(t *testing.T) {
	want := map[int]push.Verdict{
		0: push.Delivered, 10302: push.TokenInvalid, 10000: push.AuthExpired,
		10070: push.QuotaExhausted, 10252: push.QuotaExhausted, 10254: push.QuotaExhausted,
		10072: push.Retry, 10094: push.BadRequest, 10200: push.BadRequest, 10201: push.BadRequest, -1: push.BadRequest,
	}
	for code, v := range want {
		if got := verdictFor(code); got != v {
			t.Errorf("verdictFor(%d) = %s, want %s", code, got, v)
		}
	}
	for code := range verdicts {
		if _, ok := want[code]; !ok {
			t.Errorf("code %d of the table is not tested", code)
		}
	}
}

func TestParseAnswerShapes(t *testing.T) {
	a := parseAnswer([]byte(`{"result":0,"desc":"请求成功","taskId":123456789012345678,"invalidUsers":[{"status":1,"userid":"a"},{"status":"x","userid":"b"},{"userid":42}]}`))
	if a.Result == nil || *a.Result != 0 || a.TaskID != "123456789012345678" {
		t.Fatalf("answer = %+v", a)
	}
	if got := a.invalid([]string{"b", "c", "a", "42"}, false); !reflect.DeepEqual(got, []string{"b", "a", "42"}) {
		t.Errorf("invalid = %v, want the named regIds in request order", got)
	}
	a = parseAnswer([]byte(`{"result":10302,"invalidUser":{"status":1,"userid":"x"}}`))
	if got := a.invalid([]string{"x", "y"}, true); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("invalidUser: %v", got)
	}
	if got := parseAnswer([]byte(`{"result":10302}`)).invalid([]string{"x", "y"}, true); !reflect.DeepEqual(got, []string{"x", "y"}) {
		t.Errorf("none named, all: %v", got)
	}
	if a := parseAnswer([]byte(`{"result":"0","authToken":"t"}`)); a.Result != nil || a.AuthToken != "t" {
		t.Errorf("a string result is not vivo's: %+v", a)
	}
}

func TestHelpers(t *testing.T) {
	for _, tc := range []struct {
		s     string
		width int
	}{{"abc", 3}, {"标题", 4}, {"ひらがなカタカナ한글", 20}, {"😀x", 2}, {"，。", 4}, {"ＡＢ", 4}} {
		if w := textWidth(tc.s); w != tc.width {
			t.Errorf("textWidth(%q) = %d, want %d", tc.s, w, tc.width)
		}
	}
	for _, tc := range []struct {
		s     string
		width int
		want  string
	}{
		{"hello", 5, "hello"}, {"hello!", 5, "hell…"}, {"标题标题", 5, "标题…"}, {"a标题", 4, "a标…"}, {"", 3, ""},
	} {
		if got := cutWidth(tc.s, tc.width); got != tc.want {
			t.Errorf("cutWidth(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{{0, 60}, {-time.Hour, 60}, {61 * time.Second, 61}, {1500 * time.Millisecond * 100, 150}, {8 * 24 * time.Hour, 604800}} {
		if got := ttlSeconds(tc.d); got != tc.want {
			t.Errorf("ttlSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	if id := requestID(strings.Repeat("é", 40)); len(id) > maxRequestID || !utf8.ValidString(id) {
		t.Errorf("requestID of a long ID = %q", id)
	}
}

// FuzzParseResponse feeds arbitrary vivo answers to the parser: it must not
// panic, must always reach a verdict, must call a token dead only on 10302 and
// must report only requested regIds as invalid.
func FuzzParseResponse(f *testing.F) {
	f.Add(200, []byte(`{"result":0,"desc":"请求成功","taskId":"1"}`))
	f.Add(200, []byte(`{"result":10302,"desc":"regId不合法","invalidUser":{"status":1,"userid":"a"}}`))
	f.Add(200, []byte(`{"result":0,"invalidUsers":[{"status":1,"userid":"a"},{"userid":7},null,"x"]}`))
	f.Add(200, []byte(`{"result":10000}`))
	f.Add(500, []byte(`Internet server error!`))
	f.Add(200, []byte(`{"result":1e3,"taskId":{},"invalidUser":[]}`))
	f.Add(0, []byte(``))
	regIDs := []string{"a", "b", "7"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r, a := parseResponse(status, http.Header{}, body, time.Now())
		switch r.Verdict {
		case push.Delivered, push.Retry, push.TokenInvalid, push.AuthExpired, push.QuotaExhausted, push.BadRequest:
		default:
			t.Fatalf("verdict %q for status %d", r.Verdict, status)
		}
		if r.Status != status {
			t.Fatalf("status %d reported as %d", status, r.Status)
		}
		if r.Verdict == push.TokenInvalid && (a.Result == nil || *a.Result != 10302) {
			t.Fatalf("token invalid without result 10302: %s", body)
		}
		if r.Verdict == push.Delivered && (a.Result == nil || *a.Result != 0 || status < 200 || status > 299) {
			t.Fatalf("delivered without result 0 on a 2xx: %d %s", status, body)
		}
		for _, id := range a.invalid(regIDs, true) {
			if id != "a" && id != "b" && id != "7" {
				t.Fatalf("invalid regId %q was not requested", id)
			}
		}
	})
}
