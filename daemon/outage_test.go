package daemon_test

import (
	"fmt"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// outageVendor is the vendor of the outage tests: Xiaomi, whose app secret
// does not expire, so that hours of the test clock leave its auth alone.
const outageVendor = push.Xiaomi

// outageWindow is the vendor window of the outage tests: far below the
// pushes they queue.
const outageWindow = 100

// outageDrainWait bounds a backlog's drain at the QPS limit.
const outageDrainWait = 2 * time.Minute

// startOutageDaemon runs a vendor-test daemon whose Xiaomi connection keeps
// outageWindow pushes in memory, sends at most qps a second, and opens its
// circuit after 5 failed requests.
func startOutageDaemon(t *testing.T, qps float64) *harness {
	t.Helper()
	return startVendorDaemon(t, func(a *config.App) {
		a.RateLimits = map[string]config.RateLimit{string(outageVendor): {QPS: qps}}
	}, func(c *config.Config) {
		c.Limits.VendorWindow = outageWindow
		c.Limits.VendorBreakerFailures = 5
	})
}

// outageSend sends messages from..from+n-1 from alice to bob, each with a push.
func (h *harness) outageSend(from, n int) {
	h.t.Helper()
	for i := from; i < from+n; i += 500 {
		var msgs []any
		for j := i; j < min(i+500, from+n); j++ {
			msgs = append(msgs, map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1,
				"body": fmt.Sprint("m ", j), "push_config": map[string]any{"title": "Alice", "content": fmt.Sprint("m ", j)}})
		}
		h.mustCall("POST", "/v1/messages/batch", "key", map[string]any{"messages": msgs})
	}
}

// outageQueued waits until the outbox holds n pushes.
func (h *harness) outageQueued(n int) {
	h.t.Helper()
	testwait.Until(h.t, waitTimeout, func() error {
		if got := h.outboxLen(); got != n {
			return fmt.Errorf("%d pushes in the outbox, want %d", got, n)

		}
		return nil
	})
}

// outageInMemory checks that the Xiaomi vendor actor holds no more than the
// window in memory, and returns what it holds.
func (h *harness) outageInMemory() float64 {
	h.t.Helper()
	m := h.vndMetric("pushd_vendor_jobs_in_memory", "provider", string(outageVendor))
	if m > outageWindow {
		h.t.Fatalf("pushd_vendor_jobs_in_memory = %v, over the window of %d", m, outageWindow)
	}
	return m
}

// outageDrain waits, checking the window all along, until the simulator
// has delivered n pushes to tok, and returns those deliveries.
func (h *harness) outageDrain(tok string, n int) []vendorsim.Record {
	h.t.Helper()
	var got []vendorsim.Record
	testwait.Until(h.t, outageDrainWait, func() error {
		h.outageInMemory()
		got = h.sim().Delivered(outageVendor, tok)
		if len(got) < n {
			return fmt.Errorf("%d of %d pushes delivered", len(got), n)
		}
		return nil
	})
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	h.eventually("window empty", func() bool { return h.outageInMemory() == 0 })
	return got
}

// outageOnce checks that each of the n messages was delivered exactly once.
func outageOnce(t *testing.T, rs []vendorsim.Record, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range rs {
		form, err := url.ParseQuery(string(r.Body))
		if err != nil {
			t.Fatalf("request body %q: %v", r.Body, err)
		}
		seen[form.Get("description")]++
	}
	if len(seen) != n {
		t.Errorf("%d messages delivered, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("message %s delivered %d times", id, c)
		}
	}
}

// outageQPS checks, as TestVendorsQPSLimitUnderBurst does, that no
// one-second window of the deliveries holds more than the rate allows and
// that they are spread over the time the rate needs.
func outageQPS(t *testing.T, rs []vendorsim.Record, qps int) {
	t.Helper()
	at := make([]time.Time, 0, len(rs))
	for _, r := range rs {
		at = append(at, r.At)
	}
	most := mostInOneSecond(at)
	if limit := qps + qps/10 + qps/2; most > limit {
		t.Errorf("%d requests within one second, want at most %d", most, limit)
	}
	if span, least := at[len(at)-1].Sub(at[0]), time.Duration(len(at)-qps/10-1)*time.Second/time.Duration(qps)-100*time.Millisecond; span < least {
		t.Errorf("%d requests within %v, want them spread over at least %v", len(at), span, least)
	}
	t.Logf("%d deliveries over %v, at most %d in one second", len(at), at[len(at)-1].Sub(at[0]).Round(time.Millisecond), most)
}

