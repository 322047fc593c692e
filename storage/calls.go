package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/pushd-im/pushd/wire"
)

// PutCall stores a call invitation's state.
func (b *Batch) PutCall(r *wire.CallRecord) {
	b.grows = true
	b.setProto(callKey(r.App, r.CallId), r)
}

// SetRinging marks the call ringing for the user until untilMs.
func (b *Batch) SetRinging(app, user, callID string, untilMs int64) {
	_ = b.b.Set(ringingKey(app, user, callID), binary.AppendUvarint(nil, uint64(untilMs)), nil)
}

// DeleteRinging stops the call ringing for the user.
func (b *Batch) DeleteRinging(app, user, callID string) {
	_ = b.b.Delete(ringingKey(app, user, callID), nil)
}

// Call returns a call's state.
func (s *Store) Call(app, callID string) (*wire.CallRecord, bool, error) {
	k := callKey(app, callID)
	v, ok, err := s.get(k)
	if err != nil || !ok {
		return nil, false, err
	}
	r := &wire.CallRecord{}
	return r, true, decode(k, v, r)
}

// Calls calls fn for every stored call.
func (s *Store) Calls(fn func(*wire.CallRecord) bool) error {
	return scanFamily(s, callFamily, fn)
}

// CallsIn calls fn for every call record in one shard.
func (s *Store) CallsIn(shard uint64, fn func(*wire.CallRecord) bool) error {
	_, err := scanShardFamily(s, shard, callFamily, fn)
	return err
}

// Ringing returns the calls ringing for the user, with when each stops.
func (s *Store) Ringing(app, user string) (map[string]int64, error) {
	p := append(userPrefix(app, user), "r/"...)
	out := map[string]int64{}
	err := s.scan(p, prefixEnd(p), func(k, v []byte) (bool, error) {
		until, n := binary.Uvarint(v)
		if n <= 0 {
			return false, fmt.Errorf("%w: ringing %q", ErrCorrupt, k)
		}
		out[string(k[len(p):])] = int64(until)
		return true, nil
	})
	return out, err
}

// PutCallEvent stores a call event that must still reach its receiver's inbox,
// with the call state that made it (the same batch), under id, which orders
// a call's events.
func (b *Batch) PutCallEvent(app, callID string, id uint64, e *wire.CallEvent) {
	b.grows = true
	b.setProto(callEventKey(app, callID, id), e)
}

// DeleteCallEvent forgets a call event its receiver stored.
func (b *Batch) DeleteCallEvent(app, callID string, id uint64) {
	_ = b.b.Delete(callEventKey(app, callID, id), nil)
}

// CallEvents calls fn, in id order, for each of the call's events not yet delivered.
func (s *Store) CallEvents(app, callID string, fn func(id uint64, e *wire.CallEvent) bool) error {
	p := callEventPrefix(app, callID)
	return scanProto(s, p, prefixEnd(p), func(k []byte, e *wire.CallEvent) bool {
		return fn(binary.BigEndian.Uint64(k[len(k)-8:]), e)
	})
}

// CallEventsIn calls fn for every undelivered call event of the calls in one shard.
func (s *Store) CallEventsIn(shard uint64, fn func(*wire.CallEvent) bool) error {
	_, err := scanShardFamily(s, shard, callEventFamily, fn)
	return err
}

// SetLiveCall indexes a ringing call by its deadline.
func (b *Batch) SetLiveCall(app, callID string, timeoutAtMs int64) {
	_ = b.b.Set(liveCallKey(app, callID, timeoutAtMs), nil, nil)
}

// DeleteLiveCall drops a call that stopped ringing from the index.
func (b *Batch) DeleteLiveCall(app, callID string, timeoutAtMs int64) {
	_ = b.b.Delete(liveCallKey(app, callID, timeoutAtMs), nil)
}

// LiveCallsIn calls fn, earliest deadline first, for every call of one shard still ringing.
func (s *Store) LiveCallsIn(shard uint64, fn func(app, callID string, timeoutAtMs int64) bool) error {
	p := familyPrefix(shard, liveCallFamily)
	return s.scan(p, prefixEnd(p), func(k, _ []byte) (bool, error) {
		rest := k[len(p):]
		if len(rest) < 8 {
			return false, fmt.Errorf("%w: live call %q", ErrCorrupt, k)
		}
		app, id, ok := cutSlash(string(rest[8:]))
		if !ok {
			return false, fmt.Errorf("%w: live call %q", ErrCorrupt, k)
		}
		return fn(app, id, int64(binary.BigEndian.Uint64(rest[:8]))), nil
	})
}

// IndexLiveCalls builds the index of ringing calls of a shard that a version
// without it wrote: the first time only (a mark in the shard says it is
// done), it reads the shard's calls and indexes those not ended.
func (s *Store) IndexLiveCalls(shard uint64) error {
	mark := liveCallsIndexedKey(shard)
	if _, ok, err := s.get(mark); err != nil || ok {
		return err
	}
	b := s.NewBatch()
	_, err := scanShardFamily(s, shard, callFamily, func(r *wire.CallRecord) bool {
		if !r.Ended {
			b.SetLiveCall(r.App, r.CallId, r.TimeoutAtMs)
		}
		return true
	})
	if err != nil {
		b.b.Close()
		return err
	}
	_ = b.b.Set(mark, nil, nil)
	// Unsynced: lost in a crash, it is only done again.
	return s.Commit(b, false)
}
