package actors

import (
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/wire"
)

// inbox is the user's one-to-one stream.
const inbox = "inbox"

// maxDevices is how many devices one user may bind (README, "HTTP API", POST /v1/devices).
const maxDevices = 10

// maxConnections is how many long connections one user may have, one per
// device, on all nodes together: as many as it may bind devices (README,
// "Limits"). Without it each new device_id opened a session and replayed
// the whole inbox.
const maxConnections = maxDevices

// drainChunk is how many frames one Deliver carries when a device catches up.
const drainChunk = 256

// userActor owns one user: bindings, the inbox stream, each device's ack
// cursor, its live sessions and the ack-or-push timers. It is activated by the
// router on the first message and asks to be passivated when idle.
type userActor struct {
	n         *Node
	app, user string
	key       string
	bindings  map[string]*wire.Binding // push id →
	stream    streamWindow             // the inbox's seqs
	committed uint64                   // highest seq durable (and so deliverable)
	cursors   map[string]map[string]uint64
	sessions  map[string]*session // device id →
	pending   map[string][]pendingPush
	dedupe    sendDedupe
	commits   int // async commits not yet answered
	stopTimer func() bool
	idle      idleWatch
	timerAt   time.Time
	self      *actor.PID
	// failed is set when the state could not be loaded or a commit failed: the
	// actor then refuses work and asks to be passivated, to reload from disk.
	failed error
}

type session struct {
	id         string
	pid        *actor.PID
	foreground bool
	// sent is the highest seq sent on this session per stream: live messages
	// at or below it are not sent twice, and a gap above it is read from storage.
	sent map[string]uint64
	// replay is the catch-up still to send, when it is paced (nil: done).
	replay *replay
}

// pendingPush is a push that waits for the device's ack until due.
type pendingPush struct {
	stream string
	seq    uint64
	due    time.Time
	job    *wire.PushJob
}

// committed reports an async commit back to the user actor that started it.
type committed struct {
	sendCommit
	jobs []*wire.PushJob
	// stored: msg was appended to the inbox (not a group message passing by).
	stored bool
	// except is a device that gets no frame (it answered the call itself).
	except string
}

// ackTick wakes the actor when the earliest pending push is due.
type ackTick struct{}

func newUser(n *Node, app, user string) *userActor {
	return &userActor{n: n, app: app, user: user, key: UserKey(app, user)}
}

// busy says the actor must stay though idle: it has connections, pushes
// waiting for an ack, or writes not yet committed.
func (u *userActor) busy() bool {
	return len(u.sessions) > 0 || len(u.pending) > 0 || u.commits > 0
}

func (u *userActor) Receive(ctx actor.Context) {
	if u.idle.receive(ctx, u.n, u.key, u.busy(), u.commits > 0) {
		return
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		u.self = ctx.Self()
		u.load()
	case *actor.Stopping:
		if u.stopTimer != nil {
			u.stopTimer()
		}
		// Only a released shard stops an actor with connections: they
		// reconnect to the shard's new writer and drain from their cursors.
		for _, s := range u.sessions {
			u.n.send(ctx, s.pid, "", &wire.Kick{Reason: "moved", SessionId: s.id})
		}
	case *wire.Envelope, *local:
		u.envelope(ctx, m)
	case *committed:
		u.onCommitted(ctx, m)
	case ackTick:
		u.onAckTick()
	}
}

func (u *userActor) load() {
	st := u.n.o.Store
	u.bindings = map[string]*wire.Binding{}
	u.sessions = map[string]*session{}
	var first, last uint64
	bs, err := st.UserBindings(u.app, u.user)
	if err == nil {
		for _, b := range bs {
			u.bindings[b.PushId] = b
		}
		last, err = st.LastSeq(u.app, u.user, inbox)
	}
	if err == nil {
		first, err = st.FirstSeq(u.app, u.user, inbox)
	}
	if err == nil {
		u.cursors, err = st.Cursors(u.app, u.user)
	}
	u.stream = newStreamWindow(first, last, u.n.o.MaxPerStream)
	u.committed = last
	if err != nil {
		u.failed = err
		u.n.log.Error("user actor: load", "app", u.app, "user", u.user, "err", err)
	}
}

func (u *userActor) respond(ctx actor.Context, to *actor.PID, m proto.Message) {
	u.n.send(ctx, to, u.key, m)
}

