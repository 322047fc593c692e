package actors

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// send stores a one-to-one message in the inbox, durably, with the pushes it
// needs, and answers once the commit is done.
func (u *userActor) send(ctx actor.Context, sender *actor.PID, req *wire.SendRequest) {
	m := req.GetMessage()
	now := u.n.now()
	st := u.n.o.Store
	idemKey, answered := u.dedupe.begin(u.n, m, sender, now, func(from, id string) (*wire.IdempotencyRecord, int64, bool, error) {
		return st.Idempotency(u.app, u.user, from, id)
	}, func(to *actor.PID, r *wire.SendReply) { u.respond(ctx, to, r) })
	if answered {
		return
	}
	m.MessageId = NewMessageID(now)
	b := st.NewBatch()
	c := u.appendInbox(m, now, b)
	u.addBadge(b, c.msg, storage.InboxBadgeTag(m.Seq))
	if idemKey != "" {
		b.PutIdempotency(u.app, u.user, m.From, m.ClientMsgId, now.UnixMilli(), record(m))
	}
	c.waitFor(idemKey, sender)
	c.jobs = u.pushJobs(m, now, b, false)
	u.traceDecision(b, m, now, c.jobs, "")
	u.commit(b, c)
}

// appendInbox assigns m the next inbox seq and adds it to b, trimming the
// stream to offline_max_per_stream.
func (u *userActor) appendInbox(m *wire.Message, now time.Time, b *storage.Batch) *committed {
	seq, dropped, dropBefore := u.stream.next(u.n.o.MaxPerStream)
	m.Seq = seq
	m.Stream = inbox
	m.TimestampMs = now.UnixMilli()
	m.App = u.app
	b.PutMessage(u.app, u.user, m)
	if dropBefore != 0 {
		b.DropMessagesBefore(u.app, u.user, inbox, dropBefore)
	}
	return &committed{sendCommit: sendCommit{msg: m, dropped: dropped}, stored: true}
}

// commit hands b to the group committer; the result comes back as c.
func (u *userActor) commit(b *storage.Batch, c *committed) {
	u.commits++
	u.n.commitAsync(u.self, b, c)
}

// pushJobs writes an outbox job for every binding of the receiver that must be
// pushed: offline devices now, online ones when their ack does not come in
// time. A call invitation prefers a device's VoIP binding; no other push goes
// to one, since Apple requires every VoIP push to report a new call to
// CallKit: a cancellation goes to the device's alert bindings only.
func (u *userActor) pushJobs(m *wire.Message, now time.Time, b *storage.Batch, call bool) []*wire.PushJob {
	if m.PushConfig == nil || m.From == u.user {
		return nil
	}
	var jobs []*wire.PushJob
	for _, bd := range pushBindings(u.sortedBindings(), call && m.Event == eventInvitation && m.PushConfig.Voip != nil) {
		j := u.n.newJob(u.app, u.user, bd, m, now)
		j.Id = u.n.o.Store.NewPushID()
		if s := u.sessions[bd.DeviceId]; s != nil && s.foreground {
			j.Conditional = true
			j.NotBeforeMs = now.Add(u.n.o.AckTimeout).UnixMilli()
		}
		b.PutPush(j)
		jobs = append(jobs, j)
	}
	return jobs
}

// pushBindings picks the bindings a push goes to: each device's alert
// bindings, or, for a VoIP call push, its VoIP binding where it has one.
func pushBindings(bs []*wire.Binding, voip bool) []*wire.Binding {
	hasVoIP := map[string]bool{}
	for _, b := range bs {
		if b.PushType == "voip" {
			hasVoIP[b.DeviceId] = true
		}
	}
	var out []*wire.Binding
	for _, b := range bs {
		switch {
		case voip && hasVoIP[b.DeviceId]:
			if b.PushType == "voip" {
				out = append(out, b)
			}
		case b.PushType != "voip":
			out = append(out, b)
		}
	}
	return out
}

func (u *userActor) onCommitted(ctx actor.Context, c *committed) {
	u.commits--
	m := c.msg
	if c.err == nil && c.stored {
		// Counted before the answer: a sender that has its answer sees it in
		// /metrics.
		u.committed = m.Seq
		u.n.o.Metrics.MessagesAccepted.WithLabelValues(messageKind(m)).Inc()
	}
	c.answer(&u.dedupe, func(to *actor.PID, r *wire.SendReply) { u.respond(ctx, to, r) })
	if c.err != nil {
		// Later seqs may have been assigned on top of the failed one: start
		// over from what is on disk.
		u.failed = c.err
		ctx.Send(ctx.Parent(), &passivate{key: u.key, pid: ctx.Self()})
		return
	}
	if c.dropped > 0 {
		u.n.o.Metrics.MessagesDropped.WithLabelValues("retention_count").Add(float64(c.dropped))
	}
	if m.From != u.user || c.stored {
		for dev, s := range u.sessions {
			if dev != c.except {
				u.deliverLive(ctx, dev, s, m)
			}
		}
	}
	now := u.n.now()
	var ready []*wire.PushJob
	for _, j := range c.jobs {
		if j.Conditional {
			u.addPending(j.DeviceId, pendingPush{stream: j.Stream, seq: j.Seq, due: time.UnixMilli(j.NotBeforeMs), job: j})
			continue
		}
		ready = append(ready, j)
	}
	u.n.dispatchPushes(ready, now)
}

