package actors

import (
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// A vendor actor keeps at most Options.VendorWindow jobs in memory. Jobs
// handed to it past that, or while older ones wait in the outbox, stay in
// the outbox only, where they are already durable (a fan-out chunk's push
// gets a record of its own first). The pager reads them back, oldest first
// and shard by shard, as the window drains; so a long vendor outage, a
// daily quota or a restart with a large outbox costs disk, not memory.

// pager walks the outbox for the actor's jobs that are not in memory.
type pager struct {
	active bool   // some of the actor's jobs are in the outbox only
	dirty  bool   // a job went to the outbox only since the walk began
	shard  uint64 // where the walk is: the shard, and the last id read in it
	after  uint64
}

// mark notes that the outbox holds jobs of the actor's that memory does not.
func (p *pager) mark() {
	if !p.active {
		// A new walk starts after the job was written, so it will find it.
		p.active, p.dirty, p.shard, p.after = true, false, 1, 0
		return
	}
	p.dirty = true // it may be behind the walk: walk again
}

// outboxPending tells a vendor actor that a shard's outbox was taken over
// (at start, or from another node) and may hold its jobs.
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
	v.pager.mark()
}

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
	if !p.active || v.stopping || room < max(1, v.window/2) {
		return
	}
	now := v.at()
	looked := 0
	for room > 0 {
		if p.shard > storage.NumShards {
			if !p.dirty {
				p.active = false
				return
			}
			// Jobs were left in the outbox behind the walk: walk again, in
			// a later message.
			p.shard, p.after, p.dirty = 1, 0, false
			v.more()
			return
		}
		if !v.n.OwnsShard(p.shard) {
			p.shard, p.after = p.shard+1, 0
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
		p.shard, p.after = p.shard+1, 0
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
	if j.Id > v.paged[storage.ShardOf(UserKey(j.App, j.User))] {
		return false
	}
	_, ok, err := v.n.o.Store.Push(j.App, j.User, j.Id)
	return err == nil && !ok
}
