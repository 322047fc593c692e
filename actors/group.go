package actors

import (
	"context"
	"slices"
	"sort"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/wire"
)

// MaxGroupMembers is the largest group (README, "HTTP API", PUT /v1/groups).
const MaxGroupMembers = 100_000

// groupActor owns one group: its members, its stream (each message stored once
// for all members) and the fan-outs of its messages.
type groupActor struct {
	n          *Node
	app, group string
	key        string
	self       *actor.PID
	idle       idleWatch
	exists     bool
	members    []string // sorted
	stream     streamWindow
	dedupe     sendDedupe
	commits    int
	fanouts    int
	loadErr    error
	tells      memberTells
}

// fanoutDone reports that a fan-out goroutine finished.
type fanoutDone struct{}

func newGroup(n *Node, app, group string) *groupActor {
	return &groupActor{n: n, app: app, group: group, key: GroupKey(app, group)}
}

func (g *groupActor) Receive(ctx actor.Context) {
	if g.idle.receive(ctx, g.n, g.key, g.fanouts > 0 || g.commits > 0 || g.tells.busy(), g.commits > 0) {
		return
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.self = ctx.Self()
		g.load()
		g.tellMembers(nil)
	case *wire.Envelope, *local:
		g.envelope(ctx, m)
	case *sendCommit:
		g.onCommitted(ctx, m)
	case fanoutDone:
		g.fanouts--
	case *membersTold:
		g.told(ctx, m)
	case retryTells:
		g.tells.retryArmed = false
		g.tellMembers(nil)
	}
}

func (g *groupActor) load() {
	st := g.n.o.Store
	var first, last uint64
	_, ok, err := st.Group(g.app, g.group)
	g.exists = ok
	if err == nil {
		err = st.GroupMembers(g.app, g.group, "", func(u string) bool {
			g.members = append(g.members, u)
			return true
		})
	}
	if err == nil {
		err = st.MemberTells(g.app, g.group, func(m *wire.Membership) bool {
			g.tells.set(m)
			return true
		})
	}
	if err == nil {
		last, err = st.GroupLastSeq(g.app, g.group)
	}
	if err == nil {
		first, err = st.GroupFirstSeq(g.app, g.group)
	}
	g.stream = newStreamWindow(first, last, g.n.o.MaxPerStream)
	g.loadErr = err
	if err != nil {
		g.n.log.Error("group actor: load", "app", g.app, "group", g.group, "err", err)
	}
}

func (g *groupActor) reply(ctx actor.Context, to *actor.PID, m wireMessage) {
	g.n.send(ctx, to, g.key, m)
}

func (g *groupActor) envelope(ctx actor.Context, env any) {
	sender := ctx.Sender()
	msg, err := unpack(env)
	if err != nil {
		g.reply(ctx, sender, &wire.Reply{Error: errReply(wire.CodeUnknownType, "%v", err)})
		return
	}
	if g.loadErr != nil {
		g.reply(ctx, sender, &wire.Reply{Error: errReply(wire.CodeStorageFailed, "group state unavailable")})
		ctx.Send(ctx.Parent(), &passivate{key: g.key, pid: ctx.Self()})
		return
	}
	switch m := msg.(type) {
	case *wire.GroupSetRequest:
		if r := g.set(sender, m); r != nil {
			g.reply(ctx, sender, r)
		}
	case *wire.GroupGetRequest:
		if !g.exists {
			g.reply(ctx, sender, &wire.GroupGetReply{Error: errReply(wire.CodeNotFound, "group %s does not exist", g.group)})
			return
		}
		g.reply(ctx, sender, &wire.GroupGetReply{Members: slices.Clone(g.members), LastSeq: g.stream.last})
	case *wire.GroupReadRequest:
		if m.User != "" && !g.isMember(m.User) {
			g.reply(ctx, sender, &wire.GroupReadReply{Error: errReply(wire.CodeNotMember, "%s is not a member of group %s", m.User, g.group)})
			return
		}
		r := &wire.GroupReadReply{LastSeq: g.stream.last}
		limit := int(max(m.Limit, 1))
		err := g.n.o.Store.ReadGroupStream(g.app, g.group, max(m.After, g.stream.first-1), m.Upto, func(msg *wire.Message) bool {
			r.Messages = append(r.Messages, msg)
			return len(r.Messages) < limit
		})
		if err != nil {
			r.Error = storageError(err, "%v", err)
		}
		g.reply(ctx, sender, r)
	case *wire.SendRequest:
		g.send(ctx, sender, m.GetMessage())
	case *wire.Fanout:
		g.resume(m)
	case *wire.Membership:
		// A start found membership changes not yet told: load began telling them.
	default:
		g.reply(ctx, sender, &wire.Reply{Error: errReply(wire.CodeUnknownType, "group actor does not handle %T", msg)})
	}
}

