package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/transport/api"
	"github.com/pushd-im/pushd/transport/vendorsim"
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

// vndClient keeps enough idle connections for concurrent set-up requests.
var vndClient = &http.Client{
	Transport: &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second},
	Timeout:   60 * time.Second,
}

// vndTry makes one request without failing the test (safe on any goroutine).
// auth is "key" or a user id (a client token for that user).
func (h *harness) vndTry(method, path, auth string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if auth == "key" {
		req.Header.Set("X-API-Key", h.key)
	} else {
		tok, err := api.MintClientToken(daemon.DemoAppID, auth, h.secret, time.Hour, time.Now())
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := vndClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out["_raw"] = string(raw)
	}
	return resp.StatusCode, out, nil
}

// vndRaw makes one request and returns its status and raw body.
func (h *harness) vndRaw(method, path string, body any) (int, string) {
	h.t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, h.base+path, bytes.NewReader(j))
	req.Header.Set("X-API-Key", h.key)
	resp, err := vndClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// vndBinding is one device binding to make.
type vndBinding struct {
	user, device string
	provider     push.Provider
	token        string
}

// vndBindAll binds every b over HTTP, 24 at a time.
func (h *harness) vndBindAll(bs []vndBinding) {
	h.t.Helper()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	next := make(chan vndBinding)
	for w := 0; w < 24; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				body := map[string]any{"device_id": b.device, "provider": string(b.provider), "token": b.token}
				st, out, err := h.vndTry("POST", "/v1/devices", b.user, body)
				if err == nil && st != http.StatusOK {
					err = fmt.Errorf("status %d %v", st, out)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("bind %s/%s: %w", b.user, b.device, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, b := range bs {
		next <- b
	}
	close(next)
	wg.Wait()
	if first != nil {
		h.t.Fatal(first)
	}
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
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		h.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var want []string
	for i := 0; i+1 < len(labels); i += 2 {
		want = append(want, labels[i]+`="`+labels[i+1]+`"`)
	}
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		series := line[:sp]
		metric, lbls, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		have := strings.Split(strings.TrimSuffix(lbls, "}"), ",")
		match := true
		for _, w := range want {
			if !slices.Contains(have, w) {
				match = false
				break
			}
		}
		if v, err := strconv.ParseFloat(line[sp+1:], 64); err == nil && match {
			sum += v
		}
	}
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
	deadline := time.Now().Add(waitTimeout)
	for {
		last = h.vndDevice(user, device)
		if last != nil && last["last_verdict"] == want {
			return last
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s/%s: last_verdict never became %q; binding %v", user, device, want, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// vndWaitRecords waits until cond holds for provider p's records and returns them.
func (h *harness) vndWaitRecords(what string, p push.Provider, cond func([]vendorsim.Record) bool) []vendorsim.Record {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var got []vendorsim.Record
	err := h.sim().Wait(ctx, func(all []vendorsim.Record) bool {
		got = got[:0]
		for _, r := range all {
			if r.Provider == p {
				got = append(got, r)
			}
		}
		return cond(got)
	})
	if err != nil {
		h.t.Fatalf("%s: waiting for %s: %v; records: %s", p, what, err, vndSummary(got))
	}
	return append([]vendorsim.Record(nil), got...)
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
	case push.HMS, push.FCM, push.APNs:
		_, cred, _ := strings.Cut(r.Headers["authorization"], " ") // "Bearer x" / "bearer x"
		return cred
	case push.Xiaomi:
		return strings.TrimPrefix(r.Headers["authorization"], "key=")
	case push.OPPO:
		f, _ := url.ParseQuery(string(r.Body))
		return f.Get("auth_token")
	case push.Vivo:
		return r.Headers["authtoken"]
	}
	return ""
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
