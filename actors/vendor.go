package actors

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// maxInflight caps concurrent vendor calls per (app, provider): enough to fill
// HTTP/2 streams on a few connections without unbounded goroutines.
const maxInflight = 128

// sendTimeout bounds one vendor call.
const sendTimeout = 30 * time.Second

// vendorActor owns one (app, provider) connection. It batches pushes with the
// same payload (for vendors that take many tokens a request), keeps to the QPS
// limit and the daily quota, calls the vendor client concurrently, and acts on
// each verdict: delete the outbox job, retry with backoff, unbind a dead token,
// refresh auth once, or hold a class of pushes until the vendor's next day.
//
// This file has its life, its messages and the send path; batching, quota,
// retry, outbox bookkeeping and the push's notification each have a
// vendor_*.go of their own.
type vendorActor struct {
	// handledAt is when the message being handled was taken (see at).
	handledAt time.Time
	n         *Node
	app       *App
	provider  push.Provider
	sender    push.Sender
	maxBatch  int
	limiter   *rate.Limiter
	quota     int64 // public-class pushes a vendor day; 0 = unlimited
	day       string
	// used is the day's count of each shard this node led when it counted;
	// usedGen the shardTaken generation it was read at (see usedHere).
	used    map[uint64]int64
	usedGen map[uint64]uint64

	queue    []*call
	inflight int
	// work feeds the pool of long-lived sender goroutines: a goroutine per
	// push would grow a fresh stack for every HTTP call.
	work chan *call
	// reported is the last verdict told to each binding's user actor: the same
	// verdict again is not sent, so a busy binding (or a large group fan-out)
	// does not wake its user actor for every delivered push.
	reported  map[string]push.Verdict
	pending   map[string]*call     // batch key → call still collecting
	heldUntil map[string]time.Time // class → when its pushes may go again
	heldCount map[string]int       // class → pushes held (in the outbox only)
	self      *actor.PID
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	// writes collects the outbox deletes and verdicts of one message's
	// handling; they commit together when it is done. (Deferring them to a
	// marker message behind the queued mailbox showed no gain and widened
	// the window in which a crash re-sends a push already answered.)
	writes *storage.Batch
	// release are the chunks of pushes answered while handling the
	// message, released after writes (see releaseChunks).
	release []*chunkRef
	// traces are the trace events of the message's handling, written with writes.
	traces vendorTrace
	// lastConfig and its encoding, and the last key with the fields it was
	// built from, speed up batch keys (see batchKey).
	lastConfig      *wire.PushConfig
	lastConfigBytes []byte
	lastFields      batchFields
	lastKey         string

	// window bounds the jobs in memory (mem: queued, collecting, in flight,
	// waiting to retry); past it they stay in the outbox only and the pager
	// reads them back as it drains (vendor_window.go). ids are the outbox
	// ids of the jobs in memory that have a record of their own.
	window int
	mem    int
	ids    map[uint64]struct{}
	pager  pager
	// waiting are the calls whose next attempt is later (a retry's backoff),
	// earliest first, under one timer (vendor_retry.go).
	waiting  retryHeap
	timerDue time.Time
	timerOff func()
	breaker  breaker
	stopping bool
	// syncWrites: a job left memory for the outbox in this message; its
	// record must be readable before the pager looks again.
	syncWrites bool
	gauge      prometheus.Gauge
	// gated: the circuit is not closed; only its trial call may go. The
	// pool's goroutines read it, after waiting for the rate limit.
	gated atomic.Bool
	// gone are the outbox ids of jobs answered whose deletes are not
	// committed yet, and goneNow those of the message being handled: the
	// pager must not read them back.
	gone    map[uint64]struct{}
	goneNow []uint64
	// paged is, per shard, the highest outbox id the pager took into memory
	// (see pagedFirst).
	paged map[uint64]uint64
}

// call is one vendor request: one push, or a batch with the same payload.
type call struct {
	key       string
	class     string
	note      *push.Notification // the payload; tokens are filled in when sent
	jobs      []job
	refreshed bool
	due       time.Time // its next attempt, while waiting
	probe     bool      // the half-open breaker's one trial
}

// sendDone reports one finished vendor call; skipped jobs were not sent (why).
type sendDone struct {
	c       *call
	res     push.Result
	sent    []job
	skipped []job
	skipWhy []string // stale's answer for each skipped job
	expired []job    // past their expiry: dropped, never sent late
	gated   bool     // not sent: the circuit opened while it waited
}