// mostInOneSecond sorts at and returns the most of them within one second.
func mostInOneSecond(at []time.Time) int {
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	most := 0
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

// TestVendorOutageKeepsMemoryBoundedAndDrainsAtQPS: Xiaomi answers 503 for
// six hours (of the test clock) while 1,200 pushes queue for it, twelve
// times its window. The circuit opens after five failures and then sends
// one trial at a time; the vendor actor never holds more than its window;
// every push stays in the outbox. When Xiaomi is back the next trial closes
// the circuit and the backlog drains at the QPS limit, each push once.
func TestVendorOutageKeepsMemoryBoundedAndDrainsAtQPS(t *testing.T) {
	const qps, n = 200, 1200
	h := startOutageDaemon(t, qps)
	tok := vndTok(outageVendor, "bob", "phone")
	h.bind("bob", "phone", outageVendor, tok)
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: outageVendor, Status: 503}))

	h.outageSend(0, n/3)
	h.eventually("circuit open", func() bool {
		return h.vndMetric("pushd_vendor_circuit_open", "provider", string(outageVendor)) == 1
	})
	h.outageQueued(n / 3)
	opened := len(h.sim().Records(outageVendor))
	const step, steps = 5 * time.Minute, 72 // six hours
	for i := 1; i <= steps; i++ {
		h.clock.Advance(step)
		switch i {
		case 12, 24: // more pushes come in during the outage
			sent := n / 3 * (i/12 + 1)
			h.outageSend(sent-n/3, n/3)
			h.outageQueued(sent)
		}
		h.outageInMemory()
		if open := h.vndMetric("pushd_vendor_circuit_open", "provider", string(outageVendor)); open != 1 {
			t.Fatalf("after %v of outage the circuit is closed", time.Duration(i)*step)
		}
	}
	// Open, the circuit lets one trial through each time its backoff passes
	// (at most one a step here), instead of every push retrying.
	if during := len(h.sim().Records(outageVendor)) - opened; during > steps+outageWindow/10 {
		t.Errorf("%d requests to Xiaomi during the open circuit, want about one a step (%d steps)", during, steps)
	}
	if got := h.outboxLen(); got != n {
		t.Fatalf("%d pushes in the outbox after the outage, want %d", got, n)
	}
	var vo map[string]any
	ps, _ := h.mustCall("GET", "/v1/overview", "key", nil)["providers"].([]any)
	for _, p := range ps {
		if pm, _ := p.(map[string]any); pm["provider"] == string(outageVendor) {
			vo = pm
		}
	}
	if m, ok := vo["jobs_in_memory"].(float64); vo["circuit_open"] != true || !ok || m > outageWindow {
		t.Errorf("overview during the outage: %v, want the circuit open and at most the window in memory", vo)
	}

	h.sim().ClearFaults()
	h.clock.Advance(time.Minute) // the next trial, which closes the circuit
	rs := h.outageDrain(tok, n)
	outageOnce(t, rs, n)
	outageQPS(t, rs, qps)
	if open := h.vndMetric("pushd_vendor_circuit_open", "provider", string(outageVendor)); open != 0 {
		t.Errorf("pushd_vendor_circuit_open = %v after the outage, want 0", open)
	}
}

// TestVendorRestartPagesALargeOutbox: 1,200 pushes wait in the outbox (Xiaomi
// answered 503) when the daemon restarts. The restarted daemon reads them
// back a window at a time, never holding more than the window, and sends
// each once at the QPS limit.
func TestVendorRestartPagesALargeOutbox(t *testing.T) {
	const qps, n = 200, 1200
	h := startOutageDaemon(t, qps)
	tok := vndTok(outageVendor, "bob", "phone")
	h.bind("bob", "phone", outageVendor, tok)
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: outageVendor, Status: 503}))
	h.outageSend(0, n)
	h.outageQueued(n)
	h.outageInMemory()

	h.vndRestart() // a new simulator, without the fault
	rs := h.outageDrain(tok, n)
	outageOnce(t, rs, n)
	outageQPS(t, rs, qps)
}
