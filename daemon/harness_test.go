package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/transport/api"
	"github.com/pushd-im/pushd/wire"
)

// waitTimeout bounds every wait for a condition in these tests.
const waitTimeout = 15 * time.Second

// harness is one real daemon on loopback with its in-process vendor simulator.
type harness struct {
	t      *testing.T
	clock  *testClock
	cfg    *config.Config
	d      *daemon.Daemon
	base   string
	key    string
	secret []byte
}

func testConfig(t *testing.T, dir string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.Cluster.Bind = "127.0.0.1:0"
	cfg.Cluster.Remote = "127.0.0.1:0"
	cfg.Simulator.Enabled = true
	cfg.AckTimeout = config.Duration(400 * time.Millisecond)
	cfg.HeartbeatTimeout = config.Duration(10 * time.Second)
	return cfg
}

// startDaemon runs a daemon on cfg (testConfig on a temp dir by default).
func startDaemon(t *testing.T, mods ...func(*config.Config)) *harness {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	for _, m := range mods {
		m(cfg)
	}
	h := &harness{t: t, cfg: cfg, clock: newTestClock()}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start() {
	h.t.Helper()
	logger := slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h.d = daemon.New(h.cfg, daemon.Options{Logger: logger, Clock: h.clock})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.d.Start(ctx); err != nil {
		h.t.Fatalf("start daemon: %v", err)
	}
	h.base = "http://" + h.d.APIAddr()
	key, secret := h.d.DemoSecrets()
	h.key, h.secret = key, []byte(secret)
}

func (h *harness) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.d.Shutdown(ctx); err != nil {
		h.t.Logf("shutdown: %v", err)
	}
}

// restart stops the daemon gracefully and starts it again on the same data dir.
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.start()
}

func (h *harness) sim() *vendorsim.Sim { return h.d.Simulator() }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (h *harness) token(user string) string {
	tok, err := h.mintToken(user)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// mintToken is a client token for user, valid for an hour.
func (h *harness) mintToken(user string) (string, error) {
	return api.MintClientToken(daemon.DemoAppID, user, h.secret, time.Hour, time.Now())
}

// newRequest builds one API request without failing the test (safe on any
// goroutine). body is nil, a string, bytes or a value sent as JSON; auth is
// "key" (the app's API key), "" (none), a raw "X-API-Key:..." / "Bearer ..."
// header value, or a user id (a client token for that user).
func (h *harness) newRequest(method, path, auth string, body any) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		return nil, err
	}
	switch {
	case auth == "":
	case auth == "key":
		req.Header.Set("X-API-Key", h.key)
	case strings.HasPrefix(auth, "X-API-Key:"):
		req.Header.Set("X-API-Key", strings.TrimPrefix(auth, "X-API-Key:"))
	case strings.HasPrefix(auth, "Bearer "):
		req.Header.Set("Authorization", auth)
	default:
		tok, err := h.mintToken(auth)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// do makes req with client and decodes a JSON answer (a body that is not
// JSON is under "_raw"). It does not fail the test: safe on any goroutine.
func do(client *http.Client, req *http.Request) (int, map[string]any, error) {
	resp, err := client.Do(req)
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

// call makes one HTTP request (see newRequest for body and auth) and fails
// the test when it cannot be made.
func (h *harness) call(method, path, auth string, body any) (int, map[string]any) {
	h.t.Helper()
	req, err := h.newRequest(method, path, auth, body)
	if err == nil {
		var st int
		var out map[string]any
		if st, out, err = do(http.DefaultClient, req); err == nil {
			return st, out
		}
	}
	h.t.Fatalf("%s %s: %v", method, path, err)
	return 0, nil
}

func (h *harness) mustCall(method, path, auth string, body any) map[string]any {
	h.t.Helper()
	st, out := h.call(method, path, auth, body)
	if st != http.StatusOK {
		h.t.Fatalf("%s %s: status %d: %v", method, path, st, out)
	}
	return out
}

func (h *harness) bind(user, device string, provider push.Provider, token string, extra ...map[string]any) string {
	h.t.Helper()
	body := map[string]any{"device_id": device, "provider": string(provider), "token": token}
	for _, e := range extra {
		for k, v := range e {
			body[k] = v
		}
	}
	out := h.mustCall("POST", "/v1/devices", user, body)
	id, _ := out["push_id"].(string)
	if id == "" {
		h.t.Fatalf("bind: no push_id in %v", out)
	}
	return id
}

type pushCfg = map[string]any

// send makes a server send from → to and returns its answer.
func (h *harness) send(from, to, body string, pc pushCfg, extra ...map[string]any) map[string]any {
	h.t.Helper()
	m := map[string]any{"from": from, "to": to, "conversation_type": 0, "type": 1, "body": body}
	if pc != nil {
		m["push_config"] = pc
	}
	for _, e := range extra {
		for k, v := range e {
			m[k] = v
		}
	}
	return h.mustCall("POST", "/v1/messages", "key", m)
}

func (h *harness) devices(user string) []map[string]any {
	h.t.Helper()
	out := h.mustCall("GET", "/v1/users/"+user+"/devices", "key", nil)
	list, _ := out["devices"].([]any)
	var res []map[string]any
	for _, d := range list {
		res = append(res, d.(map[string]any))
	}
	return res
}

// records waits until the simulator holds at least n requests for token and returns them.
func (h *harness) records(p push.Provider, token string, n int) []vendorsim.Record {
	h.t.Helper()
	return h.waitRecords(fmt.Sprintf("%d %s pushes to %s", n, p, token),
		func(r vendorsim.Record) bool { return r.Provider == p && r.Token == token },
		func(got []vendorsim.Record) bool { return len(got) >= n })
}

// waitRecords waits until cond holds for the simulator's records that keep
// selects, and returns those records.
func (h *harness) waitRecords(what string, keep func(vendorsim.Record) bool, cond func([]vendorsim.Record) bool) []vendorsim.Record {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var got []vendorsim.Record
	err := h.sim().Wait(ctx, func(all []vendorsim.Record) bool {
		got = got[:0]
		for _, r := range all {
			if keep(r) {
				got = append(got, r)
			}
		}
		return cond(got)
	})
	if err != nil {
		h.t.Fatalf("waiting for %s: %v; got %d records:%s", what, err, len(got), vndSummary(got))
	}
	return append([]vendorsim.Record(nil), got...)
}

func (h *harness) countRecords(p push.Provider, token string) int {
	n := 0
	for _, r := range h.sim().Records(p) {
		if r.Token == token {
			n++
		}
	}
	return n
}

// outboxLen counts the pushes still pending in the outbox: jobs and the
// pushes of fan-out chunks.
func (h *harness) outboxLen() int {
	jobs, chunked, _ := h.outbox()
	return jobs + chunked
}

// outbox counts the outbox's jobs, the pushes of its fan-out chunks and the chunks.
func (h *harness) outbox() (jobs, chunked, chunks int) {
	if err := h.d.Store().Pushes(func(*wire.PushJob) bool { jobs++; return true }); err != nil {
		h.t.Fatal(err)
	}
	if err := h.d.Store().PushChunks(func(c *wire.PushChunk) bool { chunked += len(c.Bindings); chunks++; return true }); err != nil {
		h.t.Fatal(err)
	}
	return jobs, chunked, chunks
}

// eventually waits for cond, polling; it never asserts a timing.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	h.eventuallyWithin(waitTimeout, what, cond)
}

// eventuallyWithin is eventually with another bound, for the large fan-outs.
// The daemon's conditions are yes-or-no; what names the wait in a failure.
func (h *harness) eventuallyWithin(d time.Duration, what string, cond func() bool) {
	h.t.Helper()
	testwait.Until(h.t, d, func() error {
		if !cond() {
			return errors.New(what)
		}
		return nil
	})
}

// wsClient is a device's long connection.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func (h *harness) connect(user, device string) *wsClient {
	h.t.Helper()
	c, resp, err := h.dial(user, device)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		h.t.Fatalf("connect %s/%s: %v (status %d)", user, device, err, status)
	}
	return c
}

