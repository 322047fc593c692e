package actors

import (
	"math/rand/v2"
	"time"

	"github.com/pushd-im/pushd/push"
)

// retryBase and retryCap shape the exponential backoff after a retry verdict.
const (
	retryBase = 500 * time.Millisecond
	retryCap  = 5 * time.Minute
)

// retry sends the call again after backoff (or the vendor's Retry-After);
// pushes that would be late for their expiry are dropped. The next attempt's
// time is kept in the jobs (NotBeforeMs) and the call waits with the
// actor's others under one timer: a retry holds no timer of its own.
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
	due := now.Add(delay)
	keep := c.jobs[:0]
	for _, j := range c.jobs {
		j.Attempts++
		if j.ExpiresAtMs != 0 && due.UnixMilli() > j.ExpiresAtMs {
			v.n.o.Metrics.PushesExpired.Inc()
			v.done(j)
			v.report(j.PushJob, push.Result{Verdict: "expired", Reason: "not delivered before expiry; last: " + res.Reason})
			continue
		}
		if j.chunk != nil {
			v.own(&j)
			v.ids[j.Id] = struct{}{}
		}
		// Set after its record is written: a restart does not keep the
		// backoff, it tries at once.
		j.NotBeforeMs = due.UnixMilli()
		v.report(j.PushJob, res)
		keep = append(keep, j)
	}
	if len(keep) == 0 {
		return
	}
	c.jobs = keep
	v.n.o.Metrics.PushRetries.WithLabelValues(string(v.provider)).Add(float64(len(keep)))
	v.schedule(c, due)
}

// wakeRetries tells the actor that its earliest waiting call is due.
type wakeRetries struct{}

// schedule makes c wait until due, and arms the actor's timer if c is now
// the earliest.
func (v *vendorActor) schedule(c *call, due time.Time) {
	c.due = due
	v.waiting.push(c)
	v.arm()
}

// arm sets the actor's one timer for its earliest waiting call.
func (v *vendorActor) arm() {
	if len(v.waiting) == 0 {
		return
	}
	due := v.waiting[0].due
	if v.timerOff != nil && !v.timerDue.After(due) {
		return // set already for this or an earlier call
	}
	if v.timerOff != nil {
		v.timerOff()
	}
	self, root := v.self, v.n.system.Root
	v.timerDue = due
	v.timerOff = v.n.after(due.Sub(v.n.now()), func() { root.Send(self, wakeRetries{}) })
}

// wake queues the calls that are due and arms the timer for the next.
func (v *vendorActor) wake() {
	v.timerOff = nil
	now := v.n.now()
	for len(v.waiting) > 0 && !v.waiting[0].due.After(now) {
		v.queue = append(v.queue, v.waiting.pop())
	}
	v.pump()
	v.arm()
}

// retryHeap orders waiting calls by their next attempt (a binary heap).
type retryHeap []*call

func (h *retryHeap) push(c *call) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].due.Before(s[p].due) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// pop removes and returns the earliest call.
func (h *retryHeap) pop() *call {
	s := *h
	c := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = nil
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].due.Before(s[m].due) {
			m = l
		}
		if r < len(s) && s[r].due.Before(s[m].due) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return c
}

// backoff is exponential with ±20 % jitter.
func backoff(attempts int32) time.Duration {
	d := retryBase << min(attempts, 20)
	d = min(d, retryCap)
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}
