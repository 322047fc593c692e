package api

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// metric scrapes /metrics and returns the value of the series named by line
// (name{labels}), or "" when it is not there.
func (a *testAPI) metric(series string) string {
	a.t.Helper()
	resp, err := http.Get(a.base + "/metrics")
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v
		}
	}
	return ""
}

// dialWS opens user's device's long connection.
func (a *testAPI) dialWS(user, device string) (*websocket.Conn, *http.Response, error) {
	a.t.Helper()
	tok, err := MintClientToken("demo", user, a.secret, time.Hour, time.Now())
	if err != nil {
		a.t.Fatal(err)
	}
	u := "ws" + strings.TrimPrefix(a.base, "http") + "/v1/connect?device_id=" + device
	ws, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + tok}})
	if err == nil {
		a.t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

func (a *testAPI) mustDialWS(user, device string) *websocket.Conn {
	a.t.Helper()
	ws, resp, err := a.dialWS(user, device)
	if err != nil {
		st := 0
		if resp != nil {
			st = resp.StatusCode
		}
		a.t.Fatalf("connect %s/%s: %v (status %d)", user, device, err, st)
	}
	return ws
}

// pingPong sends a ping and reads frames up to the pong.
func pingPong(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for pong: %v", err)
		}
		if bytes.Contains(data, []byte(`"pong"`)) {
			return
		}
	}
}

// readUntilClosed reads until the server closes the connection.
func readUntilClosed(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatal("the server did not close the connection")
			}
			return
		}
	}
}

// TestHandlerPanicIsRecovered: a panic in a request handler answers 500
// internal, is counted, and leaves the server serving.
func TestHandlerPanicIsRecovered(t *testing.T) {
	a := startAPIWith(t, nil, func(s *Server) {
		s.hooks.request = func(ctx *fasthttp.RequestCtx) {
			if len(ctx.Request.Header.Peek("X-Test-Panic")) > 0 {
				panic("test: a handler panics")
			}
		}
	})
	req, _ := http.NewRequest("GET", a.base+"/healthz", nil)
	req.Header.Set("X-Test-Panic", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the request that panicked got no answer: %v", err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body.String(), `"code":"internal"`) {
		t.Fatalf("panicking handler answered %d %s, want 500 internal", resp.StatusCode, body.String())
	}
	if st, out := a.do("POST", "/v1/messages", "alice", `{"to":"bob","conversation_type":0,"type":1,"body":"after"}`); st != http.StatusOK {
		t.Fatalf("send after the panic: %d %v", st, out)
	}
	if got := a.metric(`pushd_panics_recovered_total{where="http"}`); got != "1" {
		t.Fatalf(`pushd_panics_recovered_total{where="http"} = %q, want 1`, got)
	}
}

// TestLongConnectionPanicsAreRecovered: a panic while handling a client frame
// (the read goroutine) or while writing one (the write goroutine) closes
// that connection only; each is counted, and the device connects again.
func TestLongConnectionPanicsAreRecovered(t *testing.T) {
	a := startAPIWith(t, nil, func(s *Server) {
		s.hooks.frame = func(data []byte) {
			if bytes.Contains(data, []byte("test-panic-read")) {
				panic("test: reading a frame panics")
			}
		}
		s.hooks.write = func(frame []byte) {
			if bytes.Contains(frame, []byte("test-panic-write")) {
				panic("test: writing a frame panics")
			}
		}
	})
	ws := a.mustDialWS("bob", "phone")
	pingPong(t, ws)
	if err := ws.WriteMessage(websocket.TextMessage, []byte("test-panic-read")); err != nil {
		t.Fatal(err)
	}
	readUntilClosed(t, ws)
	if got := a.metric(`pushd_panics_recovered_total{where="ws_read"}`); got != "1" {
		t.Fatalf(`pushd_panics_recovered_total{where="ws_read"} = %q, want 1`, got)
	}

	ws = a.mustDialWS("bob", "phone")
	pingPong(t, ws)
	if st, out := a.do("POST", "/v1/messages", "alice", `{"to":"bob","conversation_type":0,"type":1,"body":"test-panic-write"}`); st != http.StatusOK {
		t.Fatalf("send: %d %v", st, out)
	}
	readUntilClosed(t, ws)
	if got := a.metric(`pushd_panics_recovered_total{where="ws_write"}`); got != "1" {
		t.Fatalf(`pushd_panics_recovered_total{where="ws_write"} = %q, want 1`, got)
	}

	// bob's inbox replays the frame that panics; carol's is empty.
	ws = a.mustDialWS("carol", "phone")
	pingPong(t, ws)
	if st, _ := a.do("GET", "/healthz", "", ""); st != http.StatusOK {
		t.Fatalf("healthz after the panics: %d", st)
	}
}
