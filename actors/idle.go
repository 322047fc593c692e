package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// idleCheck is the idle watch's timer asking an actor whether it has been
// idle since the previous check.
type idleCheck struct{}

// idleWatch passivates actors that stop getting messages, in place of
// protoactor's receive timeout: that timer's goroutine writes the actor's
// context and races with the actor's stop (asynkron/protoactor-go#1139; the
// race detector caught it on token actors). Here a node clock timer only
// sends idleCheck every Options.IdleTimeout, and the actor counts its other
// messages: one that handled none since the previous check has been idle
// for between one and two periods. Counting costs less than protoactor's
// timer reset on every message.
type idleWatch struct {
	n             *Node
	seen, checked uint64
	stop          func() bool
	released      bool // the node let go of the actor's shard: passivate once no commit is in flight
}

// shardReleased tells an actor that its node no longer serves its shard (the
// router answers its new requests NotOwner): it asks to be passivated as soon
// as the commits it has in flight have come back, so that their senders get
// their answers rather than a dead letter.
type shardReleased struct{}

// releaseRecheck is how soon a released actor with commits in flight looks again.
const releaseRecheck = 10 * time.Millisecond

// receive is the first thing an actor's Receive calls. It arms the checks on
// Started and stops them on Stopping, counts every other message, and answers
// idleCheck itself: an actor that got no other message since the previous
// check and is not busy asks the router (its parent) to passivate it, else
// the next check is armed. It reports whether the message was the check,
// which the actor then has nothing to do with.
func (w *idleWatch) receive(ctx actor.Context, n *Node, key string, busy, inFlight bool) bool {
	switch ctx.Message().(type) {
	case *shardReleased:
		w.released = true
		if inFlight {
			self, root := ctx.Self(), n.system.Root
			n.o.Clock.AfterFunc(releaseRecheck, func() { root.Send(self, &shardReleased{}) })
		} else {
			ctx.Send(ctx.Parent(), &passivate{key: key, pid: ctx.Self()})
		}
		return true
	case *actor.Started:
		w.n = n
		w.arm(ctx.Self())
	case *actor.Stopping:
		if w.stop != nil {
			w.stop()
		}
	case idleCheck:
		quiet := w.seen == w.checked
		w.checked = w.seen
		if quiet && !busy {
			ctx.Send(ctx.Parent(), &passivate{key: key, pid: ctx.Self()})
		} else {
			w.arm(ctx.Self())
		}
		return true
	}
	w.seen++
	return false
}

func (w *idleWatch) arm(self *actor.PID) {
	root := w.n.system.Root
	w.stop = w.n.o.Clock.AfterFunc(w.n.o.IdleTimeout, func() { root.Send(self, idleCheck{}) })
}
