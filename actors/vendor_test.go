package actors

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/time/rate"

	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// registry is every vendor's descriptor, as the daemon gives them to an App.
func registry() map[push.Provider]push.Vendor {
	m := map[push.Provider]push.Vendor{}
	for _, v := range vendors.All() {
		m[v.Provider] = v
	}
	return m
}

func TestClassOf(t *testing.T) {
	one, zero := 1, 0
	cases := []struct {
		p       push.Provider
		n       push.Notification
		private string
		want    string
	}{
		{push.HMS, push.Notification{Category: "IM"}, "", classIM},
		{push.HMS, push.Notification{Category: "VOIP"}, "", classIM},
		{push.HMS, push.Notification{Category: "MARKETING"}, "", classPublic},
		{push.HMS, push.Notification{}, "", classPublic},
		{push.Vivo, push.Notification{Classification: &one}, "", classIM},
		{push.Vivo, push.Notification{Classification: &zero}, "", classPublic},
		{push.Xiaomi, push.Notification{ChannelID: "im"}, "im", classIM},
		{push.Xiaomi, push.Notification{ChannelID: "promo"}, "im", classPublic},
		{push.Xiaomi, push.Notification{}, "", classPublic},
		{push.OPPO, push.Notification{ChannelID: "private"}, "", classIM},
		{push.APNs, push.Notification{}, "", classPublic},
	}
	for _, c := range cases {
		v, _ := vendors.Lookup(c.p)
		if got := classOf(v, &c.n, push.Profile{ChannelID: c.private}); got != c.want {
			t.Errorf("%s %+v: %s, want %s", c.p, c.n, got, c.want)
		}
	}
}

func TestVendorDayTurnsAtTheVendorsMidnight(t *testing.T) {
	// 15:30 UTC is 23:30 in China: the Chinese vendors' day turns in 30 minutes,
	// the others' at UTC midnight.
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	if d := untilNextVendorDay(push.ChinaTime, now); d != 30*time.Minute {
		t.Errorf("xiaomi: %v", d)
	}
	if d := untilNextVendorDay(time.UTC, now); d != 8*time.Hour+30*time.Minute {
		t.Errorf("fcm: %v", d)
	}
	if a, b := vendorDay(push.ChinaTime, now), vendorDay(push.ChinaTime, now.Add(31*time.Minute)); a == b {
		t.Errorf("oppo day did not turn: %s", a)
	}
	if a, b := vendorDay(time.UTC, now), vendorDay(time.UTC, now.Add(31*time.Minute)); a != b {
		t.Errorf("apns day turned at China midnight: %s → %s", a, b)
	}
}

func TestBackoffGrowsWithJitterAndStaysCapped(t *testing.T) {
	for attempts := int32(0); attempts < 40; attempts++ {
		want := min(retryBase<<min(attempts, 20), retryCap)
		for i := 0; i < 20; i++ {
			d := backoff(attempts)
			if d < want-want/5 || d > want+want/5 {
				t.Fatalf("attempt %d: %v outside %v ± 20%%", attempts, d, want)
			}
		}
	}
}

func TestPushBindingsPrefersVoIPForCalls(t *testing.T) {
	bs := []*wire.Binding{
		{PushId: "a", DeviceId: "iphone", PushType: "alert"},
		{PushId: "b", DeviceId: "iphone", PushType: "voip"},
		{PushId: "c", DeviceId: "pixel", PushType: "alert"},
	}
	ids := func(bs []*wire.Binding) (s string) {
		for _, b := range bs {
			s += b.PushId
		}
		return s
	}
	if got := ids(pushBindings(bs, false)); got != "ac" {
		t.Errorf("message push went to %q, want the alert bindings ac", got)
	}
	if got := ids(pushBindings(bs, true)); got != "bc" {
		t.Errorf("VoIP call push went to %q, want the iPhone's VoIP binding and the Pixel's alert: bc", got)
	}
}

