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
)

// pongFrame answers a ping.
const pongFrame = `{"type":"pong"}`

// wsConn is one long connection: the user actor's frames and our pongs go
// through one queue to one writer goroutine, so a pong follows every frame
// queued before its ping.
type wsConn struct {
	ws    *websocket.Conn
	out   chan []byte
	close chan string // the reason to send in "kicked" before closing
	once  sync.Once
	done  chan struct{} // closed when the writer has stopped
}

func newWSConn(ws *websocket.Conn) *wsConn {
	return &wsConn{ws: ws, out: make(chan []byte, wsQueue), close: make(chan string, 1), done: make(chan struct{})}
}

// Write queues frames; a client too slow to drain wsQueue frames is dropped.
func (c *wsConn) Write(frames [][]byte) {
	for _, f := range frames {
		select {
		case c.out <- f:
		default:
			c.Kick("slow_consumer")
			return
		}
	}
}

// Kick sends "kicked" after the frames already queued and closes the connection.
func (c *wsConn) Kick(reason string) {
	c.once.Do(func() { c.close <- reason })
}

func (c *wsConn) writeLoop() {
	defer close(c.done)
	defer c.ws.Close()
	for {
		select {
		case f := <-c.out:
			if c.writeFrame(f) != nil {
				return
			}
		case reason := <-c.close:
			// Flush what was queued before the kick, then say why and close.
			for {
				select {
				case f := <-c.out:
					if c.writeFrame(f) != nil {
						return
					}
					continue
				default:
				}
				break
			}
			if reason != "" {
				_ = c.writeFrame(actors.KickedFrame(reason))
			}
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, reason), time.Now().Add(time.Second))
			return
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
		ReadBufferSize: 4096, WriteBufferSize: 4096, HandshakeTimeout: 10 * time.Second,
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
