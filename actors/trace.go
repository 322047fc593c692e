package actors

import (
	"errors"
	"strconv"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// A message's trace (GET /v1/messages/{id}/trace) is recorded by the actors that make its
// commits, in those commits' batches: the user actor's decision with the stored message (frames
// sent, push jobs written, skips), the ack that cancels a waiting push, the fan-out's chunks, and
// the vendor actor's answers with its outbox deletes. Each event takes its time from the actor
// before the batch is proposed, so the state machine applies bytes only.

// traceDecision records what the user actor decided for message m: a frame to each connected
// device (but except), a push job per binding pushed, or why nothing was pushed.
func (u *userActor) traceDecision(b *storage.Batch, m *wire.Message, now time.Time, jobs []*wire.PushJob, except string) {
	if u.n.o.NoTrace {
		return
	}
	at := now.UnixMilli()
	evs := make([]storage.TraceEvent, 0, len(u.sessions)+len(jobs)+1)
	for dev := range u.sessions {
		if dev != except {
			evs = append(evs, storage.TraceEvent{Kind: storage.TraceFrameSent, AtMs: at, User: u.user, Device: dev})
		}
	}
	skip := func(why string) {
		evs = append(evs, storage.TraceEvent{Kind: storage.TraceSkipped, AtMs: at, User: u.user, Detail: why})
	}
	switch {
	case m.PushConfig == nil:
		skip(storage.SkipNoPushConfig)
	case m.From == u.user:
		skip(storage.SkipSender)
	case len(jobs) == 0:
		skip(storage.SkipNoBinding)
	}
	for _, j := range jobs {
		evs = append(evs, storage.TraceEvent{Kind: storage.TracePushJob, AtMs: at, User: u.user, Device: j.DeviceId,
			PushID: j.PushId, Provider: j.Provider, UntilMs: j.NotBeforeMs})
	}
	b.PutTrace(storage.ShardOf(u.key), u.app, m.MessageId, at, "d/"+u.user, evs)
}

// traceAck records, in the ack's batch, that a device's ack made its waiting push unnecessary.
func (u *userActor) traceAck(b *storage.Batch, device string, j *wire.PushJob, now time.Time) {
	if u.n.o.NoTrace {
		return
	}
	at := now.UnixMilli()
	b.PutTrace(storage.ShardOf(u.key), u.app, j.MessageId, at, "a/"+u.user+"/"+device+"/"+j.PushId,
		[]storage.TraceEvent{{Kind: storage.TraceAcked, AtMs: at, User: u.user, Device: device, PushID: j.PushId, Provider: j.Provider}})
}

// traceFanout records, with a stored group message, who sent it and to how many members.
func (g *groupActor) traceFanout(b *storage.Batch, m *wire.Message, now time.Time) {
	if g.n.o.NoTrace {
		return
	}
	at := now.UnixMilli()
	receivers := len(g.members)
	if g.isMember(m.From) {
		receivers--
	}
	b.PutTrace(storage.ShardOf(g.key), g.app, m.MessageId, at, "g/"+g.group, []storage.TraceEvent{
		{Kind: storage.TraceFanout, AtMs: at, User: m.From, Detail: g.group, Count: receivers},
		{Kind: storage.TraceSkipped, AtMs: at, User: m.From, Detail: storage.SkipSender},
	})
}

// traceChunk records the push jobs of one fan-out chunk's members in shard, and the members
// with no binding, in one record.
func traceChunk(b *storage.Batch, shard uint64, m *wire.Message, first string, at int64, pushed []*wire.Binding, unbound []string) {
	evs := make([]storage.TraceEvent, 0, len(pushed)+len(unbound))
	for _, bd := range pushed {
		evs = append(evs, storage.TraceEvent{Kind: storage.TracePushJob, AtMs: at, User: bd.User, Device: bd.DeviceId,
			PushID: bd.PushId, Provider: bd.Provider})
	}
	for _, u := range unbound {
		evs = append(evs, storage.TraceEvent{Kind: storage.TraceSkipped, AtMs: at, User: u, Detail: storage.SkipNoBinding})
	}
	b.PutTrace(shard, m.App, m.MessageId, at, "k/"+first, evs)
}

// vendorTrace collects the trace events of the vendor actor's answers while it handles one
// message, one record per message and shard, written with its outbox deletes (flushWrites).
type vendorTrace map[vendorTraceKey][]storage.TraceEvent

type vendorTraceKey struct {
	shard          uint64
	app, messageID string
}

// traceJob records one event of job j: a vendor verdict, a hold, a retry, a skip.
func (v *vendorActor) traceJob(j *wire.PushJob, res push.Result) {
	if v.n.o.NoTrace || j.MessageId == "" {
		return
	}
	at := v.at().UnixMilli()
	e := storage.TraceEvent{AtMs: at, User: j.User, Device: j.DeviceId, PushID: j.PushId, Provider: j.Provider,
		Verdict: string(res.Verdict), Detail: res.Reason}
	attempt := int(j.Attempts) + 1
	switch res.Verdict {
	case "expired":
		e.Kind, e.Verdict = storage.TraceExpired, ""
	case push.QuotaExhausted:
		e.Kind = storage.TraceHeld
	case push.Retry:
		e.Kind, e.Attempt = storage.TraceVendor, int(j.Attempts) // counted already by retry
		attempt = e.Attempt
	default:
		e.Kind, e.Attempt = storage.TraceVendor, attempt
	}
	v.addTrace(j, attempt, e)
}

// traceSkip records a push the vendor actor dropped without sending: why is stale's answer.
func (v *vendorActor) traceSkip(j *wire.PushJob, why string) {
	if v.n.o.NoTrace || j.MessageId == "" {
		return
	}
	e := storage.TraceEvent{Kind: storage.TraceSkipped, AtMs: v.at().UnixMilli(), User: j.User, Device: j.DeviceId,
		PushID: j.PushId, Provider: j.Provider, Detail: why}
	if why == storage.SkipAckedBefore {
		e.Kind, e.Detail = storage.TraceAcked, ""
	}
	v.addTrace(j, int(j.Attempts)+1, e)
}

func (v *vendorActor) addTrace(j *wire.PushJob, attempt int, e storage.TraceEvent) {
	if v.traces == nil {
		v.traces = vendorTrace{}
	}
	k := vendorTraceKey{jobShard(j), j.App, j.MessageId}
	evs := v.traces[k]
	// A push that waited for an ack went ahead without one: say so before its first answer.
	if j.Conditional && attempt == 1 {
		evs = append(evs, storage.TraceEvent{Kind: storage.TraceNotAcked, AtMs: j.NotBeforeMs, User: j.User,
			Device: j.DeviceId, PushID: j.PushId, Provider: j.Provider})
	}
	v.traces[k] = append(evs, e)
}

// flushTrace puts the collected records into the handling's batch. A record's tag is its last
// event's push id, attempt and kind: unique, since a push is in one call per attempt.
func (v *vendorActor) flushTrace() {
	if len(v.traces) == 0 {
		return
	}
	at := v.at().UnixMilli()
	for k, evs := range v.traces {
		e := evs[len(evs)-1]
		tag := "v/" + e.PushID + "/" + strconv.Itoa(e.Attempt) + "/" + strconv.Itoa(int(e.Kind))
		v.batch().PutTrace(k.shard, k.app, k.messageID, at, tag, evs)
	}
	clear(v.traces)
}

// traceUnconfigured records, in the batch that drops it, a push to a provider the app lacks.
func (n *Node) traceUnconfigured(b *storage.Batch, j *wire.PushJob, now time.Time) {
	if n.o.NoTrace || j.MessageId == "" {
		return
	}
	at := now.UnixMilli()
	b.PutTrace(jobShard(j), j.App, j.MessageId, at, "n/"+j.PushId, []storage.TraceEvent{{
		Kind: storage.TraceSkipped, AtMs: at, User: j.User, Device: j.DeviceId, PushID: j.PushId, Provider: j.Provider,
		Detail: storage.SkipNoProvider}})
}

// Trace is the trace of a message of app as this node's store holds it: on a lone node all of
// it, in a cluster the part in the shards this node has replicas of. A message it holds no
// record of is storage.ErrTraceNotFound.
func (n *Node) Trace(app, messageID string) ([]storage.TraceEvent, error) {
	evs, err := n.o.Store.Trace(app, messageID)
	if err != nil && !errors.Is(err, storage.ErrTraceNotFound) {
		return nil, storeFailed(err, "read the trace of message %s: %v", messageID, err)
	}
	return evs, err
}
