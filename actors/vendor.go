package actors

import (
	"context"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// maxInflight caps concurrent vendor calls per (app, provider): enough to fill
// HTTP/2 streams on a few connections without unbounded goroutines.
const maxInflight = 128

// sendTimeout bounds one vendor call.
const sendTimeout = 30 * time.Second

// batchWindow is how long a push waits for others with the same payload before
// its request goes out (batching vendors only).
const batchWindow = 2 * time.Millisecond

// retryBase and retryCap shape the exponential backoff after a retry verdict.
const (
	retryBase = 500 * time.Millisecond
	retryCap  = 5 * time.Minute
)

// Message classes for the vendors' daily quotas: IM pushes go through the
// vendors' unlimited IM/private channels; public ones count against the quota.
const (
	classIM     = "im"
	classPublic = "public"
)

// vendorActor owns one (app, provider) connection. It batches pushes with the
// same payload (for vendors that take many tokens a request), keeps to the QPS
// limit and the daily quota, calls the vendor client concurrently, and acts on
// each verdict: delete the outbox job, retry with backoff, unbind a dead token,
// refresh auth once, or hold a class of pushes until the vendor's next day.
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
	used      int64

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
	held      map[string][]job     // class → pushes waiting for the next day
	heldUntil map[string]time.Time // class → when its pushes may go again
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
	// lastConfig and its encoding, and the last key with the fields it was
	// built from, speed up batch keys (see batchKey).
	lastConfig      *wire.PushConfig
	lastConfigBytes []byte
	lastFields      batchFields
	lastKey         string
}

// call is one vendor request: one push, or a batch with the same payload.
type call struct {
	key       string
	class     string
	note      *push.Notification // the payload; tokens are filled in when sent
	jobs      []job
	refreshed bool
}

// sendDone reports one finished vendor call; skipped jobs were not sent (why).
type sendDone struct {
	c       *call
	res     push.Result
	sent    []job
	skipped []job
}

type flushBatch struct{ key string }

type resend struct{ c *call }
type resumeClass struct{ class string }

// pushBatch hands a vendor actor the jobs of one fan-out in one message, so
// that its batch window cannot close between them.
type pushBatch struct{ jobs []job }

func newVendor(n *Node, app *App, p push.Provider, s push.Sender) *vendorActor {
	v := &vendorActor{n: n, app: app, provider: p, sender: s, maxBatch: 1,
		pending: map[string]*call{}, held: map[string][]job{}, heldUntil: map[string]time.Time{},
		reported: map[string]push.Verdict{}}
	if b, ok := s.(push.Batcher); ok && b.MaxBatch() > 1 {
		v.maxBatch = b.MaxBatch()
	}
	if rl, ok := app.RateLimits[p]; ok {
		if rl.QPS > 0 {
			v.limiter = rate.NewLimiter(rate.Limit(rl.QPS), max(1, int(rl.QPS/10)))
		}
		v.quota = rl.DailyQuota
	}
	return v
}

func (v *vendorActor) Receive(ctx actor.Context) {
	defer v.flushWrites()
	v.handledAt = time.Time{}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		v.self = ctx.Self()
		v.ctx, v.cancel = context.WithCancel(context.Background())
		v.rollDay()
		v.work = make(chan *call, v.maxCalls())
		for i := 0; i < v.maxCalls(); i++ {
			v.wg.Add(1)
			go v.callLoop()
		}
	case *actor.Stopping:
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
	case resend:
		v.enqueue(m.c)
	case resumeClass:
		v.resume(m.class)
	case *sendDone:
		v.inflight--
		v.handle(m)
		v.pump()
	}
}

