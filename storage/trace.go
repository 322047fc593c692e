package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// A message's trace is what pushd decided for each receiving device and what happened next. Its
// records are written by the writers of the commits they describe, in the same batches (no
// commit of their own), under their shard's "x/" family:
//
//	<s>x/<app>/<message_id>/<at_ms:be64><tag>   a trace record: events
//
// The shard is the one of the batch's owner (the receiving user's for a decision, an ack or a
// job's verdict), so that a cluster replicates them with the writes they describe. The tag makes
// the key unique for its writer (the user and device, or the push id and attempt). A message's
// trace is every record under <s>x/<app>/<message_id>/ in every shard.

const traceFamily = "x/"

// TraceKind names a trace event.
type TraceKind byte

// Trace event kinds. Their numbers are stored: add, never renumber.
const (
	// TraceFrameSent: the device had a long connection; the message went to it as a frame.
	TraceFrameSent TraceKind = 1
	// TracePushJob: a push job was written to the outbox for the binding (UntilMs: the push
	// waits for the device's ack until then).
	TracePushJob TraceKind = 2
	// TraceSkipped: nothing was sent to the device or binding; Detail says why.
	TraceSkipped TraceKind = 3
	// TraceAcked: the device acked the message before its push was due; the push was dropped.
	TraceAcked TraceKind = 4
	// TraceNotAcked: no ack came in time; the push went ahead.
	TraceNotAcked TraceKind = 5
	// TraceVendor: a vendor attempt, with its verdict and reason.
	TraceVendor TraceKind = 6
	// TraceHeld: the push waits for the vendor's next quota day (UntilMs).
	TraceHeld TraceKind = 7
	// TraceExpired: the push's expiry passed before it could be sent; it was dropped.
	TraceExpired TraceKind = 9
	// TraceFanout: a group message was stored and handed to its members (Count receivers;
	// Detail: the group), recorded by the group's writer.
	TraceFanout TraceKind = 10
)

var traceKindNames = map[TraceKind]string{
	TraceFrameSent: "frame_sent", TracePushJob: "push_job", TraceSkipped: "skipped", TraceAcked: "acked",
	TraceNotAcked: "not_acked", TraceVendor: "vendor_attempt", TraceHeld: "quota_held",
	TraceExpired: "expired", TraceFanout: "group_fanout",
}

// String is the kind's name in the API ("push_job", "vendor_attempt", ...).
func (k TraceKind) String() string {
	if s, ok := traceKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind_%d", k)
}

// Skip reasons of TraceSkipped events (Detail).
const (
	SkipNoPushConfig = "no_push_config" // the message asked for no push
	SkipNoBinding    = "no_binding"     // the user has no vendor token to push to
	SkipSender       = "senders_device" // the sender's own devices are not pushed
	SkipUnbound      = "unbound"        // the binding went away before the push was sent
	SkipAckedBefore  = "acked"          // the device acked before the push was sent
	SkipNoProvider   = "provider_not_configured"
)

// TraceEvent is one thing that happened to one device (or binding) for a message.
type TraceEvent struct {
	Kind     TraceKind
	AtMs     int64
	User     string
	Device   string
	PushID   string
	Provider string
	Verdict  string // TraceVendor: the vendor's verdict
	Detail   string // the verdict's reason, or why a push was skipped
	Attempt  int    // TraceVendor: 1 for the first attempt
	Count    int    // TraceFanout: the receivers
	UntilMs  int64  // TracePushJob: the ack deadline
}

// traceVersion starts every encoded record.
const traceVersion = 1

// maxTraceEvents bounds the events one record may claim, so that a corrupt count allocates little.
const maxTraceEvents = 1 << 20

// EncodeTraceEvents is the stored form of a record: events whose times are deltas from the
// record's (most are the same millisecond, one byte each).
func EncodeTraceEvents(atMs int64, events []TraceEvent) []byte {
	b := make([]byte, 0, 16+48*len(events))
	b = append(b, traceVersion)
	b = binary.AppendUvarint(b, uint64(len(events)))
	for i := range events {
		e := &events[i]
		b = append(b, byte(e.Kind))
		b = binary.AppendVarint(b, e.AtMs-atMs)
		for _, s := range [...]string{e.User, e.Device, e.PushID, e.Provider, e.Verdict, e.Detail} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendUvarint(b, uint64(max(e.Attempt, 0)))
		b = binary.AppendUvarint(b, uint64(max(e.Count, 0)))
		b = binary.AppendVarint(b, e.UntilMs)
	}
	return b
}

// errTrace is a trace record that does not decode.
var errTrace = fmt.Errorf("%w: trace record", ErrCorrupt)

