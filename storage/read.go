package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

func (s *Store) get(key []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: get: %w", err)
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

func decode(key, v []byte, m proto.Message) error {
	if err := proto.Unmarshal(v, m); err != nil {
		return fmt.Errorf("%w: key %q: %v", ErrCorrupt, key, err)
	}
	return nil
}

// scan calls fn for each key/value with the prefix, in key order, until fn returns false.
func (s *Store) scan(lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("storage: iter: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("storage: iter value: %w", err)
		}
		more, err := fn(it.Key(), v)
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

// scanProto decodes each value in [lower, upper) into a new message and calls
// fn with its key, in key order, until fn returns false.
func scanProto[M any, P interface {
	*M
	proto.Message
}](s *Store, lower, upper []byte, fn func(k []byte, m P) bool) error {
	return s.scan(lower, upper, func(k, v []byte) (bool, error) {
		m := P(new(M))
		if err := decode(k, v, m); err != nil {
			return false, err
		}
		return fn(k, m), nil
	})
}

// UserBindings returns every binding of the user.
func (s *Store) UserBindings(app, user string) ([]*wire.Binding, error) {
	p := bindingsPrefix(app, user)
	var out []*wire.Binding
	err := scanProto(s, p, prefixEnd(p), func(_ []byte, b *wire.Binding) bool {
		out = append(out, b)
		return true
	})
	return out, err
}

// maxSteps is how many keys EachUserBindings steps over before it seeks.
const maxSteps = 8

// EachUserBindings calls fn with the bindings of each of users (in the order
// given; sorted users read fastest), from the binding cache where it has them
// and with one iterator for the rest: a group fan-out reads thousands of
// members' bindings at once. fn must not modify the bindings or keep the
// slices: they are shared with the cache.
func (s *Store) EachUserBindings(app string, users []string, fn func(user string, bs []*wire.Binding) error) error {
	prefixes := make([][]byte, len(users))
	for i, u := range users {
		prefixes[i] = bindingsPrefix(app, u)
	}
	all := make([][]*wire.Binding, len(users))
	cached := make([]bool, len(users))
	var gen uint64
	if s.bindings != nil {
		gen = s.bindings.lookup(prefixes, all, cached)
	}
	if slices.Contains(cached, false) {
		if err := s.readBindings(prefixes, all, cached); err != nil {
			return err
		}
		if s.bindings != nil {
			s.bindings.fill(gen, prefixes, all, cached)
		}
	}
	for i, u := range users {
		if err := fn(u, all[i]); err != nil {
			return err
		}
	}
	return nil
}

// readBindings reads into all[i] the bindings under prefixes[i] for every i
// not cached, with one iterator, in key order: users spread over the shards, and
// a group's members, sorted by name, are sorted again by shard.
func (s *Store) readBindings(prefixes [][]byte, all [][]*wire.Binding, cached []bool) error {
	order := make([]int, 0, len(prefixes))
	for i := range prefixes {
		if !cached[i] {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(prefixes[a], prefixes[b]) })
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{shardPrefixByte}, UpperBound: []byte{shardPrefixByte + 1}})
	if err != nil {
		return fmt.Errorf("storage: iter: %w", err)
	}
	defer it.Close()
	var last []byte // the previous user's binding prefix
	for _, i := range order {
		p := prefixes[i]
		ok := false
		if last == nil || bytes.Compare(p, last) <= 0 {
			ok = it.SeekGE(p)
		} else {
			// Users in key order: the iterator stands on the first key past the
			// previous user's bindings, at or before this user's, usually a few
			// keys away within its shard. Stepping there is much
			// cheaper than a seek, which searches every level (the memtable's
			// skiplist from the top).
			ok = it.Valid()
			for steps := 0; ok && bytes.Compare(it.Key(), p) < 0; steps++ {
				if steps == maxSteps {
					ok = it.SeekGE(p)
					break
				}
				ok = it.Next()
			}
		}
		last = p
		var bs []*wire.Binding
		for ; ok && bytes.HasPrefix(it.Key(), p); ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("storage: iter value: %w", err)
			}
			b := &wire.Binding{}
			if err := decode(it.Key(), v, b); err != nil {
				return err
			}
			bs = append(bs, b)
		}
		if err := it.Error(); err != nil {
			return fmt.Errorf("storage: iter: %w", err)
		}
		all[i] = bs
	}
	return nil
}

