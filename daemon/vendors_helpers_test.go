package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// Helpers for the Android vendor tests (vendors_test.go). Names carry a "vnd"
// prefix so that they do not collide with other test files of the package.

// The custom app of the vendor tests. It keeps the demo app's id so that the
// harness's client tokens (minted for daemon.DemoAppID) are valid for it.
const (
	vndAPIKey = "pk_vendors_test_0123456789abcdef"
	vndSecret = "vendors-test-client-token-secret-0123456789"
)

// androidVendors are the four vendors under test, in a fixed order.
var androidVendors = []push.Provider{push.HMS, push.Xiaomi, push.OPPO, push.Vivo}

// startVendorDaemon starts a daemon whose only app is the vendor tests' app:
// no providers (so the daemon points every provider at its simulator), with
// app applied to it (rate_limits, resources) and mods to the config.
func startVendorDaemon(t *testing.T, app func(a *config.App), mods ...func(*config.Config)) *harness {
	t.Helper()
	all := append([]func(*config.Config){func(c *config.Config) {
		a := config.App{ID: daemon.DemoAppID, APIKeys: []string{vndAPIKey}, ClientTokenSecret: vndSecret}
		if app != nil {
			app(&a)
		}
		c.Apps = []config.App{a}
	}}, mods...)
	h := startDaemon(t, all...)
	h.vndUseApp()
	return h
}

// vndUseApp points the harness's API key and client-token secret at the
// vendor tests' app (the harness takes them from DemoSecrets, empty here).
func (h *harness) vndUseApp() { h.key, h.secret = vndAPIKey, []byte(vndSecret) }

// vndRestart restarts the daemon on the same data dir and clock.
func (h *harness) vndRestart() {
	h.t.Helper()
	h.restart()
	h.vndUseApp()
}

// vndRaw makes one request with the API key and returns its status and raw body.
func (h *harness) vndRaw(method, path string, body any) (int, string) {
	h.t.Helper()
	req, err := h.newRequest(method, path, "key", body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp, err := bulkClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// vndSendRaw makes a server send and returns its status and answer.
func (h *harness) vndSendRaw(m map[string]any) (int, map[string]any) {
	h.t.Helper()
	return h.call("POST", "/v1/messages", "key", m)
}

// vndMetric sums the samples of metric name on /metrics whose labels include
// every name=value pair of labels (alternating); 0 when there is none.
func (h *harness) vndMetric(name string, labels ...string) float64 {
	h.t.Helper()
	sum, _ := h.metricWith(name, labels...)
	return sum
}

// vndDevice returns the device's binding as GET /v1/users/{id}/devices shows
// it, or nil when it is not bound.
func (h *harness) vndDevice(user, device string) map[string]any {
	h.t.Helper()
	for _, d := range h.devices(user) {
		if d["device_id"] == device {
			return d
		}
	}
	return nil
}

// vndWaitVerdict waits until the device's last_verdict is want.
func (h *harness) vndWaitVerdict(user, device, want string) map[string]any {
	h.t.Helper()
	var last map[string]any
	defer func() {
		if h.t.Failed() {
			h.t.Logf("%s/%s: last binding seen %v", user, device, last)
		}
	}()
	h.eventually(fmt.Sprintf("%s/%s: last_verdict %q", user, device, want), func() bool {
		last = h.vndDevice(user, device)
		return last != nil && last["last_verdict"] == want
	})
	return last
}

// vndWaitRecords waits until cond holds for provider p's records and returns them.
func (h *harness) vndWaitRecords(what string, p push.Provider, cond func([]vendorsim.Record) bool) []vendorsim.Record {
	h.t.Helper()
	return h.waitRecords(fmt.Sprintf("%s: %s", p, what), func(r vendorsim.Record) bool { return r.Provider == p }, cond)
}

// vndTargets returns the records of p whose targets include token.
func (h *harness) vndTargets(p push.Provider, token string) []vendorsim.Record {
	return vndWith(h.sim().Records(p), token)
}

// vndWith returns the records whose targets include token.
func vndWith(rs []vendorsim.Record, token string) []vendorsim.Record {
	var out []vendorsim.Record
	for _, r := range rs {
		if slices.Contains(r.Tokens, token) {
			out = append(out, r)
		}
	}
	return out
}

// vndDeliveredTo counts the records of p that delivered a push to token.
func (h *harness) vndDeliveredTo(p push.Provider, token string) int {
	return len(h.sim().Delivered(p, token))
}

// vndSummary renders records briefly for failure messages.
func vndSummary(rs []vendorsim.Record) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "\n  %s %s tokens=%d status=%d reason=%q invalid=%v", r.Provider, r.Path, len(r.Tokens), r.Status, r.Reason, r.InvalidTokens)
	}
	return b.String()
}

