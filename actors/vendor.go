package actors

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"golang.org/x/time/rate"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/wire"
)

// maxInflight caps concurrent vendor calls per (app, provider): enough to fill
// HTTP/2 streams on a few connections without unbounded goroutines.
const maxInflight = 128

// sendTimeout bounds one vendor call.
const sendTimeout = 30 * time.Second

// retryBase and retryCap shape the exponential backoff after a retry verdict.
const (
	retryBase = 500 * time.Millisecond
	retryCap  = 5 * time.Minute
)

// vendorActor owns one (app, provider) connection: it rate-limits, calls the
// vendor client concurrently, and acts on each verdict (delete the outbox job,
// retry with backoff, unbind a dead token, refresh auth once).
type vendorActor struct {
	n         *Node
	app       *App
	provider  push.Provider
	sender    push.Sender
	limiter   *rate.Limiter
	queue     []*wire.PushJob
	inflight  int
	refreshed map[uint64]bool
	self      *actor.PID
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// sendDone reports one finished vendor call to the vendor actor.
type sendDone struct {
	job     *wire.PushJob
	res     push.Result
	skipped string // non-empty: not sent, and why
}

func newVendor(n *Node, app *App, p push.Provider, s push.Sender) *vendorActor {
	v := &vendorActor{n: n, app: app, provider: p, sender: s, refreshed: map[uint64]bool{}}
	if rl, ok := app.RateLimits[p]; ok && rl.QPS > 0 {
		v.limiter = rate.NewLimiter(rate.Limit(rl.QPS), max(1, int(rl.QPS/10)))
	}
	return v
}

func (v *vendorActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		v.self = ctx.Self()
		v.ctx, v.cancel = context.WithCancel(context.Background())
	case *actor.Stopping:
		v.cancel()
		v.wg.Wait()
	case *wire.PushJob:
		v.queue = append(v.queue, m)
		v.pump()
	case *sendDone:
		v.inflight--
		v.handle(m)
		v.pump()
	}
}

func (v *vendorActor) pump() {
	for v.inflight < maxInflight && len(v.queue) > 0 {
		j := v.queue[0]
		v.queue[0] = nil
		v.queue = v.queue[1:]
		v.inflight++
		v.wg.Add(1)
		go v.call(j)
	}
}

// call runs in its own goroutine: wait for the rate limit, check the push is
// still wanted, send, and report back.
func (v *vendorActor) call(j *wire.PushJob) {
	defer v.wg.Done()
	root := v.n.system.Root
	if v.limiter != nil {
		if err := v.limiter.Wait(v.ctx); err != nil {
			return // stopping: the job stays in the outbox
		}
	}
	if why := v.stale(j); why != "" {
		root.Send(v.self, &sendDone{job: j, skipped: why})
		return
	}
	ctx, cancel := context.WithTimeout(v.ctx, sendTimeout)
	res := v.sender.Send(ctx, notification(v.app, j))
	cancel()
	if v.ctx.Err() != nil {
		return
	}
	root.Send(v.self, &sendDone{job: j, res: res})
}

// stale says why a job must not be sent any more: the binding is gone or has
// another token, or the device acked the message in time.
func (v *vendorActor) stale(j *wire.PushJob) string {
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
	j := d.job
	now := v.n.o.Now()
	if d.skipped != "" {
		v.n.o.Metrics.PushesDeduped.Inc()
		v.done(j)
		return
	}
	res := d.res
	v.n.o.Metrics.Pushes.WithLabelValues(v.app.ID, string(v.provider), string(res.Verdict)).Inc()
	switch res.Verdict {
	case push.Delivered:
		v.done(j)
		v.report(j, res, now)
	case push.AuthExpired:
		if !v.refreshed[j.Id] {
			v.refreshed[j.Id] = true
			v.sender.Refresh()
			v.queue = append([]*wire.PushJob{j}, v.queue...)
			return
		}
		res.Verdict = push.BadRequest
		res.Reason = "auth failed after refresh: " + res.Reason
		v.done(j)
		v.report(j, res, now)
	case push.TokenInvalid:
		v.done(j)
		// Unbind before reporting: the user actor takes them in this order, so a
		// binding that shows this verdict has survived the unbind (re-registered).
		v.n.Tell(UserKey(j.App, j.User), &wire.UnbindRequest{
			App: j.App, User: j.User, PushId: j.PushId, RegisteredBeforeMs: j.CreatedAtMs, Reason: "token_invalid",
		})
		v.report(j, res, now)
	case push.Retry, push.QuotaExhausted:
		delay := res.RetryAfter
		if res.Verdict == push.QuotaExhausted {
			delay = untilNextVendorDay(v.provider, now)
		} else if delay <= 0 {
			delay = backoff(j.Attempts)
		}
		j.Attempts++
		if j.ExpiresAtMs != 0 && now.Add(delay).UnixMilli() > j.ExpiresAtMs {
			res.Verdict, res.Reason = "expired", "not delivered before expiry; last: "+res.Reason
			v.done(j)
			v.report(j, res, now)
			return
		}
		v.n.o.Metrics.PushRetries.WithLabelValues(string(v.provider)).Inc()
		v.report(j, res, now)
		self, root := v.self, v.n.system.Root
		v.n.after(delay, func() { root.Send(self, j) })
	default: // BadRequest and anything unknown: record and drop
		v.done(j)
		v.report(j, res, now)
	}
}

