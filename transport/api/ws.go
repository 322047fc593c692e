package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/wire"
)

// Long-connection limits.
const (
	wsMaxFrame     = 64 << 10 // largest client frame
	wsWriteTimeout = 10 * time.Second
	wsReadBuffer   = 512
)

// pongFrame answers a ping; every connection writes this one slice, never changing it.
var pongFrame = []byte(`{"type":"pong"}`)

// wsConn is one long connection: the user actor's frames and our pongs go
// through one queue, written in order by one writer goroutine at a time, so a
// pong follows every frame queued before its ping. The writer runs only while
// there is something to write, and the queue grows only while frames wait, so
// an idle connection holds neither a goroutine nor a buffer for writing.
type wsConn struct {
	s     *Server
	ip    string // the client's address, for the per-IP cap
	ws    *websocket.Conn
	mu    sync.Mutex
	queue [][]byte
	// queued is the bytes of the frames not written yet: those in queue and
	// those the writer took and has not written. At most Options.SendQueueBytes
	// (or one frame of any size, when nothing else waits).
	queued int
	// in and out count the bytes of frames queued and written since the
	// connection opened; each waiter's func runs once out reaches its at.
	in, out int64
	waiters []wsWaiter
	kick    *string // set once: the reason to send in "kicked" before closing
	writing bool    // a writer goroutine is running
	closed  bool    // the connection is closed for writing
	done    chan struct{}
	ended   sync.Once // finish runs once
}

func newWSConn(s *Server, ws *websocket.Conn) *wsConn {
	return &wsConn{s: s, ws: ws, done: make(chan struct{})}
}

// Write queues frames. A frame that would make more than
// Options.SendQueueBytes wait kicks the client (slow_consumer): the frames
// already queued are written, then "kicked", and the rest are not kept; the
// client catches up from its cursor when it connects again. A replay comes in
// parts of ReplayBytes, each after the last is written (WriteThen), so only
// a client that stops reading while live messages pile up is kicked.
func (c *wsConn) Write(frames [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enqueue(frames)
}

// WriteThen queues frames as Write does, and calls written once they are
// written to the client.
func (c *wsConn) WriteThen(frames [][]byte, written func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enqueue(frames) {
		c.waiters = append(c.waiters, wsWaiter{at: c.in, fn: written})
	}
}

// ReplayBytes is a quarter of the send queue: a part of a replay, the next
// part's read meanwhile, and live frames fit beside it.
func (c *wsConn) ReplayBytes() int { return max(1, c.s.o.SendQueueBytes/4) }

// wsWaiter is a func to run once the connection has written at bytes.
type wsWaiter struct {
	at int64
	fn func()
}

// enqueue queues frames under the byte cap and reports whether all of them
// were taken; c.mu is held.
func (c *wsConn) enqueue(frames [][]byte) bool {
	if c.kick != nil || c.closed {
		return false
	}
	all := true
	for _, f := range frames {
		if c.queued > 0 && c.queued+len(f) > c.s.o.SendQueueBytes {
			reason := "slow_consumer"
			c.kick = &reason
			all = false
			break
		}
		c.queue = append(c.queue, f)
		c.queued += len(f)
		c.in += int64(len(f))
	}
	c.startWriter()
	return all
}

// wrote accounts for a frame of n bytes written, and runs the waiters it
// satisfies.
func (c *wsConn) wrote(n int) {
	c.mu.Lock()
	c.queued -= n
	c.out += int64(n)
	var ready []func()
	for len(c.waiters) > 0 && c.waiters[0].at <= c.out {
		ready = append(ready, c.waiters[0].fn)
		c.waiters = c.waiters[1:]
	}
	c.mu.Unlock()
	for _, fn := range ready {
		fn()
	}
}

// Kick sends "kicked" after the frames already queued and closes the connection.
func (c *wsConn) Kick(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kick != nil || c.closed {
		return
	}
	c.kick = &reason
	c.startWriter()
}

// startWriter starts the writer unless one runs; c.mu is held.
func (c *wsConn) startWriter() {
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
}

// writeLoop writes what is queued, and stops when the queue is empty or the
// connection closes.
func (c *wsConn) writeLoop() {
	defer func() {
		if v := recover(); v != nil {
			c.s.recovered(whereWrite, v)
			c.finish()
		}
	}()
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		kick := c.kick
		if len(batch) == 0 && kick == nil {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for _, f := range batch {
			if c.writeFrame(f) != nil {
				c.finish()
				return
			}
			c.wrote(len(f))
		}
		if kick != nil {
			c.mu.Lock()
			more := len(c.queue) > 0
			c.mu.Unlock()
			if more {
				continue // frames queued before the kick go first
			}
			if *kick != "" {
				_ = c.writeFrame(actors.KickedFrame(*kick))
			}
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, *kick), time.Now().Add(time.Second))
			c.finish()
			return
		}
	}
}