func messageKind(m *wire.Message) string {
	switch {
	case m.Event != "":
		return "call_event"
	case m.ConversationType == 2:
		return "group"
	}
	return "peer"
}

// deliverLive sends a new message to one session, first reading from storage
// whatever of its stream the session has not been sent yet.
func (u *userActor) deliverLive(ctx actor.Context, dev string, s *session, m *wire.Message) {
	if s.replay.has(m.Stream) {
		return // the replay reads the stream to its end: it sends this one in order
	}
	sent, known := s.sent[m.Stream]
	if known && m.Seq <= sent {
		return
	}
	if known && m.Seq > sent+1 {
		u.drainStream(ctx, dev, s, m.Stream, sent, m.Seq-1)
	}
	u.deliver(ctx, s, [][]byte{MessageFrame(m)})
	s.sent[m.Stream] = m.Seq
}

func (u *userActor) deliver(ctx actor.Context, s *session, frames [][]byte) {
	u.n.send(ctx, s.pid, "", &wire.Deliver{Frames: frames})
	u.n.o.Metrics.FramesDelivered.Add(float64(len(frames)))
}

func (u *userActor) cursor(device, stream string) uint64 {
	return u.cursors[device][stream]
}

// groupDeliver takes a group message for this member: frames to its online
// devices, pushes to the others, answered once the pushes are durable.
func (u *userActor) groupDeliver(ctx actor.Context, sender *actor.PID, d *wire.GroupDeliver) {
	m := d.GetMessage()
	if m.From == u.user {
		u.respond(ctx, sender, &wire.Reply{}) // the sender is not fanned out to
		return
	}
	b := u.n.o.Store.NewBatch()
	now := u.n.now()
	c := &committed{sendCommit: sendCommit{msg: m}, jobs: u.pushJobs(m, now, b, false)}
	u.addBadge(b, c.msg, storage.GroupBadgeTag(d.Group, m.Seq))
	u.traceDecision(b, m, now, c.jobs, "")
	if b.Empty() {
		u.commits++
		u.onCommitted(ctx, c)
		u.respond(ctx, sender, &wire.Reply{})
		return
	}
	c.senders = []*actor.PID{sender}
	u.commit(b, c)
}

// callEvent appends a call event to the inbox (and pushes it when it carries a
// push_config) and keeps the user's set of ringing calls.
//
// A call retries an event until it has an answer, so an event whose answer was
// lost comes again: it is stored once, remembered like a send's client_msg_id
// (under a sender no user id can be, keyed by call, event and who caused it,
// which is one event per receiver).
func (u *userActor) callEvent(ctx actor.Context, sender *actor.PID, e *wire.CallEvent) {
	m := e.GetMessage()
	now := u.n.now()
	st := u.n.o.Store
	idem := &wire.Message{From: callEventSender, ClientMsgId: m.CallId + ":" + m.Event + ":" + m.From}
	idemKey, answered := u.dedupe.begin(u.n, idem, sender, now, func(from, id string) (*wire.IdempotencyRecord, int64, bool, error) {
		return st.Idempotency(u.app, u.user, from, id)
	}, func(to *actor.PID, r *wire.SendReply) { u.respond(ctx, to, r) })
	if answered {
		return
	}
	m.MessageId = NewMessageID(now)
	b := st.NewBatch()
	c := u.appendInbox(m, now, b)
	u.addBadge(b, c.msg, storage.InboxBadgeTag(m.Seq))
	b.PutIdempotency(u.app, u.user, callEventSender, idem.ClientMsgId, now.UnixMilli(), record(m))
	c.waitFor(idemKey, sender)
	c.except = e.ExceptDevice
	switch {
	case e.RingingUntilMs > 0:
		b.SetRinging(u.app, u.user, m.CallId, e.RingingUntilMs)
	case e.StopRinging:
		b.DeleteRinging(u.app, u.user, m.CallId)
	}
	c.jobs = u.pushJobs(m, now, b, true)
	u.traceDecision(b, m, now, c.jobs, e.ExceptDevice)
	u.commit(b, c)
}