// accept places a job into a call: held if its class waits for the next day,
// batched with others of the same payload, or sent on its own.
func (v *vendorActor) accept(j job) {
	var key string
	if v.maxBatch > 1 {
		// A batch collecting the same payload takes the job as it is: its
		// notification and class are the batch's.
		key = v.batchKey(j.PushJob)
		if c := v.pending[key]; c != nil {
			v.addToBatch(c, j)
			return
		}
	}
	note := notification(v.app, j.PushJob)
	note.SkipExchange = true // only the push test reads it
	class := classOf(v.provider, note, v.app.Defaults[v.provider].ChannelID)
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

// addToBatch adds a job to a collecting batch and sends the batch when full.
func (v *vendorActor) addToBatch(c *call, j job) {
	c.jobs = append(c.jobs, j)
	if len(c.jobs) >= v.maxBatch {
		delete(v.pending, c.key)
		v.enqueue(c)
	}
}

func (v *vendorActor) enqueue(c *call) {
	v.queue = append(v.queue, c)
	v.pump()
}

func (v *vendorActor) pump() {
	for v.inflight < v.maxCalls() && len(v.queue) > 0 {
		c := v.queue[0]
		v.queue[0] = nil
		v.queue = v.queue[1:]
		if !v.takeQuota(c) {
			continue
		}
		v.inflight++
		v.work <- c // never blocks: at most maxCalls are in flight
	}
}

// takeQuota counts the call's public pushes against the daily quota; what does
// not fit is held until the vendor's next day. It reports whether anything is left to send.
func (v *vendorActor) takeQuota(c *call) bool {
	if v.quota <= 0 || c.class != classPublic {
		return true
	}
	v.rollDay()
	room := v.quota - v.used
	if room <= 0 {
		v.hold(c.class, c.jobs, "daily quota of "+strconv.FormatInt(v.quota, 10)+" used up", v.nextDay())
		return false
	}
	if int64(len(c.jobs)) > room {
		v.hold(c.class, c.jobs[room:], "daily quota of "+strconv.FormatInt(v.quota, 10)+" used up", v.nextDay())
		c.jobs = c.jobs[:room]
	}
	v.used += int64(len(c.jobs))
	b := v.n.o.Store.NewBatch()
	b.SetQuotaUsed(v.app.ID, string(v.provider), v.day, v.used)
	v.n.o.Store.CommitAsync(b, false, nil)
	return true
}

// rollDay starts a new quota count when the vendor's day has changed.
func (v *vendorActor) rollDay() {
	day := vendorDay(v.provider, v.n.now())
	if day == v.day {
		return
	}
	v.day = day
	used, err := v.n.o.Store.QuotaUsed(v.app.ID, string(v.provider), day)
	if err != nil {
		v.n.log.Error("vendor: read quota count", "app", v.app.ID, "provider", v.provider, "err", err)
	}
	v.used = used
}

func (v *vendorActor) nextDay() time.Time {
	return v.n.now().Add(untilNextVendorDay(v.provider, v.n.now()))
}

// hold parks pushes of a class until the vendor's next day; they stay in the
// outbox (as jobs of their own), so a restart holds them again.
func (v *vendorActor) hold(class string, jobs []job, why string, until time.Time) {
	first := v.heldUntil[class].IsZero() || !v.n.now().Before(v.heldUntil[class])
	if first {
		v.heldUntil[class] = until
		v.n.o.Metrics.QuotaExhausted.WithLabelValues(v.app.ID, string(v.provider), class).Inc()
		v.n.log.Warn("vendor daily quota exhausted: holding pushes until the next vendor day",
			"app", v.app.ID, "provider", v.provider, "class", class, "until", until.Format(time.RFC3339), "why", why)
		self, root := v.self, v.n.system.Root
		v.n.after(until.Sub(v.n.now()), func() { root.Send(self, resumeClass{class}) })
	}
	for i := range jobs {
		v.own(&jobs[i])
	}
	v.held[class] = append(v.held[class], jobs...)
	v.n.o.Metrics.PushesHeld.WithLabelValues(v.app.ID, string(v.provider)).Add(float64(len(jobs)))
	res := push.Result{Verdict: push.QuotaExhausted, Reason: why + "; held until " + until.Format(time.RFC3339)}
	for _, j := range jobs {
		v.report(j.PushJob, res)
	}
}

func (v *vendorActor) resume(class string) {
	if until := v.heldUntil[class]; v.n.now().Before(until) {
		self, root := v.self, v.n.system.Root
		v.n.after(until.Sub(v.n.now()), func() { root.Send(self, resumeClass{class}) })
		return
	}
	jobs := v.held[class]
	delete(v.held, class)
	delete(v.heldUntil, class)
	v.n.o.Metrics.PushesHeld.WithLabelValues(v.app.ID, string(v.provider)).Sub(float64(len(jobs)))
	v.n.log.Info("vendor day turned: sending held pushes", "app", v.app.ID, "provider", v.provider, "class", class, "pushes", len(jobs))
	for _, j := range jobs {
		v.accept(j)
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
	if v.limiter != nil {
		if err := v.limiter.Wait(v.ctx); err != nil {
			return // stopping: the jobs stay in the outbox
		}
	}
	done := &sendDone{c: c}
	var tokens []string
	now := v.n.now()
	for _, j := range c.jobs {
		if v.stale(j.PushJob, now) != "" {
			done.skipped = append(done.skipped, j)
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
	for _, j := range d.skipped {
		v.n.o.Metrics.PushesDeduped.Inc()
		v.done(j)
	}
	if len(d.sent) == 0 {
		return
	}
	res := d.res
	c := d.c
	c.jobs = d.sent
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

// retry sends the call again after backoff (or the vendor's Retry-After);
// pushes that would be late for their expiry are dropped.
func (v *vendorActor) retry(c *call, res push.Result) {
	now := v.n.now()
	attempts := int32(0)
	for _, j := range c.jobs {
		attempts = max(attempts, j.Attempts)
	}
	delay := res.RetryAfter
	if delay <= 0 {
		delay = backoff(attempts)
	}
	keep := c.jobs[:0]
	for _, j := range c.jobs {
		j.Attempts++
		if j.ExpiresAtMs != 0 && now.Add(delay).UnixMilli() > j.ExpiresAtMs {
			v.done(j)
			v.report(j.PushJob, push.Result{Verdict: "expired", Reason: "not delivered before expiry; last: " + res.Reason})
			continue
		}
		v.own(&j)
		v.report(j.PushJob, res)
		keep = append(keep, j)
	}
	if len(keep) == 0 {
		return
	}
	c.jobs = keep
	v.n.o.Metrics.PushRetries.WithLabelValues(string(v.provider)).Add(float64(len(keep)))
	self, root := v.self, v.n.system.Root
	v.n.after(delay, func() { root.Send(self, resend{c}) })
}

// tokenInvalid drops the push and unbinds its token, unless the device
// registered again after the push was made: the binding must still be the
// registration the push went to (a job from before that was kept falls back
// to comparing the registration with the push's making, two nodes' clocks).
func (v *vendorActor) tokenInvalid(j job, res push.Result) {
	v.done(j)
	// Unbind before reporting: the user actor takes them in this order, so a
	// binding that shows this verdict has survived the unbind (re-registered).
	v.n.Tell(UserKey(j.App, j.User), &wire.UnbindRequest{
		App: j.App, User: j.User, PushId: j.PushId, RegisteredAtMs: j.RegisteredAtMs, RegisteredBeforeMs: j.CreatedAtMs, Reason: "token_invalid",
	})
	v.report(j.PushJob, res)
}

// batch is the write batch of the message being handled.
func (v *vendorActor) batch() *storage.Batch {
	if v.writes == nil {
		v.writes = v.n.o.Store.NewBatch()
	}
	return v.writes
}

// flushWrites commits what handling one message wrote. Without fsync: a delete
// lost in a crash only means one more push with the same collapse id, a lost
// verdict an older one shown.
func (v *vendorActor) flushWrites() {
	if v.writes != nil {
		v.n.o.Store.CommitAsync(v.writes, false, nil)
		v.writes = nil
	}
	if len(v.release) > 0 {
		v.n.releaseChunks(v.release)
		clear(v.release)
		v.release = v.release[:0]
	}
}

// done removes the job from the outbox: its own record, or its share of its chunk.
func (v *vendorActor) done(j job) {
	if j.chunk == nil {
		v.batch().DeletePush(j.Id)
		return
	}
	v.release = append(v.release, j.chunk)
}

// own gives a job that must wait (a retry, a held push) an outbox record of
// its own, so that its chunk can go when the chunk's other pushes are done.
func (v *vendorActor) own(j *job) {
	if j.chunk == nil {
		return
	}
	j.Id = v.n.o.Store.NewPushID()
	v.batch().PutPush(j.PushJob)
	v.release = append(v.release, j.chunk)
	j.chunk = nil
}

// maxReported bounds the memory of reported verdicts; past it, it starts over.
const maxReported = 200_000

// report records the binding's verdict when it changed: the same verdict
// again (every delivered push of a busy binding) writes nothing.
func (v *vendorActor) report(j *wire.PushJob, res push.Result) {
	if res.Verdict != push.Delivered && res.Verdict != push.QuotaExhausted {
		v.n.log.Info("push verdict", "app", j.App, "provider", j.Provider, "push_id", j.PushId,
			"verdict", res.Verdict, "status", res.Status, "reason", res.Reason, "attempt", j.Attempts)
	}
	if res.Verdict == push.Delivered && v.reported[j.PushId] == push.Delivered {
		return
	}
	if len(v.reported) >= maxReported {
		clear(v.reported)
	}
	v.reported[j.PushId] = res.Verdict
	v.batch().PutVerdict(j.App, j.User, j.PushId, &wire.VerdictRecord{Verdict: string(res.Verdict), Reason: res.Reason, AtMs: v.at().UnixMilli()})
}

// at is the time of the message being handled, read once for all of its
// pushes: a batch answer reports up to 1,000, and reading the clock for
// each was 8% of a batched fan-out's CPU on this machine.
func (v *vendorActor) at() time.Time {
	if v.handledAt.IsZero() {
		v.handledAt = v.n.now()
	}
	return v.handledAt
}

// backoff is exponential with ±20 % jitter.
func backoff(attempts int32) time.Duration {
	d := retryBase << min(attempts, 20)
	d = min(d, retryCap)
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}

// vendorLocation is where the vendor's quota day starts: China time for the
// Chinese vendors, UTC otherwise.
func vendorLocation(p push.Provider) *time.Location {
	switch p {
	case push.HMS, push.Xiaomi, push.OPPO, push.Vivo:
		return time.FixedZone("CST", 8*3600)
	}
	return time.UTC
}

// vendorDay is the vendor's calendar day at t.
func vendorDay(p push.Provider, t time.Time) string {
	return t.In(vendorLocation(p)).Format(time.DateOnly)
}

// untilNextVendorDay is how long until the vendor's quota day starts again.
func untilNextVendorDay(p push.Provider, now time.Time) time.Duration {
	t := now.In(vendorLocation(p))
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
	return next.Sub(now)
}

// classOf is the quota class of a push: IM when it goes through the vendor's
// IM or private channel, public otherwise. privateChannel is the channel the
// app configured for the provider: for Xiaomi the approved private channel,
// the only one MiPush does not count (any other channel_id is public).
func classOf(p push.Provider, n *push.Notification, privateChannel string) string {
	switch n.Category {
	case "IM", "VOIP":
		return classIM
	}
	switch p {
	case push.Vivo:
		if n.Classification != nil && *n.Classification == 1 {
			return classIM
		}
	case push.Xiaomi:
		if n.ChannelID != "" && n.ChannelID == privateChannel {
			return classIM
		}
	case push.OPPO:
		if n.ChannelID != "" {
			return classIM
		}
	}
	return classPublic
}

// batchKey identifies pushes that may share one vendor request: pushes of the
// same message (same stream position, config and expiry) to bindings of the
// same kind. Everything notification() reads from a job but its token is here.
//
// The push_config's encoding is kept for the last config seen: the jobs of one
// fan-out share it.
func (v *vendorActor) batchKey(j *wire.PushJob) string {
	// A fan-out hands over its pushes of one message one after the other:
	// the key of the last one serves while its fields stay the same (the
	// strings are shared, so comparing them is cheap). Building it for
	// every push was a tenth of a batched fan-out's CPU.
	f := batchFieldsOf(j)
	if len(j.Data) == 0 && v.lastKey != "" && f == v.lastFields {
		return v.lastKey
	}
	if pc := j.GetPushConfig(); pc != v.lastConfig {
		v.lastConfig = pc
		v.lastConfigBytes, _ = proto.MarshalOptions{Deterministic: true}.Marshal(pc)
	}
	key := batchKey(j, v.lastConfigBytes)
	if len(j.Data) == 0 {
		v.lastFields, v.lastKey = f, key
	}
	return key
}

// batchFields are the fields of a job batchKey reads, but its data.
type batchFields struct {
	messageID, stream, from, pushType, bundleID, apnsEnv, collapseID string
	seq                                                              uint64
	expiresAtMs                                                      int64
	priority                                                         int32
	config                                                           *wire.PushConfig
}

func batchFieldsOf(j *wire.PushJob) batchFields {
	return batchFields{j.MessageId, j.Stream, j.From, j.PushType, j.BundleId, j.ApnsEnv, j.CollapseId,
		j.Seq, j.ExpiresAtMs, j.Priority, j.PushConfig}
}

func batchKey(j *wire.PushJob, config []byte) string {
	var b strings.Builder
	for _, s := range []string{j.MessageId, j.Stream, strconv.FormatUint(j.Seq, 10), j.From, j.PushType, j.BundleId, j.ApnsEnv,
		strconv.FormatInt(j.ExpiresAtMs, 10), strconv.Itoa(int(j.Priority)), j.CollapseId} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	keys := make([]string, 0, len(j.Data))
	for k := range j.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + "=" + j.Data[k])
		b.WriteByte(0)
	}
	b.Write(config)
	return b.String()
}

// notification turns an outbox job into the vendor-neutral push, with the
// provider's defaults and the push's resources profile applied.
func notification(app *App, j *wire.PushJob) *push.Notification {
	pc := j.GetPushConfig()
	p := push.Provider(j.Provider)
	n := &push.Notification{
		ID: strconv.FormatUint(j.Id, 10), App: j.App, Provider: p, Token: j.Token,
		BundleID: j.BundleId, APNsEnv: j.ApnsEnv, PushType: j.PushType,
		Title: pc.GetTitle(), Body: pc.GetContent(), Payload: pc.GetPayload(), Badge: int(pc.GetBadgeIncrement()),
		Priority: push.Priority(j.Priority), CollapseID: j.CollapseId,
		Data: map[string]string{},
	}
	// Only what the push has: a test push (POST /v1/push/test) has no message.
	setData(n.Data, "message_id", j.MessageId)
	setData(n.Data, "sender", j.From)
	setData(n.Data, "stream", j.Stream)
	if j.Seq > 0 {
		n.Data["seq"] = strconv.FormatUint(j.Seq, 10)
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
	if prof, ok := app.Resources[pc.GetResourcesId()][p]; ok {
		applyProfile(n, prof)
	}
	applyProfile(n, app.Defaults[p])
	switch p {
	case push.HMS, push.Xiaomi, push.OPPO, push.Vivo:
		// These vendors refuse a notification without both a title and a
		// body: a push_config that gives one shows it in both places.
		if !n.Passthrough && n.Title == "" {
			n.Title = n.Body
		} else if !n.Passthrough && n.Body == "" {
			n.Body = n.Title
		}
	}
	return n
}

func setData(d map[string]string, k, v string) {
	if v != "" {
		d[k] = v
	}
}

// applyProfile fills what the notification leaves empty from the profile.
func applyProfile(n *push.Notification, p Profile) {
	if n.Sound == "" {
		n.Sound = p.Sound
	}
	if n.ChannelID == "" {
		n.ChannelID = p.ChannelID
	}
	if n.Category == "" {
		n.Category = p.Category
	}
	if n.Importance == "" {
		n.Importance = p.Importance
	}
	if n.Classification == nil && p.Classification != nil {
		c := *p.Classification
		n.Classification = &c
	}
	n.Passthrough = n.Passthrough || p.Passthrough
}