// done removes the job from the outbox.
func (v *vendorActor) done(j *wire.PushJob) {
	delete(v.refreshed, j.Id)
	b := v.n.o.Store.NewBatch()
	b.DeletePush(j.Id)
	// A delete lost in a crash only means one more push with the same collapse id.
	v.n.o.Store.CommitAsync(b, false, nil)
}

func (v *vendorActor) report(j *wire.PushJob, res push.Result, now time.Time) {
	v.n.Tell(UserKey(j.App, j.User), &wire.VerdictReport{
		App: j.App, User: j.User, PushId: j.PushId, Verdict: string(res.Verdict), Reason: res.Reason, AtMs: now.UnixMilli(),
	})
	if res.Verdict != push.Delivered {
		v.n.log.Info("push verdict", "app", j.App, "provider", j.Provider, "push_id", j.PushId,
			"verdict", res.Verdict, "status", res.Status, "reason", res.Reason, "attempt", j.Attempts)
	}
}

// backoff is exponential with ±20 % jitter.
func backoff(attempts int32) time.Duration {
	d := retryBase << min(attempts, 20)
	d = min(d, retryCap)
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}

// untilNextVendorDay is how long until the vendor's quota day starts again.
func untilNextVendorDay(p push.Provider, now time.Time) time.Duration {
	loc := time.UTC
	switch p {
	case push.HMS, push.Xiaomi, push.OPPO, push.Vivo:
		loc = time.FixedZone("CST", 8*3600) // the Chinese vendors' quota day
	}
	t := now.In(loc)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	return next.Sub(now)
}

// notification turns an outbox job into the vendor-neutral push.
func notification(app *App, j *wire.PushJob) *push.Notification {
	pc := j.GetPushConfig()
	n := &push.Notification{
		ID: strconv.FormatUint(j.Id, 10), App: j.App, Provider: push.Provider(j.Provider), Token: j.Token,
		BundleID: j.BundleId, APNsEnv: j.ApnsEnv, PushType: j.PushType,
		Title: pc.GetTitle(), Body: pc.GetContent(), Payload: pc.GetPayload(), Badge: int(pc.GetBadgeIncrement()),
		Priority: push.Priority(j.Priority), CollapseID: j.CollapseId,
		Data: map[string]string{"message_id": j.MessageId, "sender": j.From, "stream": j.Stream, "seq": strconv.FormatUint(j.Seq, 10)},
	}
	if n.BundleID == "" {
		n.BundleID = app.BundleID
	}
	if j.ExpiresAtMs != 0 {
		n.Expiration = time.UnixMilli(j.ExpiresAtMs)
	}
	for k, val := range j.Data {
		n.Data[k] = val
	}
	if vo := pc.GetVoip(); vo != nil && j.PushType == "voip" {
		n.VoIP = &push.VoIP{HandleType: int(vo.HandleType), HandleValue: vo.HandleValue, HasVideo: vo.HasVideo}
	}
	return n
}

// dispatchPush hands a job to its vendor actor, or drops it when the app has no
// such provider configured.
func (n *Node) dispatchPush(j *wire.PushJob, now time.Time) {
	pid := n.vendor(j.App, providerOf(j))
	if pid == nil {
		n.log.Warn("push dropped: provider not configured", "app", j.App, "provider", j.Provider)
		b := n.o.Store.NewBatch()
		b.DeletePush(j.Id)
		n.o.Store.CommitAsync(b, false, nil)
		n.Tell(UserKey(j.App, j.User), &wire.VerdictReport{App: j.App, User: j.User, PushId: j.PushId,
			Verdict: string(push.BadRequest), Reason: "provider " + j.Provider + " is not configured for app " + j.App, AtMs: now.UnixMilli()})
		return
	}
	n.system.Root.Send(pid, j)
}

// recoverOutbox re-queues every push left in the outbox by the last run.
func (n *Node) recoverOutbox() error {
	now := n.o.Now()
	return n.o.Store.Pushes(func(j *wire.PushJob) bool {
		n.o.Metrics.OutboxRecovered.Inc()
		if wait := time.UnixMilli(j.NotBeforeMs).Sub(now); j.NotBeforeMs != 0 && wait > 0 {
			n.after(wait, func() { n.dispatchPush(j, n.o.Now()) })
		} else {
			n.dispatchPush(j, now)
		}
		return true
	})
}
