package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/internal/testwait"
)

// liveConnections is how many long connections the server tracks.
func (s *Server) liveConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// TestSlowReaderIsKickedAtTheByteCap: frames wait for a client that reads
// slower than they come only up to limits.ws_send_queue_bytes; past it the
// client is kicked (slow_consumer), where a cap of 4,096 frames let one such
// client pin some 800 MB of 32 KiB bodies of "<" (each escapes to about
// 192 KiB). On reconnect it starts again from its cursor.
func TestSlowReaderIsKickedAtTheByteCap(t *testing.T) {
	a := startAPI(t, func(o *Options) { o.SendQueueBytes = 256 << 10 })
	ws := a.mustDialWS("bob", "phone")
	pingPong(t, ws)
	// bob reads on, slower than alice sends: a slow link, not a dead one
	// (a write blocked for wsWriteTimeout closes the connection anyway).
	kicked := make(chan string, 1)
	go func() {
		defer close(kicked)
		for {
			var f struct{ Type, Reason string }
			_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			if err := ws.ReadJSON(&f); err != nil {
				return
			}
			if f.Type == "kicked" {
				kicked <- f.Reason
				return
			}
			time.Sleep(50 * time.Millisecond) // the slow link
		}
	}()
	body, _ := json.Marshal(map[string]any{"to": "bob", "conversation_type": 0, "type": 1, "body": strings.Repeat("<", 32<<10)})
	// Socket buffers on loopback take a few MB before the server's queue
	// grows at all; 400 frames of about 192 KiB are some 75 MB, far under
	// the old cap of 4,096 frames.
	var reason string
	done := false
	for sent := 0; sent < 400 && !done; sent++ {
		if st, out := a.do("POST", "/v1/messages", "alice", string(body)); st != http.StatusOK {
			t.Fatalf("send %d: %d %v", sent, st, out)
		}
		select {
		case reason, done = <-kicked:
		default:
		}
	}
	if !done {
		select {
		case reason = <-kicked:
		case <-time.After(30 * time.Second):
			t.Fatal("the slow reader was neither kicked nor closed")
		}
	}
	if reason != "slow_consumer" {
		t.Fatalf("the slow reader got kicked %q, want slow_consumer", reason)
	}
	testwait.Until(t, 10*time.Second, func() error {
		if n := a.srv.liveConnections(); n > 0 {
			return fmt.Errorf("%d long connections still tracked after the kick", n)
		}
		return nil
	})

	// The device connects again and its inbox starts at its cursor (it
	// acked nothing).
	ws = a.mustDialWS("bob", "phone")
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var f struct {
		Type   string
		Stream string
		Seq    int
	}
	if err := ws.ReadJSON(&f); err != nil || f.Type != "message" || f.Seq != 1 {
		t.Fatalf("first frame after reconnecting: %+v %v, want inbox seq 1", f, err)
	}
}
