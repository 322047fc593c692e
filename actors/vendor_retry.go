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
			v.n.o.Metrics.PushesExpired.Inc()
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

// backoff is exponential with ±20 % jitter.
func backoff(attempts int32) time.Duration {
	d := retryBase << min(attempts, 20)
	d = min(d, retryCap)
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}
