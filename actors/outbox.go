package actors

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// job is a push on its way to a vendor. Its outbox record is its own (chunk
// nil: the PushJob under its id) or a fan-out chunk's, shared with the
// chunk's other pushes.
type job struct {
	*wire.PushJob
	chunk *chunkRef
}

// chunkRef counts the pushes of an outbox chunk not yet answered for good
// (or written as jobs of their own); the last one deletes the record.
type chunkRef struct {
	shard, id uint64
	left      atomic.Int64
}

// newJob builds the job that pushes m to binding bd of user (without an
// outbox id), made at now.
func (n *Node) newJob(app, user string, bd *wire.Binding, m *wire.Message, now time.Time) *wire.PushJob {
	j := &wire.PushJob{
		App: app, User: user, PushId: bd.PushId, DeviceId: bd.DeviceId,
		Provider: bd.Provider, Token: bd.Token, BundleId: bd.BundleId, ApnsEnv: bd.ApnsEnv, PushType: bd.PushType,
		Stream: m.Stream, Seq: m.Seq, MessageId: m.MessageId, From: m.From, PushConfig: m.PushConfig,
		Priority: m.Priority, CreatedAtMs: now.UnixMilli(), ExpiresAtMs: pushExpiry(m, now, n.o.PushTTL),
		CollapseId: m.MessageId, RegisteredAtMs: bd.RegisteredAtMs,
	}
	if m.CallId != "" {
		j.Data = map[string]string{"call_id": m.CallId, "event": m.Event}
	}
	return j
}

// pushFields is the part of m that newJob reads: what a chunk keeps of its
// message (not the body).
func pushFields(m *wire.Message) *wire.Message {
	return &wire.Message{App: m.App, Stream: m.Stream, Seq: m.Seq, MessageId: m.MessageId, From: m.From,
		PushConfig: m.PushConfig, Priority: m.Priority, TimestampMs: m.TimestampMs, CallId: m.CallId, Event: m.Event}
}

// pushExpiry is when a message's pushes stop being worth sending: a fixed time
// after the message, the same for all of its pushes so that they can share a
// vendor request.
func pushExpiry(m *wire.Message, now time.Time, ttl time.Duration) int64 {
	if m.TimestampMs > 0 {
		return m.TimestampMs + ttl.Milliseconds()
	}
	return now.Add(ttl).UnixMilli()
}

// chunkJobs are the pushes of an outbox chunk of shard, sharing one chunkRef.
func (n *Node) chunkJobs(shard uint64, c *wire.PushChunk) []job {
	ref := &chunkRef{shard: shard, id: c.Id}
	ref.left.Store(int64(len(c.Bindings)))
	made := time.UnixMilli(c.CreatedAtMs)
	jobs := make([]job, len(c.Bindings))
	for i, bd := range c.Bindings {
		jobs[i] = job{PushJob: n.newJob(c.Message.App, bd.User, bd, c.Message, made), chunk: ref}
	}
	return jobs
}

// releaseChunks counts one push of each ref as answered and deletes the
// chunks with none left. Call it after the writes of those answers (a push
// written as its own job) were handed to the store: batches commit in that
// order, so no crash keeps the delete and loses the job.
func (n *Node) releaseChunks(refs []*chunkRef) {
	var b *storage.Batch
	for _, r := range refs {
		if r.left.Add(-1) != 0 {
			continue
		}
		if b == nil {
			b = n.o.Store.NewBatch()
		}
		b.DeletePushChunk(r.shard, r.id)
	}
	if b != nil {
		n.o.Store.CommitAsync(b, false, nil)
	}
}

// dispatchPush hands a job to its vendor actor.
func (n *Node) dispatchPush(j *wire.PushJob, now time.Time) {
	n.dispatchJobs([]job{{PushJob: j}}, now)
}

// dispatchPushes hands jobs made together (one message's pushes) to their
// vendor actors.
func (n *Node) dispatchPushes(jobs []*wire.PushJob, now time.Time) {
	if len(jobs) == 0 {
		return
	}
	js := make([]job, len(jobs))
	for i, j := range jobs {
		js[i] = job{PushJob: j}
	}
	n.dispatchJobs(js, now)
}

