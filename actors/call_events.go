package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/wire"
)

// Retries of call events a receiver did not take: from callRetryMin,
// doubling, up to callRetryMax, until the receiver has them.
const (
	callRetryMin = time.Second
	callRetryMax = time.Minute
)

// callEvents are a call's events that are stored with its state and not yet
// in their receivers' inboxes. One delivery runs at a time; each receiver
// gets its events in order, and a receiver that fails keeps the rest of its
// events for the next run, so that a late invitation never lands after the
// cancellation that ended it.
type callEvents struct {
	pending    []pendingEvent // by id
	next       uint64         // the id of the next event stored
	running    bool
	ranUpto    uint64 // the highest id the run in flight attempts
	waiting    []callWaiter
	retryArmed bool
	backoff    time.Duration
}

type pendingEvent struct {
	id uint64
	ev *wire.CallEvent
}

// callWaiter is a request answered once the events it stored were attempted.
type callWaiter struct {
	to    *actor.PID
	reply *wire.CallReply
	upto  uint64
}

// callDelivered reports a delivery run's outcome to the call actor.
type callDelivered struct {
	upto uint64
	done []uint64 // ids the receivers stored
	err  error    // the first failure, if any
}

// retryCallEvents is the retry timer firing.
type retryCallEvents struct{}

func (e *callEvents) add(id uint64, ev *wire.CallEvent) {
	e.pending = append(e.pending, pendingEvent{id: id, ev: ev})
	e.next = max(e.next, id+1)
}

// busy keeps the actor alive while events are undelivered.
func (e *callEvents) busy() bool { return len(e.pending) > 0 || e.running }

// deliver answers r to sender (when set) once every event stored so far was
// attempted, and starts a run unless one is in flight (its end starts the next).
func (c *callActor) deliver(ctx actor.Context, sender *actor.PID, r *wire.CallReply) {
	e := &c.events
	if sender != nil {
		e.waiting = append(e.waiting, callWaiter{to: sender, reply: r, upto: e.next - 1})
	}
	if e.running || len(e.pending) == 0 {
		c.answerWaiting(ctx)
		return
	}
	e.running = true
	e.ranUpto = e.next - 1
	batch := make([]pendingEvent, len(e.pending))
	copy(batch, e.pending)
	upto := e.ranUpto
	self, root, n := c.self, c.n.system.Root, c.n
	app := c.app
	n.goWork(func(wctx context.Context) {
		// Half a request's time: the request that stored the events is
		// answered within its own, whether or not every receiver took them
		// (those that did not get them later).
		ctx, cancel := context.WithTimeout(wctx, n.o.RequestTimeout/2)
		defer cancel()
		root.Send(self, runCallEvents(ctx, n, app, batch, upto))
	})
}

// runCallEvents stores each receiver's events in its inbox, receivers at
// once, each one's in id order, stopping at its first failure.
func runCallEvents(ctx context.Context, n *Node, app string, batch []pendingEvent, upto uint64) *callDelivered {
	byUser := map[string][]pendingEvent{}
	var order []string
	for _, p := range batch {
		u := p.ev.GetMessage().GetTo()
		if byUser[u] == nil {
			order = append(order, u)
		}
		byUser[u] = append(byUser[u], p)
	}
	type result struct {
		done []uint64
		err  error
	}
	results := make(chan result, len(order))
	for _, u := range order {
		go func(evs []pendingEvent) {
			var r result
			for _, p := range evs {
				if r.err = n.requestReply(ctx, UserKey(app, p.ev.GetMessage().GetTo()), p.ev); r.err != nil {
					break
				}
				r.done = append(r.done, p.id)
			}
			results <- r
		}(byUser[u])
	}
	out := &callDelivered{upto: upto}
	for range order {
		r := <-results
		out.done = append(out.done, r.done...)
		if out.err == nil {
			out.err = r.err
		}
	}
	return out
}

// delivered forgets the events their receivers stored, answers the requests
// that waited for this run, and goes on: at once with events stored since,
// after a backoff with those that failed.
func (c *callActor) delivered(ctx actor.Context, d *callDelivered) {
	e := &c.events
	e.running = false
	if len(d.done) > 0 {
		done := map[uint64]bool{}
		b := c.n.o.Store.NewBatch()
		for _, id := range d.done {
			done[id] = true
			b.DeleteCallEvent(c.app, c.id, id)
		}
		// Not synced (a deletion lost in a crash only means an event is
		// stored twice), but applied before anything this actor writes next,
		// which may reuse an id once nothing is pending.
		if err := c.n.o.Store.Commit(b, false); err != nil {
			c.n.log.Warn("delivered call events not cleared; they will be delivered again", "app", c.app, "call", c.id, "err", err)
		}
		keep := e.pending[:0]
		for _, p := range e.pending {
			if !done[p.id] {
				keep = append(keep, p)
			}
		}
		e.pending = keep
	}
	if d.err != nil {
		c.n.log.Warn("call event not delivered yet; retrying", "app", c.app, "call", c.id, "err", d.err)
	}
	c.answerWaiting(ctx)
	switch {
	case len(e.pending) == 0:
		e.backoff = 0
	case e.pending[len(e.pending)-1].id > d.upto:
		c.deliver(ctx, nil, nil)
	case !e.retryArmed:
		e.backoff = min(max(2*e.backoff, callRetryMin), callRetryMax)
		e.retryArmed = true
		self, root := c.self, c.n.system.Root
		c.n.after(e.backoff, func() { root.Send(self, retryCallEvents{}) })
	}
}

// answerWaiting answers the requests whose events were attempted (or that
// stored none while nothing was pending). A request is answered 200 even when
// a receiver did not take its event yet: the event is durable and retried.
func (c *callActor) answerWaiting(ctx actor.Context) {
	e := &c.events
	keep := e.waiting[:0]
	for _, w := range e.waiting {
		if (e.running && w.upto > e.ranUpto) || (!e.running && len(e.pending) > 0 && w.upto > e.ranUpto) {
			keep = append(keep, w)
			continue
		}
		c.reply(ctx, w.to, w.reply)
	}
	e.waiting = keep
}
