package actors

import (
	"strconv"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
)

// Message classes for the vendors' daily quotas: IM pushes go through the
// vendors' unlimited IM/private channels; public ones count against the quota.
const (
	classIM     = "im"
	classPublic = "public"
)

// takeQuota counts the call's public pushes against the daily quota; what does
// not fit is held until the vendor's next day. It reports whether anything is left to send.
//
// The quota is the app's, however many nodes send. Each shard counts the pushes
// sent from its outbox, in the shard, so the counts move with the shards; a
// node may use the share of the quota that its led shards are of all (as with
// QPS, see SetVendorShare), counting every shard it leads. A lone node leads all.
func (v *vendorActor) takeQuota(c *call) bool {
	if v.quota <= 0 || c.class != classPublic {
		return true
	}
	v.rollDay()
	allowed := int64(float64(v.quota) * v.n.vendorShare())
	room := allowed - v.usedHere()
	if room <= 0 {
		v.hold(c.class, c.jobs, "daily quota of "+strconv.FormatInt(v.quota, 10)+" used up", v.nextDay())
		return false
	}
	if int64(len(c.jobs)) > room {
		v.hold(c.class, c.jobs[room:], "daily quota of "+strconv.FormatInt(v.quota, 10)+" used up", v.nextDay())
		c.jobs = c.jobs[:room]
	}
	touched := map[uint64]bool{}
	for _, j := range c.jobs {
		shard := jobShard(j.PushJob)
		v.used[shard]++
		touched[shard] = true
	}
	b := v.n.o.Store.NewBatch()
	for shard := range touched {
		b.SetQuotaUsed(shard, v.app.ID, string(v.provider), v.day, v.used[shard])
	}
	v.n.o.Store.CommitAsync(b, false, nil)
	return true
}

// usedHere is the day's count of the shards this node leads. A shard's count
// is read from the store when the node has taken it since it last read it:
// another writer may have counted meanwhile.
func (v *vendorActor) usedHere() int64 {
	var sum int64
	for shard := uint64(1); shard <= storage.NumShards; shard++ {
		gen, owned := v.n.shardTaken(shard)
		if !owned {
			continue
		}
		if v.usedGen[shard] != gen {
			n, err := v.n.o.Store.QuotaUsed(shard, v.app.ID, string(v.provider), v.day)
			if err != nil {
				v.n.log.Error("vendor: read quota count", "app", v.app.ID, "provider", v.provider, "shard", shard, "err", err)
			}
			v.used[shard], v.usedGen[shard] = n, gen
		}
		sum += v.used[shard]
	}
	return sum
}

// rollDay starts a new quota count when the vendor's day has changed.
func (v *vendorActor) rollDay() {
	day := vendorDay(v.zone(), v.n.now())
	if day == v.day {
		return
	}
	v.day = day
	clear(v.used)
	clear(v.usedGen) // every shard's count of the new day is read again
}

func (v *vendorActor) nextDay() time.Time {
	return v.n.now().Add(untilNextVendorDay(v.zone(), v.n.now()))
}

// hold parks pushes of a class until the vendor's next day in the outbox (as
// jobs of their own), not in memory: the pager reads them back when the day
// turns, and a restart holds them again. The jobs leave the window.
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
		v.forget(jobs[i])
		if jobs[i].chunk != nil {
			v.own(&jobs[i])
			v.syncWrites = true
		}
	}
	v.heldCount[class] += len(jobs)
	v.n.o.Metrics.PushesHeld.WithLabelValues(v.app.ID, string(v.provider)).Add(float64(len(jobs)))
	res := push.Result{Verdict: push.QuotaExhausted, Reason: why + "; held until " + until.Format(time.RFC3339)}
	for _, j := range jobs {
		v.report(j.PushJob, res)
	}
}

// resume lets a held class go again once its day turned: the pager reads its
// pushes from the outbox as the window has room.
func (v *vendorActor) resume(class string) {
	if until := v.heldUntil[class]; v.n.now().Before(until) {
		self, root := v.self, v.n.system.Root
		v.n.after(until.Sub(v.n.now()), func() { root.Send(self, resumeClass{class}) })
		return
	}
	held := v.heldCount[class]
	delete(v.heldCount, class)
	delete(v.heldUntil, class)
	v.n.o.Metrics.PushesHeld.WithLabelValues(v.app.ID, string(v.provider)).Sub(float64(held))
	v.n.log.Info("vendor day turned: sending held pushes", "app", v.app.ID, "provider", v.provider, "class", class, "pushes", held)
	v.pager.markAll()
}

// zone is where the vendor's quota day starts (push.Vendor.QuotaZone), UTC
// when its descriptor names none.
func (v *vendorActor) zone() *time.Location {
	if z := v.app.Vendors[v.provider].QuotaZone; z != nil {
		return z
	}
	return time.UTC
}

// vendorDay is the vendor's calendar day at t, in its quota zone.
func vendorDay(zone *time.Location, t time.Time) string {
	return t.In(zone).Format(time.DateOnly)
}

// untilNextVendorDay is how long until the vendor's quota day starts again.
func untilNextVendorDay(zone *time.Location, now time.Time) time.Duration {
	t := now.In(zone)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
	return next.Sub(now)
}

// classOf is the quota class of a push: IM when it goes through the vendor's
// IM channel (category IM or VOIP, or the vendor's own rule given the app's
// defaults d), public otherwise.
func classOf(v push.Vendor, n *push.Notification, d push.Profile) string {
	if push.IMCategory(n) || v.IM != nil && v.IM(n, d) {
		return classIM
	}
	return classPublic
}
