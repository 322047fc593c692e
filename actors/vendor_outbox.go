package actors

import (
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// batch is the write batch of the message being handled.
func (v *vendorActor) batch() *storage.Batch {
	if v.writes == nil {
		v.writes = v.n.o.Store.NewBatch()
	}
	return v.writes
}

// flushWrites commits what handling one message wrote. Without fsync: a delete
// lost in a crash only means one more push with the same collapse id, a lost
// verdict an older one shown.
func (v *vendorActor) flushWrites() {
	v.flushTrace()
	if v.writes != nil {
		gone := v.goneNow
		v.goneNow = nil
		switch {
		case v.syncWrites:
			// A job that left memory for its own outbox record: the pager
			// must find the record when it next looks.
			if err := v.n.o.Store.Commit(v.writes, false); err != nil {
				v.n.log.Error("vendor: write pushes to the outbox", "app", v.app.ID, "provider", v.provider, "err", err)
			}
			for _, id := range gone {
				delete(v.gone, id)
			}
		case len(gone) > 0:
			self, root := v.self, v.n.system.Root
			v.n.o.Store.CommitAsync(v.writes, false, func(error) { root.Send(self, deletesCommitted{gone}) })
		default:
			v.n.o.Store.CommitAsync(v.writes, false, nil)
		}
		v.writes = nil
	}
	v.syncWrites = false
	if len(v.release) > 0 {
		v.n.releaseChunks(v.release)
		clear(v.release)
		v.release = v.release[:0]
	}
}

// done removes the job, which was in memory, from memory and the outbox: its
// own record, or its share of its chunk.
func (v *vendorActor) done(j job) {
	v.forget(j)
	if j.chunk == nil {
		v.deletePush(j.PushJob)
		return
	}
	v.release = append(v.release, j.chunk)
}

// deletesCommitted tells a vendor actor that the deletes of these outbox
// ids are committed: a read of the outbox no longer finds them.
type deletesCommitted struct{ ids []uint64 }

// deletePush deletes an outbox job, and keeps the pager from reading it back
// until the delete is committed.
func (v *vendorActor) deletePush(j *wire.PushJob) {
	v.batch().DeletePush(j)
	v.gone[j.Id] = struct{}{}
	v.goneNow = append(v.goneNow, j.Id)
}

// own gives a job that must wait (a retry, a held push) an outbox record of
// its own, so that its chunk can go when the chunk's other pushes are done.
func (v *vendorActor) own(j *job) {
	if j.chunk == nil {
		return
	}
	j.Id = v.n.o.Store.NewPushID()
	v.batch().PutPush(j.PushJob)
	v.release = append(v.release, j.chunk)
	j.chunk = nil
}

// maxReported bounds the memory of reported verdicts; past it, it starts over.
const maxReported = 200_000

// report records the binding's verdict when it changed: the same verdict
// again (every delivered push of a busy binding) writes nothing.
func (v *vendorActor) report(j *wire.PushJob, res push.Result) {
	if res.Verdict != push.Delivered && res.Verdict != push.QuotaExhausted {
		v.n.log.Info("push verdict", "app", j.App, "provider", j.Provider, "push_id", j.PushId,
			"verdict", res.Verdict, "status", res.Status, "reason", res.Reason, "attempt", j.Attempts)
	}
	v.traceJob(j, res)
	if res.Verdict == push.Delivered && v.reported[j.PushId] == push.Delivered {
		return
	}
	if len(v.reported) >= maxReported {
		clear(v.reported)
	}
	v.reported[j.PushId] = res.Verdict
	if rawJob(j) {
		return // no binding to show the verdict on (POST /api/push); the log and metrics have it
	}
	v.batch().PutVerdict(j.App, j.User, j.PushId, &wire.VerdictRecord{Verdict: string(res.Verdict), Reason: res.Reason, AtMs: v.at().UnixMilli()})
}

// at is the time of the message being handled, read once for all of its
// pushes: a batch answer reports up to 1,000, and a clock read for each
// showed in a batched fan-out's profile.
func (v *vendorActor) at() time.Time {
	if v.handledAt.IsZero() {
		v.handledAt = v.n.now()
	}
	return v.handledAt
}
