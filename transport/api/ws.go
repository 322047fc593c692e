package api

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/actors"
)

// Long-connection limits.
const (
	wsQueue        = 4096     // frames waiting for a slow client before it is dropped
	wsMaxFrame     = 64 << 10 // largest client frame
	wsWriteTimeout = 10 * time.Second
	wsReadBuffer   = 1024
)

// pongFrame answers a ping.
const pongFrame = `{"type":"pong"}`

// wsConn is one long connection: the user actor's frames and our pongs go
// through one queue to one writer goroutine, so a pong follows every frame
// queued before its ping. The queue grows only while frames wait, so an idle
// connection holds no buffer.
type wsConn struct {
	ws    *websocket.Conn
	mu    sync.Mutex
	queue [][]byte
	kick  *string // set once: the reason to send in "kicked" before closing
	wake  chan struct{}
	done  chan struct{} // closed when the writer has stopped
}

func newWSConn(ws *websocket.Conn) *wsConn {
	return &wsConn{ws: ws, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Write queues frames; a client too slow to drain wsQueue frames is dropped.
func (c *wsConn) Write(frames [][]byte) {
	c.mu.Lock()
	if c.kick == nil && len(c.queue)+len(frames) > wsQueue {
		reason := "slow_consumer"
		c.kick = &reason
	} else if c.kick == nil {
		c.queue = append(c.queue, frames...)
	}
	c.mu.Unlock()
	c.signal()
}

// Kick sends "kicked" after the frames already queued and closes the connection.
func (c *wsConn) Kick(reason string) {
	c.mu.Lock()
	if c.kick == nil {
		c.kick = &reason
	}
	c.mu.Unlock()
	c.signal()
}

func (c *wsConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *wsConn) writeLoop() {
	defer close(c.done)
	defer c.ws.Close()
	var batch [][]byte
	for range c.wake {
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		kick := c.kick
		c.mu.Unlock()
		for i, f := range batch {
			if c.writeFrame(f) != nil {
				return
			}
			batch[i] = nil
		}
		if kick != nil {
			if *kick != "" {
				_ = c.writeFrame(actors.KickedFrame(*kick))
			}
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, *kick), time.Now().Add(time.Second))
			return
		}
		if cap(batch) > 64 {
			batch = nil // let a burst's backing array go
		}
	}
}

func (c *wsConn) writeFrame(f []byte) error {
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
	up := websocket.FastHTTPUpgrader{
		ReadBufferSize: wsReadBuffer, WriteBufferPool: &s.wsWriteBuffers, HandshakeTimeout: 10 * time.Second,
		CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }, // authenticated by token, not by origin
	}
	err := up.Upgrade(ctx, func(ws *websocket.Conn) { s.serveConn(ws, c, device) })
	if err != nil {
		s.log.Debug("websocket upgrade failed", "err", err)
	}
	return nil
}

// serveConn runs one long connection until the client goes away, falls silent
// for the heartbeat timeout, or is kicked.
func (s *Server) serveConn(ws *websocket.Conn, c *caller, device string) {
	conn := newWSConn(ws)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ws.Close()
		return
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.wg.Done()
	}()
	go conn.writeLoop()

	ctx, cancel := context.WithTimeout(context.Background(), s.o.RequestTimeout)
	sess, err := s.o.Node.OpenSession(ctx, c.app.ID, c.user, device, conn, true)
	cancel()
	if err != nil {
		s.log.Warn("long connection refused", "app", c.app.ID, "user", c.user, "err", err)
		conn.Kick("unavailable")
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
			conn.Write([][]byte{[]byte(pongFrame)})
		case "ack":
			sess.Ack(f.Stream, f.Seq)
		case "state":
			sctx, cancel := context.WithTimeout(context.Background(), s.o.RequestTimeout)
			if err := sess.SetForeground(sctx, *f.Foreground); err != nil {
				conn.Write([][]byte{frameError(fromActorError(err))})
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