func (u *userActor) envelope(ctx actor.Context, env any) {
	sender := ctx.Sender()
	msg, err := unpack(env)
	if err != nil {
		u.respond(ctx, sender, &wire.Reply{Error: errReply(wire.CodeUnknownType, "%v", err)})
		return
	}
	if u.failed != nil {
		u.respond(ctx, sender, &wire.Reply{Error: errReply(wire.CodeStorageFailed, "user state unavailable")})
		ctx.Send(ctx.Parent(), &passivate{key: u.key, pid: ctx.Self()})
		return
	}
	switch m := msg.(type) {
	case *wire.SendRequest:
		u.send(ctx, sender, m)
	case *wire.BindRequest:
		u.respond(ctx, sender, u.bind(m))
	case *wire.UnbindRequest:
		u.respond(ctx, sender, u.unbind(m))
	case *wire.LogoutRequest:
		u.respond(ctx, sender, u.logout(ctx, m))
	case *wire.BadgeSetRequest:
		u.respond(ctx, sender, u.setBadge(m))
	case *wire.DevicesRequest:
		u.respond(ctx, sender, u.devices())
	case *wire.UserGroupsRequest:
		u.respond(ctx, sender, u.userGroups(m.Among))
	case *wire.ConnectCheck:
		u.respond(ctx, sender, u.connectCheck(m.DeviceId))
	case *wire.ConnectRequest:
		u.connect(ctx, sender, m)
	case *wire.DisconnectRequest:
		if s := u.sessions[m.DeviceId]; s != nil && s.id == m.SessionId {
			delete(u.sessions, m.DeviceId)
			u.sessionsChanged(ctx)
		}
		u.respond(ctx, sender, &wire.Reply{})
	case *wire.AckRequest:
		u.ack(m)
		u.respond(ctx, sender, &wire.Reply{})
	case *wire.ReplayMore:
		if s := u.sessions[m.DeviceId]; s != nil && s.id == m.SessionId && s.replay != nil {
			u.replayPage(ctx, s)
		}
	case *wire.StateRequest:
		if s := u.sessions[m.DeviceId]; s != nil && s.id == m.SessionId {
			s.foreground = m.Foreground
		}
		u.respond(ctx, sender, &wire.Reply{})
	case *wire.GroupDeliver:
		u.groupDeliver(ctx, sender, m)
	case *wire.CallEvent:
		u.callEvent(ctx, sender, m)
	default:
		u.respond(ctx, sender, &wire.Reply{Error: errReply(wire.CodeUnknownType, "user actor does not handle %T", msg)})
	}
}

func (u *userActor) sortedBindings() []*wire.Binding {
	out := make([]*wire.Binding, 0, len(u.bindings))
	for _, b := range u.bindings {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PushId < out[j].PushId })
	return out
}

// bind stores a binding. The same token gives the same push id; a device's
// older token for the same provider and push type is replaced.
func (u *userActor) bind(req *wire.BindRequest) *wire.BindReply {
	nb := req.GetBinding()
	devices := map[string]bool{}
	for _, b := range u.bindings {
		devices[b.DeviceId] = true
	}
	if !devices[nb.DeviceId] && len(devices) >= maxDevices {
		return &wire.BindReply{Error: errReply(wire.CodeTooManyDevices, "user %s already has %d devices bound; log one out first", u.user, maxDevices)}
	}
	st := u.n.o.Store
	b := st.NewBatch()
	var replaced []string
	for id, old := range u.bindings {
		if id != nb.PushId && old.DeviceId == nb.DeviceId && old.Provider == nb.Provider && old.PushType == nb.PushType {
			b.DeleteBinding(u.app, u.user, id)
			replaced = append(replaced, id)
		}
	}
	nb.App, nb.User = u.app, u.user
	b.PutBinding(nb)
	b.DeleteVerdict(u.app, u.user, nb.PushId) // a new registration starts without a verdict
	if err := st.Commit(b, true); err != nil {
		return &wire.BindReply{Error: storageError(err, "%v", err)}
	}
	for _, id := range replaced {
		u.dropped(id, true)
	}
	u.bindings[nb.PushId] = nb
	return &wire.BindReply{PushId: nb.PushId}
}

// dropped forgets a binding whose removal is committed: the vendor actors'
// log of unbinds learns it, and with release its token actor forgets that
// this user holds the push id (not when the token moved to another user,
// whose claim the index now names).
func (u *userActor) dropped(pushID string, release bool) {
	u.n.unbinds.add(pushID, u.n.now())
	delete(u.bindings, pushID)
	if release {
		u.n.Tell(TokenKey(u.app, pushID), &wire.PushIDRelease{App: u.app, PushId: pushID, User: u.user})
	}
}