// finish closes the connection (the server keeps hijacked connections open
// until then: KeepHijackedConns); the reader then fails and ends the session.
func (c *wsConn) finish() {
	c.mu.Lock()
	c.closed, c.writing, c.queue, c.waiters = true, false, nil, nil
	c.mu.Unlock()
	c.ended.Do(func() {
		c.ws.Close()
		close(c.done)
	})
}

func (c *wsConn) writeFrame(f []byte) error {
	if h := c.s.hooks.write; h != nil {
		h(f)
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, f)
}

func (s *Server) connect(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	if c.server {
		return forbidden("/v1/connect is for a client token")
	}
	device := string(ctx.QueryArgs().Peek("device_id"))
	if e := checkID("device_id", device, maxDeviceID); e != nil {
		return e
	}
	ip := ctx.RemoteIP().String()
	if e := s.checkCaps(ip); e != nil {
		return e
	}
	// The user's cap is its actor's, on whichever node owns it: asked
	// before the upgrade, so that a refused device gets a 429 and no replay.
	// Any other failure is left to OpenSession, which kicks "unavailable".
	rctx, cancel := s.reqContext()
	err := s.o.Node.CheckConnect(rctx, c.app.ID, c.user, device)
	cancel()
	if re, ok := actors.AsRequestError(err); ok && re.Code == wire.CodeTooManyConnections {
		return s.fromActorError(err)
	}
	err = s.upgrader.Upgrade(ctx, func(ws *websocket.Conn) {
		// fasthttp runs this on a goroutine of its own, which does not recover.
		defer func() {
			if v := recover(); v != nil {
				s.recovered(whereUpgrade, v, "app", c.app.ID, "user", c.user, "device", device)
				ws.Close()
			}
		}()
		// The connection is served on a goroutine of its own, so that
		// fasthttp's handler returns and frees the request context (about
		// 4 KiB a device); KeepHijackedConns leaves the connection open.
		conn := s.track(ws, ip)
		if conn == nil {
			return
		}
		go s.serveConn(conn, c, device)
	})
	if err != nil {
		s.log.Debug("websocket upgrade failed", "err", err)
	}
	return nil
}

// errTooManyConnections is the answer past a node's caps of long connections.
func errTooManyConnections(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusTooManyRequests, Code: string(wire.CodeTooManyConnections), Message: fmt.Sprintf(format, args...)}
}

// checkCaps refuses a long connection from ip when the node has
// MaxConnections, or ip has MaxConnectionsPerIP. Upgrades in flight are not
// counted: track holds the caps exactly, after the upgrade.
func (s *Server) checkCaps(ip string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overCaps(ip)
}