func (g *groupActor) isMember(u string) bool {
	_, ok := slices.BinarySearch(g.members, u)
	return ok
}

// set replaces, adds or removes members, durably, and tells the members' own
// keys (on their owner nodes) before answering, so that a member's next
// connect drains the group. The change and a record of each member still to
// be told are one batch in the group's shard: the group's members are the
// truth, and the members' side catches up by retries (tellMembers) even
// when the request fails after the commit; the same request again, even one
// that changes nothing, waits for every tell still pending.
func (g *groupActor) set(sender *actor.PID, m *wire.GroupSetRequest) *wire.GroupSetReply {
	req := slices.Clone(m.Members)
	sort.Strings(req)
	req = slices.Compact(req)
	var next, added, removed []string
	switch wire.GroupOp(m.Op) {
	case wire.GroupReplace:
		next = req
		for _, u := range req {
			if !g.isMember(u) {
				added = append(added, u)
			}
		}
		for _, u := range g.members {
			if _, ok := slices.BinarySearch(req, u); !ok {
				removed = append(removed, u)
			}
		}
	case wire.GroupAdd:
		for _, u := range req {
			if !g.isMember(u) {
				added = append(added, u)
			}
		}
		next = append(slices.Clone(g.members), added...)
		sort.Strings(next)
	case wire.GroupRemove:
		if !g.exists {
			return &wire.GroupSetReply{Error: errReply(wire.CodeNotFound, "group %s does not exist", g.group)}
		}
		for _, u := range g.members {
			if _, ok := slices.BinarySearch(req, u); ok {
				removed = append(removed, u)
			} else {
				next = append(next, u)
			}
		}
	default:
		return &wire.GroupSetReply{Error: errReply(wire.CodeBadRequest, "unknown group op %q", m.Op)}
	}
	if len(next) > MaxGroupMembers {
		return &wire.GroupSetReply{Error: errReply(wire.CodeTooManyMembers, "group %s would have %d members; the limit is %d", g.group, len(next), MaxGroupMembers)}
	}
	st := g.n.o.Store
	b := st.NewBatch()
	var tells []*wire.Membership
	for _, u := range added {
		b.AddMember(g.app, g.group, u)
		tells = append(tells, &wire.Membership{App: g.app, Group: g.group, Users: []string{u}, Joined: true, Since: g.stream.last})
	}
	for _, u := range removed {
		b.RemoveMember(g.app, g.group, u)
		tells = append(tells, &wire.Membership{App: g.app, Group: g.group, Users: []string{u}})
	}
	for _, t := range tells {
		b.PutMemberTell(t)
	}
	b.PutGroup(&wire.GroupRecord{App: g.app, Group: g.group, Members: uint64(len(next)), CreatedAtMs: g.n.now().UnixMilli()})
	if err := st.Commit(b, true); err != nil {
		return &wire.GroupSetReply{Error: storageError(err, "%v", err)}
	}
	g.exists, g.members = true, next
	for _, t := range tells {
		g.tells.set(t)
	}
	// The answer waits for the members' side, as it did before the tells were
	// durable, and says whether it has the change.
	return g.tellMembers(&tellWaiter{to: sender, reply: &wire.GroupSetReply{Members: uint64(len(next))}})
}

