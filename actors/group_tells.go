package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/wire"
)

// Retries of membership changes a member's node did not take: from
// tellRetryMin, doubling, up to tellRetryMax, until it takes them.
const (
	tellRetryMin = time.Second
	tellRetryMax = time.Minute
)

// memberTells are a group's membership changes that are stored (with a
// durable record each, storage.Batch.PutMemberTell) and not yet acknowledged
// by the members' own keys. One run tells them at a time, so that a member
// removed and added again learns the two in order.
type memberTells struct {
	byUser     map[string]*wire.Membership // one user each; the newest change wins
	running    bool
	dirty      bool   // a change was stored while a run was in flight
	runs       uint64 // runs started
	waiting    []*tellWaiter
	retryArmed bool
	backoff    time.Duration
}

// tellWaiter is a membership request answered once a run that started after
// its change was stored ends.
type tellWaiter struct {
	to    *actor.PID
	reply *wire.GroupSetReply
	run   uint64
	tells []*wire.Membership
}

// membersTold reports a run's outcome to the group actor.
type membersTold struct {
	run  uint64
	done []*wire.Membership
	err  error
}

// retryTells is the retry timer firing.
type retryTells struct{}

func (t *memberTells) set(m *wire.Membership) {
	if t.byUser == nil {
		t.byUser = map[string]*wire.Membership{}
	}
	t.byUser[m.Users[0]] = m
	t.dirty = t.dirty || t.running
}

func (t *memberTells) busy() bool { return len(t.byUser) > 0 || t.running }

// tellMembers registers w (when set) to be answered after the next run and
// starts that run unless one is in flight (its end starts the next). It
// returns w's answer when nothing is pending to wait for.
func (g *groupActor) tellMembers(w *tellWaiter) *wire.GroupSetReply {
	t := &g.tells
	if len(t.byUser) == 0 {
		if w != nil {
			return w.reply
		}
		return nil
	}
	if w != nil {
		w.run = t.runs + 1
		for _, m := range t.byUser {
			w.tells = append(w.tells, m)
		}
		t.waiting = append(t.waiting, w)
	}
	if t.running {
		return nil
	}
	t.running, t.dirty = true, false
	t.runs++
	run := t.runs
	batch := make([]*wire.Membership, 0, len(t.byUser))
	for _, m := range t.byUser {
		batch = append(batch, m)
	}
	n, app, group := g.n, g.app, g.group
	self, root := g.self, n.system.Root
	n.goWork(func(wctx context.Context) {
		ctx, cancel := context.WithTimeout(wctx, 4*n.o.RequestTimeout)
		defer cancel()
		root.Send(self, n.runTells(ctx, app, group, run, batch))
	})
	return nil
}

// runTells tells the members' owner nodes, users with the same change
// together.
func (n *Node) runTells(ctx context.Context, app, group string, run uint64, batch []*wire.Membership) *membersTold {
	type change struct {
		joined bool
		since  uint64
	}
	byChange := map[change][]*wire.Membership{}
	for _, m := range batch {
		c := change{m.Joined, m.Since}
		byChange[c] = append(byChange[c], m)
	}
	out := &membersTold{run: run}
	for c, ms := range byChange {
		users := make([]string, len(ms))
		for i, m := range ms {
			users[i] = m.Users[0]
		}
		if err := n.tellMembership(ctx, app, group, users, c.joined, c.since); err != nil {
			if out.err == nil {
				out.err = err
			}
			continue
		}
		out.done = append(out.done, ms...)
	}
	return out
}

// told forgets the changes the members' side took (unless a newer change
// for the same user came since), answers the requests that waited for this
// run, and goes on: at once for changes stored since the run began, after a
// backoff for those that failed.
func (g *groupActor) told(ctx actor.Context, r *membersTold) {
	t := &g.tells
	t.running = false
	b := g.n.o.Store.NewBatch()
	for _, m := range r.done {
		if t.byUser[m.Users[0]] == m {
			delete(t.byUser, m.Users[0])
			b.DeleteMemberTell(g.app, g.group, m.Users[0])
		}
	}
	if !b.Empty() {
		// Not synced (a deletion lost in a crash only means a change is told
		// twice), but applied before a newer change for the same user is.
		if err := g.n.o.Store.Commit(b, false); err != nil {
			g.n.log.Warn("told membership changes not cleared; they will be told again", "app", g.app, "group", g.group, "err", err)
		}
	}
	if r.err != nil {
		g.n.log.Warn("membership change not told to every member yet; retrying", "app", g.app, "group", g.group, "err", r.err)
	}
	keep := t.waiting[:0]
	later := false
	for _, w := range t.waiting {
		// A waiter for a later run is answered now when nothing is left to tell.
		if w.run > r.run && len(t.byUser) > 0 {
			keep = append(keep, w)
			later = true
			continue
		}
		reply := w.reply
		for _, m := range w.tells {
			if t.byUser[m.Users[0]] == m {
				reply = &wire.GroupSetReply{Error: errReply(wire.CodeUnavailable, "members stored; not every member's node was told yet (retried in the background; the same request again waits for it): %v", r.err)}
				break
			}
		}
		g.reply(ctx, w.to, reply)
	}
	t.waiting = keep
	switch {
	case len(t.byUser) == 0:
		t.backoff = 0
	case later || t.dirty:
		g.tellMembers(nil)
	case !t.retryArmed:
		t.backoff = min(max(2*t.backoff, tellRetryMin), tellRetryMax)
		t.retryArmed = true
		self, root := g.self, g.n.system.Root
		g.n.after(t.backoff, func() { root.Send(self, retryTells{}) })
	}
}