// DecodeTraceEvents reads a record written by EncodeTraceEvents for a record at atMs.
func DecodeTraceEvents(atMs int64, b []byte) ([]TraceEvent, error) {
	if len(b) == 0 || b[0] != traceVersion {
		return nil, errTrace
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxTraceEvents || n > uint64(len(b)) {
		return nil, errTrace
	}
	b = b[k:]
	out := make([]TraceEvent, 0, n)
	for range n {
		if len(b) == 0 {
			return nil, errTrace
		}
		e := TraceEvent{Kind: TraceKind(b[0])}
		b = b[1:]
		d, k := binary.Varint(b)
		if k <= 0 {
			return nil, errTrace
		}
		e.AtMs, b = atMs+d, b[k:]
		for _, s := range [...]*string{&e.User, &e.Device, &e.PushID, &e.Provider, &e.Verdict, &e.Detail} {
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return nil, errTrace
			}
			*s, b = string(b[k:k+int(l)]), b[k+int(l):]
		}
		a, k := binary.Uvarint(b)
		if k <= 0 || a > 1<<31-1 {
			return nil, errTrace
		}
		e.Attempt, b = int(a), b[k:]
		c, k := binary.Uvarint(b)
		if k <= 0 || c > 1<<31-1 {
			return nil, errTrace
		}
		e.Count, b = int(c), b[k:]
		u, k := binary.Varint(b)
		if k <= 0 {
			return nil, errTrace
		}
		e.UntilMs, b = u, b[k:]
		out = append(out, e)
	}
	if len(b) != 0 {
		return nil, errTrace
	}
	return out, nil
}

// tracePrefix is "<shard>x/<app>/<message_id>/".
func tracePrefix(shard uint64, app, messageID string) []byte {
	return append(familyPrefix(shard, traceFamily), app+"/"+messageID+"/"...)
}

func traceKey(shard uint64, app, messageID string, atMs int64, tag string) []byte {
	k := binary.BigEndian.AppendUint64(tracePrefix(shard, app, messageID), uint64(max(atMs, 0)))
	return append(k, tag...)
}

// PutTrace records events of a message in shard (the shard of the owner whose writes the batch
// holds), at atMs, under tag (unique among the records its writer makes for the message at
// that time). It does not count as growth: a batch that only deletes (a push answered) must
// still commit on a full disk.
func (b *Batch) PutTrace(shard uint64, app, messageID string, atMs int64, tag string, events []TraceEvent) {
	if len(events) == 0 || messageID == "" {
		return
	}
	_ = b.b.Set(traceKey(shard, app, messageID, atMs, tag), EncodeTraceEvents(atMs, events), nil)
}

// ErrTraceNotFound is returned by Trace for a message with no trace record in this store.
var ErrTraceNotFound = errors.New("storage: no trace of the message")

// Trace reads every trace record of a message that this store holds (all shards), its events
// in time order (ties in the order they were recorded). Identical events (the same record read
// from two replicas) are not this function's concern: a store holds each key once.
func (s *Store) Trace(app, messageID string) ([]TraceEvent, error) {
	var out []TraceEvent
	for shard := uint64(1); shard <= NumShards; shard++ {
		p := tracePrefix(shard, app, messageID)
		err := s.scan(p, prefixEnd(p), func(k, v []byte) (bool, error) {
			rest := k[len(p):]
			if len(rest) < 8 {
				return false, errTrace
			}
			evs, err := DecodeTraceEvents(int64(binary.BigEndian.Uint64(rest)), v)
			if err != nil {
				return false, err
			}
			out = append(out, evs...)
			return true, nil
		})
		if err != nil {
			return nil, fmt.Errorf("storage: trace of %s: %w", messageID, err)
		}
	}
	if len(out) == 0 {
		return nil, ErrTraceNotFound
	}
	SortTrace(out)
	return out, nil
}

// SortTrace puts events in time order, keeping the recorded order of events at the same time.
func SortTrace(evs []TraceEvent) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].AtMs < evs[j].AtMs })
}

// sweepTrace removes the trace records made before beforeMs in shard: a message's trace lives
// as long as the message does (its records are never older than it).
func (s *Store) sweepTrace(shard uint64, beforeMs int64, res *SweepResult) error {
	p := familyPrefix(shard, traceFamily)
	b := s.NewBatch()
	err := s.scan(p, prefixEnd(p), func(k, _ []byte) (bool, error) {
		// "<app>/<message_id>/<at:be64><tag>": the time follows the second '/'.
		rest := k[len(p):]
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			return true, nil
		}
		j := bytes.IndexByte(rest[i+1:], '/')
		if j < 0 || len(rest) < i+1+j+1+8 {
			return true, nil
		}
		at := int64(binary.BigEndian.Uint64(rest[i+1+j+1:]))
		if at >= beforeMs {
			return true, nil
		}
		_ = b.b.Delete(k, nil)
		res.Trace++
		var err error
		b, err = s.flushSweep(b)
		return err == nil, err
	})
	if err != nil || b.Empty() {
		b.b.Close()
		return err
	}
	return s.Commit(b, false)
}