type flushBatch struct{ key string }

type resumeClass struct{ class string }

// pushBatch hands a vendor actor the jobs of one fan-out in one message, so
// that its batch window cannot close between them.
type pushBatch struct{ jobs []job }

// newVendor makes the vendor actor of an app and provider; limiter keeps it to
// the provider's QPS (nil: no limit).
func newVendor(n *Node, app *App, p push.Provider, s push.Sender, limiter *rate.Limiter) *vendorActor {
	v := &vendorActor{n: n, app: app, provider: p, sender: s, maxBatch: 1, limiter: limiter,
		pending: map[string]*call{}, heldUntil: map[string]time.Time{}, heldCount: map[string]int{},
		used: map[uint64]int64{}, usedGen: map[uint64]uint64{},
		reported: map[string]push.Verdict{}, window: n.o.VendorWindow, ids: map[uint64]struct{}{},
		gone: map[uint64]struct{}{}, paged: map[uint64]uint64{}}
	if b := app.Vendors[p].MaxBatch; b > 1 {
		v.maxBatch = b
	}
	if rl, ok := app.RateLimits[p]; ok {
		v.quota = rl.DailyQuota
	}
	return v
}

func (v *vendorActor) Receive(ctx actor.Context) {
	defer v.settle()
	v.handledAt = time.Time{}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		v.self = ctx.Self()
		v.gauge = v.n.o.Metrics.VendorJobsInMemory.WithLabelValues(v.app.ID, string(v.provider))
		v.n.o.Metrics.VendorCircuitOpen.WithLabelValues(v.app.ID, string(v.provider)).Set(0)
		v.ctx, v.cancel = context.WithCancel(context.Background())
		v.rollDay()
		v.work = make(chan *call, v.maxCalls())
		for i := 0; i < v.maxCalls(); i++ {
			v.wg.Add(1)
			go v.callLoop()
		}
	case *actor.Stopping:
		v.stopping = true
		if v.timerOff != nil {
			v.timerOff()
		}
		v.cancel()
		v.wg.Wait()
	case *wire.PushJob:
		v.accept(job{PushJob: m})
	case pushBatch:
		for _, j := range m.jobs {
			v.accept(j)
		}
	case flushBatch:
		if c := v.pending[m.key]; c != nil {
			delete(v.pending, m.key)
			v.enqueue(c)
		}
	case wakeRetries:
		v.wake()
	case probeVendor:
		v.halfOpen()
	case outboxPending:
		// The pager reads the shard's jobs as the window has room.
		if m.shard == 0 {
			v.pager.markAll()
		} else {
			v.pager.mark(m.shard)
		}
	case pageMore:
	case deletesCommitted:
		for _, id := range m.ids {
			delete(v.gone, id)
		}
	case resumeClass:
		v.resume(m.class)
	case *sendDone:
		v.inflight--
		if m.gated {
			v.queue = append([]*call{m.c}, v.queue...) // first when the circuit closes
			v.pump()
			break
		}
		v.handle(m)
		v.pump()
	}
}

// accept takes a job handed over: into memory if the window has room and
// nothing older of its shard waits in the outbox, else into the outbox only.
func (v *vendorActor) accept(j job) {
	if j.chunk == nil && v.pagedFirst(j.PushJob) {
		return
	}
	if v.mem >= v.window || v.pager.waiting(j.PushJob) {
		v.spill(j)
		return
	}
	v.admit(j)
}

