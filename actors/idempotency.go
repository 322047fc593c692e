package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/wire"
)

// sendDedupe makes sends idempotent for one stream's actor (user or group):
// the same client_msg_id from the same sender within the window gets the first
// answer, and a retry that arrives while the first is still being committed
// waits for that commit instead of storing the message twice.
type sendDedupe struct {
	inflight map[string][]*actor.PID // key → senders waiting for the same commit
}

// lookupFunc reads a stored first answer: record, created (unix ms), found.
type lookupFunc func(from, clientMsgID string) (*wire.IdempotencyRecord, int64, bool, error)

// begin checks a send. It returns the dedupe key ("" without client_msg_id)
// and whether the send is already answered (or waits for an earlier one);
// then the caller stores nothing.
func (d *sendDedupe) begin(n *Node, m *wire.Message, sender *actor.PID, now time.Time, lookup lookupFunc, reply func(*actor.PID, *wire.SendReply)) (string, bool) {
	if m.ClientMsgId == "" {
		return "", false
	}
	key := m.From + "/" + m.ClientMsgId
	if waiting, ok := d.inflight[key]; ok {
		d.inflight[key] = append(waiting, sender)
		return key, true
	}
	rec, created, ok, err := lookup(m.From, m.ClientMsgId)
	if err != nil {
		reply(sender, &wire.SendReply{Error: errReply(wire.CodeStorageFailed, "idempotency lookup: %v", err)})
		return key, true
	}
	if ok && now.UnixMilli()-created < n.o.IdempotencyWin.Milliseconds() {
		n.o.Metrics.IdempotentReplays.Inc()
		reply(sender, &wire.SendReply{MessageId: rec.MessageId, Seq: rec.Seq, TimestampMs: rec.TimestampMs})
		return key, true
	}
	if d.inflight == nil {
		d.inflight = map[string][]*actor.PID{}
	}
	d.inflight[key] = []*actor.PID{sender}
	return key, false
}

// done returns the senders that wait for key's commit and forgets them.
func (d *sendDedupe) done(key string) []*actor.PID {
	s := d.inflight[key]
	delete(d.inflight, key)
	return s
}

// record is the first answer to remember for m.
func record(m *wire.Message) *wire.IdempotencyRecord {
	return &wire.IdempotencyRecord{MessageId: m.MessageId, Seq: m.Seq, TimestampMs: m.TimestampMs}
}
