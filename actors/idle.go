package actors

import "github.com/asynkron/protoactor-go/actor"

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
}

// receive is the first thing an actor's Receive calls. It arms the checks on
// Started and stops them on Stopping, counts every other message, and answers
// idleCheck itself: an actor that got no other message since the previous
// check and is not busy asks the router (its parent) to passivate it, else
// the next check is armed. It reports whether the message was the check,
// which the actor then has nothing to do with.
func (w *idleWatch) receive(ctx actor.Context, n *Node, key string, busy bool) bool {
	switch ctx.Message().(type) {
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
