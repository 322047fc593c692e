package suite

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
)

// idleBindBudget bounds the binding of the idle scenario at scale 1: when
// the first part of the binds shows that all would take longer, the run stops
// at idleFallback users (scaled) and says so.
const (
	idleBindBudget = 8 * time.Minute
	idleFallback   = 100_000
)

// runIdle registers users through the real API (POST /v1/devices, one
// binding per user, round-robin over every provider, 64 concurrent
// clients), waits until every user actor is passivated, and reports the
// daemon's heap growth per registered user.
func runIdle(ctx context.Context, e *env) error {
	// Memory per idle user does not depend on the count, so the quick run
	// shrinks this one with the square of the scale: 1,000,000 at 1, 10,000 at 0.1.
	users := max(1000, int(1_000_000*e.o.Scale*e.o.Scale+0.5))
	e.note("users registered through POST /v1/devices (each with its own client token, one binding, providers round-robin), 64 concurrent clients; then every user actor passivated (user_idle_timeout %v, default 2m)", fanoutIdle)
	e.note("Pebble's memtables and block cache are allocated outside the Go heap (cgo) and show only in RSS")

	e.step("start daemon")
	n, err := startNode(ctx, func(c *config.Config) { c.UserIdleTimeout = config.Duration(fanoutIdle) })
	if err != nil {
		return err
	}
	defer n.close()
	// Warm up: the API, the actors, the store.
	warm := make([]binding, 200)
	for i := range warm {
		warm[i] = binding{"w" + strconv.Itoa(i), "phone", push.FCM, providerToken(push.FCM, 10_000_000+i)}
	}
	if err := n.bindAll(ctx, e, warm); err != nil {
		return err
	}
	if _, err := n.waitMetric(ctx, "pushd_active_users", fanoutIdle+time.Minute, func(v float64) bool { return v == 0 }); err != nil {
		return err
	}
	before := sampleMem()

	// Register in two parts, each followed by passivation and a sample: the
	// figure is the growth over all users; the growth over the second part
	// (the marginal cost of a user, without the fixed costs) is in the notes.
	first := users / 10
	var limit, bound atomic.Int64
	limit.Store(int64(users))
	var bindTime time.Duration
	var checked atomic.Bool
	fallback := max(1000, int(idleFallback*e.o.Scale))
	providers := vendors.Providers()
	register := func(from, to int) error {
		start := time.Now()
		defer func() { bindTime += time.Since(start) }()
		return parallel(ctx, to-from, 64, func(k int) error {
			i := from + k
			if int64(i) >= limit.Load() {
				return nil
			}
			p := providers[i%len(providers)]
			body := fmt.Sprintf(`{"device_id":"phone","provider":%q,"token":%q}`, p, providerToken(p, i))
			if _, err := n.must("POST", "/v1/devices", "u"+strconv.Itoa(i), []byte(body)); err != nil {
				return err
			}
			bound.Add(1)
			return nil
		}, func(k int) {
			done := from + k
			e.p.count(done, int(limit.Load()))
			if from > 0 && done >= first+users/20 && users > fallback && checked.CompareAndSwap(false, true) {
				el := bindTime + time.Since(start)
				if projected := time.Duration(float64(el) * float64(users) / float64(done)); projected > idleBindBudget {
					limit.Store(int64(max(fallback, done)))
					e.note("binding %s users would take about %v (%.0f binds/s), over the %v budget: measured at %s users instead",
						commas(int64(users)), projected.Round(time.Second), float64(done)/el.Seconds(), idleBindBudget, commas(limit.Load()))
				}
			}
		})
	}
	passivated := func() {
		if v, err := n.waitMetric(ctx, "pushd_active_users", fanoutIdle+5*time.Minute, func(v float64) bool { return v == 0 }); err != nil {
			e.note("%g user actors still active when measured: %v", v, err)
		}
		time.Sleep(time.Second)
	}

	// Watch the peak of live user actors while registering.
	var peak atomic.Int64
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			if v, err := n.metric("pushd_active_users"); err == nil && int64(v) > peak.Load() {
				peak.Store(int64(v))
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	defer func() {
		select {
		case <-stopWatch:
		default:
			close(stopWatch)
		}
		<-watched
	}()

	e.step(fmt.Sprintf("register %s users", commas(int64(first))))
	if err := register(0, first); err != nil {
		return err
	}
	passivated()
	mid := sampleMem()
	e.step(fmt.Sprintf("register %s more users", commas(int64(users-first))))
	if err := register(first, users); err != nil {
		return err
	}
	count := int(bound.Load())
	e.add(&Figure{Name: "registrations, POST /v1/devices (64 clients)", Unit: "bind/s", Value: float64(count) / bindTime.Seconds(), Count: count})

	close(stopWatch)
	<-watched
	e.step("wait for every user actor to passivate")
	passivated()
	e.step("memory")
	after := sampleMem()
	per := diff(before.HeapInuse, after.HeapInuse) / float64(count)
	e.add(&Figure{Name: fmt.Sprintf("memory per idle registered user (%s users, actors passivated)", commas(int64(count))), Unit: "B/user",
		Value: round3(per), Count: count, Bar: maxBar(1024, "B")})
	e.note("memory per user = HeapInuse growth (after runtime.GC, all actors passivated) / users: %.1f MiB for %d users; the marginal growth from %s to %s users is %.0f B/user; stacks %+.1f KiB",
		diff(before.HeapInuse, after.HeapInuse)/(1<<20), count, commas(int64(first)), commas(int64(count)),
		diff(mid.HeapInuse, after.HeapInuse)/float64(count-first), diff(before.StackInuse, after.StackInuse)/1024)
	e.note("at most %s user actors were alive at once while registering (those bound within user_idle_timeout); what the daemon sized for that peak (maps do not shrink) stays allocated, so at small counts this figure overstates the cost of one more user",
		commas(peak.Load()))
	e.note("RSS grew %.1f MiB in all (%.0f B/user; %.0f B/user marginal from %s users)", diff(before.RSS, after.RSS)/(1<<20),
		diff(before.RSS, after.RSS)/float64(count), diff(mid.RSS, after.RSS)/float64(count-first), commas(int64(first)))
	return nil
}
