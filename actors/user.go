package actors

import (
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// inbox is the user's one-to-one stream.
const inbox = "inbox"

// maxDevices is how many devices one user may bind (API.md).
const maxDevices = 10

// drainChunk is how many frames one Deliver carries when a device catches up.
const drainChunk = 256

// userActor owns one user: bindings, the inbox stream, each device's ack
// cursor, its live sessions and the ack-or-push timers. It is activated by the
// router on the first message and asks to be passivated when idle.
type userActor struct {
	n          *Node
	app, user  string
	key        string
	bindings   map[string]*wire.Binding // push id →
	lastSeq    uint64                   // highest seq assigned in the inbox
	committed  uint64                   // highest seq durable (and so deliverable)
	firstSeq   uint64                   // lowest seq still stored
	cursors    map[string]map[string]uint64
	sessions   map[string]*session // device id →
	pending    map[string][]pendingPush
	inflight   map[string][]*actor.PID // client msg key → senders waiting for the same commit
	commits    int                     // async commits not yet answered
	stopTimer  func() bool
	timerAt    time.Time
	self       *actor.PID
	broken     bool
	loadFailed error
}

type session struct {
	id         string
	pid        *actor.PID
	foreground bool
}

// pendingPush is a push that waits for the device's ack until due.
type pendingPush struct {
	stream string
	seq    uint64
	due    time.Time
	job    *wire.PushJob
}

// committed reports an async commit back to the actor that started it.
type committed struct {
	err     error
	msg     *wire.Message
	senders []*actor.PID
	jobs    []*wire.PushJob
	idemKey string
	dropped int
}

// ackTick wakes the actor when the earliest pending push is due.
type ackTick struct{}

func newUser(n *Node, app, user string) *userActor {
	return &userActor{n: n, app: app, user: user, key: UserKey(app, user)}
}

func (u *userActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		u.self = ctx.Self()
		u.load()
		ctx.SetReceiveTimeout(u.n.o.IdleTimeout)
	case *actor.Stopping:
		if u.stopTimer != nil {
			u.stopTimer()
		}
	case *actor.ReceiveTimeout:
		if len(u.sessions) == 0 && len(u.pending) == 0 && u.commits == 0 {
			ctx.Send(ctx.Parent(), &passivate{key: u.key})
		}
	case *wire.Envelope:
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
	u.pending = map[string][]pendingPush{}
	u.inflight = map[string][]*actor.PID{}
	bs, err := st.UserBindings(u.app, u.user)
	if err == nil {
		for _, b := range bs {
			u.bindings[b.PushId] = b
		}
		u.lastSeq, err = st.LastSeq(u.app, u.user, inbox)
	}
	if err == nil {
		u.firstSeq, err = st.FirstSeq(u.app, u.user, inbox)
	}
	if err == nil {
		u.cursors, err = st.Cursors(u.app, u.user)
	}
	u.committed = u.lastSeq
	if u.firstSeq == 0 {
		u.firstSeq = u.lastSeq + 1
	}
	if err != nil {
		u.loadFailed = err
		u.n.log.Error("user actor: load", "app", u.app, "user", u.user, "err", err)
	}
}

func (u *userActor) respond(ctx actor.Context, to *actor.PID, m proto.Message) {
	if to == nil {
		return
	}
	env, err := wire.Wrap(u.key, m)
	if err != nil {
		u.n.log.Error("user actor: wrap reply", "err", err)
		return
	}
	ctx.Send(to, env)
}

func (u *userActor) envelope(ctx actor.Context, env *wire.Envelope) {
	sender := ctx.Sender()
	msg, err := wire.Unwrap(env)
	if err != nil {
		u.respond(ctx, sender, &wire.Reply{Error: errReply("unknown_type", "%v", err)})
		return
	}
	if u.loadFailed != nil || u.broken {
		u.respond(ctx, sender, &wire.Reply{Error: errReply("storage_failed", "user state unavailable")})
		ctx.Send(ctx.Parent(), &passivate{key: u.key})
		return
	}
	switch m := msg.(type) {
	case *wire.SendRequest:
		u.send(ctx, sender, m)
	case *wire.BindRequest:
		u.respond(ctx, sender, u.bind(m))
	case *wire.UnbindRequest:
		u.respond(ctx, sender, u.unbind(ctx, m))
	case *wire.LogoutRequest:
		u.respond(ctx, sender, u.logout(ctx, m))
	case *wire.DevicesRequest:
		u.respond(ctx, sender, u.devices())
	case *wire.ConnectRequest:
		u.connect(ctx, sender, m)
	case *wire.DisconnectRequest:
		if s := u.sessions[m.DeviceId]; s != nil && s.id == m.SessionId {
			delete(u.sessions, m.DeviceId)
		}
		u.respond(ctx, sender, &wire.Reply{})
	case *wire.AckRequest:
		u.ack(m)
		u.respond(ctx, sender, &wire.Reply{})
	case *wire.StateRequest:
		if s := u.sessions[m.DeviceId]; s != nil && s.id == m.SessionId {
			s.foreground = m.Foreground
		}
		u.respond(ctx, sender, &wire.Reply{})
	case *wire.VerdictReport:
		u.verdict(m)
	default:
		u.respond(ctx, sender, &wire.Reply{Error: errReply("unknown_type", "user actor does not handle %s", env.GetType())})
	}
}

// send stores a one-to-one message in the inbox, durably, with the pushes it
// needs, and answers once the commit is done.
func (u *userActor) send(ctx actor.Context, sender *actor.PID, req *wire.SendRequest) {
	m := req.GetMessage()
	now := u.n.now()
	idemKey := ""
	if m.ClientMsgId != "" {
		idemKey = m.From + "/" + m.ClientMsgId
		if waiting, ok := u.inflight[idemKey]; ok {
			u.inflight[idemKey] = append(waiting, sender)
			return
		}
		rec, created, ok, err := u.n.o.Store.Idempotency(u.app, u.user, m.From, m.ClientMsgId)
		if err != nil {
			u.respond(ctx, sender, &wire.SendReply{Error: errReply("storage_failed", "idempotency lookup: %v", err)})
			return
		}
		if ok && now.UnixMilli()-created < u.n.o.IdempotencyWin.Milliseconds() {
			u.n.o.Metrics.IdempotentReplays.Inc()
			u.respond(ctx, sender, &wire.SendReply{MessageId: rec.MessageId, Seq: rec.Seq, TimestampMs: rec.TimestampMs})
			return
		}
		u.inflight[idemKey] = []*actor.PID{sender}
	}
	u.lastSeq++
	m.Seq = u.lastSeq
	m.Stream = inbox
	m.MessageId = NewMessageID(now)
	m.TimestampMs = now.UnixMilli()
	m.App = u.app

	b := u.n.o.Store.NewBatch()
	b.PutMessage(u.app, u.user, m)
	if idemKey != "" {
		b.PutIdempotency(u.app, u.user, m.From, m.ClientMsgId, now.UnixMilli(),
			&wire.IdempotencyRecord{MessageId: m.MessageId, Seq: m.Seq, TimestampMs: m.TimestampMs})
	}
	dropped := 0
	if keep := uint64(u.n.o.MaxPerStream); u.lastSeq >= keep && u.lastSeq-keep+1 > u.firstSeq {
		newFirst := u.lastSeq - keep + 1
		dropped = int(newFirst - u.firstSeq)
		b.DropMessagesBefore(u.app, u.user, inbox, newFirst)
		u.firstSeq = newFirst
	}
	jobs := u.pushJobs(m, now, b)
	u.commits++
	senders := []*actor.PID{sender}
	if idemKey != "" {
		senders = nil // taken from inflight when the commit is done
	}
	self := u.self
	root := u.n.system.Root
	u.n.o.Store.CommitAsync(b, true, func(err error) {
		root.Send(self, &committed{err: err, msg: m, senders: senders, jobs: jobs, idemKey: idemKey, dropped: dropped})
	})
}

// pushJobs writes an outbox job for every binding of the receiver that must be
// pushed: offline devices now, online ones when their ack does not come in time.
func (u *userActor) pushJobs(m *wire.Message, now time.Time, b *storage.Batch) []*wire.PushJob {
	if m.PushConfig == nil || m.From == u.user {
		return nil
	}
	var jobs []*wire.PushJob
	for _, bd := range u.sortedBindings() {
		if bd.PushType == "voip" {
			continue // VoIP bindings ring for call invitations only
		}
		j := u.newJob(bd, m, now)
		if s := u.sessions[bd.DeviceId]; s != nil && s.foreground {
			j.Conditional = true
			j.NotBeforeMs = now.Add(u.n.o.AckTimeout).UnixMilli()
		}
		b.PutPush(j)
		jobs = append(jobs, j)
	}
	return jobs
}

func (u *userActor) newJob(bd *wire.Binding, m *wire.Message, now time.Time) *wire.PushJob {
	return &wire.PushJob{
		Id: u.n.o.Store.NewPushID(), App: u.app, User: u.user, PushId: bd.PushId, DeviceId: bd.DeviceId,
		Provider: bd.Provider, Token: bd.Token, BundleId: bd.BundleId, ApnsEnv: bd.ApnsEnv, PushType: bd.PushType,
		Stream: m.Stream, Seq: m.Seq, MessageId: m.MessageId, From: m.From, PushConfig: m.PushConfig,
		Priority: m.Priority, CreatedAtMs: now.UnixMilli(), ExpiresAtMs: now.Add(u.n.o.PushTTL).UnixMilli(),
		CollapseId: m.MessageId,
	}
}

func (u *userActor) onCommitted(ctx actor.Context, c *committed) {
	u.commits--
	senders := c.senders
	if c.idemKey != "" {
		senders = u.inflight[c.idemKey]
		delete(u.inflight, c.idemKey)
	}
	if c.err != nil {
		// Later seqs may have been assigned on top of the failed one: start
		// over from what is on disk.
		u.broken = true
		for _, s := range senders {
			u.respond(ctx, s, &wire.SendReply{Error: errReply("storage_failed", "message not stored: %v", c.err)})
		}
		ctx.Send(ctx.Parent(), &passivate{key: u.key})
		return
	}
	m := c.msg
	u.committed = m.Seq
	u.n.o.Metrics.MessagesAccepted.WithLabelValues("peer").Inc()
	if c.dropped > 0 {
		u.n.o.Metrics.MessagesDropped.WithLabelValues("retention_count").Add(float64(c.dropped))
	}
	for _, s := range senders {
		u.respond(ctx, s, &wire.SendReply{MessageId: m.MessageId, Seq: m.Seq, TimestampMs: m.TimestampMs})
	}
	var frame []byte
	for dev, s := range u.sessions {
		if u.cursor(dev, m.Stream) >= m.Seq {
			continue
		}
		if frame == nil {
			frame = MessageFrame(m)
		}
		u.deliver(ctx, s, [][]byte{frame})
	}
	now := u.n.now()
	for _, j := range c.jobs {
		if j.Conditional {
			u.addPending(j.DeviceId, pendingPush{stream: j.Stream, seq: j.Seq, due: time.UnixMilli(j.NotBeforeMs), job: j})
			continue
		}
		u.n.dispatchPush(j, now)
	}
}

func (u *userActor) deliver(ctx actor.Context, s *session, frames [][]byte) {
	env, err := wire.Wrap("", &wire.Deliver{Frames: frames})
	if err != nil {
		return
	}
	ctx.Send(s.pid, env)
	u.n.o.Metrics.FramesDelivered.Add(float64(len(frames)))
}

func (u *userActor) cursor(device, stream string) uint64 {
	return u.cursors[device][stream]
}

func (u *userActor) addPending(device string, p pendingPush) {
	u.pending[device] = append(u.pending[device], p)
	u.armTimer(p.due)
}

func (u *userActor) armTimer(at time.Time) {
	if u.stopTimer != nil && !u.timerAt.IsZero() && !at.Before(u.timerAt) {
		return
	}
	if u.stopTimer != nil {
		u.stopTimer()
	}
	u.timerAt = at
	self, root := u.self, u.n.system.Root
	u.stopTimer = u.n.o.Clock.AfterFunc(max(at.Sub(u.n.now()), 0), func() { root.Send(self, ackTick{}) })
}

// onAckTick pushes every pending push whose ack did not come in time.
func (u *userActor) onAckTick() {
	now := u.n.now()
	u.timerAt = time.Time{}
	var next time.Time
	for dev, ps := range u.pending {
		keep := ps[:0]
		for _, p := range ps {
			if p.due.After(now) {
				keep = append(keep, p)
				if next.IsZero() || p.due.Before(next) {
					next = p.due
				}
				continue
			}
			u.n.dispatchPush(p.job, now)
		}
		if len(keep) == 0 {
			delete(u.pending, dev)
		} else {
			u.pending[dev] = keep
		}
	}
	if !next.IsZero() {
		u.armTimer(next)
	}
}

// ack moves the device's cursor and cancels the pushes it makes unnecessary.
func (u *userActor) ack(m *wire.AckRequest) {
	seq := min(m.Seq, u.committed)
	if m.Stream != inbox || seq <= u.cursor(m.DeviceId, m.Stream) {
		return
	}
	if u.cursors[m.DeviceId] == nil {
		u.cursors[m.DeviceId] = map[string]uint64{}
	}
	u.cursors[m.DeviceId][m.Stream] = seq
	b := u.n.o.Store.NewBatch()
	b.SetCursor(u.app, u.user, m.DeviceId, m.Stream, seq)
	ps := u.pending[m.DeviceId]
	keep := ps[:0]
	for _, p := range ps {
		if p.stream == m.Stream && p.seq <= seq {
			b.DeletePush(p.job.Id)
			u.n.o.Metrics.PushesDeduped.Inc()
			continue
		}
		keep = append(keep, p)
	}
	if len(keep) == 0 {
		delete(u.pending, m.DeviceId)
	} else {
		u.pending[m.DeviceId] = keep
	}
	// An ack lost in a crash only means a message is delivered again.
	u.n.o.Store.CommitAsync(b, false, nil)
}

// connect registers a session for the device (kicking an older one) and sends
// it everything after its cursor, in order, before any live message.
func (u *userActor) connect(ctx actor.Context, sender *actor.PID, m *wire.ConnectRequest) {
	if old := u.sessions[m.DeviceId]; old != nil && old.id != m.SessionId {
		kick, _ := wire.Wrap("", &wire.Kick{Reason: "connected_elsewhere", SessionId: old.id})
		ctx.Send(old.pid, kick)
	}
	s := &session{id: m.SessionId, pid: actor.NewPID(m.SessionAddress, m.SessionActor), foreground: m.Foreground}
	u.sessions[m.DeviceId] = s
	u.respond(ctx, sender, &wire.Reply{})
	frames := make([][]byte, 0, drainChunk)
	err := u.n.o.Store.ReadStream(u.app, u.user, inbox, u.cursor(m.DeviceId, inbox), u.committed, func(msg *wire.Message) bool {
		frames = append(frames, MessageFrame(msg))
		if len(frames) == drainChunk {
			u.deliver(ctx, s, frames)
			frames = make([][]byte, 0, drainChunk)
		}
		return true
	})
	if len(frames) > 0 {
		u.deliver(ctx, s, frames)
	}
	if err != nil {
		u.n.log.Error("user actor: drain", "app", u.app, "user", u.user, "err", err)
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
		return &wire.BindReply{Error: errReply("too_many_devices", "user %s already has %d devices bound; log one out first", u.user, maxDevices)}
	}
	st := u.n.o.Store
	prevApp, prevUser, had, err := st.BindingOwner(nb.PushId)
	if err != nil {
		return &wire.BindReply{Error: errReply("storage_failed", "%v", err)}
	}
	b := st.NewBatch()
	for id, old := range u.bindings {
		if id != nb.PushId && old.DeviceId == nb.DeviceId && old.Provider == nb.Provider && old.PushType == nb.PushType {
			b.DeleteBinding(u.app, u.user, id, true)
			delete(u.bindings, id)
		}
	}
	nb.App, nb.User = u.app, u.user
	b.PutBinding(nb)
	if err := st.Commit(b, true); err != nil {
		return &wire.BindReply{Error: errReply("storage_failed", "%v", err)}
	}
	u.bindings[nb.PushId] = nb
	reply := &wire.BindReply{PushId: nb.PushId}
	if had && prevApp == u.app && prevUser != u.user {
		reply.PreviousUser = prevUser
	}
	return reply
}

func (u *userActor) unbind(ctx actor.Context, m *wire.UnbindRequest) *wire.Reply {
	bd := u.bindings[m.PushId]
	if bd == nil {
		return &wire.Reply{Error: errReply("not_found", "push_id %s is not bound to user %s", m.PushId, u.user)}
	}
	if m.RegisteredBeforeMs != 0 && bd.RegisteredAtMs >= m.RegisteredBeforeMs {
		return &wire.Reply{} // registered again after the push: keep it
	}
	dropIndex := true
	if m.Moved {
		app, user, ok, err := u.n.o.Store.BindingOwner(m.PushId)
		if err != nil {
			return &wire.Reply{Error: errReply("storage_failed", "%v", err)}
		}
		if ok && app == u.app && user == u.user {
			return &wire.Reply{} // the index says it is still ours
		}
		dropIndex = false
	}
	b := u.n.o.Store.NewBatch()
	b.DeleteBinding(u.app, u.user, m.PushId, dropIndex)
	if err := u.n.o.Store.Commit(b, true); err != nil {
		return &wire.Reply{Error: errReply("storage_failed", "%v", err)}
	}
	delete(u.bindings, m.PushId)
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
			b.DeleteBinding(u.app, u.user, id, true)
			removed = append(removed, id)
		}
	}
	for _, p := range u.pending[m.DeviceId] {
		b.DeletePush(p.job.Id)
	}
	if !b.Empty() {
		if err := u.n.o.Store.Commit(b, true); err != nil {
			return &wire.Reply{Error: errReply("storage_failed", "%v", err)}
		}
	}
	for _, id := range removed {
		delete(u.bindings, id)
		u.n.o.Metrics.Unbound.WithLabelValues("logout").Inc()
	}
	delete(u.pending, m.DeviceId)
	if s := u.sessions[m.DeviceId]; s != nil {
		kick, _ := wire.Wrap("", &wire.Kick{Reason: "logout", SessionId: s.id})
		ctx.Send(s.pid, kick)
		delete(u.sessions, m.DeviceId)
	}
	return &wire.Reply{}
}

func (u *userActor) devices() *wire.DevicesReply {
	out := &wire.DevicesReply{}
	for _, b := range u.sortedBindings() {
		out.Bindings = append(out.Bindings, proto.Clone(b).(*wire.Binding))
	}
	return out
}

func (u *userActor) verdict(m *wire.VerdictReport) {
	bd := u.bindings[m.PushId]
	if bd == nil {
		return
	}
	changed := bd.LastVerdict != m.Verdict || bd.LastReason != m.Reason
	bd.LastVerdict, bd.LastReason, bd.LastVerdictAtMs = m.Verdict, m.Reason, m.AtMs
	if !changed {
		// The same verdict again: kept in memory, not rewritten on every push.
		return
	}
	b := u.n.o.Store.NewBatch()
	b.PutBinding(bd)
	u.n.o.Store.CommitAsync(b, false, nil)
}

// providerOf is the binding's provider as a push.Provider.
func providerOf(j *wire.PushJob) push.Provider { return push.Provider(j.Provider) }
