package actors

import (
	"fmt"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/wire"
)

// The retry heap gives back waiting calls earliest first, whatever order
// they were scheduled in.
func TestRetryHeapPopsEarliestFirst(t *testing.T) {
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var h retryHeap
	for _, s := range []int{5, 1, 9, 3, 3, 7, 0, 8} {
		h.push(&call{due: base.Add(time.Duration(s) * time.Second)})
	}
	var got []int
	for len(h) > 0 {
		got = append(got, int(h.pop().due.Sub(base)/time.Second))
	}
	if fmt.Sprint(got) != "[0 1 3 3 5 7 8 9]" {
		t.Errorf("popped %v, want earliest first", got)
	}
}

// gaugeValue reads a gauge's value.
func gaugeValue(t *testing.T, r *verdictRig, name string) float64 {
	t.Helper()
	var m dto.Metric
	var err error
	switch name {
	case "circuit":
		err = r.n.o.Metrics.VendorCircuitOpen.WithLabelValues("demo", string(push.FCM)).Write(&m)
	case "memory":
		err = r.n.o.Metrics.VendorJobsInMemory.WithLabelValues("demo", string(push.FCM)).Write(&m)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// The circuit opens after BreakerFailures failed calls in a row: the push's
// retry, due meanwhile, is not sent; after the backoff one trial goes, and
// a failed trial opens it for twice as long; an answer closes it.
func TestVendorBreakerOpensAndClosesOnATrial(t *testing.T) {
	unavailable := push.Result{Verdict: push.Retry, Status: 503, Reason: "Unavailable", RetryAfter: time.Second}
	r := startVerdictRigWith(t, func(o *Options) { o.BreakerFailures, o.BreakerBackoff = 2, 10*time.Second },
		unavailable, unavailable, unavailable, push.Result{Verdict: push.Delivered, Status: 200})
	r.waitSends(1)
	r.waitVerdict(push.Retry)
	testwait.Until(t, verdictWait, func() error {
		if ds := r.retryTimers(); len(ds) != 1 {
			return fmt.Errorf("timers %v, want the retry's", ds)
		}
		return nil
	})
	r.clock.Advance(time.Second)
	r.waitSends(2)
	testwait.Until(t, verdictWait, func() error {
		if v := gaugeValue(t, r, "circuit"); v != 1 {
			return fmt.Errorf("pushd_vendor_circuit_open = %v after two failures, want 1", v)
		}
		return nil
	})
	// The retry comes due (1s), the trial not yet (10s): nothing is sent.
	r.clock.Advance(2 * time.Second)
	r.expectCounts(2, 0)
	r.clock.Advance(8 * time.Second)
	r.waitSends(3) // the trial, refused: open again for 20s (and the push's retry set)
	testwait.Until(t, verdictWait, func() error {
		if ds := r.retryTimers(); !slices.Contains(ds, 20*time.Second) {
			return fmt.Errorf("timers %v after a failed trial, want one of 20s", ds)
		}
		return nil
	})
	r.clock.Advance(19 * time.Second)
	r.expectCounts(3, 0)
	r.clock.Advance(time.Second)
	r.waitSends(4)
	r.waitVerdict(push.Delivered)
	r.waitOutbox(0)
	if v := gaugeValue(t, r, "circuit"); v != 0 {
		t.Errorf("pushd_vendor_circuit_open = %v after a delivered trial, want 0", v)
	}
	if v := gaugeValue(t, r, "memory"); v != 0 {
		t.Errorf("pushd_vendor_jobs_in_memory = %v with nothing left, want 0", v)
	}
}

// A push held for the vendor's daily quota waits in the outbox, not in the
// window, and is read back when the vendor's day turns.
func TestVendorHeldPushWaitsOnDisk(t *testing.T) {
	r := startVerdictRig(t, push.Result{Verdict: push.QuotaExhausted, Status: 429, Reason: "QUOTA_EXCEEDED"},
		push.Result{Verdict: push.Delivered, Status: 200})
	r.waitVerdict(push.QuotaExhausted)
	r.waitOutbox(1)
	testwait.Until(t, verdictWait, func() error {
		if v := gaugeValue(t, r, "memory"); v != 0 {
			return fmt.Errorf("pushd_vendor_jobs_in_memory = %v while the push is held, want 0", v)
		}
		return nil
	})
	r.clock.Advance(untilNextVendorDay(time.UTC, r.clock.Now()))
	r.waitSends(2)
	r.waitVerdict(push.Delivered)
	r.waitOutbox(0)
}

// The pager reads only the shards marked, each once, onwards from where it
// is and round; a shard marked while its read is under way is flagged to be
// read again, one marked before its read began is not.
func TestPagerReadsOnlyMarkedShards(t *testing.T) {
	var p pager
	bob := &wire.PushJob{App: "demo", User: "bob"}
	if p.next() || p.waiting(bob) {
		t.Fatal("an unmarked pager has a shard to read")
	}
	p.mark(jobShard(bob))
	p.mark(jobShard(bob))
	if p.left != 1 || !p.waiting(bob) {
		t.Fatalf("left %d, waiting(bob) %v; want 1 (marked twice, counted once), true", p.left, p.waiting(bob))
	}
	p = pager{}
	p.mark(9)
	p.mark(3)
	var read []uint64
	for p.next() && len(read) < 10 {
		read = append(read, p.shard)
		switch p.shard {
		case 3:
			p.mark(3) // its read has not begun: nothing is behind it
			if p.again {
				t.Error("a shard marked before its read began is flagged to be read again")
			}
			p.after = 7 // read up to id 7
			p.mark(1)   // behind where the pager is: read when it comes round
		case 9:
			p.after = 2
			p.mark(9)
			if !p.again {
				t.Error("a shard marked while it is read is not flagged to be read again")
			}
		}
	}
	if fmt.Sprint(read) != "[3 9 1]" || p.left != 0 || p.shard != 0 {
		t.Errorf("read %v (left %d, at %d), want [3 9 1] and none left", read, p.left, p.shard)
	}
}
