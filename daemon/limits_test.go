package daemon_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
)

// slowlorisSockets is how many half-sent requests TestSlowlorisSockets holds
// open at once. The figure, 20,000, is for a benchmark on a machine
// of its own: this test shares the machine (and its 20,000 file
// descriptors, two per socket on loopback) with others.
const slowlorisSockets = 2000

// TestSlowlorisSockets: thousands of sockets that send half a request and
// then nothing leave /healthz and sends working, and the server closes each
// of them once limits.read_timeout has passed.
func TestSlowlorisSockets(t *testing.T) {
	h := startDaemon(t, func(c *config.Config) { c.Limits.ReadTimeout = config.Duration(2 * time.Second) })
	addr := h.d.APIAddr()
	conns := make([]net.Conn, 0, slowlorisSockets)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range slowlorisSockets {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "POST /v1/messages HTTP/1.1\r\nHost: pushd\r\nX-API-Key: "); err != nil {
			t.Fatal(err)
		}
	}

	// A client with a connection of its own for each request, as a new one would.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitTimeout}
	req, _ := h.newRequest("GET", "/healthz", "", nil)
	if st, out, err := do(fresh, req); err != nil || st != http.StatusOK {
		t.Fatalf("/healthz with %d idle sockets open: %d %v %v", len(conns), st, out, err)
	}
	req, _ = h.newRequest("POST", "/v1/messages", "key", map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1, "body": "hi"})
	if st, out, err := do(fresh, req); err != nil || st != http.StatusOK {
		t.Fatalf("send with %d idle sockets open: %d %v %v", len(conns), st, out, err)
	}

	// Each half-sent request is closed by the server (it answers 408 or
	// just closes): the read ends before the test's own deadline.
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				errs <- fmt.Errorf("socket %d still open after %v", i, waitTimeout)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// halfRequest opens a socket to the API that sends half a request.
func (h *harness) halfRequest() net.Conn {
	h.t.Helper()
	c, err := net.Dial("tcp", h.d.APIAddr())
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\n"); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// waitClosed waits until the server closes c.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server did not close the socket within %v", waitTimeout)
	}
}

// TestLongConnectionOutlivesReadTimeout: once upgraded, a long connection is
// governed by heartbeat_timeout, not by limits.read_timeout.
func TestLongConnectionOutlivesReadTimeout(t *testing.T) {
	h := startDaemon(t, func(c *config.Config) { c.Limits.ReadTimeout = config.Duration(time.Second) })
	ws := h.connect("bob", "phone")
	ws.sync()
	// A half request opened after the connection is closed after the read
	// timeout: by then the long connection has been silent for longer.
	waitClosed(t, h.halfRequest())
	ws.sync()
	h.send("alice", "bob", "m1", nil)
	ws.message("inbox", 1)
}

// TestMaxHTTPConnections: past limits.max_http_connections a new connection
// is answered 503 and closed; once one closes, requests are served again.
func TestMaxHTTPConnections(t *testing.T) {
	const max = 20
	h := startDaemon(t, func(c *config.Config) { c.Limits.MaxHTTPConnections = max })
	idle := make([]net.Conn, max)
	for i := range idle {
		idle[i] = h.halfRequest()
	}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitTimeout}
	req, _ := h.newRequest("GET", "/healthz", "", nil)
	if st, _, err := do(fresh, req); err == nil && st != http.StatusServiceUnavailable {
		t.Fatalf("/healthz past max_http_connections: %d, want 503 or a closed connection", st)
	}
	idle[0].Close()
	h.eventually("/healthz is served once a connection closes", func() bool {
		req, _ := h.newRequest("GET", "/healthz", "", nil)
		st, _, err := do(fresh, req)
		return err == nil && st == http.StatusOK
	})
}

// TestReplayIsPacedFromStorage: an inbox and a group stream many times the
// send queue reach a connecting device whole and in order, with live
// messages after them, and no slow_consumer kick: the replay is read from
// storage a part at a time, each once the connection has written the last.
func TestReplayIsPacedFromStorage(t *testing.T) {
	h := startDaemon(t, func(c *config.Config) { c.Limits.WSSendQueueBytes = 64 << 10 })
	// Each body escapes to about 24 KiB in its frame: 40 of them are 15
	// times the queue.
	body := func(i int) string { return fmt.Sprintf("%d:%s", i, strings.Repeat("<", 4000)) }
	const inboxN, groupN = 40, 20
	for i := 1; i <= inboxN; i++ {
		h.send("alice", "bob", body(i), nil)
	}
	h.mustCall("PUT", "/v1/groups/team", "key", map[string]any{"members": []string{"alice", "bob"}})
	for i := 1; i <= groupN; i++ {
		h.mustCall("POST", "/v1/messages", "key", map[string]any{"from": "alice", "to": "team", "conversation_type": 2, "type": 1, "body": body(i)})
	}
	ws := h.connect("bob", "phone")
	// A live message sent while the replay runs comes after it, in order.
	h.send("alice", "bob", "live", nil)
	for i := 1; i <= inboxN; i++ {
		if m := ws.message("inbox", i); m["body"] != body(i) {
			t.Fatalf("inbox#%d: body %.20v…", i, m["body"])
		}
	}
	if m := ws.message("inbox", inboxN+1); m["body"] != "live" {
		t.Fatalf("inbox#%d: %v, want the live message", inboxN+1, m["body"])
	}
	for i := 1; i <= groupN; i++ {
		if m := ws.message("group:team", i); m["body"] != body(i) {
			t.Fatalf("group:team#%d: body %.20v…", i, m["body"])
		}
	}
	if extra := ws.sync(); len(extra) != 0 {
		t.Fatalf("after the replay: %v", extra)
	}
}
