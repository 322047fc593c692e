package actors

import (
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// A vendor actor keeps at most Options.VendorWindow jobs in memory. Jobs
// handed to it past that, or while older ones of their shard wait in the
// outbox, stay in the outbox only, where they are already durable (a
// fan-out chunk's push gets a record of its own first). The pager reads them
// back, oldest first and shard by shard, as the window drains; so a long
// vendor outage, a daily quota or a restart with a large outbox costs disk,
// not memory.

// pager reads back the actor's jobs that are in the outbox only. It keeps,
// per shard, whether the shard's outbox may hold such jobs, and reads only
// those shards: taking over one shard (at start every shard is taken over,
// one after the other) reads that shard, not all of them again.
type pager struct {
	todo  [storage.NumShards + 1]bool // shards whose outbox may hold jobs memory does not
	left  int                         // how many shards are in todo
	shard uint64                      // the shard being read (0 when none), and the last id read in it
	after uint64
	again bool // the shard being read was marked again while it was read
}

// mark notes that shard's outbox may hold jobs of the actor's that memory
// does not.
func (p *pager) mark(shard uint64) {
	if shard == p.shard && p.after > 0 {
		// The job may sit behind where the read is: read the shard again.
		p.again = true
	}
	if !p.todo[shard] {
		p.todo[shard] = true
		p.left++
	}
}

// markAll marks every shard (held pushes of a class that resumed can be in any).
func (p *pager) markAll() {
	for shard := uint64(1); shard <= storage.NumShards; shard++ {
		p.mark(shard)
	}
}

// waiting reports whether jobs of j's shard may wait in the outbox: j goes
// behind them. Nothing waits most of the time, and then j's shard (a hash
// of its user) is not worked out: every push handed over asks.
func (p *pager) waiting(j *wire.PushJob) bool { return p.left > 0 && p.todo[jobShard(j)] }

// next leaves the shard being read as done and moves to the next marked one
// (after it, wrapping round); false when none is left.
func (p *pager) next() bool {
	if p.shard != 0 && p.todo[p.shard] {
		p.todo[p.shard] = false
		p.left--
	}
	p.after, p.again = 0, false
	if p.left == 0 {
		p.shard = 0
		return false
	}
	for s := p.shard%storage.NumShards + 1; ; s = s%storage.NumShards + 1 {
		if p.todo[s] { // left > 0: one is
			p.shard = s
			return true
		}
	}
}

// outboxPending tells a vendor actor that a shard's outbox (0: every
// shard's, a lone node's start) was taken over and may hold its jobs.
type outboxPending struct{ shard uint64 }

// pageMore asks the actor to go on paging after other messages.
type pageMore struct{}

// pageLook bounds the outbox records one message reads, in windows: a
// shard full of other vendors' jobs must not hold the actor up for long.
const pageLook = 4

// settle ends the handling of a message: commit its writes, read jobs from
// the outbox if the window has room, and show the window's size.
func (v *vendorActor) settle() {
	v.flushWrites()
	v.page()
	v.flushWrites()
	if v.gauge != nil {
		v.gauge.Set(float64(v.mem))
	}
}

// spill leaves a job in the outbox only.
func (v *vendorActor) spill(j job) {
	if j.chunk != nil {
		v.own(&j)
		v.syncWrites = true
	}
	v.pager.mark(jobShard(j.PushJob))
}

// jobShard is the shard whose outbox holds j's record.
func jobShard(j *wire.PushJob) uint64 { return storage.ShardOf(UserKey(j.App, j.User)) }

// forget takes a job out of the window.
func (v *vendorActor) forget(j job) {
	v.mem--
	if j.chunk == nil {
		delete(v.ids, j.Id)
	}
}

// page reads jobs from the outbox into the window once half of it is free
// (fewer, larger reads).
func (v *vendorActor) page() {
	p := &v.pager
	room := v.window - v.mem
	if p.left == 0 || v.stopping || room < max(1, v.window/2) {
		return
	}
	if p.shard == 0 && !p.next() {
		return
	}
	now := v.at()
	looked := 0
	for room > 0 {
		if !v.n.OwnsShard(p.shard) {
			// Another node's now: it tells the actor again if it comes back.
			if !p.next() {
				return
			}
			continue
		}
		stopped := false
		err := v.n.o.Store.PushesAfter(p.shard, p.after, func(j *wire.PushJob) bool {
			looked++
			p.after = j.Id
			if v.take(p.shard, j, now) {
				room--
			}
			if room == 0 || looked >= pageLook*v.window {
				stopped = true
				return false
			}
			return true
		})
		if err != nil {
			v.n.log.Error("vendor: read the outbox", "app", v.app.ID, "provider", v.provider, "shard", p.shard, "err", err)
			self, root := v.self, v.n.system.Root
			v.n.after(time.Second, func() { root.Send(self, pageMore{}) })
			return
		}
		if stopped {
			if room > 0 {
				v.more()
			}
			return
		}
		if p.again {
			// Jobs were left in the shard behind the read: read it again,
			// in a later message.
			p.after, p.again = 0, false
			v.more()
			return
		}
		if !p.next() {
			return
		}
	}
}

// more asks for the next page after the messages waiting.
func (v *vendorActor) more() { v.n.system.Root.Send(v.self, pageMore{}) }

// take admits an outbox job of shard if it is this actor's and not in
// memory, and reports whether it did. A push past its expiry is dropped
// here; one of a class held for the day stays in the outbox.
func (v *vendorActor) take(shard uint64, j *wire.PushJob, now time.Time) bool {
	if j.App != v.app.ID || providerOf(j) != v.provider {
		return false
	}
	if _, ok := v.ids[j.Id]; ok {
		return false
	}
	if _, ok := v.gone[j.Id]; ok {
		return false // answered; its delete is on its way
	}
	if j.Conditional && j.NotBeforeMs > now.UnixMilli() && j.Id > v.n.fence[shard].Load() {
		return false // its user actor holds it for the device's ack, and hands it over when due
	}
	if j.ExpiresAtMs != 0 && now.UnixMilli() >= j.ExpiresAtMs {
		v.n.o.Metrics.PushesExpired.Inc()
		v.deletePush(j)
		v.report(j, push.Result{Verdict: "expired", Reason: "its expiry passed before it could be sent"})
		return false
	}
	if len(v.heldUntil) > 0 {
		note := notification(v.app, j)
		if until, ok := v.heldUntil[classOf(v.app.Vendors[v.provider], note, v.app.Defaults[v.provider])]; ok && now.Before(until) {
			return false // read again when the class resumes
		}
	}
	v.admit(job{PushJob: j})
	v.paged[shard] = max(v.paged[shard], j.Id)
	return true
}

// pagedFirst reports whether a job handed to the actor was read from the
// outbox by the pager first: it is in memory, or was answered since (its
// delete on its way, or committed). The hand-over of a job its user actor
// has just written can come after the pager found the record, and after the
// push was answered: it must not be sent again. Only a job at or below the
// highest id the pager read in its shard can have been read; for those, the
// outbox says whether it is still to send.
func (v *vendorActor) pagedFirst(j *wire.PushJob) bool {
	if _, ok := v.ids[j.Id]; ok {
		return true
	}
	if _, ok := v.gone[j.Id]; ok {
		return true
	}
	if j.Id > v.paged[jobShard(j)] {
		return false
	}
	_, ok, err := v.n.o.Store.Push(j.App, j.User, j.Id)
	return err == nil && !ok
}