// dispatchJobs hands jobs made together to their vendor actors, each actor's
// share in one message: they reach it together and batch, however long
// handing them over takes. A job for a provider the app does not have is
// dropped with a bad_request verdict.
func (n *Node) dispatchJobs(jobs []job, now time.Time) {
	byVendor := map[vendorKey][]job{}
	var order []vendorKey
	var dropped []*chunkRef
	var b *storage.Batch
	for _, j := range jobs {
		k := vendorKey{j.App, providerOf(j.PushJob)}
		if n.vendors[k] == nil {
			n.log.Warn("push dropped: provider not configured", "app", j.App, "provider", j.Provider)
			if b == nil {
				b = n.o.Store.NewBatch()
			}
			if j.chunk == nil {
				b.DeletePush(j.PushJob)
			} else {
				dropped = append(dropped, j.chunk)
			}
			b.PutVerdict(j.App, j.User, j.PushId, &wire.VerdictRecord{Verdict: string(push.BadRequest),
				Reason: "provider " + j.Provider + " is not configured for app " + j.App, AtMs: now.UnixMilli()})
			n.traceUnconfigured(b, j.PushJob, now)
			continue
		}
		if byVendor[k] == nil {
			order = append(order, k)
		}
		byVendor[k] = append(byVendor[k], j)
	}
	if b != nil {
		n.o.Store.CommitAsync(b, false, nil)
		n.releaseChunks(dropped)
	}
	for _, k := range order {
		n.system.Root.Send(n.vendors[k], pushBatch{byVendor[k]})
	}
}

// recoverBatch is how many pushes recovery writes in one batch.
const recoverBatch = 1000

// recoverOutbox resumes the pushes of shard left in the outbox by its last
// writer, without loading them: a fan-out chunk's pushes become jobs of
// their own and jobs for a provider no longer configured are dropped. The
// caller then tells the vendor actors (tellOutbox) to page the jobs in.
func (n *Node) recoverOutbox(shard uint64) error {
	now := n.now()
	b, writes := n.o.Store.NewBatch(), 0
	var werr error
	flush := func(force bool) {
		if b.Empty() || !force && writes < recoverBatch {
			return
		}
		werr = errors.Join(werr, n.o.Store.Commit(b, false))
		b, writes = n.o.Store.NewBatch(), 0
	}
	drop := func(j *wire.PushJob) {
		writes++
		n.log.Warn("push dropped: provider not configured", "app", j.App, "provider", j.Provider)
		b.PutVerdict(j.App, j.User, j.PushId, &wire.VerdictRecord{Verdict: string(push.BadRequest),
			Reason: "provider " + j.Provider + " is not configured for app " + j.App, AtMs: now.UnixMilli()})
	}
	var resolveErr error
	err := n.o.Store.PushChunksIn(shard, func(c *wire.PushChunk) bool {
		n.o.Metrics.OutboxRecovered.Add(float64(len(c.Bindings)))
		if resolveErr = n.resolveChunk(c); resolveErr != nil {
			return false
		}
		for _, j := range n.chunkJobs(shard, c) {
			if n.vendors[vendorKey{j.App, providerOf(j.PushJob)}] == nil {
				drop(j.PushJob)
				continue
			}
			j.Id = n.o.Store.NewPushID()
			b.PutPush(j.PushJob)
			writes++
		}
		b.DeletePushChunk(shard, c.Id)
		flush(false)
		return werr == nil
	})
	if err = errors.Join(err, resolveErr); err != nil {
		return err
	}
	err = n.o.Store.PushesIn(shard, func(j *wire.PushJob) bool {
		n.o.Metrics.OutboxRecovered.Inc()
		if n.vendors[vendorKey{j.App, providerOf(j)}] == nil {
			b.DeletePush(j)
			drop(j)
			flush(false)
		}
		return werr == nil
	})
	flush(true)
	if err = errors.Join(err, werr); err != nil {
		return err
	}
	n.fence[shard].Store(n.o.Store.NewPushID())
	return nil
}

// tellOutbox tells each vendor actor that shard's outbox (0: every shard's)
// was taken over and may hold its jobs: it pages them in as its window has room.
func (n *Node) tellOutbox(shard uint64) {
	for _, pid := range n.vendors {
		n.system.Root.Send(pid, outboxPending{shard})
	}
}

// resolveChunk replaces a recovered chunk's bindings, stored by their keys
// only, with the bindings themselves; a binding gone since (unbound, logged
// out, moved) is a push no longer to make, and leaves the chunk.
func (n *Node) resolveChunk(c *wire.PushChunk) error {
	var users []string
	for _, bd := range c.Bindings {
		if len(users) == 0 || users[len(users)-1] != bd.User {
			users = append(users, bd.User)
		}
	}
	byID := make(map[string]*wire.Binding, len(c.Bindings))
	err := n.o.Store.EachUserBindings(c.Message.GetApp(), users, func(_ string, bs []*wire.Binding) error {
		for _, bd := range bs {
			byID[bd.User+"\x00"+bd.PushId] = bd
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("actors: recover outbox chunk %d: %w", c.Id, err)
	}
	kept := c.Bindings[:0]
	for _, bd := range c.Bindings {
		if full := byID[bd.User+"\x00"+bd.PushId]; full != nil {
			kept = append(kept, full)
		}
	}
	c.Bindings = kept
	return nil
}
