package vendorsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// FuzzHonorSendBody checks the sendMessage body checker: every answer is
// Honor's JSON with a known code, and an accepted message has 1 to
// honorMaxTokens tokens, its dead ones named.
func FuzzHonorSendBody(f *testing.F) {
	s := newFuzzSim(f)
	v := &honorVendor{env: testEnv(s, honorProvider), creds: honorCredentialsOf(s.creds)}
	f.Add([]byte(`{"token":["t1","invalid-2"],"android":{"notification":{"title":"a","body":"b","clickAction":{"type":3},"importance":"NORMAL"}}}`))
	f.Add([]byte(`{"token":["t1"],"data":"{\"k\":\"v\"}","android":{"ttl":"60s"}}`))
	f.Add([]byte(`{"token":["t1"],"data":"x"}`))
	f.Add([]byte(`{"token":[],"android":{"ttl":"s"}}`))
	f.Add([]byte(`{"token":["t"],"android":{"notification":{"title":1}}}`))
	f.Add([]byte(`[]`))
	known := map[int]bool{honorCodeSuccess: true, honorCodeParam: true, honorCodeStructure: true, honorCodeAllInvalid: true,
		honorCodeTooLarge: true, honorCodeTokenCount: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: honorSendPrefix + v.creds.appID + honorSendSuffix}, Header: http.Header{}}
		targets := v.targets(r, body)
		a := v.serve(r, body, targets)
		var b struct {
			Code int `json:"code"`
		}
		if err := json.Unmarshal(a.body, &b); err != nil {
			t.Fatalf("answer %q is not JSON: %v", a.body, err)
		}
		if !known[b.Code] {
			t.Fatalf("code %d (status %d) for %q", b.Code, a.status, body)
		}
		if a.accepted && (len(targets) == 0 || len(targets) > honorMaxTokens || len(a.invalidTokens) >= len(targets)) {
			t.Fatalf("accepted %q with %d targets, %d dead", body, len(targets), len(a.invalidTokens))
		}
	})
}

// Honor refuses a badge without its launcher class or with a number out of
// range, as Huawei does.
func TestHonorBadgeShape(t *testing.T) {
	const note = `{"token":["t"],"android":{"notification":{"title":"a","body":"b","clickAction":{"type":3},"badge":%s}}}`
	for badge, want := range map[string]string{
		`{"setNum":5,"badgeClass":"com.example.Main"}`: "",
		`{"addNum":1,"badgeClass":"com.example.Main"}`: "",
		`{"setNum":0,"badgeClass":"com.example.Main"}`: "",
		`{"setNum":5}`: "android.notification.badge.badgeClass is required",
		`{"setNum":100,"badgeClass":"com.example.Main"}`: "android.notification.badge.addNum must be in [1, 99] and setNum in [0, 99]",
		`{"addNum":0,"badgeClass":"com.example.Main"}`:   "android.notification.badge.addNum must be in [1, 99] and setNum in [0, 99]",
	} {
		var m honorRequest
		if err := json.Unmarshal(fmt.Appendf(nil, note, badge), &m); err != nil {
			t.Fatal(err)
		}
		if got := m.check(); got != want {
			t.Errorf("badge %s: check = %q, want %q", badge, got, want)
		}
	}
}