// overCaps is checkCaps with s.mu held.
func (s *Server) overCaps(ip string) *apiError {
	if n := len(s.conns); n >= s.o.MaxConnections {
		return errTooManyConnections("this node has %d long connections, its most (limits.max_connections); try again later or elsewhere", n)
	}
	if n := s.byIP[ip]; n >= s.o.MaxConnectionsPerIP {
		return errTooManyConnections("%d long connections from %s already, the most one address may have (limits.max_connections_per_ip)", n, ip)
	}
	return nil
}

// track registers a new long connection from ip with the server (which
// closes it and waits for it on Close), or closes it and returns nil when
// the server is closing or the connection would pass a cap (upgrades that
// raced past checkCaps: the client gets a "kicked" frame first).
func (s *Server) track(ws *websocket.Conn, ip string) *wsConn {
	conn := newWSConn(s, ws)
	conn.ip = ip
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		ws.Close()
		return nil
	}
	if s.overCaps(ip) != nil {
		_ = ws.SetWriteDeadline(time.Now().Add(time.Second))
		_ = ws.WriteMessage(websocket.TextMessage, actors.KickedFrame(string(wire.CodeTooManyConnections)))
		ws.Close()
		return nil
	}
	s.conns[conn] = struct{}{}
	s.byIP[ip]++
	s.wg.Add(1)
	return conn
}

// untrack lets go of a long connection that ended.
func (s *Server) untrack(conn *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, conn)
	if s.byIP[conn.ip]--; s.byIP[conn.ip] <= 0 {
		delete(s.byIP, conn.ip)
	}
	s.wg.Done()
}

// serveConn runs one tracked long connection until the client goes away,
// falls silent for the heartbeat timeout, or is kicked.
func (s *Server) serveConn(conn *wsConn, c *caller, device string) {
	ws := conn.ws
	defer s.untrack(conn)
	// A panic while handling the client's frames closes this connection
	// only (the session is closed by its own defer first).
	defer func() {
		if v := recover(); v != nil {
			s.recovered(whereRead, v, "app", c.app.ID, "user", c.user, "device", device)
			conn.Kick("")
			<-conn.done
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), s.o.RequestTimeout)
	sess, err := s.o.Node.OpenSession(ctx, c.app.ID, c.user, device, conn, true)
	cancel()
	if err != nil {
		reason := "unavailable"
		if re, ok := actors.AsRequestError(err); ok && re.Code == wire.CodeTooManyConnections {
			reason = string(wire.CodeTooManyConnections) // a connect that raced past CheckConnect
		} else {
			s.log.Warn("long connection refused", "app", c.app.ID, "user", c.user, "err", err)
		}
		conn.Kick(reason)
		<-conn.done
		return
	}
	defer sess.Close()
	ws.SetReadLimit(wsMaxFrame)
	for {
		_ = ws.SetReadDeadline(time.Now().Add(s.o.HeartbeatTimeout))
		kind, data, err := ws.ReadMessage()
		if err != nil {
			conn.Kick("")
			break
		}
		if h := s.hooks.frame; h != nil {
			h(data)
		}
		if kind != websocket.TextMessage {
			conn.Write([][]byte{frameError(badField("frame", "must be a text frame holding one JSON object"))})
			continue
		}
		f, e := parseClientFrame(data)
		if e != nil {
			conn.Write([][]byte{frameError(e)})
			continue
		}
		switch f.Type {
		case "ping":
			conn.Write([][]byte{pongFrame})
		case "ack":
			sess.Ack(f.Stream, f.Seq)
		case "state":
			sctx, cancel := context.WithTimeout(context.Background(), s.o.RequestTimeout)
			if err := sess.SetForeground(sctx, *f.Foreground); err != nil {
				conn.Write([][]byte{frameError(s.fromActorError(err))})
			}
			cancel()
		}
	}
	<-conn.done
}

// frameError is the frame that answers a bad client frame; the connection stays open.
func frameError(e *apiError) []byte {
	b, _ := json.Marshal(map[string]string{"type": "error", "code": e.Code, "message": e.Message})
	return b
}
