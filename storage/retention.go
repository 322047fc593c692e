package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/pushd-im/pushd/wire"
)

// SweepResult counts what one Sweep removed.
type SweepResult struct {
	Messages     int // stream messages older than the retention (users' and groups')
	Idempotency  int // idempotency records older than the window
	FanoutMarks  int // fan-out chunk marks as old as the messages removed
	Trace        int // message trace records as old as the messages removed
	Calls        int // call records of calls that ended (or were due) before the retention
	Ringing      int // users' marks of calls that stopped ringing before the retention
	Cursors      int // device cursors last moved before the retention
	ScannedUsers int // users and groups looked at
}

// Sweep removes every stream message (of users and of groups) with a timestamp
// before messagesBeforeMs and every idempotency record created before
// idempotencyBeforeMs. With the messages go what only served them: calls
// created and ended (or due) before messagesBeforeMs, users' ringing marks
// that ran out before it, and device cursors last moved before it (every
// message at or below such a cursor is older, so removed too: a device seen
// again replays nothing twice). Streams are
// append-only in time order, so it stops reading a stream at its first message
// that is young enough. It runs beside the user actors: it only deletes keys
// that no actor will write again.
func (s *Store) Sweep(messagesBeforeMs, idempotencyBeforeMs int64) (SweepResult, error) {
	var res SweepResult
	// Shard by shard: users' streams and idempotency records, then groups'
	// (same shape under g/). In a cluster each shard is swept by its writer.
	for shard := uint64(1); shard <= NumShards; shard++ {
		if !s.Writes(shard) {
			continue
		}
		for _, f := range []string{"u/", "g/"} {
			if err := s.sweepPrefix(familyPrefix(shard, f), messagesBeforeMs, idempotencyBeforeMs, &res); err != nil {
				return res, err
			}
		}
		if err := s.sweepTrace(shard, messagesBeforeMs, &res); err != nil {
			return res, err
		}
		if err := s.sweepCalls(shard, messagesBeforeMs, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// sweepCalls removes the shard's calls created before beforeMs that ended or
// were due before it (a call still ringing then has long timed out), with
// their entry in the index of ringing calls. Undelivered events stay: they
// go on until their receivers have them.
func (s *Store) sweepCalls(shard uint64, beforeMs int64, res *SweepResult) error {
	b := s.NewBatch()
	p := familyPrefix(shard, callFamily)
	err := scanProto(s, p, prefixEnd(p), func(k []byte, r *wire.CallRecord) bool {
		if r.CreatedAtMs < beforeMs && (r.Ended || r.TimeoutAtMs < beforeMs) {
			_ = b.b.Delete(k, nil)
			b.DeleteLiveCall(r.App, r.CallId, r.TimeoutAtMs)
			res.Calls++
		}
		return true
	})
	if err != nil || b.Empty() {
		b.b.Close()
		return err
	}
	return s.Commit(b, false)
}

func (s *Store) sweepPrefix(lower []byte, messagesBeforeMs, idempotencyBeforeMs int64, res *SweepResult) error {
	upper := prefixEnd(lower)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("storage: iter: %w", err)
	}
	defer it.Close()
	b := s.NewBatch()
	defer func() {
		if b != nil {
			b.b.Close()
		}
	}()
	var lastUser []byte
	for ok := it.First(); ok; {
		k := it.Key()
		up, kind, _, good := splitUserKey(k[shardPrefixLen:])
		if !good {
			ok = it.Next()
			continue
		}
		if !bytes.Equal(up, lastUser) {
			lastUser = append(lastUser[:0], up...)
			res.ScannedUsers++
		}
		switch kind {
		case 's':
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			m := &wire.Message{}
			if err := decode(k, v, m); err != nil {
				return err
			}
			if m.TimestampMs < messagesBeforeMs {
				_ = b.b.Delete(k, nil)
				res.Messages++
				ok = it.Next()
				if b, err = s.flushSweep(b); err != nil {
					return err
				}
				continue
			}
			// The rest of this stream is younger: skip to the next stream. A
			// key that is not <stream prefix, ending in '/'><seq:be64> (a
			// corrupt one) is only stepped over: a prefix cut from it could
			// reach into the owner's (skipping later owners' keys) or be
			// empty (seeking back to the start).
			if n := len(k) - 8; n >= shardPrefixLen+len(up)+2 && k[n-1] == '/' {
				ok = it.SeekGE(prefixEnd(k[:n]))
			} else {
				ok = it.Next()
			}
			continue
		case 'r', 'c':
			// A ringing mark (uvarint: until when), or a cursor (uvarint seq,
			// then uvarint when it last moved; one without is kept).
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			at, n := binary.Uvarint(v)
			if kind == 'c' && n > 0 {
				at, n = binary.Uvarint(v[n:])
			}
			if n > 0 && int64(at) < messagesBeforeMs {
				_ = b.b.Delete(k, nil)
				if kind == 'r' {
					res.Ringing++
				} else {
					res.Cursors++
				}
			}
		case 'i', 'd':
			// An idempotency record, or a group's fan-out chunk mark
			// (kept as long as the messages of its time), each starting
			// with its uvarint creation time.
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			before := idempotencyBeforeMs
			if kind == 'd' {
				before = messagesBeforeMs
			}
			created, n := binary.Uvarint(v)
			if n > 0 && int64(created) < before {
				_ = b.b.Delete(k, nil)
				if kind == 'i' {
					res.Idempotency++
				} else {
					res.FanoutMarks++
				}
			}
		}
		ok = it.Next()
		if b, err = s.flushSweep(b); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("storage: sweep: %w", err)
	}
	if b.Empty() {
		return nil
	}
	err = s.Commit(b, false)
	b = nil // the committer closed it
	return err
}

// flushSweep commits a sweep batch once it holds 4096 deletions and returns
// the batch to go on with.
func (s *Store) flushSweep(b *Batch) (*Batch, error) {
	if b.b.Count() < 4096 {
		return b, nil
	}
	if err := s.Commit(b, false); err != nil {
		return s.NewBatch(), err
	}
	return s.NewBatch(), nil
}

// splitUserKey splits "u/<app>/<user>/<kind>/<rest>" (or a group's "g/…"), a
// key without its shard prefix, into the owner's prefix, the kind byte and rest.
func splitUserKey(k []byte) (userPrefix []byte, kind byte, rest []byte, ok bool) {
	n := 0
	for i := 0; i < len(k); i++ {
		if k[i] != '/' {
			continue
		}
		n++
		if n == 3 {
			if i+2 < len(k) && k[i+2] == '/' {
				return k[:i+1], k[i+1], k[i+3:], true
			}
			return nil, 0, nil, false
		}
	}
	return nil, 0, nil, false
}
