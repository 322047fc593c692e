package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/wire"
)

// MaxGroupMembers is the largest group (API.md).
const MaxGroupMembers = 100_000

// Fan-out shape: members are handed to their owner nodes in chunks, a few
// chunks at a time; a crash repeats at most the chunks in flight.
const (
	fanoutChunk    = 1000
	fanoutParallel = 4
	membershipPart = 5000
)

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
}

// fanoutDone reports that a fan-out goroutine finished.
type fanoutDone struct{}

func newGroup(n *Node, app, group string) *groupActor {
	return &groupActor{n: n, app: app, group: group, key: GroupKey(app, group)}
}

func (g *groupActor) Receive(ctx actor.Context) {
	if g.idle.receive(ctx, g.n, g.key, g.fanouts > 0 || g.commits > 0) {
		return
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.self = ctx.Self()
		g.load()
	case *wire.Envelope, *local:
		g.envelope(ctx, m)
	case *sendCommit:
		g.onCommitted(ctx, m)
	case fanoutDone:
		g.fanouts--
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
		g.reply(ctx, sender, g.set(m))
	case *wire.GroupGetRequest:
		if !g.exists {
			g.reply(ctx, sender, &wire.GroupGetReply{Error: errReply(wire.CodeNotFound, "group %s does not exist", g.group)})
			return
		}
		g.reply(ctx, sender, &wire.GroupGetReply{Members: slices.Clone(g.members), LastSeq: g.stream.last})
	case *wire.GroupReadRequest:
		r := &wire.GroupReadReply{LastSeq: g.stream.last}
		limit := int(max(m.Limit, 1))
		err := g.n.o.Store.ReadGroupStream(g.app, g.group, max(m.After, g.stream.first-1), m.Upto, func(msg *wire.Message) bool {
			r.Messages = append(r.Messages, msg)
			return len(r.Messages) < limit
		})
		if err != nil {
			r.Error = errReply(wire.CodeStorageFailed, "%v", err)
		}
		g.reply(ctx, sender, r)
	case *wire.SendRequest:
		g.send(ctx, sender, m.GetMessage())
	case *wire.Fanout:
		g.resume(m)
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
// connect drains the group.
func (g *groupActor) set(m *wire.GroupSetRequest) *wire.GroupSetReply {
	req := slices.Clone(m.Members)
	sort.Strings(req)
	req = slices.Compact(req)
	var next, added, removed []string
	switch m.Op {
	case "replace":
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
	case "add":
		for _, u := range req {
			if !g.isMember(u) {
				added = append(added, u)
			}
		}
		next = append(slices.Clone(g.members), added...)
		sort.Strings(next)
	case "remove":
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
	for _, u := range added {
		b.AddMember(g.app, g.group, u)
	}
	for _, u := range removed {
		b.RemoveMember(g.app, g.group, u)
	}
	b.PutGroup(&wire.GroupRecord{App: g.app, Group: g.group, Members: uint64(len(next)), CreatedAtMs: g.n.now().UnixMilli()})
	if err := st.Commit(b, true); err != nil {
		return &wire.GroupSetReply{Error: errReply(wire.CodeStorageFailed, "%v", err)}
	}
	g.exists, g.members = true, next
	ctx, cancel := context.WithTimeout(context.Background(), 4*g.n.o.RequestTimeout)
	defer cancel()
	if err := g.n.tellMembership(ctx, g.app, g.group, added, true, g.stream.last); err != nil {
		return &wire.GroupSetReply{Error: errReply(wire.CodeUnavailable, "members stored, but not every member's node was told: %v", err)}
	}
	if err := g.n.tellMembership(ctx, g.app, g.group, removed, false, 0); err != nil {
		return &wire.GroupSetReply{Error: errReply(wire.CodeUnavailable, "members stored, but not every member's node was told: %v", err)}
	}
	return &wire.GroupSetReply{Members: uint64(len(next))}
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

// runFanout hands the message to every member's owner node, a few chunks at
// a time, recording after each finished chunk where a restart resumes.
func (n *Node) runFanout(ctx context.Context, f *wire.Fanout, m *wire.Message, members []string) {
	n.o.Metrics.FanoutPending.Inc()
	defer n.o.Metrics.FanoutPending.Dec()
	chunks := (len(members) + fanoutChunk - 1) / fanoutChunk
	done := make([]bool, chunks)
	next := 0 // chunks below it are all done
	var mu sync.Mutex
	sem := make(chan struct{}, fanoutParallel)
	var wg sync.WaitGroup
	for c := 0; c < chunks; c++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return // stopping: the fan-out record stays for the next start
		}
		users := members[c*fanoutChunk : min((c+1)*fanoutChunk, len(members))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := n.deliverChunk(ctx, m, users); err != nil {
				return
			}
			n.o.Metrics.FanoutMembers.Add(float64(len(users)))
			mu.Lock()
			defer mu.Unlock()
			done[c] = true
			moved := false
			for next < chunks && done[next] {
				next++
				moved = true
			}
			if moved && next < chunks {
				b := n.o.Store.NewBatch()
				b.PutFanout(&wire.Fanout{App: f.App, Group: f.Group, Seq: f.Seq, NextUser: members[next*fanoutChunk]})
				n.o.Store.CommitAsync(b, false, nil)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	for _, d := range done {
		if !d {
			return // a chunk failed for good: the record stays for the next start
		}
	}
	b := n.o.Store.NewBatch()
	b.DeleteFanout(f.App, f.Group, f.Seq)
	n.o.Store.CommitAsync(b, false, nil)
}

// deliverChunk hands a group message to the owner nodes of users, retrying
// while a node does not answer, until ctx ends.
func (n *Node) deliverChunk(ctx context.Context, m *wire.Message, users []string) error {
	byNode := n.byOwner(m.App, users)
	var wg sync.WaitGroup
	errs := make(chan error, len(byNode))
	for node, us := range byNode {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- n.requestNodeRetry(ctx, node, &wire.FanoutChunk{Message: m, Users: us.users, Group: m.To, First: users[0]}, us.addr)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

type ownedUsers struct {
	addr  string
	users []string
}

// byOwner groups users by the node that owns them.
func (n *Node) byOwner(app string, users []string) map[string]*ownedUsers {
	out := map[string]*ownedUsers{}
	for _, u := range users {
		node, addr := n.place.Owner(UserKey(app, u))
		o := out[node]
		if o == nil {
			o = &ownedUsers{addr: addr}
			out[node] = o
		}
		o.users = append(o.users, u)
	}
	return out
}

// tellMembership records on each member's owner node that it joined (since
// seq) or left the group.
func (n *Node) tellMembership(ctx context.Context, app, group string, users []string, joined bool, since uint64) error {
	for start := 0; start < len(users); start += membershipPart {
		part := users[start:min(start+membershipPart, len(users))]
		for node, us := range n.byOwner(app, part) {
			m := &wire.Membership{App: app, Group: group, Users: us.users, Joined: joined, Since: since}
			if err := n.requestNodeRetry(ctx, node, m, us.addr); err != nil {
				return err
			}
		}
	}
	return nil
}

// requestNodeRetry sends node work to one node's router and waits for its
// answer, retrying with backoff while the node does not answer.
func (n *Node) requestNodeRetry(ctx context.Context, node string, msg wireMessage, addr string) error {
	pid := n.router
	if node != n.place.Self() {
		pid = actor.NewPID(addr, "router")
	}
	env, err := n.pack(pid, nodeKeyPrefix+node, msg)
	if err != nil {
		return err
	}
	backoff := 20 * time.Millisecond
	for {
		res, err := n.system.Root.RequestFuture(pid, env, n.o.RequestTimeout).Result()
		if err == nil {
			reply, err := unpack(res)
			if err != nil {
				return err
			}
			return ReplyError(reply)
		}
		n.log.Warn("node work not answered; retrying", "node", node, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// nodeWork runs work for many users this node owns without blocking the
// router: members with live connections get a group message through their
// actor; the others are handled in bulk on the store.
func (r *router) nodeWork(ctx actor.Context, key string, env any, sender *actor.PID) {
	n := r.n
	msg, err := unpack(env)
	if err != nil {
		n.send(ctx, sender, key, &wire.Reply{Error: errReply(wire.CodeUnknownType, "%v", err)})
		return
	}
	answer := func(err error) {
		rep := &wire.Reply{}
		if err != nil {
			rep.Error = errReply(wire.CodeNodeWorkFailed, "%v", err)
		}
		n.send(n.system.Root, sender, key, rep)
	}
	switch m := msg.(type) {
	case *wire.FanoutChunk:
		app := m.Message.App
		var alive, rest []string
		// Members' keys are built in one buffer: the map lookup with
		// string(key) does not allocate, and most members are offline.
		key := append(make([]byte, 0, 64), "u/"+app+"/"...)
		prefix := len(key)
		for _, u := range m.Users {
			key = append(key[:prefix], u...)
			if len(r.connected) > 0 && r.connected[string(key)] && r.connectedUser(string(key)) {
				alive = append(alive, u)
			} else {
				rest = append(rest, u)
			}
		}
		n.goWork(func(context.Context) { answer(n.fanoutLocal(m, alive, rest)) })
	case *wire.Membership:
		n.goWork(func(context.Context) {
			b := n.o.Store.NewBatch()
			for _, u := range m.Users {
				if m.Joined {
					b.SetUserGroup(m.App, u, m.Group, m.Since)
				} else {
					b.DeleteUserGroup(m.App, u, m.Group)
				}
			}
			answer(n.o.Store.Commit(b, true))
		})
	default:
		answer(fmt.Errorf("node work does not handle %T", msg))
	}
}

// fanoutLocal delivers a group message to users this node owns: through the
// actors of those connected, in bulk for the others (no connection, so only
// pushes), durably before it returns.
func (n *Node) fanoutLocal(c *wire.FanoutChunk, alive, rest []string) error {
	m := c.Message
	futures := make([]*actor.Future, 0, len(alive))
	for _, u := range alive {
		key := UserKey(m.App, u)
		futures = append(futures, n.system.Root.RequestFuture(n.router, &local{key: key, msg: &wire.GroupDeliver{Message: m, Group: c.Group}}, n.o.RequestTimeout))
	}
	if err := n.pushOffline(c, rest); err != nil {
		return err
	}
	var errs []error
	for _, f := range futures {
		res, err := f.Result()
		if err == nil {
			var reply wireMessage
			if reply, err = unpack(res); err == nil {
				err = ReplyError(reply)
			}
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// pushOffline writes the pushes of a group message for members with no live
// actor as one outbox chunk, durably, with the mark that this node has done
// its part of fan-out chunk c (so that a resumed fan-out skips it), and hands
// them to the vendor actors.
func (n *Node) pushOffline(c *wire.FanoutChunk, users []string) error {
	m := c.Message
	if m.PushConfig == nil || len(users) == 0 {
		return nil
	}
	st := n.o.Store
	if c.First != "" {
		done, err := st.FanoutChunkMarked(m.App, c.Group, m.Seq, c.First)
		if err != nil || done {
			return err
		}
	}
	now := n.now()
	chunk := &wire.PushChunk{Message: pushFields(m), CreatedAtMs: now.UnixMilli()}
	err := st.EachUserBindings(m.App, users, func(u string, bs []*wire.Binding) error {
		if u == m.From {
			return nil
		}
		chunk.Bindings = append(chunk.Bindings, pushBindings(bs, false)...)
		return nil
	})
	if err != nil || len(chunk.Bindings) == 0 {
		return err
	}
	chunk.Id = st.NewPushID()
	b := st.NewBatch()
	b.PutPushChunk(chunk)
	if c.First != "" {
		b.MarkFanoutChunk(m.App, c.Group, m.Seq, c.First, now.UnixMilli())
	}
	if err := st.Commit(b, true); err != nil {
		return err
	}
	n.dispatchJobs(n.chunkJobs(chunk), now)
	return nil
}
