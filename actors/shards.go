package actors

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// shardSet is which shards this node writes, and so which keys its router
// serves: a lone node writes all of them; a cluster node those whose Raft
// leader it is and has acquired (TakeShard), until it loses them
// (ReleaseShard).
type shardSet struct {
	all   bool // a lone node: every shard, no hashing per message
	owned [storage.NumShards + 1]atomic.Bool
	// taken counts each shard's takes: what a node read of a shard before it
	// last took it may have changed under another writer.
	taken [storage.NumShards + 1]atomic.Uint64

	mu   sync.Mutex
	work map[uint64]map[*context.CancelFunc]struct{} // shard → cancels of its fan-outs
}

// shardWork returns a context for work on shard (a fan-out) that ends with
// ctx or when the node releases the shard; done unregisters it.
func (n *Node) shardWork(ctx context.Context, shard uint64) (context.Context, func()) {
	if n.shards.all {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	n.shards.mu.Lock()
	defer n.shards.mu.Unlock()
	if n.shards.work == nil {
		n.shards.work = map[uint64]map[*context.CancelFunc]struct{}{}
	}
	if n.shards.work[shard] == nil {
		n.shards.work[shard] = map[*context.CancelFunc]struct{}{}
	}
	n.shards.work[shard][&cancel] = struct{}{}
	if !n.OwnsShard(shard) {
		cancel() // released before it registered
	}
	return ctx, func() {
		cancel()
		n.shards.mu.Lock()
		defer n.shards.mu.Unlock()
		delete(n.shards.work[shard], &cancel)
	}
}

// ownsKey reports whether this node serves key's actor.
func (n *Node) ownsKey(key string) bool {
	return n.shards.all || n.shards.owned[storage.ShardOf(key)].Load()
}

// OwnsShard reports whether this node writes shard now.
func (n *Node) OwnsShard(shard uint64) bool {
	return n.shards.all || (shard >= 1 && shard <= storage.NumShards && n.shards.owned[shard].Load())
}

// TakeShard makes this node serve shard's actors, once the caller made it
// the shard's writer (storage.Store.Acquire, which also applied everything
// committed before): the shard's outbox, fan-outs and ringing calls resume
// here, where its last writer left them. It does nothing for a shard it
// serves already.
func (n *Node) TakeShard(shard uint64) error {
	if n.shards.all || shard < 1 || shard > storage.NumShards || n.shards.owned[shard].Swap(true) {
		return nil
	}
	n.shards.taken[shard].Add(1)
	n.log.Info("shard taken", "shard", shard)
	if err := n.resumeShard(shard); err != nil {
		return err
	}
	n.tellOutbox(shard)
	return nil
}

// shardTaken reports whether this node serves shard, and how many times it has
// taken it (a lone node serves every shard, taken once).
func (n *Node) shardTaken(shard uint64) (gen uint64, owned bool) {
	if n.shards.all {
		return 1, true
	}
	return n.shards.taken[shard].Load(), n.shards.owned[shard].Load()
}

// ReleaseShard stops serving shard: its requests are answered NotOwner (and
// retried on its next writer), its actors stop (a user's long connections
// are kicked with "moved", and reconnect to the new writer), and its
// fan-outs stop after their chunks in flight. Pushes already with a vendor
// actor still go out; their outbox records stay for the new writer, which
// sends them again (at least once, with the same collapse id).
func (n *Node) ReleaseShard(shard uint64) {
	if n.shards.all || shard < 1 || shard > storage.NumShards || !n.shards.owned[shard].Swap(false) {
		return
	}
	n.log.Info("shard released", "shard", shard)
	n.shards.mu.Lock()
	for cancel := range n.shards.work[shard] {
		(*cancel)()
	}
	n.shards.mu.Unlock()
	if n.router != nil {
		n.system.Root.Send(n.router, &releaseShard{shard: shard})
	}
}

// releaseShard asks the router to stop the actors of a shard this node no
// longer serves.
type releaseShard struct{ shard uint64 }

// release tells the router's children whose keys are in shard to stop once
// their commits in flight are answered (shardReleased).
func (r *router) release(ctx actor.Context, shard uint64) {
	for key, c := range r.children {
		if c.stopping || storage.ShardOf(key) != shard {
			continue
		}
		// Stopping: its new messages wait at the router for the next
		// incarnation, which loads what is stored once the shard is served again.
		c.stopping, c.released = true, true
		ctx.Send(c.pid, &shardReleased{})
	}
}

// resumeShard restarts what the shard's last writer left unfinished: the
// outbox's pushes, group fan-outs and membership changes not yet told to
// members, the timers of calls still ringing (read from their index, not
// from every call) and call events not yet delivered.
func (n *Node) resumeShard(shard uint64) error {
	if err := n.recoverOutbox(shard); err != nil {
		return err
	}
	err := n.o.Store.FanoutsIn(shard, func(f *wire.Fanout) bool {
		n.Tell(GroupKey(f.App, f.Group), f)
		return true
	})
	if err != nil {
		return err
	}
	told := map[string]bool{}
	err = n.o.Store.MemberTellsIn(shard, func(m *wire.Membership) bool {
		if key := GroupKey(m.App, m.Group); !told[key] {
			told[key] = true
			n.Tell(key, &wire.Membership{App: m.App, Group: m.Group})
		}
		return true
	})
	if err != nil {
		return err
	}
	resumed := map[string]bool{}
	resume := func(app, id string) {
		if key := CallKey(app, id); !resumed[key] {
			resumed[key] = true
			n.Tell(key, &wire.CallRequest{App: app, CallId: id, Action: string(wire.CallResume)})
		}
	}
	if err := n.o.Store.IndexLiveCalls(shard); err != nil {
		return err
	}
	err = n.o.Store.LiveCallsIn(shard, func(app, id string, _ int64) bool {
		resume(app, id)
		return true
	})
	if err != nil {
		return err
	}
	return n.o.Store.CallEventsIn(shard, func(e *wire.CallEvent) bool {
		resume(e.GetMessage().GetApp(), e.GetMessage().GetCallId())
		return true
	})
}

// sessionOwners remembers, for each long connection this node holds, the
// node its user's actor was on when it connected, so that a connection whose
// user moved (its shard's writer changed, or died) is kicked and reconnects.
type sessionOwners struct {
	mu    sync.Mutex
	owner map[*Session]string
}

func (o *sessionOwners) add(s *Session, owner string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.owner == nil {
		o.owner = map[*Session]string{}
	}
	o.owner[s] = owner
}

func (o *sessionOwners) remove(s *Session) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.owner, s)
}