// send stores a group message once, with its fan-out record, and answers as
// soon as both are durable; the fan-out runs in the background.
func (g *groupActor) send(ctx actor.Context, sender *actor.PID, m *wire.Message) {
	if !g.exists {
		g.reply(ctx, sender, &wire.SendReply{Error: errReply(wire.CodeNotFound, "group %s does not exist", g.group)})
		return
	}
	if !g.isMember(m.From) {
		g.reply(ctx, sender, &wire.SendReply{Error: errReply(wire.CodeNotMember, "%s is not a member of group %s", m.From, g.group)})
		return
	}
	now := g.n.now()
	st := g.n.o.Store
	idemKey, answered := g.dedupe.begin(g.n, m, sender, now, func(from, id string) (*wire.IdempotencyRecord, int64, bool, error) {
		return st.GroupIdempotency(g.app, g.group, from, id)
	}, func(to *actor.PID, r *wire.SendReply) { g.reply(ctx, to, r) })
	if answered {
		return
	}
	seq, dropped, dropBefore := g.stream.next(g.n.o.MaxPerStream)
	m.Seq, m.Stream, m.App = seq, "group:"+g.group, g.app
	m.MessageId, m.TimestampMs = NewMessageID(now), now.UnixMilli()
	b := st.NewBatch()
	b.PutGroupMessage(g.app, g.group, m)
	b.PutFanout(&wire.Fanout{App: g.app, Group: g.group, Seq: m.Seq})
	g.traceFanout(b, m, now)
	if idemKey != "" {
		b.PutGroupIdempotency(g.app, g.group, m.From, m.ClientMsgId, now.UnixMilli(), record(m))
	}
	if dropBefore != 0 {
		b.DropGroupMessagesBefore(g.app, g.group, dropBefore)
	}
	c := &sendCommit{msg: m, dropped: dropped}
	c.waitFor(idemKey, sender)
	g.commits++
	g.n.commitAsync(g.self, b, c)
}

func (g *groupActor) onCommitted(ctx actor.Context, c *sendCommit) {
	g.commits--
	if c.err == nil {
		g.n.o.Metrics.MessagesAccepted.WithLabelValues("group").Inc() // before the answer, as for users
	}
	c.answer(&g.dedupe, func(to *actor.PID, r *wire.SendReply) { g.reply(ctx, to, r) })
	m := c.msg
	if c.err != nil {
		g.loadErr = c.err // reload from disk on the next activation
		ctx.Send(ctx.Parent(), &passivate{key: g.key, pid: ctx.Self()})
		return
	}
	if c.dropped > 0 {
		g.n.o.Metrics.MessagesDropped.WithLabelValues("retention_count").Add(float64(c.dropped))
	}
	g.startFanout(&wire.Fanout{App: g.app, Group: g.group, Seq: m.Seq}, m)
}

// resume restarts a fan-out a crash interrupted.
func (g *groupActor) resume(f *wire.Fanout) {
	var m *wire.Message
	err := g.n.o.Store.ReadGroupStream(g.app, g.group, f.Seq-1, f.Seq, func(msg *wire.Message) bool {
		m = msg
		return false
	})
	if err != nil || m == nil {
		g.n.log.Warn("fan-out not resumed: message gone", "app", g.app, "group", g.group, "seq", f.Seq, "err", err)
		b := g.n.o.Store.NewBatch()
		b.DeleteFanout(g.app, g.group, f.Seq)
		g.n.o.Store.CommitAsync(b, false, nil)
		return
	}
	g.startFanout(f, m)
}

func (g *groupActor) startFanout(f *wire.Fanout, m *wire.Message) {
	i, _ := slices.BinarySearch(g.members, f.NextUser)
	// The sender is left out here, so that chunks hold only receivers.
	members := slices.DeleteFunc(slices.Clone(g.members[i:]), func(u string) bool { return u == m.From })
	g.fanouts++
	self, root := g.self, g.n.system.Root
	g.n.goWork(func(ctx context.Context) {
		defer root.Send(self, fanoutDone{})
		g.n.runFanout(ctx, f, m, members)
	})
}