func (h *harness) dial(user, device string) (*wsClient, *http.Response, error) {
	u := "ws://" + h.d.APIAddr() + "/v1/connect?device_id=" + device
	hdr := http.Header{"Authorization": {"Bearer " + h.token(user)}}
	ws, resp, err := websocket.DefaultDialer.Dial(u, hdr)
	if err != nil {
		return nil, resp, err
	}
	c := &wsClient{t: h.t, ws: ws}
	h.t.Cleanup(func() { ws.Close() })
	return c, resp, nil
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

// next reads the next frame.
func (c *wsClient) next() map[string]any {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	var f map[string]any
	if err := c.ws.ReadJSON(&f); err != nil {
		c.t.Fatalf("ws read: %v", err)
	}
	return f
}

// message reads the next frame and checks it is a message with seq in stream.
func (c *wsClient) message(stream string, seq int) map[string]any {
	c.t.Helper()
	f := c.next()
	if f["type"] != "message" || f["stream"] != stream || int(f["seq"].(float64)) != seq {
		c.t.Fatalf("want message %s#%d, got %v", stream, seq, f)
	}
	return f["message"].(map[string]any)
}

// drainsOnly connects the user's device and checks that it receives exactly
// the stream's messages from..to (bodies "m<seq>"), then nothing more.
func (h *harness) drainsOnly(user, device, stream string, from, to int) {
	h.t.Helper()
	c := h.connect(user, device)
	defer c.close()
	for i := from; i <= to; i++ {
		if m := c.message(stream, i); m["body"] != "m"+strconv.Itoa(i) {
			h.t.Fatalf("%s#%d body %v", stream, i, m["body"])
		}
	}
	if extra := c.sync(); len(extra) != 0 {
		h.t.Fatalf("%s got more than %s#%d..%d: %v", device, stream, from, to, extra)
	}
}

func (c *wsClient) ack(stream string, seq int) {
	c.send(map[string]any{"type": "ack", "stream": stream, "seq": seq})
}

// sync sends a ping and reads up to its pong; every frame before it is returned.
// The server has handled every frame this client sent before the ping.
func (c *wsClient) sync() []map[string]any {
	c.t.Helper()
	c.send(map[string]any{"type": "ping"})
	var before []map[string]any
	for {
		f := c.next()
		if f["type"] == "pong" {
			return before
		}
		before = append(before, f)
	}
}

func (c *wsClient) state(foreground bool) {
	c.send(map[string]any{"type": "state", "foreground": foreground})
}

func (c *wsClient) close() { _ = c.ws.Close() }

func jsonBody(t *testing.T, r vendorsim.Record) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("record body %q: %v", r.Body, err)
	}
	return m
}

func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func apnsToken(i int) string { return fmt.Sprintf("%064x", i+1) }

type (
	configT   = config.Config
	durationT = config.Duration
)

func withMaxBody(n int) func(*config.Config) { return func(c *config.Config) { c.MaxBodyBytes = n } }
