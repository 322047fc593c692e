package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// Fan-out shape: members are handed to their owner nodes in chunks, a few
// chunks at a time; a crash repeats at most the chunks in flight.
const (
	fanoutChunk    = 1000
	fanoutParallel = 4
	membershipPart = 5000
)

// ownerRetry is how long node work waits before sending a share again whose
// owner did not take it (moving, or gone).
const ownerRetry = 20 * time.Millisecond

// runFanout hands the message to every member's owner node, a few chunks at
// a time, recording after each finished chunk where a restart resumes.
func (n *Node) runFanout(ctx context.Context, f *wire.Fanout, m *wire.Message, members []string) {
	ctx, unregister := n.shardWork(ctx, storage.ShardOf(GroupKey(f.App, f.Group)))
	defer unregister()
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

// deliverChunk hands a group message to the owner nodes of users, until each
// took its share or ctx ends.
func (n *Node) deliverChunk(ctx context.Context, m *wire.Message, users []string) error {
	return n.toOwners(ctx, m.App, users, func(us []string) wireMessage {
		return &wire.FanoutChunk{Message: m, Users: us, Group: m.To, First: users[0]}
	})
}

type ownedUsers struct {
	addr  string
	users []string
}

// byOwner groups users by the node that owns them ("" for the users of
// shards with no writer known).
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
		err := n.toOwners(ctx, app, part, func(us []string) wireMessage {
			return &wire.Membership{App: app, Group: group, Users: us, Joined: joined, Since: since}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// toOwners sends each owner node the work that build makes for its users, at
// once, and waits for their answers. A share that is not taken (its node does
// not answer, or no longer owns all of its users: a shard moved) is placed
// again and sent again, with backoff, until every share is taken or ctx ends.
// A share whose users the placement moves off its node while it waits is
// given up at once (the node may have died: it would never answer), and a
// move ends the backoff: the share goes to the new owner without waiting.
// The work must be idempotent: a share may be done twice.
func (n *Node) toOwners(ctx context.Context, app string, users []string, build func([]string) wireMessage) error {
	backoff := ownerRetry
	for {
		var (
			mu     sync.Mutex
			failed []string
			last   error
			wg     sync.WaitGroup
		)
		moved := n.moves.next() // before the placement is read
		for node, us := range n.byOwner(app, users) {
			if node == "" {
				mu.Lock()
				failed, last = append(failed, us.users...), fmt.Errorf("%w: no writer known for some users' shards", ErrUnavailable)
				mu.Unlock()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := n.requestNode(ctx, node, us.addr, app, us.users, build(us.users), moved); err != nil {
					mu.Lock()
					failed, last = append(failed, us.users...), err
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(failed) == 0 {
			return nil
		}
		n.log.Warn("node work not taken; placing it again", "users", len(failed), "err", last)
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-n.stopCh:
			return errors.Join(ErrStopped, last)
		case <-moved:
		case <-time.After(backoff):
			backoff = min(backoff*2, 2*time.Second)
		}
		users = failed
	}
}

// requestNode sends node work for users (of app) to one node's router and
// waits for its answer, for at most RequestTimeout. moved is closed when the
// placement changes (see ownerMoves): the request then gives up at once, with
// errMoved, if one of users is no longer on node, for a node that died never
// answers, and its shards have new writers long before the timeout. The old
// node may still have done the work.
func (n *Node) requestNode(ctx context.Context, node, addr, app string, users []string, msg wireMessage, moved <-chan struct{}) error {
	pid := n.router
	if node != n.place.Self() {
		pid = actor.NewPID(addr, "router")
	}
	env, err := n.pack(pid, nodeKeyPrefix+node, msg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, n.o.RequestTimeout, fmt.Errorf("no answer in %v", n.o.RequestTimeout))
	defer cancel()
	res, err := n.await(ctx, pid, env, moved, func() error {
		if u, now, ok := n.movedOff(node, app, users); ok {
			return fmt.Errorf("%w: node %s was asked for user %s, now on node %q; its answer is not awaited", errMoved, node, u, now)
		}
		return nil
	})
	switch {
	case errors.Is(err, errMoved), errors.Is(err, ErrStopped):
		return err
	case err != nil:
		return fmt.Errorf("%w: node %s: %w", ErrUnavailable, node, err)
	}
	reply, err := unpack(res)
	if err != nil {
		return err
	}
	return ReplyError(reply)
}

// movedOff returns the first of users (of app) whose owner is no longer
// node, and its owner now ("" for none known).
func (n *Node) movedOff(node, app string, users []string) (user, now string, ok bool) {
	for _, u := range users {
		if owner, _ := n.place.Owner(UserKey(app, u)); owner != node {
			return u, owner, true
		}
	}
	return "", "", false
}

// unowned returns the first of users whose shard this node does not write.
func (n *Node) unowned(app string, users []string) (string, bool) {
	if n.shards.all {
		return "", false
	}
	for _, u := range users {
		if !n.ownsKey(UserKey(app, u)) {
			return u, true
		}
	}
	return "", false
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
		if u, ok := n.unowned(app, m.Users); ok {
			answer(fmt.Errorf("%w: user %s is not on this node now", ErrNotOwner, u))
			return
		}
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
		if u, ok := n.unowned(m.App, m.Users); ok {
			answer(fmt.Errorf("%w: user %s is not on this node now", ErrNotOwner, u))
			return
		}
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
// actor, durably, and hands them to the vendor actors: one outbox chunk per
// members' shard, each with the mark that the shard's part of fan-out chunk c
// is done (so that a resumed fan-out skips it), in one batch, since a batch
// that spans shards is not atomic in a cluster.
func (n *Node) pushOffline(c *wire.FanoutChunk, users []string) error {
	m := c.Message
	if m.PushConfig == nil || len(users) == 0 {
		return nil
	}
	if n.shards.all {
		return n.pushOfflineShard(c, storage.ShardOf(UserKey(m.App, users[0])), users)
	}
	byShard := map[uint64][]string{}
	for _, u := range users {
		shard := storage.ShardOf(UserKey(m.App, u))
		byShard[shard] = append(byShard[shard], u)
	}
	var errs []error
	for shard, us := range byShard {
		errs = append(errs, n.pushOfflineShard(c, shard, us))
	}
	return errors.Join(errs...)
}

// pushOfflineShard is pushOffline for users of one shard (on a lone node, of
// any shard: it writes them all in one batch, as one chunk in the first
// user's shard).
func (n *Node) pushOfflineShard(c *wire.FanoutChunk, shard uint64, users []string) error {
	m := c.Message
	st := n.o.Store
	if c.First != "" {
		done, err := st.FanoutChunkMarked(shard, m.App, c.Group, m.Seq, c.First)
		if err != nil || done {
			return err
		}
	}
	now := n.now()
	chunk := &wire.PushChunk{Message: pushFields(m), CreatedAtMs: now.UnixMilli()}
	var unbound []string // members with nothing to push to, for the trace
	err := st.EachUserBindings(m.App, users, func(u string, bs []*wire.Binding) error {
		if u == m.From {
			return nil
		}
		before := len(chunk.Bindings)
		chunk.Bindings = append(chunk.Bindings, pushBindings(bs, false)...)
		if len(chunk.Bindings) == before && !n.o.NoTrace {
			unbound = append(unbound, u)
		}
		return nil
	})
	inc := m.PushConfig.GetBadgeIncrement()
	if err != nil {
		return err
	}
	first := c.First
	if first == "" {
		first = users[0]
	}
	if len(chunk.Bindings) == 0 && inc <= 0 {
		if len(unbound) > 0 {
			// Nothing to push: the trace is this chunk's only write, and need not be durable.
			b := st.NewBatch()
			traceChunk(b, shard, m, first, now.UnixMilli(), nil, unbound)
			st.CommitAsync(b, false, nil)
		}
		return nil
	}
	b := st.NewBatch()
	if len(chunk.Bindings) > 0 {
		chunk.Id = st.NewPushID()
		b.PutPushChunk(shard, chunk)
	}
	if inc > 0 {
		// Each member's badge grows in this batch, with no read: an
		// increment is a record of its own, named by the message, so a
		// chunk written again counts once (see storage.AddBadge).
		tag := storage.GroupBadgeTag(c.Group, m.Seq)
		for _, u := range users {
			if u != m.From {
				b.AddBadge(m.App, u, tag, uint32(inc))
			}
		}
	}
	if !n.o.NoTrace {
		traceChunk(b, shard, m, first, now.UnixMilli(), chunk.Bindings, unbound)
	}
	if c.First != "" {
		b.MarkFanoutChunk(shard, m.App, c.Group, m.Seq, c.First, now.UnixMilli())
	}
	if err := st.Commit(b, true); err != nil {
		return err
	}
	if chunk.Id != 0 {
		n.dispatchJobs(n.chunkJobs(shard, chunk), now)
	}
	return nil
}
