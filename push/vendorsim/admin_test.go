package vendorsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

func TestAdminFaultsAPI(t *testing.T) {
	s := startSim(t, Options{})
	admin := client(t, s, true) // tools speak HTTP/1.1 to the admin API
	p := newAPNsPusher(t, s)
	jsonHeader := http.Header{"Content-Type": {"application/json"}}

	body := `{"provider":"apns","token":"` + testDeviceToken + `","status":410,"reason":"Unregistered","latency":"1ms","retry_after":"2s","times":1}`
	r := do(t, admin, http.MethodPost, s.URL()+"/sim/faults", jsonHeader, []byte(body))
	if r.status != http.StatusCreated {
		t.Fatalf("POST /sim/faults: %d %s", r.status, r.body)
	}
	r = do(t, admin, http.MethodGet, s.URL()+"/sim/faults", nil, nil)
	var listed []map[string]any
	if err := json.Unmarshal(r.body, &listed); err != nil || len(listed) != 1 {
		t.Fatalf("GET /sim/faults: %s (%v)", r.body, err)
	}
	if listed[0]["latency"] != "1ms" || listed[0]["retry_after"] != "2s" || listed[0]["left"] != float64(1) {
		t.Fatalf("listed fault %v", listed[0])
	}

	if r := p.push(testDeviceToken); r.status != 410 || r.header.Get("Retry-After") != "2" {
		t.Fatalf("faulted push: %d %s Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	if r := do(t, admin, http.MethodGet, s.URL()+"/sim/faults", nil, nil); string(r.body) != "[]\n" {
		t.Fatalf("fault not used up: %s", r.body)
	}

	do(t, admin, http.MethodPost, s.URL()+"/sim/faults", jsonHeader, []byte(`{"provider":"apns","status":503}`))
	if r := do(t, admin, http.MethodDelete, s.URL()+"/sim/faults", nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE /sim/faults: %d", r.status)
	}
	if r := p.push(testDeviceToken); r.status != 200 {
		t.Fatalf("after DELETE: %d %s", r.status, r.body)
	}

	for _, bad := range []string{
		`{"provider":"apns","status":410,"color":"red"}`,
		`{"provider":"apns","status":410,"latency":"soon"}`,
		`{"provider":"telegram","status":410}`,
		`{"provider":"apns","status":302}`,
		`not json`,
	} {
		r := do(t, admin, http.MethodPost, s.URL()+"/sim/faults", jsonHeader, []byte(bad))
		if r.status != http.StatusBadRequest || jsonField(t, r.body, "error.code") != "bad_request" {
			t.Errorf("POST %s: %d %s, want 400 bad_request", bad, r.status, r.body)
		}
		if msg, _ := jsonField(t, r.body, "error.message").(string); msg == "" {
			t.Errorf("POST %s: no message", bad)
		}
	}
}

func TestAdminRecordsAPI(t *testing.T) {
	s := startSim(t, Options{})
	admin := client(t, s, true)
	p := newAPNsPusher(t, s)
	p.push(testDeviceToken)
	p.push(otherDeviceToken)
	p.h.Set("Apns-Priority", "3")
	p.push(testDeviceToken) // 400 BadPriority

	get := func(query string) []Record {
		t.Helper()
		r := do(t, admin, http.MethodGet, s.URL()+"/sim/records"+query, nil, nil)
		if r.status != 200 {
			t.Fatalf("GET /sim/records%s: %d %s", query, r.status, r.body)
		}
		var recs []Record
		if err := json.Unmarshal(r.body, &recs); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		return recs
	}
	if n := len(get("")); n != 3 {
		t.Fatalf("all records: %d", n)
	}
	recs := get("?provider=apns&token=" + testDeviceToken)
	if len(recs) != 2 || recs[1].Status != 400 || recs[1].Reason != "BadPriority" || string(recs[0].Body) != apnsBody {
		t.Fatalf("token records %+v", recs)
	}
	if recs := get("?provider=apns&token=" + testDeviceToken + "&delivered=true"); len(recs) != 1 || recs[0].Status != 200 {
		t.Fatalf("delivered records %+v", recs)
	}
	if n := len(get("?provider=fcm")); n != 0 {
		t.Fatalf("fcm records: %d", n)
	}
	r := do(t, admin, http.MethodGet, s.URL()+"/sim/records?provider=telegram", nil, nil)
	if r.status != 400 {
		t.Fatalf("bad provider: %d", r.status)
	}
	// The body of a JSON request is embedded as JSON, not as a string.
	raw := do(t, admin, http.MethodGet, s.URL()+"/sim/records?provider=apns", nil, nil)
	if v := jsonField(t, []byte(`{"r":`+string(raw.body)+`}`), "r"); v == nil {
		t.Fatalf("records %s", raw.body)
	}
	var generic []map[string]any
	_ = json.Unmarshal(raw.body, &generic)
	if _, isObject := generic[0]["body"].(map[string]any); !isObject {
		t.Fatalf("body not embedded as JSON: %v", generic[0]["body"])
	}

	if r := do(t, admin, http.MethodDelete, s.URL()+"/sim/records", nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE /sim/records: %d", r.status)
	}
	if n := len(s.Records("")); n != 0 {
		t.Fatalf("records after DELETE: %d", n)
	}
}

func TestAdminExpireAccessTokens(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	tok := fcmAccessToken(t, hc, s, time.Now())
	if r := do(t, client(t, s, true), http.MethodDelete, s.URL()+"/sim/access-tokens", nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE /sim/access-tokens: %d", r.status)
	}
	checkFCMError(t, fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken)), 401, "UNAUTHENTICATED", "")
	if len(s.Delivered(push.FCM, "")) != 0 {
		t.Fatal("delivered with an expired token")
	}
}

// TestAdminAnswersOnlyLoopback: a fault can unbind every device, so the admin
// API refuses a client that is not on the Sim's host, while the vendor
// endpoints still serve it.
func TestAdminAnswersOnlyLoopback(t *testing.T) {
	s := startSim(t, Options{})
	for _, c := range []struct {
		method, path, remote string
		want                 int
	}{
		{http.MethodPost, "/sim/faults", "203.0.113.9:40000", http.StatusForbidden},
		{http.MethodGet, "/sim/records", "[2001:db8::1]:40000", http.StatusForbidden},
		{http.MethodDelete, "/sim/faults", "10.1.2.3:40000", http.StatusForbidden},
		{http.MethodGet, "/sim/records", "127.0.0.1:40000", http.StatusOK},
		{http.MethodGet, "/sim/faults", "[::1]:40000", http.StatusOK},
	} {
		req := httptest.NewRequest(c.method, "https://sim.example"+c.path, strings.NewReader(`{"provider":"apns","status":410}`))
		req.RemoteAddr = c.remote
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s %s from %s: %d %s, want %d", c.method, c.path, c.remote, rec.Code, rec.Body, c.want)
		}
	}
	if n := len(s.faults.list()); n != 0 {
		t.Errorf("a refused POST set %d faults", n)
	}
	// A real loopback client is served.
	r := do(t, client(t, s, true), http.MethodGet, s.URL()+"/sim/faults", nil, nil)
	if r.status != http.StatusOK {
		t.Errorf("loopback GET /sim/faults: %d %s", r.status, r.body)
	}
}