// callEventSender is the sender call events are remembered under: not a
// valid user id, so no client's client_msg_id can stand in for one.
const callEventSender = "#call"

// ack moves the device's cursor and cancels the pushes it makes unnecessary.
func (u *userActor) ack(m *wire.AckRequest) {
	limit := u.committed
	if m.Stream != inbox {
		limit = u.cursor(m.DeviceId, m.Stream)
		if s := u.sessions[m.DeviceId]; s != nil {
			limit = max(limit, s.sent[m.Stream])
		}
	}
	seq := min(m.Seq, limit)
	if seq <= u.cursor(m.DeviceId, m.Stream) {
		return
	}
	if u.cursors[m.DeviceId] == nil {
		u.cursors[m.DeviceId] = map[string]uint64{}
	}
	u.cursors[m.DeviceId][m.Stream] = seq
	b := u.n.o.Store.NewBatch()
	b.SetCursorAt(u.app, u.user, m.DeviceId, m.Stream, seq, u.n.now().UnixMilli())
	ps := u.pending[m.DeviceId]
	keep := ps[:0]
	now := u.n.now()
	for _, p := range ps {
		if p.stream == m.Stream && p.seq <= seq {
			b.DeletePush(p.job)
			u.traceAck(b, m.DeviceId, p.job, now)
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
// it everything after its cursors, each stream in order, before any live message.
func (u *userActor) connect(ctx actor.Context, sender *actor.PID, m *wire.ConnectRequest) {
	if r := u.connectCheck(m.DeviceId); r.Error != nil {
		u.respond(ctx, sender, r)
		return
	}
	if old := u.sessions[m.DeviceId]; old != nil && old.id != m.SessionId {
		u.n.send(ctx, old.pid, "", &wire.Kick{Reason: "connected_elsewhere", SessionId: old.id})
	}
	s := &session{id: m.SessionId, pid: actor.NewPID(m.SessionAddress, m.SessionActor), foreground: m.Foreground, sent: map[string]uint64{}}
	u.sessions[m.DeviceId] = s
	if len(u.sessions) == 1 {
		u.sessionsChanged(ctx)
	}
	u.respond(ctx, sender, &wire.Reply{})
	plan := []replayStream{{stream: inbox, after: u.cursor(m.DeviceId, inbox)}}
	groups, err := u.n.o.Store.UserGroups(u.app, u.user)
	if err != nil {
		u.n.log.Error("user actor: read groups", "app", u.app, "user", u.user, "err", err)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		stream := "group:" + g
		plan = append(plan, replayStream{stream: stream, after: max(u.cursor(m.DeviceId, stream), groups[g])})
	}
	if m.ReplayBytes <= 0 { // the session takes it all at once
		for _, rs := range plan {
			u.drainStream(ctx, m.DeviceId, s, rs.stream, rs.after, u.streamEnd(rs.stream))
		}
		return
	}
	s.replay = &replay{budget: int(m.ReplayBytes), streams: plan}
	u.replayPage(ctx, s)
}

// replay is a session's catch-up, paced: about budget bytes of frames go at a
// time, and the next part once the connection has written them (ReplayMore),
// so that a full inbox and full groups reach a slow link whole, in order,
// without filling its send queue. A stream is read to its end (live messages
// of it wait for the replay), and then the next.
type replay struct {
	budget  int
	streams []replayStream
}

// replayStream is a stream still to replay, from after.
type replayStream struct {
	stream string
	after  uint64
}

// has reports whether the replay is still to send stream's messages.
func (r *replay) has(stream string) bool {
	if r == nil {
		return false
	}
	for _, rs := range r.streams {
		if rs.stream == stream {
			return true
		}
	}
	return false
}

// streamEnd is the last seq of a stream to send now: the inbox's committed
// one, a group's whatever its owner has.
func (u *userActor) streamEnd(stream string) uint64 {
	if stream == inbox {
		return u.committed
	}
	return ^uint64(0)
}

// replayPage sends the session the next part of its replay.
func (u *userActor) replayPage(ctx actor.Context, s *session) {
	r := s.replay
	var frames [][]byte
	size := 0
	for len(r.streams) > 0 && size < r.budget {
		rs := &r.streams[0]
		full := false
		err := u.readCatchUp(rs.stream, rs.after, u.streamEnd(rs.stream), func(seq uint64, frame []byte) bool {
			rs.after = seq
			if frame != nil {
				frames = append(frames, frame)
				size += len(frame)
			}
			full = size >= r.budget
			return !full
		})
		if err != nil {
			u.n.log.Error("user actor: replay", "app", u.app, "user", u.user, "stream", rs.stream, "err", err)
		}
		s.sent[rs.stream] = max(s.sent[rs.stream], rs.after)
		if !full || err != nil {
			r.streams = r.streams[1:] // read to its end
		}
	}
	more := len(r.streams) > 0
	if !more {
		s.replay = nil
	}
	if len(frames) > 0 {
		u.n.send(ctx, s.pid, "", &wire.Deliver{Frames: frames, Replay: more})
		u.n.o.Metrics.FramesDelivered.Add(float64(len(frames)))
	}
}

// connectCheck refuses a new device's connection when the user has
// maxConnections already; a device that is connected may connect again (the
// new connection replaces its old one).
func (u *userActor) connectCheck(device string) *wire.Reply {
	if _, ok := u.sessions[device]; !ok && len(u.sessions) >= maxConnections {
		return &wire.Reply{Error: errReply(wire.CodeTooManyConnections, "user %s already has %d long connections (one per device); close one first", u.user, len(u.sessions))}
	}
	return &wire.Reply{}
}

// drainStream sends the session the stream's messages with after < seq <= upto.
func (u *userActor) drainStream(ctx actor.Context, dev string, s *session, stream string, after, upto uint64) {
	frames := make([][]byte, 0, drainChunk)
	last := after
	err := u.readCatchUp(stream, after, upto, func(seq uint64, frame []byte) bool {
		last = seq
		if frame == nil {
			return true
		}
		frames = append(frames, frame)
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
		u.n.log.Error("user actor: drain", "app", u.app, "user", u.user, "stream", stream, "err", err)
	}
	s.sent[stream] = max(s.sent[stream], last)
}

// readCatchUp reads the stream's messages with after < seq <= upto as a
// device catching up gets them: fn has each seq with its frame, or a nil
// frame for an invitation whose call no longer rings for the user (not sent).
func (u *userActor) readCatchUp(stream string, after, upto uint64, fn func(seq uint64, frame []byte) bool) error {
	var ringing map[string]int64
	now := u.n.now().UnixMilli()
	return u.readStream(stream, after, upto, func(msg *wire.Message) bool {
		if msg.Event == eventInvitation {
			if ringing == nil {
				ringing, _ = u.n.o.Store.Ringing(u.app, u.user)
			}
			if until, ok := ringing[msg.CallId]; !ok || until <= now {
				return fn(msg.Seq, nil)
			}
		}
		return fn(msg.Seq, MessageFrame(msg))
	})
}

// readStream reads one of the user's streams: the inbox from this node's
// store, a group stream from its group's owner.
func (u *userActor) readStream(stream string, after, upto uint64, fn func(*wire.Message) bool) error {
	if stream == inbox {
		return u.n.o.Store.ReadStream(u.app, u.user, inbox, max(after, u.stream.first-1), upto, fn)
	}
	group, ok := strings.CutPrefix(stream, "group:")
	if !ok {
		return nil
	}
	err := u.n.readGroup(u.app, group, u.user, after, upto, fn)
	if hasCode(err, wire.CodeNotMember) {
		// Removed from the group (its index here is told in the background):
		// nothing more of its stream.
		return nil
	}
	return err
}

// readGroup reads a group stream for user, who must be a member (the group's
// members are the truth, not the user's own index of its groups): straight
// from the store when this node owns the group, else from its owner.
func (n *Node) readGroup(app, group, user string, after, upto uint64, fn func(*wire.Message) bool) error {
	key := GroupKey(app, group)
	if owner, _ := n.place.Owner(key); owner == n.place.Self() {
		if ok, err := n.o.Store.IsMember(app, group, user); err != nil || !ok {
			if err == nil {
				err = &RequestError{Code: wire.CodeNotMember, Message: user + " is not a member of group " + group}
			}
			return err
		}
		// The group actor trims its stream in runs (trimRun): start no
		// lower than the newest offline_max_per_stream.
		last, err := n.o.Store.GroupLastSeq(app, group)
		if err != nil {
			return err
		}
		if keep := uint64(n.o.MaxPerStream); last >= keep {
			after = max(after, last-keep)
		}
		return n.o.Store.ReadGroupStream(app, group, after, upto, fn)
	}
	for {
		// Each page gets Request's default timeout.
		r, err := requestAs[*wire.GroupReadReply](context.Background(), n, key,
			&wire.GroupReadRequest{App: app, Group: group, After: after, Upto: upto, Limit: groupReadPage, User: user})
		if err != nil {
			return err
		}
		for _, m := range r.Messages {
			if !fn(m) {
				return nil
			}
			after = m.Seq
		}
		if len(r.Messages) < groupReadPage || after >= upto {
			return nil
		}
	}
}

// groupReadPage is how many messages one read of a remote group stream asks for.
const groupReadPage = 1000

func (u *userActor) addPending(device string, p pendingPush) {
	if u.pending == nil {
		u.pending = map[string][]pendingPush{}
	}
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
