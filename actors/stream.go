package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// What a user's inbox and a group's stream share: the window of seqs they
// keep, and the commit of a sent message that answers its senders.

// trimRun is how many messages past offline_max_per_stream a full inbox (or
// group stream) gathers before they are deleted in one range. Deleting one
// per append lays a range tombstone per message, which every memtable flush
// must fragment. Reads start at the
// newest offline_max_per_stream, so the extra messages are never delivered.
const trimRun = 64

// streamWindow is the seqs of one stored stream.
type streamWindow struct {
	last  uint64 // highest seq assigned
	first uint64 // lowest seq kept (offline_max_per_stream)
	// storedFirst is the lowest seq still in Pebble: messages below first
	// are deleted in runs of trimRun, never read.
	storedFirst uint64
}

// newStreamWindow is the window of a stream stored from first to last (first
// 0: nothing stored) that keeps the newest keep messages.
func newStreamWindow(first, last uint64, keep int) streamWindow {
	if first == 0 {
		first = last + 1
	}
	w := streamWindow{last: last, first: first, storedFirst: first}
	if k := uint64(keep); last >= k {
		w.first = max(first, last-k+1)
	}
	return w
}

// next assigns the next seq, keeping the newest keep messages. dropped is how
// many messages it moved out of the window; dropBefore, when not 0, is the
// seq below which the stored messages are to be deleted now (a run of
// trimRun has gathered).
func (w *streamWindow) next(keep int) (seq uint64, dropped int, dropBefore uint64) {
	w.last++
	if k := uint64(keep); w.last >= k && w.last-k+1 > w.first {
		newFirst := w.last - k + 1
		dropped = int(newFirst - w.first)
		w.first = newFirst
		if newFirst-w.storedFirst >= trimRun {
			w.storedFirst, dropBefore = newFirst, newFirst
		}
	}
	return w.last, dropped, dropBefore
}

// sendCommit reports the async commit of a message back to the stream's
// actor (user or group) that started it.
type sendCommit struct {
	err     error
	msg     *wire.Message
	senders []*actor.PID
	idemKey string // set: the senders are the dedupe's waiters for this key
	dropped int    // messages the append moved out of the stream's window
}

func (c *sendCommit) setErr(err error) { c.err = err }

// waitFor names who the commit answers: the dedupe's waiters under idemKey,
// or without one (no client_msg_id) sender alone.
func (c *sendCommit) waitFor(idemKey string, sender *actor.PID) {
	if idemKey != "" {
		c.idemKey = idemKey
	} else {
		c.senders = []*actor.PID{sender}
	}
}

// answer replies to everyone waiting for the commit: the message's place in
// its stream, or the commit's error.
func (c *sendCommit) answer(d *sendDedupe, reply func(*actor.PID, *wire.SendReply)) {
	senders := c.senders
	if c.idemKey != "" {
		senders = d.done(c.idemKey)
	}
	m := c.msg
	for _, s := range senders {
		if c.err != nil {
			reply(s, &wire.SendReply{Error: storageError(c.err, "message not stored: %v", c.err)})
		} else {
			reply(s, &wire.SendReply{MessageId: m.MessageId, Seq: m.Seq, TimestampMs: m.TimestampMs})
		}
	}
}

// commitAsync hands b to the group committer, durably; c comes back to self
// with the commit's error once it is done.
func (n *Node) commitAsync(self *actor.PID, b *storage.Batch, c interface{ setErr(error) }) {
	root := n.system.Root
	n.o.Store.CommitAsync(b, true, func(err error) {
		c.setErr(err)
		root.Send(self, c)
	})
}
