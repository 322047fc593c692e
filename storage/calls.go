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
