package daemon_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
