package daemon_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
)

// withRingProfile gives the harness's app a "ring" resources profile.
func withRingProfile(a *config.App) {
	a.Resources = map[string]map[string]config.Resource{
		"ring": {"apns": {Sound: "ring.caf", Category: "CALL"}, "fcm": {Sound: "ring", ChannelID: "calls"}},
	}
}

// TestPushTestTakesProfilesTypesAndVoIP: POST /v1/push/test tries every kind
// of push pushd makes: a resources_id profile, the VoIP push of a call with
// its CallKit handle, a silent push; a dry run shows the request, a real one
// reaches the simulator and answers its verdict.
func TestPushTestTakesProfilesTypesAndVoIP(t *testing.T) {
	h := startVendorDaemon(t, withRingProfile)
	alert := h.bind("bob", "iphone", push.APNs, apnsToken(7))
	voip := h.bind("bob", "iphone", push.APNs, apnsToken(8), map[string]any{"push_type": "voip"})

	out := h.mustCall("POST", "/v1/push/test", "key", map[string]any{
		"push_id": alert, "title": "T", "content": "C", "resources_id": "ring", "dry_run": true})
	body, _ := dig(out, "request", "body").(string)
	if out["push_type"] != "alert" || !strings.Contains(body, `"ring.caf"`) || !strings.Contains(body, `"CALL"`) {
		t.Errorf("dry run with the ring profile: push_type %v, body %s", out["push_type"], body)
	}
	if n := h.countRecords(push.APNs, apnsToken(7)); n != 0 {
		t.Fatalf("a dry run reached the vendor %d times", n)
	}

	out = h.mustCall("POST", "/v1/push/test", "key", map[string]any{
		"push_id": voip, "push_type": "voip", "content": "Alice calls",
		"voip": map[string]any{"handle_type": 1, "handle_value": "alice", "has_video": true}})
	if out["verdict"] != "delivered" || out["push_type"] != "voip" {
		t.Fatalf("voip test push: %v", out)
	}
	r := h.records(push.APNs, apnsToken(8), 1)[0]
	if r.Headers["apns-push-type"] != "voip" || !strings.HasSuffix(r.Headers["apns-topic"], ".voip") {
		t.Errorf("voip push headers: %v", r.Headers)
	}
	if !strings.Contains(string(r.Body), "alice") {
		t.Errorf("voip push body lacks the handle: %s", r.Body)
	}

	for _, bad := range []map[string]any{
		{"push_id": alert, "resources_id": "nope"},
		{"push_id": alert, "push_type": "banner"},
		{"push_id": alert, "voip": map[string]any{"handle_type": 9}},
	} {
		if st, out := h.call("POST", "/v1/push/test", "key", bad); st != http.StatusBadRequest {
			t.Errorf("%v: %d %v, want 400", bad, st, out)
		}
	}
	if st, out := h.call("POST", "/v1/push/test", "key", map[string]any{"push_id": "p0000", "dry_run": true}); st != http.StatusNotFound || dig(out, "error", "code") != "not_found" {
		t.Errorf("unknown push id: %d %v", st, out)
	}
}

// TestOverviewAndUserStreams: the console's read routes show the app's
// providers with their verdict counts, and a user's streams and cursors.
func TestOverviewAndUserStreams(t *testing.T) {
	h := startDaemon(t)
	h.bind("bob", "pixel", push.FCM, "fcm-overview-1")
	h.send("alice", "bob", "one", pushCfg{"title": "A", "content": "one"})
	h.send("alice", "bob", "two", nil)
	h.records(push.FCM, "fcm-overview-1", 1)
	c := h.connect("bob", "pixel")
	c.message("inbox", 1)
	c.message("inbox", 2)
	c.ack("inbox", 1)
	c.sync()
	c.close()

	var fcm map[string]any
	h.eventually("the fcm push counted as delivered", func() bool {
		out := h.mustCall("GET", "/v1/overview", "key", nil)
		ps, _ := out["providers"].([]any)
		for _, p := range ps {
			if pm := p.(map[string]any); pm["provider"] == "fcm" {
				fcm = pm
			}
		}
		return fcm != nil && dig(fcm, "pushes", "delivered") == float64(1)
	})
	if _, ok := fcm["retrying"]; !ok {
		t.Errorf("overview provider lacks the retry backlog: %v", fcm)
	}

	out := h.mustCall("GET", "/v1/users/bob/streams?limit=5", "key", nil)
	streams, _ := out["streams"].([]any)
	if len(streams) != 1 {
		t.Fatalf("streams: %v", out)
	}
	inbox := streams[0].(map[string]any)
	msgs, _ := inbox["messages"].([]any)
	if inbox["stream"] != "inbox" || inbox["last_seq"] != float64(2) || len(msgs) != 2 || msgs[0].(map[string]any)["body"] != "two" {
		t.Errorf("inbox: %v", inbox)
	}
	if dig(out, "cursors", "pixel", "inbox") != float64(1) {
		t.Errorf("cursors: %v", out["cursors"])
	}
	if st, _ := h.call("GET", "/v1/users/bob/streams?limit=x", "key", nil); st != http.StatusBadRequest {
		t.Errorf("bad limit: %d", st)
	}
	if st, _ := h.call("GET", "/v1/overview", "bob", nil); st != http.StatusForbidden {
		t.Errorf("overview with a client token: %d", st)
	}
}

// TestConsoleAssetsAreServed: the console's files come from the binary, with
// a policy that keeps the page (and the API key it holds) to this server.
func TestConsoleAssetsAreServed(t *testing.T) {
	h := startDaemon(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{"/console/": "text/html", "/console/app.js": "javascript", "/console/style.css": "text/css"} {
		resp, err := client.Get(h.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), want) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
			t.Errorf("%s: %d %q csp %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
		}
	}
	resp, err := client.Get(h.base + "/console")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || !strings.HasSuffix(resp.Header.Get("Location"), "/console/") {
		t.Errorf("/console: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range []string{"/console/nope.js", "/console/console.go"} {
		if st, _ := h.call("GET", p, "", nil); st != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, st)
		}
	}
	if st, _ := h.call("POST", "/console/", "", nil); st != http.StatusMethodNotAllowed {
		t.Errorf("POST /console/: %d", st)
	}
}