// PushOwner says which app and user the push id index names as the holder
// of the push id, if any. The entry is on the node of the push id's token
// actor, which alone writes it.
func (s *Store) PushOwner(app, pushID string) (owner, user string, ok bool, err error) {
	v, ok, err := s.get(pushIndexKey(app, pushID))
	if err != nil || !ok {
		return "", "", false, err
	}
	app, user, ok = splitOwner(v)
	if !ok {
		return "", "", false, fmt.Errorf("%w: push index %q", ErrCorrupt, pushID)
	}
	return app, user, true, nil
}

// Binding returns the user's binding with the push id.
func (s *Store) Binding(app, user, pushID string) (*wire.Binding, bool, error) {
	k := bindingKey(app, user, pushID)
	v, ok, err := s.get(k)
	if err != nil || !ok {
		return nil, false, err
	}
	b := &wire.Binding{}
	return b, true, decode(k, v, b)
}

// LastSeq returns the highest seq stored in the user's stream (0 when empty).
func (s *Store) LastSeq(app, user, stream string) (uint64, error) {
	return s.edgeSeq(streamPrefix(app, user, stream), true)
}

// FirstSeq returns the lowest seq still stored in the user's stream (0 when empty).
func (s *Store) FirstSeq(app, user, stream string) (uint64, error) {
	return s.edgeSeq(streamPrefix(app, user, stream), false)
}

// edgeSeq returns the last (or first) seq under a prefix of <prefix><seq:be64>
// keys (a stream's, or the outbox's).
func (s *Store) edgeSeq(p []byte, last bool) (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, fmt.Errorf("storage: iter: %w", err)
	}
	defer it.Close()
	var ok bool
	if last {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	if !ok {
		return 0, it.Error()
	}
	return seqOf(it.Key(), len(p))
}

// seqOf reads the be64 seq that follows a prefix of length n in key.
func seqOf(key []byte, n int) (uint64, error) {
	if len(key) != n+8 {
		return 0, fmt.Errorf("%w: key %q is not <prefix><seq>", ErrCorrupt, key)
	}
	return binary.BigEndian.Uint64(key[n:]), nil
}

// ReadStream calls fn for each stored message of the user's stream with
// after < seq <= upto, in seq order, until fn returns false.
func (s *Store) ReadStream(app, user, stream string, after, upto uint64, fn func(*wire.Message) bool) error {
	return s.readStream(streamPrefix(app, user, stream), after, upto, fn)
}

func (s *Store) readStream(p []byte, after, upto uint64, fn func(*wire.Message) bool) error {
	if upto <= after {
		return nil
	}
	lower := binary.BigEndian.AppendUint64(append([]byte(nil), p...), after+1)
	upper := prefixEnd(p)
	if upto != ^uint64(0) {
		upper = binary.BigEndian.AppendUint64(append([]byte(nil), p...), upto+1)
	}
	return scanProto(s, lower, upper, func(_ []byte, m *wire.Message) bool { return fn(m) })
}

// Cursors returns the user's ack cursors: device → stream → seq.
func (s *Store) Cursors(app, user string) (map[string]map[string]uint64, error) {
	p := append(userPrefix(app, user), 'c', '/')
	out := map[string]map[string]uint64{}
	err := s.scan(p, prefixEnd(p), func(k, v []byte) (bool, error) {
		dev, stream, ok := cutSlash(string(k[len(p):]))
		seq, n := binary.Uvarint(v)
		if !ok || n <= 0 {
			return false, fmt.Errorf("%w: cursor %q", ErrCorrupt, k)
		}
		if out[dev] == nil {
			out[dev] = map[string]uint64{}
		}
		out[dev][stream] = seq
		return true, nil
	})
	return out, err
}

// Cursor returns one device's cursor in one stream (0 when none).
func (s *Store) Cursor(app, user, device, stream string) (uint64, error) {
	v, ok, err := s.get(cursorKey(app, user, device, stream))
	if err != nil || !ok {
		return 0, err
	}
	seq, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, fmt.Errorf("%w: cursor of %s/%s", ErrCorrupt, device, stream)
	}
	return seq, nil
}

// Idempotency returns the first answer recorded for (from, clientMsgID) and
// when it was recorded (unix ms).
func (s *Store) Idempotency(app, user, from, clientMsgID string) (*wire.IdempotencyRecord, int64, bool, error) {
	return s.idempotency(idempotencyKey(app, user, from, clientMsgID))
}