// vndAccessToken is the vendor access credential a send request carried:
// the OAuth bearer (HMS), the auth_token form field (OPPO), the authToken
// header (vivo) or the static key (Xiaomi).
func vndAccessToken(r vendorsim.Record) string {
	switch r.Provider {
	case push.Xiaomi:
		return strings.TrimPrefix(r.Headers["authorization"], "key=")
	case push.OPPO:
		f, _ := url.ParseQuery(string(r.Body))
		return f.Get("auth_token")
	case push.Vivo:
		return r.Headers["authtoken"]
	}
	// The others (APNs, FCM, Huawei, Honor) send "Bearer x" / "bearer x".
	_, cred, _ := strings.Cut(r.Headers["authorization"], " ")
	return cred
}

// vndForm parses a form-encoded record body (Xiaomi, OPPO).
func vndForm(t *testing.T, r vendorsim.Record) url.Values {
	t.Helper()
	f, err := url.ParseQuery(string(r.Body))
	if err != nil {
		t.Fatalf("record body %q: %v", r.Body, err)
	}
	return f
}

// vndOPPOMessage is the unicast's message form field, decoded.
func vndOPPOMessage(t *testing.T, r vendorsim.Record) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(vndForm(t, r).Get("message")), &m); err != nil {
		t.Fatalf("oppo message %q: %v", vndForm(t, r).Get("message"), err)
	}
	return m
}

// vndJSONString decodes a JSON object held in a string field.
func vndJSONString(t *testing.T, s any) map[string]any {
	t.Helper()
	str, _ := s.(string)
	var m map[string]any
	if err := json.Unmarshal([]byte(str), &m); err != nil {
		t.Fatalf("not a JSON object string: %q: %v", str, err)
	}
	return m
}

// vndNextChinaTime is how far the clock must move to reach the next hh:00
// China time (UTC+8), where the Chinese vendors' quota days turn at 00:00.
func vndNextChinaTime(now time.Time, hour int) time.Duration {
	cst := time.FixedZone("CST", 8*3600)
	t := now.In(cst)
	next := time.Date(t.Year(), t.Month(), t.Day(), hour, 0, 0, 0, cst)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next.Sub(now)
}

// vndInt turns a JSON number (float64) into an int; -1 when it is not one.
func vndInt(v any) int {
	f, ok := v.(float64)
	if !ok {
		return -1
	}
	return int(f)
}

// vndBindPhones binds one device "<vendor>-phone" of user per Android vendor
// and returns their tokens.
func (h *harness) vndBindPhones(user string) map[push.Provider]string {
	h.t.Helper()
	tok := map[push.Provider]string{}
	for _, p := range androidVendors {
		tok[p] = vndTok(p, user, "phone")
		h.bind(user, string(p)+"-phone", p, tok[p])
	}
	return tok
}

// vndPromo sends public push i (the "promo" resources profile) from shop to bob.
func (h *harness) vndPromo(i int) {
	h.t.Helper()
	h.send("shop", "bob", fmt.Sprint("promo ", i), pushCfg{"title": "Shop", "content": fmt.Sprint("promo ", i), "resources_id": "promo"})
}

// vndPromosWithinQuota sends promos 1 and 2, a daily quota of 2, and checks
// that every vendor delivered each to bob's phone (tok).
func (h *harness) vndPromosWithinQuota(tok map[push.Provider]string) {
	h.t.Helper()
	for i := 1; i <= 2; i++ {
		h.vndPromo(i)
		for _, p := range androidVendors {
			if r := h.records(p, tok[p], i)[i-1]; !r.Delivered(tok[p]) {
				h.t.Fatalf("%s: promo %d: %d %s", p, i, r.Status, r.Reason)
			}
		}
	}
}