// ownerMoves wakes node work that waits on other nodes when the placement
// moves keys: each OwnersChanged closes the channel next handed out.
type ownerMoves struct {
	mu sync.Mutex
	ch chan struct{}
}

// next is closed at the next OwnersChanged. Take it before reading the
// placement: a move between the two then still wakes the waiter.
func (m *ownerMoves) next() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ch == nil {
		m.ch = make(chan struct{})
	}
	return m.ch
}

// wake closes the channel the waiters hold; the next waiter gets a new one.
func (m *ownerMoves) wake() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ch != nil {
		close(m.ch)
		m.ch = nil
	}
}

// OwnersChanged tells the node that keys may have moved between nodes (a
// shard's leader changed, a node left): node work waiting on a node that no
// longer owns its users gives up and is placed again (see requestNode), and
// every long connection whose user's actor is no longer where it was is
// kicked ("moved"), and the client reconnects to the user's new owner,
// draining from its cursor. A lone node never calls it.
func (n *Node) OwnersChanged() {
	n.moves.wake()
	n.sessions.mu.Lock()
	var moved []*Session
	for s, was := range n.sessions.owner {
		if now, _ := n.place.Owner(s.key); now != was {
			moved = append(moved, s)
			delete(n.sessions.owner, s)
		}
	}
	n.sessions.mu.Unlock()
	for _, s := range moved {
		n.send(n.system.Root, s.pid, "", &wire.Kick{Reason: "moved", SessionId: s.id})
	}
}
