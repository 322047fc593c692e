package actors

import (
	"time"

	"github.com/pushd-im/pushd/push"
)

// breakerCap is the longest an open circuit waits between trial pushes.
const breakerCap = time.Minute

// breakerState is a vendor circuit's state.
type breakerState int

const (
	breakerClosed   breakerState = iota // sending
	breakerOpen                         // sending nothing until the backoff passes
	breakerHalfOpen                     // one trial push out; its answer closes or reopens
)

// breaker is a vendor actor's circuit breaker: after a run of failed calls
// (transport errors, 5xx, 429: the Retry verdict) it stops calling the
// vendor, so that an outage costs neither requests nor retries; the pushes
// wait in the window and the outbox. After a backoff one push goes as a
// trial: an answer closes the circuit, another failure opens it for twice
// as long (to at most breakerCap).
type breaker struct {
	state    breakerState
	failures int           // failed calls in a row
	backoff  time.Duration // how long the next opening lasts (0: Options.BreakerBackoff)
	probing  bool          // the half-open trial is out
}

// probeVendor ends an open circuit's wait: the next call is its trial.
type probeVendor struct{}

// allows says whether a call may go now.
func (b *breaker) allows() bool {
	return b.state == breakerClosed || b.state == breakerHalfOpen && !b.probing
}

// observe counts a call's answer: any answer but Retry is the vendor
// working and closes the circuit; Retry counts to opening it.
func (v *vendorActor) observe(c *call, res push.Result) {
	b := &v.breaker
	if c.probe {
		b.probing = false
	}
	if res.Verdict == push.AuthExpired {
		return // ours to fix (a refresh), not the vendor's health
	}
	if res.Verdict != push.Retry {
		b.failures = 0
		if b.state != breakerClosed {
			b.state, b.backoff = breakerClosed, 0
			v.gated.Store(false)
			v.n.o.Metrics.VendorCircuitOpen.WithLabelValues(v.app.ID, string(v.provider)).Set(0)
			v.n.log.Info("vendor circuit closed: sending again", "app", v.app.ID, "provider", v.provider)
		}
		return
	}
	b.failures++
	switch {
	case b.state == breakerHalfOpen && c.probe:
		v.openCircuit(res)
	case b.state == breakerClosed && b.failures >= v.n.o.BreakerFailures:
		v.openCircuit(res)
	}
}

// openCircuit stops calls for the backoff, then lets one trial through.
func (v *vendorActor) openCircuit(res push.Result) {
	b := &v.breaker
	if b.backoff <= 0 {
		b.backoff = v.n.o.BreakerBackoff
	}
	wait := b.backoff
	b.backoff = min(2*b.backoff, breakerCap)
	log := v.n.log.Warn
	if b.state == breakerHalfOpen {
		log = v.n.log.Debug // its trial failed: the outage goes on
	}
	b.state = breakerOpen
	v.gated.Store(true)
	v.n.o.Metrics.VendorCircuitOpen.WithLabelValues(v.app.ID, string(v.provider)).Set(1)
	log("vendor circuit open: pushes wait in the outbox", "app", v.app.ID, "provider", v.provider,
		"failures", b.failures, "status", res.Status, "reason", res.Reason, "trial_in", wait)
	self, root := v.self, v.n.system.Root
	v.n.after(wait, func() { root.Send(self, probeVendor{}) })
}

// halfOpen lets the next call through as the trial.
func (v *vendorActor) halfOpen() {
	if v.breaker.state != breakerOpen {
		return
	}
	v.breaker.state, v.breaker.probing = breakerHalfOpen, false
	v.pump()
}