// admit places a job into memory and into a call: held if its class waits
// for the next day, waiting if its first attempt is later, batched with
// others of the same payload, or sent on its own.
func (v *vendorActor) admit(j job) {
	v.mem++
	if j.chunk == nil {
		v.ids[j.Id] = struct{}{}
	}
	if j.NotBeforeMs > v.at().UnixMilli() {
		note := notification(v.app, j.PushJob)
		note.SkipExchange = true
		c := &call{class: classOf(v.app.Vendors[v.provider], note, v.app.Defaults[v.provider]), note: note, jobs: []job{j}}
		v.schedule(c, time.UnixMilli(j.NotBeforeMs))
		return
	}
	var key string
	badge := v.userBadge(j.PushJob)
	if v.maxBatch > 1 {
		// A batch collecting the same payload takes the job as it is: its
		// notification and class are the batch's.
		key = v.batchKey(j.PushJob)
		if badge >= 0 {
			key += "\x00badge=" + strconv.Itoa(badge)
		}
		if c := v.pending[key]; c != nil {
			v.addToBatch(c, j)
			return
		}
	}
	note := notification(v.app, j.PushJob)
	if badge >= 0 {
		note.Badge = badge
	}
	note.SkipExchange = true // only the push test reads it
	class := classOf(v.app.Vendors[v.provider], note, v.app.Defaults[v.provider])
	if until, ok := v.heldUntil[class]; ok && v.n.now().Before(until) {
		v.hold(class, []job{j}, "daily quota used up", until)
		return
	}
	if v.maxBatch == 1 {
		v.enqueue(&call{class: class, note: note, jobs: []job{j}})
		return
	}
	c := &call{key: key, class: class, note: note}
	v.pending[key] = c
	self, root := v.self, v.n.system.Root
	v.n.after(batchWindow, func() { root.Send(self, flushBatch{key}) })
	v.addToBatch(c, j)
}

func (v *vendorActor) enqueue(c *call) {
	v.queue = append(v.queue, c)
	v.pump()
}

func (v *vendorActor) pump() {
	for v.inflight < v.maxCalls() && len(v.queue) > 0 && v.breaker.allows() {
		c := v.queue[0]
		v.queue[0] = nil
		v.queue = v.queue[1:]
		if !v.takeQuota(c) {
			continue
		}
		if v.breaker.state == breakerHalfOpen {
			c.probe, v.breaker.probing = true, true
		}
		v.inflight++
		v.work <- c // never blocks: at most maxCalls are in flight
	}
}

// maxCalls is how many vendor requests run at once: many for APNs and FCM
// (one push a request over HTTP/2 streams), fewer for the batching vendors.
func (v *vendorActor) maxCalls() int {
	if v.maxBatch > 1 {
		return maxInflight / 8
	}
	return maxInflight
}

// callLoop is one goroutine of the pool: it makes vendor calls until the actor stops.
func (v *vendorActor) callLoop() {
	defer v.wg.Done()
	for {
		select {
		case c := <-v.work:
			v.call(c)
		case <-v.ctx.Done():
			return
		}
	}
}

// call runs on a pool goroutine: wait for the rate limit, drop pushes no
// longer wanted, send, and report back.
func (v *vendorActor) call(c *call) {
	root := v.n.system.Root
	done := &sendDone{c: c}
	now := v.n.now()
	// Expired pushes go first, so that a backlog of them after an outage
	// does not spend the rate limit.
	live := make([]job, 0, len(c.jobs))
	for _, j := range c.jobs {
		if j.ExpiresAtMs != 0 && now.UnixMilli() >= j.ExpiresAtMs {
			done.expired = append(done.expired, j)
			continue
		}
		live = append(live, j)
	}
	if v.limiter != nil && len(live) > 0 {
		if err := v.limiter.Wait(v.ctx); err != nil {
			return // stopping: the jobs stay in the outbox
		}
		now = v.n.now()
	}
	if v.gated.Load() && !c.probe && len(live) > 0 {
		root.Send(v.self, &sendDone{c: c, gated: true})
		return
	}
	var tokens []string
	for _, j := range live {
		if why := v.stale(j.PushJob, now); why != "" {
			done.skipped = append(done.skipped, j)
			done.skipWhy = append(done.skipWhy, why)
			continue
		}
		done.sent = append(done.sent, j)
		tokens = append(tokens, j.Token)
	}
	if len(tokens) > 0 {
		note := *c.note
		if len(tokens) == 1 {
			note.Token, note.Tokens = tokens[0], nil
		} else {
			note.Token, note.Tokens = "", tokens
		}
		ctx, cancel := context.WithTimeout(v.ctx, sendTimeout)
		done.res = v.sender.Send(ctx, &note)
		cancel()
		if v.ctx.Err() != nil {
			return
		}
	}
	root.Send(v.self, done)
}

