package suite

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
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
	e.note("groups of %s members: the sender (no binding) and members with one binding each, round-robin over %v; all offline", sizesText(sizes), push.Providers)
	e.note("before the groups, one push per provider opens the vendor connections and fetches their access tokens")
	e.note("user_idle_timeout is %v (default 2m) so that every member's actor is passivated before each send; the figure runs from the POST to the last push recorded by the simulator, p50/p99 are when half and 99%% of the members had their push", fanoutIdle)

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
	for i := range bs {
		p := push.Providers[i%len(push.Providers)]
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
	for i, p := range push.Providers {
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
	if err := waitPushes(ctx, e, sim, len(warm), time.Minute, push.Providers...); err != nil {
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
		e.step(group + ": wait for the members' actors to passivate")
		if _, err := n.waitMetric(ctx, "pushd_fanout_pending", time.Minute, func(v float64) bool { return v == 0 }); err != nil {
			e.note("%s: a fan-out was still pending before the send: %v", group, err)
		}
		if v, err := n.waitMetric(ctx, "pushd_active_users", fanoutIdle+time.Minute, func(v float64) bool { return v == 0 }); err != nil {
			e.note("%s: %g user actors still active before the send: %v", group, v, err)
		}
		sim.Reset()

		e.step(fmt.Sprintf("%s: fan-out to %d members", group, size-1))
		stop := e.profile(group)
		start := time.Now()
		if _, err := n.must("POST", "/v1/messages", "", messageJSON("boss", group, "to everyone", true, true)); err != nil {
			stop()
			return err
		}
		answered := time.Since(start)
		err := waitPushes(ctx, e, sim, size-1, 5*time.Minute, push.Providers...)
		stop()
		if err != nil {
			return fmt.Errorf("%s: %w", group, err)
		}
		var at []time.Duration
		var last time.Time
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
		}
		total := last.Sub(start)
		f := e.add(&Figure{Name: fmt.Sprintf("group of %s offline members: POST → last push", commas(int64(size))), Unit: "ms",
			Value: ms(total), Count: size - 1})
		f.P50Ms, f.P99Ms = pct(at)
		if size == largest {
			f.Bar = maxBar(3000, "ms")
			if size < 100_000 {
				f.Bar.Text += " (the bar is for 100,000)"
			}
		}
		e.note("%s: POST answered in %.1f ms; %d pushes in %.0f ms (%.0f pushes/s); by provider %s", group, ms(answered), size-1,
			ms(total), float64(size-1)/total.Seconds(), byProvider(n))
	}
	return nil
}

func byProvider(n *node) string {
	s := ""
	for _, p := range push.Providers {
		s += fmt.Sprintf("%s %d ", p, n.sim().Count(p))
	}
	return s
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
