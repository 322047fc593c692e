package suite

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
)

// fanoutIdle is the user_idle_timeout of the fan-out and idle scenarios, so
// that members' actors are passivated (as an idle member's would be) before
// the measurement without waiting the default 2 minutes.
const fanoutIdle = 3 * time.Second

// runFanout measures the time from POST /v1/messages of a group message to
// the last push at the simulator, for groups of 1,000, 10,000 and 100,000
// members (at scale 1): every member but the sender is offline with one
// binding, spread round-robin over the six providers. The members' actors
// are passivated before each send.
func runFanout(ctx context.Context, e *env) error {
	sizes := []int{e.scaled(1_000, 100), e.scaled(10_000, 300), e.scaled(100_000, 1_000)}
	largest := sizes[len(sizes)-1]
	e.note("groups of %s members: the sender (no binding) and members with one binding each, round-robin over %v; all offline", sizesText(sizes), vendors.Providers())
	e.note("before the groups, one push per provider opens the vendor connections and fetches their access tokens")
	e.note("user_idle_timeout is %v (default 2m) so that every member's actor is passivated before each send; the figure runs from the POST to the last push recorded by the simulator, p50/p99 are when half and 99%% of the members had their push", fanoutIdle)
	e.note("each group gets %d messages, one at a time with its members passivated before each; the figure is the median of their times, every one kept in samples", rounds)

	e.step("start daemon")
	n, err := startNode(ctx, func(c *config.Config) { c.UserIdleTimeout = config.Duration(fanoutIdle) })
	if err != nil {
		return err
	}
	defer n.close()
	sim := n.sim()

	e.step(fmt.Sprintf("bind %d members", largest-1))
	bs := make([]binding, largest-1)
	members := make([]string, largest-1)
	providers := vendors.Providers()
	for i := range bs {
		p := providers[i%len(providers)]
		members[i] = "m" + strconv.Itoa(i)
		bs[i] = binding{members[i], "phone", p, providerToken(p, i)}
	}
	t0 := time.Now()
	if err := n.bindAll(ctx, e, bs); err != nil {
		return err
	}
	e.note("bound %d devices over POST /v1/devices in %.1fs (%.0f/s, 64 clients)", len(bs), time.Since(t0).Seconds(), float64(len(bs))/time.Since(t0).Seconds())

	// Warm up: one push through each provider, so that the vendor connections
	// and access tokens exist, as on a daemon that has been running.
	var warm []binding
	for i, p := range vendors.Providers() {
		warm = append(warm, binding{"warm" + strconv.Itoa(i), "phone", p, providerToken(p, 1_000_000+i)})
	}
	if err := n.bindAll(ctx, e, warm); err != nil {
		return err
	}
	for _, w := range warm {
		if _, err := n.must("POST", "/v1/messages", "", messageJSON("boss", w.user, "warm up", false, true)); err != nil {
			return err
		}
	}
	if err := waitPushes(ctx, e, sim, len(warm), time.Minute, vendors.Providers()...); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	e.step("make the groups")
	for _, size := range sizes {
		if err := putGroup(n, "g"+strconv.Itoa(size), append([]string{"boss"}, members[:size-1]...)); err != nil {
			return err
		}
	}

	for _, size := range sizes {
		group := "g" + strconv.Itoa(size)
		var totals []float64
		var at []time.Duration
		for r := 1; r <= rounds; r++ {
			total, times, err := fanoutOnce(ctx, e, n, group, size, fmt.Sprintf("round %d of %d", r, rounds))
			if err != nil {
				return err
			}
			totals = append(totals, ms(total))
			at = append(at, times...)
		}
		f := e.add(&Figure{Name: fmt.Sprintf("group of %s offline members: POST → last push", commas(int64(size))), Unit: "ms",
			Value: median(totals), Count: size - 1, Samples: totals})
		f.P50Ms, f.P99Ms = pct(at)
		if size == largest {
			f.Bar = maxBar(3000, "ms")
			if size < 100_000 {
				f.Bar.Text += " (the bar is for 100,000)"
			}
		}
	}
	return nil
}

// fanoutOnce sends one message to the group once its members' actors are
// passivated, and returns the time from the POST to the last push at the
// simulator and each member's push time.
func fanoutOnce(ctx context.Context, e *env, n *node, group string, size int, round string) (time.Duration, []time.Duration, error) {
	sim := n.sim()
	e.step(group + ": wait for the members' actors to passivate (" + round + ")")
	if _, err := n.waitMetric(ctx, "pushd_fanout_pending", time.Minute, func(v float64) bool { return v == 0 }); err != nil {
		e.note("%s: a fan-out was still pending before the send: %v", group, err)
	}
	if v, err := n.waitMetric(ctx, "pushd_active_users", fanoutIdle+time.Minute, func(v float64) bool { return v == 0 }); err != nil {
		e.note("%s: %g user actors still active before the send: %v", group, v, err)
	}
	sim.Reset()

	e.step(fmt.Sprintf("%s: fan-out to %d members (%s)", group, size-1, round))
	stop := e.profile(group)
	start := time.Now()
	if _, err := n.must("POST", "/v1/messages", "", messageJSON("boss", group, "to everyone", true, true)); err != nil {
		stop()
		return 0, nil, err
	}
	answered := time.Since(start)
	err := waitPushes(ctx, e, sim, size-1, 5*time.Minute, vendors.Providers()...)
	stop()
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", group, err)
	}
	var at []time.Duration
	var last time.Time
	lastBy := map[push.Provider]time.Time{}
	for _, r := range sim.Records("") {
		if !r.Delivered("") {
			continue
		}
		for range len(r.Tokens) - len(r.InvalidTokens) {
			at = append(at, r.At.Sub(start))
		}
		if r.At.After(last) {
			last = r.At
		}
		if r.At.After(lastBy[r.Provider]) {
			lastBy[r.Provider] = r.At
		}
	}
	lastText := ""
	for _, p := range vendors.Providers() {
		if t, ok := lastBy[p]; ok {
			lastText += fmt.Sprintf("%s %.0f ms ", p, ms(t.Sub(start)))
		}
	}
	total := last.Sub(start)
	e.note("%s (%s): POST answered in %.1f ms; %d pushes in %.0f ms (%.0f pushes/s); last push by provider: %s", group, round, ms(answered), size-1,
		ms(total), float64(size-1)/total.Seconds(), lastText)
	return total, at, nil
}

func sizesText(sizes []int) string {
	s := append([]int(nil), sizes...)
	sort.Ints(s)
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += commas(int64(v))
	}
	return out
}
