package actors

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/wire"
)

// Conn is the transport's side of one long connection.
type Conn interface {
	// Write queues frames for the client in order. It must not block; a
	// connection that cannot keep up closes itself.
	Write(frames [][]byte)
	// WriteThen is Write, and calls written (on another goroutine) once
	// those frames are written to the client; never if it closes first.
	WriteThen(frames [][]byte, written func())
	// ReplayBytes is how many bytes of frames a paced replay may hand the
	// connection at a time (a part of its send queue); 0 takes it whole.
	ReplayBytes() int
	// Kick sends a "kicked" frame with the reason and closes the connection.
	Kick(reason string)
}

// Session is one device's long connection as the user actor sees it: a session
// actor on this node that the user's owner (on any node) sends frames to.
type Session struct {
	n                     *Node
	app, user, device, id string
	key                   string
	pid                   *actor.PID
}

// sessionActor forwards frames and kicks from the user actor to its Conn, and
// asks it for the next part of a paced replay once the last is written.
type sessionActor struct {
	s    *Session
	conn Conn
}

func (s *sessionActor) Receive(ctx actor.Context) {
	msg, err := unpack(ctx.Message())
	if err != nil {
		return // a system message
	}
	switch m := msg.(type) {
	case *wire.Deliver:
		if !m.Replay {
			s.conn.Write(m.Frames)
			return
		}
		ss := s.s
		s.conn.WriteThen(m.Frames, func() {
			ss.n.Tell(ss.key, &wire.ReplayMore{App: ss.app, User: ss.user, DeviceId: ss.device, SessionId: ss.id})
		})
	case *wire.Kick:
		if m.SessionId == "" || m.SessionId == s.s.id {
			s.conn.Kick(m.Reason)
		}
	}
}

// OpenSession registers a long connection for the device with the user's owner,
// which then sends it every stored message after the device's cursor, then
// live ones.
func (n *Node) OpenSession(ctx context.Context, app, user, device string, conn Conn, foreground bool) (*Session, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s := &Session{n: n, app: app, user: user, device: device, id: id, key: UserKey(app, user)}
	pid, err := n.system.Root.SpawnNamed(n.props(func() actor.Actor {
		return &sessionActor{s: s, conn: conn}
	}), "s-"+id)
	if err != nil {
		return nil, fmt.Errorf("actors: spawn session: %w", err)
	}
	s.pid = pid
	if !n.shards.all {
		// Registered before the connect: a move while it runs kicks it too.
		owner, _ := n.place.Owner(s.key)
		n.sessions.add(s, owner)
	}
	err = n.requestReply(ctx, s.key, &wire.ConnectRequest{
		App: app, User: user, DeviceId: device, SessionId: id,
		SessionAddress: pid.Address, SessionActor: pid.Id, Foreground: foreground, ReplayBytes: int64(conn.ReplayBytes()),
	})
	if err != nil {
		n.sessions.remove(s)
		n.system.Root.Stop(pid)
		return nil, err
	}
	n.o.Metrics.Sessions.Inc()
	return s, nil
}

// CheckConnect says whether the user's device may open a long connection
// now: an error with code wire.CodeTooManyConnections when the user has its
// most already. It changes nothing; OpenSession holds the same cap.
func (n *Node) CheckConnect(ctx context.Context, app, user, device string) error {
	return n.requestReply(ctx, UserKey(app, user), &wire.ConnectCheck{App: app, User: user, DeviceId: device})
}

// Ack tells the user actor that the device has everything up to seq in stream.
func (s *Session) Ack(stream string, seq uint64) {
	s.n.Tell(s.key, &wire.AckRequest{App: s.app, User: s.user, DeviceId: s.device, SessionId: s.id, Stream: stream, Seq: seq})
}

// SetForeground reports the app moving to the foreground or the background,
// and returns once the user actor knows: the messages after it are routed by
// the new state.
func (s *Session) SetForeground(ctx context.Context, fg bool) error {
	return s.n.requestReply(ctx, s.key, &wire.StateRequest{App: s.app, User: s.user, DeviceId: s.device, SessionId: s.id, Foreground: fg})
}

// Close unregisters the session; messages not acked are pushed when their ack
// timers fire.
func (s *Session) Close() {
	s.n.Tell(s.key, &wire.DisconnectRequest{App: s.app, User: s.user, DeviceId: s.device, SessionId: s.id})
	s.n.sessions.remove(s)
	s.n.system.Root.Stop(s.pid)
	s.n.o.Metrics.Sessions.Dec()
}
