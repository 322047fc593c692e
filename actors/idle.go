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
// sends idleCheck every period, and the actor itself counts its other
// messages: one that handled none since the previous check has been idle
// for between one and two periods. Counting costs less than protoactor's
// timer reset on every message.
type idleWatch struct {
	period        time.Duration
	seen, checked uint64
	stop          func() bool
}

// start arms the first check; call it from Started.
func (w *idleWatch) start(n *Node, self *actor.PID, period time.Duration) {
	w.period = period
	w.arm(n, self)
}

func (w *idleWatch) arm(n *Node, self *actor.PID) {
	root := n.system.Root
	w.stop = n.o.Clock.AfterFunc(w.period, func() { root.Send(self, idleCheck{}) })
}

// saw counts a message; call it for every message but idleCheck.
func (w *idleWatch) saw() { w.seen++ }

// idle answers an idleCheck: whether no other message came since the last
// one. When the actor stays (not idle, or busy with something that keeps it),
// call again to arm the next check.
func (w *idleWatch) idle() bool {
	quiet := w.seen == w.checked
	w.checked = w.seen
	return quiet
}

// cancel stops the pending check; call it from Stopping.
func (w *idleWatch) cancel() {
	if w.stop != nil {
		w.stop()
	}
}