func (u *userActor) unbind(m *wire.UnbindRequest) *wire.Reply {
	bd := u.bindings[m.PushId]
	if bd == nil {
		return &wire.Reply{Error: errReply(wire.CodeNotFound, "push_id %s is not bound to user %s", m.PushId, u.user)}
	}
	switch {
	case m.RegisteredAtMs != 0 && bd.RegisteredAtMs != m.RegisteredAtMs:
		// The device registered again since the push the vendor refused
		// was made: the new registration stays.
		return &wire.Reply{}
	case m.RegisteredAtMs != 0, m.RegisteredBeforeMs == 0:
		// The registration the request names, or any: it goes.
	case m.Moved && bd.RegisteredAtMs > m.RegisteredBeforeMs:
		// This user bound the token again after the claimer did: the
		// claimer's bind is the older one and must not take it. (In the
		// same millisecond the claim came later: this binding's own claim
		// had already made it the holder.)
		return &wire.Reply{Error: errReply(wire.CodeRegisteredAgain, "push_id %s was bound again by its holder after this bind", m.PushId)}
	case !m.Moved && bd.RegisteredAtMs >= m.RegisteredBeforeMs:
		// A vendor's "invalid" for a job from before registered_at_ms was
		// kept spares a binding registered in or after the push's
		// millisecond.
		return &wire.Reply{}
	}
	b := u.n.o.Store.NewBatch()
	b.DeleteBinding(u.app, u.user, m.PushId)
	if err := u.n.o.Store.Commit(b, true); err != nil {
		return &wire.Reply{Error: storageError(err, "%v", err)}
	}
	u.dropped(m.PushId, !m.Moved)
	reason := m.Reason
	if reason == "" {
		reason = "unregister"
	}
	u.n.o.Metrics.Unbound.WithLabelValues(reason).Inc()
	u.n.log.Info("binding removed", "app", u.app, "user", u.user, "push_id", m.PushId, "reason", reason)
	return &wire.Reply{}
}

// logout removes every binding of the device and closes its connection; its
// cursors stay so that a later login continues where it left off.
func (u *userActor) logout(ctx actor.Context, m *wire.LogoutRequest) *wire.Reply {
	b := u.n.o.Store.NewBatch()
	var removed []string
	for id, bd := range u.bindings {
		if bd.DeviceId == m.DeviceId {
			b.DeleteBinding(u.app, u.user, id)
			removed = append(removed, id)
		}
	}
	for _, p := range u.pending[m.DeviceId] {
		b.DeletePush(p.job)
	}
	if !b.Empty() {
		if err := u.n.o.Store.Commit(b, true); err != nil {
			return &wire.Reply{Error: storageError(err, "%v", err)}
		}
	}
	for _, id := range removed {
		u.dropped(id, true)
		u.n.o.Metrics.Unbound.WithLabelValues("logout").Inc()
	}
	delete(u.pending, m.DeviceId)
	if s := u.sessions[m.DeviceId]; s != nil {
		u.n.send(ctx, s.pid, "", &wire.Kick{Reason: "logout", SessionId: s.id})
		delete(u.sessions, m.DeviceId)
		u.sessionsChanged(ctx)
	}
	return &wire.Reply{}
}

// devices lists the bindings with the last verdict the vendor actors recorded.
func (u *userActor) devices() *wire.DevicesReply {
	out := &wire.DevicesReply{}
	verdicts, err := u.n.o.Store.Verdicts(u.app, u.user)
	if err != nil {
		return &wire.DevicesReply{Error: storageError(err, "%v", err)}
	}
	for _, b := range u.sortedBindings() {
		c := proto.CloneOf(b)
		if v := verdicts[c.PushId]; v != nil {
			c.LastVerdict, c.LastReason, c.LastVerdictAtMs = v.Verdict, v.Reason, v.AtMs
		}
		out.Bindings = append(out.Bindings, c)
	}
	return out
}

// providerOf is the binding's provider as a push.Provider.
func providerOf(j *wire.PushJob) push.Provider { return push.Provider(j.Provider) }

// sessionsChanged tells the router whether this user has live connections:
// a group fan-out goes through the actors of connected users only.
func (u *userActor) sessionsChanged(ctx actor.Context) {
	ctx.Send(ctx.Parent(), &connectedChanged{key: u.key, pid: ctx.Self(), connected: len(u.sessions) > 0})
}