func TestBatchKeyIgnoresTokenAndID(t *testing.T) {
	job := func(id uint64, token, title string) *wire.PushJob {
		return &wire.PushJob{Id: id, Token: token, PushId: "p" + token, User: "u" + token, MessageId: "m", Stream: "group:g", Seq: 3,
			PushConfig: &wire.PushConfig{Title: title}, Data: map[string]string{"call_id": "c"}}
	}
	v := &vendorActor{}
	if v.batchKey(job(1, "t1", "x")) != v.batchKey(job(2, "t2", "x")) {
		t.Error("pushes of one message differing only in token, id and user do not batch")
	}
	if v.batchKey(job(1, "t1", "x")) == v.batchKey(job(3, "t3", "y")) {
		t.Error("pushes with different titles batch")
	}
	other := job(4, "t4", "x")
	other.Seq = 4
	if v.batchKey(job(1, "t1", "x")) == v.batchKey(other) {
		t.Error("pushes at different stream positions batch")
	}
	// Jobs without data reuse the last key while their fields match; a change
	// in any field makes a new one.
	pc := &wire.PushConfig{Title: "x"}
	plain := func(token string, f func(j *wire.PushJob)) *wire.PushJob {
		j := job(5, token, "x")
		j.Data, j.PushConfig = nil, pc
		if f != nil {
			f(j)
		}
		return j
	}
	first := v.batchKey(plain("t5", nil))
	if v.batchKey(plain("t6", nil)) != first {
		t.Error("a second push of the same message got another key")
	}
	for name, f := range map[string]func(j *wire.PushJob){
		"message": func(j *wire.PushJob) { j.MessageId = "m2" }, "push type": func(j *wire.PushJob) { j.PushType = "voip" },
		"bundle": func(j *wire.PushJob) { j.BundleId = "b2" }, "apns env": func(j *wire.PushJob) { j.ApnsEnv = "development" },
		"expiry": func(j *wire.PushJob) { j.ExpiresAtMs = 9 }, "priority": func(j *wire.PushJob) { j.Priority = 1 },
		"collapse id": func(j *wire.PushJob) { j.CollapseId = "c2" }, "sender": func(j *wire.PushJob) { j.From = "x" },
		"config": func(j *wire.PushJob) { j.PushConfig = &wire.PushConfig{Title: "y"} },
	} {
		if v.batchKey(plain("t7", f)) == first {
			t.Errorf("a push with another %s got the same key", name)
		}
		if v.batchKey(plain("t8", nil)) != first {
			t.Errorf("after a push with another %s, the first message's key changed", name)
		}
	}
}

func TestNotificationAppliesProfileThenDefaults(t *testing.T) {
	one := 1
	app := &App{
		ID:        "demo",
		Vendors:   registry(),
		Defaults:  map[push.Provider]push.Profile{push.Vivo: {Category: "IM", Classification: &one}},
		Resources: map[string]map[push.Provider]push.Profile{"ring": {push.Vivo: {Sound: "ring.mp3", Category: "MARKETING"}}},
	}
	j := &wire.PushJob{App: "demo", Provider: "vivo", Token: "t", MessageId: "m", From: "alice", Stream: "inbox", Seq: 7,
		PushConfig: &wire.PushConfig{Title: "T", Content: "C", ResourcesId: "ring"}, ExpiresAtMs: 1_800_000_000_000}
	n := notification(app, j)
	if n.Sound != "ring.mp3" || n.Category != "MARKETING" || n.Classification == nil || *n.Classification != 1 {
		t.Errorf("profile then defaults: %+v", n)
	}
	if n.Data["sender"] != "alice" || n.Data["seq"] != "7" || n.Data["message_id"] != "m" || n.Expiration.UnixMilli() != j.ExpiresAtMs {
		t.Errorf("data/expiration: %+v", n)
	}
}

func TestSplitKey(t *testing.T) {
	for key, ok := range map[string]bool{"u/demo/bob": true, "g/demo/team": true, "c/demo/x1": true, "u/demo": false, "u//bob": false, "u/demo/bob/x": false} {
		if _, _, _, got := splitKey(key); got != ok {
			t.Errorf("%q: %v", key, got)
		}
	}
}

func TestAndroidPushWithOnlyContentGetsATitle(t *testing.T) {
	app := &App{ID: "demo", Vendors: registry()}
	for _, p := range []push.Provider{push.HMS, push.Xiaomi, push.OPPO, push.Vivo} {
		n := notification(app, &wire.PushJob{App: "demo", Provider: string(p), PushConfig: &wire.PushConfig{Content: "hello"}})
		if n.Title != "hello" || n.Body != "hello" {
			t.Errorf("%s: title %q body %q", p, n.Title, n.Body)
		}
	}
	n := notification(app, &wire.PushJob{App: "demo", Provider: "apns", PushConfig: &wire.PushConfig{Content: "hello"}})
	if n.Title != "" {
		t.Errorf("apns got a title %q", n.Title)
	}
}