// GroupIdempotency is Idempotency for a group's stream.
func (s *Store) GroupIdempotency(app, group, from, clientMsgID string) (*wire.IdempotencyRecord, int64, bool, error) {
	return s.idempotency(groupIdempotencyKey(app, group, from, clientMsgID))
}

func (s *Store) idempotency(k []byte) (*wire.IdempotencyRecord, int64, bool, error) {
	v, ok, err := s.get(k)
	if err != nil || !ok {
		return nil, 0, false, err
	}
	created, n := binary.Uvarint(v)
	if n <= 0 {
		return nil, 0, false, fmt.Errorf("%w: idempotency %q", ErrCorrupt, k)
	}
	r := &wire.IdempotencyRecord{}
	return r, int64(created), true, decode(k, v[n:], r)
}

// Pushes calls fn for every job in the outbox, shard by shard and oldest first
// in each (so a user's jobs come oldest first), until fn returns false.
func (s *Store) Pushes(fn func(*wire.PushJob) bool) error {
	return scanFamily(s, outboxFamily, fn)
}

// PushesIn calls fn for every job in one shard's outbox, oldest first, until fn returns false:
// what the shard's new writer resumes.
func (s *Store) PushesIn(shard uint64, fn func(*wire.PushJob) bool) error {
	_, err := scanShardFamily(s, shard, outboxFamily, fn)
	return err
}

// PushesAfter is PushesIn from the first job with an id above after: a
// reader that pages the outbox goes on from where it stopped.
func (s *Store) PushesAfter(shard, after uint64, fn func(*wire.PushJob) bool) error {
	p := familyPrefix(shard, outboxFamily)
	if after == math.MaxUint64 {
		return nil
	}
	lower := binary.BigEndian.AppendUint64(append([]byte(nil), p...), after+1)
	return scanProto(s, lower, prefixEnd(p), func(_ []byte, j *wire.PushJob) bool { return fn(j) })
}

// PushChunks calls fn for every fan-out chunk in the outbox, shard by shard and
// oldest first in each, until fn returns false.
func (s *Store) PushChunks(fn func(*wire.PushChunk) bool) error {
	return scanFamily(s, chunkFamily, fn)
}

// PushChunksIn calls fn for every fan-out chunk in one shard's outbox, oldest first, until fn
// returns false.
func (s *Store) PushChunksIn(shard uint64, fn func(*wire.PushChunk) bool) error {
	_, err := scanShardFamily(s, shard, chunkFamily, fn)
	return err
}

// scanFamily decodes every record of one key family, shard by shard, until fn
// returns false.
func scanFamily[T any, P interface {
	*T
	proto.Message
}](s *Store, family string, fn func(P) bool) error {
	more := true
	for shard := uint64(1); shard <= NumShards && more; shard++ {
		var err error
		if more, err = scanShardFamily(s, shard, family, fn); err != nil {
			return err
		}
	}
	return nil
}

// scanShardFamily decodes the records of one key family in one shard until fn returns false,
// and reports whether fn wanted more.
func scanShardFamily[T any, P interface {
	*T
	proto.Message
}](s *Store, shard uint64, family string, fn func(P) bool) (bool, error) {
	more := true
	p := familyPrefix(shard, family)
	err := scanProto(s, p, prefixEnd(p), func(_ []byte, m P) bool {
		more = fn(m)
		return more
	})
	return more, err
}

// FanoutChunkMarked reports whether MarkFanoutChunk recorded that chunk in shard.
func (s *Store) FanoutChunkMarked(shard uint64, app, group string, seq uint64, first string) (bool, error) {
	_, ok, err := s.get(fanoutMarkKey(shard, app, group, seq, first))
	return ok, err
}

// Push returns one outbox job of the user's.
func (s *Store) Push(app, user string, id uint64) (*wire.PushJob, bool, error) {
	k := outboxKey(app, user, id)
	v, ok, err := s.get(k)
	if err != nil || !ok {
		return nil, false, err
	}
	j := &wire.PushJob{}
	return j, true, decode(k, v, j)
}

// Verdicts returns the last vendor verdict of each of the user's bindings.
func (s *Store) Verdicts(app, user string) (map[string]*wire.VerdictRecord, error) {
	p := append(userPrefix(app, user), "v/"...)
	out := map[string]*wire.VerdictRecord{}
	err := scanProto(s, p, prefixEnd(p), func(k []byte, r *wire.VerdictRecord) bool {
		out[string(k[len(p):])] = r
		return true
	})
	return out, err
}
