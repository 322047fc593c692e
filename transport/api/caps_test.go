package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/wire"
)

// refused dials user's device and checks that the upgrade is refused with
// 429 too_many_connections.
func (a *testAPI) refused(user, device string) {
	a.t.Helper()
	if err := a.refusal(user, device); err != nil {
		a.t.Fatal(err)
	}
}

// refusal is nil when the upgrade is refused with 429 too_many_connections.
func (a *testAPI) refusal(user, device string) error {
	ws, resp, err := a.dialWS(user, device)
	if err == nil {
		ws.Close()
		return fmt.Errorf("%s/%s connected past the cap", user, device)
	}
	if resp == nil {
		return fmt.Errorf("%s/%s: %v", user, device, err)
	}
	body, _ := io.ReadAll(resp.Body)
	var out struct{ Error errorObject }
	_ = json.Unmarshal(body, &out)
	if resp.StatusCode != http.StatusTooManyRequests || out.Error.Code != "too_many_connections" {
		return fmt.Errorf("%s/%s: %d %s, want 429 too_many_connections", user, device, resp.StatusCode, body)
	}
	return nil
}

// connectsAgain waits until user's device may connect again (a closed
// connection is let go of asynchronously) and returns the connection.
func (a *testAPI) connectsAgain(user, device string) *websocket.Conn {
	a.t.Helper()
	var ws *websocket.Conn
	testwait.Until(a.t, 10*time.Second, func() error {
		var err error
		ws, _, err = a.dialWS(user, device)
		return err
	})
	pingPong(a.t, ws)
	return ws
}

// TestConnectionsPerUserCap: a user keeps at most 10 long connections, one
// per device (as many as it may bind); an 11th device is refused before
// the upgrade, so it gets no replay. A device that connects again replaces
// its own connection.
func TestConnectionsPerUserCap(t *testing.T) {
	a := startAPI(t)
	conns := make([]*websocket.Conn, 10)
	for i := range conns {
		conns[i] = a.mustDialWS("bob", fmt.Sprintf("d%d", i))
		pingPong(t, conns[i])
	}
	a.refused("bob", "d10")
	// Another user is not affected; the same device connects again.
	pingPong(t, a.mustDialWS("alice", "d10"))
	again := a.mustDialWS("bob", "d0")
	pingPong(t, again)
	readUntilClosed(t, conns[0]) // kicked: connected_elsewhere
	a.refused("bob", "d10")

	conns[1].Close()
	a.connectsAgain("bob", "d10")
}

// TestConnectionsPerUserCapAtTheActor: the user actor holds the cap itself,
// so that connections racing past the API's check (or made through other
// nodes) are refused too.
func TestConnectionsPerUserCapAtTheActor(t *testing.T) {
	a := startAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 10 {
		s, err := a.node.OpenSession(ctx, "demo", "bob", fmt.Sprintf("d%d", i), nopConn{}, true)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		defer s.Close()
	}
	_, err := a.node.OpenSession(ctx, "demo", "bob", "d10", nopConn{}, true)
	var re *actors.RequestError
	if !errors.As(err, &re) || re.Code != wire.CodeTooManyConnections {
		t.Fatalf("11th session: %v, want %s", err, wire.CodeTooManyConnections)
	}
	s, err := a.node.OpenSession(ctx, "demo", "bob", "d3", nopConn{}, true)
	if err != nil {
		t.Fatalf("a device already connected connects again: %v", err)
	}
	s.Close()
}

type nopConn struct{}

func (nopConn) Write([][]byte)             {}
func (nopConn) WriteThen([][]byte, func()) {}
func (nopConn) ReplayBytes() int           { return 0 }
func (nopConn) Kick(string)                {}

// TestConnectionsPerIPCap: past limits.max_connections_per_ip long
// connections from one address, an upgrade is refused with 429.
func TestConnectionsPerIPCap(t *testing.T) {
	a := startAPI(t, func(o *Options) { o.MaxConnectionsPerIP = 3 })
	var first *websocket.Conn
	for i := range 3 {
		ws := a.mustDialWS(fmt.Sprintf("u%d", i), "phone")
		pingPong(t, ws)
		if i == 0 {
			first = ws
		}
	}
	a.refused("u3", "phone")
	first.Close()
	a.connectsAgain("u3", "phone")
	a.refused("u4", "phone")
}

// TestConnectionsTotalCap: past limits.max_connections long connections on
// the node, an upgrade is refused with 429, whatever the address.
func TestConnectionsTotalCap(t *testing.T) {
	a := startAPI(t, func(o *Options) { o.MaxConnections = 2 })
	first := a.mustDialWS("u0", "phone")
	pingPong(t, first)
	pingPong(t, a.mustDialWS("u1", "phone"))
	a.refused("u2", "phone")
	first.Close()
	a.connectsAgain("u2", "phone")
	a.refused("u3", "phone")
	// Plain requests are not long connections.
	if st, _ := a.do("GET", "/healthz", "", ""); st != http.StatusOK {
		t.Fatalf("healthz at the cap: %d", st)
	}
}