// scriptedSender is a fake vendor client: each Send gets the next of its
// answers (the last one again once they run out); it counts Sends and Refreshes.
type scriptedSender struct {
	mu        sync.Mutex
	answers   []push.Result
	sends     int
	refreshes int
}

func (s *scriptedSender) Send(ctx context.Context, n *push.Notification) push.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.answers[min(s.sends, len(s.answers)-1)]
	s.sends++
	return res
}

func (s *scriptedSender) Refresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshes++
}

func (s *scriptedSender) counts() (sends, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sends, s.refreshes
}

// manualClock is a Clock that moves only when the test advances it, so that
// a Retry-After or the vendor's next day comes when the test says and the
// timers the vendor actor sets can be read.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	next   int
	timers map[int]*manualTimer
}

type manualTimer struct {
	d   time.Duration // as set, for armed
	due time.Time
	f   func()
}

func newManualClock(now time.Time) *manualClock {
	return &manualClock{now: now, timers: map[int]*manualTimer{}}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	id := c.next
	c.timers[id] = &manualTimer{d: d, due: c.now.Add(d), f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

// Advance moves the clock by d and runs the timers due by then before it
// returns, so that what they send is queued before the test goes on.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*manualTimer
	for id, t := range c.timers {
		if !t.due.After(c.now) {
			due = append(due, t)
			delete(c.timers, id)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// armed returns the durations of the timers set and not yet fired for which
// keep is true.
func (c *manualClock) armed(keep func(time.Duration) bool) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ds []time.Duration
	for _, t := range c.timers {
		if keep(t.d) {
			ds = append(ds, t.d)
		}
	}
	return ds
}

// onlyNode owns every key: a cluster of one.
type onlyNode struct{}

func (onlyNode) Owner(string) (string, string) { return "n1", "" }
func (onlyNode) Self() string                  { return "n1" }

// verdictRig is one node with an FCM binding for bob whose vendor client is a
// scriptedSender; alice's message to offline bob makes one push.
type verdictRig struct {
	t      *testing.T
	n      *Node
	store  *storage.Store
	clock  *manualClock
	sender *scriptedSender
	pushID string
}

const verdictWait = 10 * time.Second

func startVerdictRig(t *testing.T, answers ...push.Result) *verdictRig {
	t.Helper()
	return startVerdictRigTTL(t, 0, answers...)
}

// startVerdictRigTTL is startVerdictRig with pushes that expire ttl after they are made (0: the
// default 24h).
func startVerdictRigTTL(t *testing.T, ttl time.Duration, answers ...push.Result) *verdictRig {
	t.Helper()
	return startVerdictRigWith(t, func(o *Options) { o.PushTTL = ttl }, answers...)
}

// startVerdictRigWith is startVerdictRig with the node's options changed by opts.
func startVerdictRigWith(t *testing.T, opts func(*Options), answers ...push.Result) *verdictRig {
	t.Helper()
	st, err := storage.Open(t.TempDir(), storage.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	r := &verdictRig{t: t, store: st, sender: &scriptedSender{answers: answers},
		// 15:30 UTC: FCM's quota day turns at UTC midnight, 8h30 later.
		clock: newManualClock(time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC))}
	app := &App{ID: "demo", Senders: map[push.Provider]push.Sender{push.FCM: r.sender}}
	o := Options{Store: st, Apps: map[string]*App{"demo": app}, Clock: r.clock}
	opts(&o)
	r.n, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.n.Start(onlyNode{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), verdictWait)
		defer cancel()
		_ = r.n.Shutdown(ctx)
		_ = st.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), verdictWait)
	defer cancel()
	r.pushID, err = r.n.Bind(ctx, &wire.Binding{App: "demo", User: "bob", DeviceId: "pixel", Provider: string(push.FCM), Token: "tok-bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.n.Send(ctx, &wire.Message{MessageId: NewMessageID(r.clock.Now()), App: "demo", From: "alice", To: "bob", Type: 1, Body: "hi",
		PushConfig: &wire.PushConfig{Title: "alice", Content: "hi"}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitVerdict waits until bob's binding shows verdict v and returns its record.
func (r *verdictRig) waitVerdict(v push.Verdict) *wire.VerdictRecord {
	r.t.Helper()
	var rec *wire.VerdictRecord
	testwait.Until(r.t, verdictWait, func() error {
		vs, err := r.store.Verdicts("demo", "bob")
		if err != nil {
			return err
		}
		if rec = vs[r.pushID]; rec.GetVerdict() != string(v) {
			return fmt.Errorf("verdict %q, want %q", rec.GetVerdict(), v)
		}
		return nil
	})
	return rec
}

// waitSends waits until the vendor was called n times.
func (r *verdictRig) waitSends(n int) {
	r.t.Helper()
	testwait.Until(r.t, verdictWait, func() error {
		if got, _ := r.sender.counts(); got != n {
			return fmt.Errorf("%d sends, want %d", got, n)
		}
		return nil
	})
}

// waitOutbox waits until the outbox holds n pushes.
func (r *verdictRig) waitOutbox(n int) {
	r.t.Helper()
	testwait.Until(r.t, verdictWait, func() error {
		got := 0
		if err := r.store.Pushes(func(*wire.PushJob) bool { got++; return true }); err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("%d pushes in the outbox, want %d", got, n)
		}
		return nil
	})
}

// expectCounts checks the vendor calls and credential refreshes so far.
func (r *verdictRig) expectCounts(sends, refreshes int) {
	r.t.Helper()
	if s, f := r.sender.counts(); s != sends || f != refreshes {
		r.t.Fatalf("%d sends and %d refreshes, want %d and %d", s, f, sends, refreshes)
	}
}

// retryTimers are the durations of the pending timers that can be a retry's:
// the user actor's idle check (Options.IdleTimeout, 2 minutes) is not one.
func (r *verdictRig) retryTimers() []time.Duration {
	return r.clock.armed(func(d time.Duration) bool { return d != 2*time.Minute })
}

// TestVendorVerdicts: each answer of a vendor to one push, and what the
// vendor actor does about it.
func TestVendorVerdicts(t *testing.T) {
	delivered := push.Result{Verdict: push.Delivered, Status: 200}
	cases := []struct {
		name    string
		answers []push.Result
		check   func(t *testing.T, r *verdictRig)
	}{
		{"delivered: done", []push.Result{delivered}, func(t *testing.T, r *verdictRig) {
			r.waitVerdict(push.Delivered)
			r.waitOutbox(0)
			r.expectCounts(1, 0)
		}},
		{"retry: again after the vendor's Retry-After", []push.Result{
			{Verdict: push.Retry, Status: 503, Reason: "Unavailable", RetryAfter: 7 * time.Second}, delivered,
		}, func(t *testing.T, r *verdictRig) {
			// The verdict is written with the retry's timer set.
			r.waitVerdict(push.Retry)
			if ds := r.retryTimers(); len(ds) != 1 || ds[0] != 7*time.Second {
				t.Fatalf("timers %v after a Retry-After of 7s, want one of 7s", ds)
			}
			r.waitOutbox(1)
			r.clock.Advance(7*time.Second - time.Millisecond)
			if ds := r.retryTimers(); len(ds) != 1 {
				t.Fatalf("the retry fired before its Retry-After: timers %v", ds)
			}
			r.expectCounts(1, 0)
			r.clock.Advance(time.Millisecond)
			r.waitSends(2)
			r.waitVerdict(push.Delivered)
			r.waitOutbox(0)
		}},
		{"retry: backoff without a Retry-After", []push.Result{{Verdict: push.Retry, Status: 500}, delivered}, func(t *testing.T, r *verdictRig) {
			r.waitVerdict(push.Retry)
			if ds := r.retryTimers(); len(ds) != 1 || ds[0] < retryBase-retryBase/5 || ds[0] > retryBase+retryBase/5 {
				t.Fatalf("timers %v after a first retry, want one of %v ± 20%%", ds, retryBase)
			}
			r.clock.Advance(retryBase + retryBase/5)
			r.waitSends(2)
			r.waitVerdict(push.Delivered)
			r.waitOutbox(0)
		}},
		{"token invalid: dropped and the binding unbound", []push.Result{{Verdict: push.TokenInvalid, Status: 404, Reason: "UNREGISTERED"}}, func(t *testing.T, r *verdictRig) {
			testwait.Until(t, verdictWait, func() error {
				if _, ok, err := r.store.Binding("demo", "bob", r.pushID); err != nil || ok {
					return fmt.Errorf("binding still there (err %v)", err)
				}
				return nil
			})
			r.waitOutbox(0)
			r.expectCounts(1, 0)
		}},
		{"auth expired: refreshed once, then sent again", []push.Result{{Verdict: push.AuthExpired, Status: 401}, delivered}, func(t *testing.T, r *verdictRig) {
			r.waitVerdict(push.Delivered)
			r.waitOutbox(0)
			r.expectCounts(2, 1)
		}},
		{"auth expired after the refresh: dropped as a bad request", []push.Result{{Verdict: push.AuthExpired, Status: 401, Reason: "THIRD_PARTY_AUTH_ERROR"}}, func(t *testing.T, r *verdictRig) {
			rec := r.waitVerdict(push.BadRequest)
			if !strings.HasPrefix(rec.Reason, "auth failed after refresh") {
				t.Errorf("reason %q", rec.Reason)
			}
			r.waitOutbox(0)
			r.expectCounts(2, 1)
		}},
		{"quota exhausted: held until the vendor's next day", []push.Result{{Verdict: push.QuotaExhausted, Status: 429, Reason: "QUOTA_EXCEEDED"}, delivered}, func(t *testing.T, r *verdictRig) {
			r.waitVerdict(push.QuotaExhausted)
			nextDay := untilNextVendorDay(time.UTC, r.clock.Now())
			if ds := r.retryTimers(); len(ds) != 1 || ds[0] != nextDay {
				t.Fatalf("timers %v, want one until FCM's next day in %v", ds, nextDay)
			}
			r.waitOutbox(1) // held in the outbox, so a restart holds it again
			r.expectCounts(1, 0)
			r.clock.Advance(nextDay)
			r.waitSends(2)
			r.waitVerdict(push.Delivered)
			r.waitOutbox(0)
		}},
		{"bad request: dropped and recorded", []push.Result{{Verdict: push.BadRequest, Status: 400, Reason: "INVALID_ARGUMENT"}}, func(t *testing.T, r *verdictRig) {
			if rec := r.waitVerdict(push.BadRequest); rec.Reason != "INVALID_ARGUMENT" {
				t.Errorf("reason %q, want the vendor's", rec.Reason)
			}
			r.waitOutbox(0)
			r.expectCounts(1, 0)
			if _, ok, err := r.store.Binding("demo", "bob", r.pushID); err != nil || !ok {
				t.Errorf("a bad request unbound the token (err %v)", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, startVerdictRig(t, c.answers...))
		})
	}
}

// A push held past its expiry (here by a quota until the vendor's next day, 8h30 away, with
// pushes that live an hour) is dropped and counted when it comes up, never sent late.
func TestVendorDropsAPushPastItsExpiry(t *testing.T) {
	r := startVerdictRigTTL(t, time.Hour, push.Result{Verdict: push.QuotaExhausted, Status: 429, Reason: "QUOTA_EXCEEDED"})
	r.waitVerdict(push.QuotaExhausted)
	r.waitOutbox(1)
	before := counterValue(r.n.o.Metrics.PushesExpired)
	r.clock.Advance(untilNextVendorDay(time.UTC, r.clock.Now()))
	rec := r.waitVerdict("expired")
	if !strings.Contains(rec.Reason, "expiry") {
		t.Errorf("reason %q", rec.Reason)
	}
	r.waitOutbox(0)
	r.expectCounts(1, 0)
	if got := counterValue(r.n.o.Metrics.PushesExpired) - before; got != 1 {
		t.Errorf("pushd_pushes_expired_total moved by %v, want 1", got)
	}
}

// counterValue reads a counter's value.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

// A node's vendor actors keep to its share of each provider's QPS limit; a share out of
// range is the whole limit.
func TestVendorShareScalesQPS(t *testing.T) {
	st, err := storage.Open(t.TempDir(), storage.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	app := &App{ID: "demo", Senders: map[push.Provider]push.Sender{push.FCM: &scriptedSender{}, push.APNs: &scriptedSender{}},
		RateLimits: map[push.Provider]RateLimit{push.FCM: {QPS: 640}}}
	n, err := New(Options{Store: st, Apps: map[string]*App{"demo": app}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(onlyNode{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), verdictWait)
		defer cancel()
		_ = n.Shutdown(ctx)
	}()
	if len(n.vendorLimits) != 1 {
		t.Fatalf("%d limiters, want 1 (FCM's; APNs has no QPS limit)", len(n.vendorLimits))
	}
	l := n.vendorLimits[0].l
	for _, c := range []struct {
		share float64
		qps   rate.Limit
		burst int
	}{{1, 640, 64}, {21.0 / 64, 210, 21}, {1.0 / 64, 10, 1}, {0, 640, 64}, {1.5, 640, 64}} {
		n.SetVendorShare(c.share)
		if l.Limit() != c.qps || l.Burst() != c.burst {
			t.Errorf("share %g: limit %v burst %d, want %v and %d", c.share, l.Limit(), l.Burst(), c.qps, c.burst)
		}
	}
}

// The daily quota is counted per shard of the pushes' outbox, in the shard, and a node may
// use its share of it: with half the quota, 5 of 8 public pushes go and 3 are held; the
// shards' counts add up to the 5, and a node started again on the same store reads them
// back and holds the next push.
func TestQuotaCountedPerShardWithinTheNodesShare(t *testing.T) {
	dir := t.TempDir()
	clock := newManualClock(time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC))
	start := func() (*Node, *storage.Store, *scriptedSender) { // with half of the quota
		st, err := storage.Open(dir, storage.Options{CacheBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		s := &scriptedSender{answers: []push.Result{{Verdict: push.Delivered}}}
		app := &App{ID: "demo", Senders: map[push.Provider]push.Sender{push.FCM: s}, Vendors: registry(),
			RateLimits: map[push.Provider]RateLimit{push.FCM: {DailyQuota: 10}}}
		n, err := New(Options{Store: st, Apps: map[string]*App{"demo": app}, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		n.SetVendorShare(0.5) // before the outbox is resumed
		if err := n.Start(onlyNode{}); err != nil {
			t.Fatal(err)
		}
		return n, st, s
	}
	stop := func(n *Node, st *storage.Store) {
		ctx, cancel := context.WithTimeout(context.Background(), verdictWait)
		defer cancel()
		_ = n.Shutdown(ctx)
		_ = st.Close()
	}
	send := func(n *Node, users ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), verdictWait)
		defer cancel()
		for _, u := range users {
			if _, err := n.Bind(ctx, &wire.Binding{App: "demo", User: u, DeviceId: "pixel", Provider: string(push.FCM), Token: "tok-" + u}); err != nil {
				t.Fatal(err)
			}
			if _, err := n.Send(ctx, &wire.Message{MessageId: NewMessageID(clock.Now()), App: "demo", From: "alice", To: u, Type: 1, Body: "hi",
				PushConfig: &wire.PushConfig{Title: "alice", Content: "hi"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	held := func(st *storage.Store, users ...string) int {
		count := 0
		for _, u := range users {
			vs, err := st.Verdicts("demo", u)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				if v.GetVerdict() == string(push.QuotaExhausted) {
					count++
				}
			}
		}
		return count
	}
	n, st, s := start()
	var users []string
	for i := range 8 {
		users = append(users, fmt.Sprint("u", i))
	}
	send(n, users...)
	testwait.Until(t, verdictWait, func() error {
		if sends, _ := s.counts(); sends != 5 || held(st, users...) != 3 {
			return fmt.Errorf("%d sent, %d held; want 5 and 3", sends, held(st, users...))
		}
		return nil
	})
	day := vendorDay(time.UTC, clock.Now())
	testwait.Until(t, verdictWait, func() error { // the counts are committed after the sends
		var sum int64
		for shard := uint64(1); shard <= storage.NumShards; shard++ {
			c, err := st.QuotaUsed(shard, "demo", string(push.FCM), day)
			if err != nil {
				return err
			}
			sum += c
		}
		if sum != 5 {
			return fmt.Errorf("the shards count %d pushes, want 5", sum)
		}
		return nil
	})
	stop(n, st)

	n, st, s = start()
	defer stop(n, st)
	send(n, "late")
	testwait.Until(t, verdictWait, func() error {
		if sends, _ := s.counts(); sends != 0 || held(st, "late") != 1 {
			return fmt.Errorf("after the restart %d sent, %d held; want 0 and 1", sends, held(st, "late"))
		}
		return nil
	})
}