// stale says why a job must not be sent any more: the binding is gone or has
// another token, or the device acked the message in time.
func (v *vendorActor) stale(j *wire.PushJob, now time.Time) string {
	if rawJob(j) {
		return "" // no binding to check (POST /api/push)
	}
	if !j.Conditional && j.Attempts == 0 && v.n.unbinds.unchanged(j.PushId, time.UnixMilli(j.CreatedAtMs), now) {
		return ""
	}
	st := v.n.o.Store
	b, ok, err := st.Binding(j.App, j.User, j.PushId)
	if err != nil {
		return ""
	}
	if !ok || b.Token != j.Token {
		return "unbound"
	}
	if j.Conditional {
		if c, err := st.Cursor(j.App, j.User, j.DeviceId, j.Stream); err == nil && c >= j.Seq {
			return "acked"
		}
	}
	return ""
}

func (v *vendorActor) handle(d *sendDone) {
	if d.c.probe && len(d.sent) == 0 {
		v.breaker.probing = false // nothing was sent: the next call probes
	}
	for i, j := range d.skipped {
		v.n.o.Metrics.PushesDeduped.Inc()
		v.done(j)
		v.traceSkip(j.PushJob, d.skipWhy[i])
	}
	for _, j := range d.expired {
		v.n.o.Metrics.PushesExpired.Inc()
		v.done(j)
		v.report(j.PushJob, push.Result{Verdict: "expired", Reason: "its expiry passed before it could be sent"})
	}
	if len(d.sent) == 0 {
		return
	}
	res := d.res
	c := d.c
	c.jobs = d.sent
	v.observe(c, res)
	v.n.o.Metrics.Pushes.WithLabelValues(v.app.ID, string(v.provider), string(res.Verdict)).Add(float64(len(d.sent)))
	switch res.Verdict {
	case push.Delivered:
		invalid := tokenSet(res.InvalidTokens)
		for _, j := range d.sent {
			if invalid[j.Token] {
				v.tokenInvalid(j, push.Result{Verdict: push.TokenInvalid, Status: res.Status, Reason: "invalid token in a batch answer"})
				continue
			}
			v.done(j)
			v.report(j.PushJob, res)
		}
	case push.TokenInvalid:
		invalid := tokenSet(res.InvalidTokens)
		var rest []job
		for _, j := range d.sent {
			if len(d.sent) == 1 || len(invalid) == 0 || invalid[j.Token] {
				v.tokenInvalid(j, res)
			} else {
				rest = append(rest, j)
			}
		}
		if len(rest) > 0 {
			c.jobs = rest
			v.retry(c, push.Result{Verdict: push.Retry, Reason: "batch partly rejected: " + res.Reason})
		}
	case push.AuthExpired:
		if !c.refreshed {
			c.refreshed = true
			v.sender.Refresh()
			v.queue = append([]*call{c}, v.queue...)
			return
		}
		res.Verdict = push.BadRequest
		res.Reason = "auth failed after refresh: " + res.Reason
		for _, j := range d.sent {
			v.done(j)
			v.report(j.PushJob, res)
		}
	case push.QuotaExhausted:
		v.hold(c.class, d.sent, "the vendor says the daily quota is used up ("+res.Reason+")", v.nextDay())
	case push.Retry:
		v.retry(c, res)
	default: // BadRequest and anything unknown: record and drop
		for _, j := range d.sent {
			v.done(j)
			v.report(j.PushJob, res)
		}
	}
}

// tokenSet is the set of a batch answer's invalid tokens (nil for none).
func tokenSet(tokens []string) map[string]bool {
	if len(tokens) == 0 {
		return nil
	}
	set := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		set[t] = true
	}
	return set
}

// tokenInvalid drops the push and unbinds its token, unless the device
// registered again after the push was made: the binding must still be the
// registration the push went to (a job from before that was kept falls back
// to comparing the registration with the push's making, two nodes' clocks).
func (v *vendorActor) tokenInvalid(j job, res push.Result) {
	v.done(j)
	if rawJob(j.PushJob) {
		v.report(j.PushJob, res) // no binding to remove (POST /api/push)
		return
	}
	// Unbind before reporting: the user actor takes them in this order, so a
	// binding that shows this verdict has survived the unbind (re-registered).
	v.n.Tell(UserKey(j.App, j.User), &wire.UnbindRequest{
		App: j.App, User: j.User, PushId: j.PushId, RegisteredAtMs: j.RegisteredAtMs, RegisteredBeforeMs: j.CreatedAtMs, Reason: "token_invalid",
	})
	v.report(j.PushJob, res)
}
