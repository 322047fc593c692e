package storage

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
	"github.com/lni/dragonboat/v4/statemachine"
)

// Proposer replicates a shard's entries through its Raft group (cluster.Raft is one). Entries
// proposed one after another on the same shard must be applied in that order.
type Proposer interface {
	ProposeAsync(shard uint64, cmd []byte, timeout time.Duration, done func(statemachine.Result, error))
}

// ErrNotWriter is returned by a replicated commit to a shard this store has not acquired, or
// whose writer another replica has become since.
var ErrNotWriter = errors.New("storage: this node is not the shard's writer")

// ErrNotCommitted is returned by a replicated commit whose shard's Raft group did not take it in
// time (no leader, no quorum, shutting down): the write may or may not be applied later, and the
// caller may retry it (with the same idempotency key).
var ErrNotCommitted = errors.New("storage: the shard's Raft group did not commit the write")

// replication is a Store's state in a cluster: the proposer and what this node writes of each
// shard it acquired.
type replication struct {
	p       Proposer
	timeout time.Duration

	onLost func(shard uint64)

	mu     sync.Mutex
	shards map[uint64]*writerShard // the shards this node writes
}

// writerShard is this node's writing of one shard, under the epoch it acquired it with.
//
// At most maxInFlight of its entries are in Raft at once; the batches committed meanwhile wait
// and go as one entry when one of those is applied (a group commit per shard). Raft's cost is
// per entry, so a busy shard proposes fewer, larger entries instead of one per batch.
type writerShard struct {
	epoch    uint64
	seq      uint64 // of the last entry proposed under epoch
	inFlight int
	waiting  []waitingPart
	q        proposals
}

// waitingPart is one batch's writes to a shard, waiting to be proposed, and whom to tell when
// they are applied.
type waitingPart struct {
	b      *pebble.Batch
	finish func(error)
}

// maxInFlight is how many entries of one shard are proposed and not yet applied at once: more
// keeps Raft's pipeline fuller, fewer merges more.
const maxInFlight = 2

// maxEntryBytes bounds the batches merged into one entry (a batch larger alone is proposed
// alone).
const maxEntryBytes = 4 << 20

// proposals are one shard's batches in flight, in the order they were proposed: their results
// are handed on in that order, whatever order Raft's results come back in, so that an actor
// learns its commits in the order it made them (its stream's committed seq only grows).
type proposals struct {
	mu         sync.Mutex
	pending    []*proposal
	delivering bool // a goroutine is handing results on
}

type proposal struct {
	done bool
	res  statemachine.Result
	err  error
	fn   func(statemachine.Result, error)
}

func (q *proposals) add(fn func(statemachine.Result, error)) *proposal {
	p := &proposal{fn: fn}
	q.mu.Lock()
	q.pending = append(q.pending, p)
	q.mu.Unlock()
	return p
}

// complete records p's result and hands on every result at the head of the queue; one
// goroutine at a time does, so the order holds.
func (q *proposals) complete(p *proposal, res statemachine.Result, err error) {
	q.mu.Lock()
	p.done, p.res, p.err = true, res, err
	if q.delivering {
		q.mu.Unlock()
		return
	}
	q.delivering = true
	for len(q.pending) > 0 && q.pending[0].done {
		head := q.pending[0]
		q.pending[0] = nil
		q.pending = q.pending[1:]
		q.mu.Unlock()
		head.fn(head.res, head.err)
		q.mu.Lock()
	}
	q.delivering = false
	q.mu.Unlock()
}

// Replicate makes every later Commit and CommitAsync go through p: a batch is split by shard,
// each part proposed to its shard's Raft group with the epoch this node acquired the shard under,
// and applied by every replica's ShardMachine. timeout bounds each proposal. A lone node never
// calls it and commits straight to Pebble. onLost, when set, is called (on another goroutine;
// it must not block) when a shard's epoch is lost because a batch was not applied: the node
// must acquire the shard again, and its actors reload, before they write to it.
func (s *Store) Replicate(p Proposer, timeout time.Duration, onLost func(shard uint64)) {
	s.repl.Store(&replication{p: p, timeout: timeout, onLost: onLost, shards: map[uint64]*writerShard{}})
}

// Acquire makes this node (Raft replica) the writer of shard: it proposes the Acquire entry and
// keeps the epoch it gets for the batches it proposes after. Call it when this node becomes the
// shard's leader, before its actors read the shard: once it returns, the store has applied every
// entry committed before it. It also moves the outbox id counter past the shard's ids, which
// another writer may have handed out.
func (s *Store) Acquire(shard, replica uint64) (uint64, error) {
	r := s.repl.Load()
	if r == nil {
		return 0, errors.New("storage: Acquire on a store that does not replicate")
	}
	res, err := s.propose(r, shard, EncodeAcquire(replica))
	if err != nil {
		return 0, err
	}
	for _, f := range []string{outboxFamily, chunkFamily} {
		last, err := s.edgeSeq(familyPrefix(shard, f), true)
		if err != nil {
			return 0, err
		}
		for cur := s.nextPush.Load(); cur < last && !s.nextPush.CompareAndSwap(cur, last); cur = s.nextPush.Load() {
		}
	}
	r.mu.Lock()
	r.shards[shard] = &writerShard{epoch: res.Value}
	r.mu.Unlock()
	return res.Value, nil
}

// Release forgets this node's epoch of shard: it is no longer the shard's leader, and commits to
// the shard fail with ErrNotWriter.
func (s *Store) Release(shard uint64) {
	if r := s.repl.Load(); r != nil {
		r.mu.Lock()
		delete(r.shards, shard)
		r.mu.Unlock()
	}
}

// lost forgets the shard's epoch after a batch proposed under it was not applied: the batches
// proposed after it will be refused, and the writer must acquire the shard again (and its actors
// reload) before it writes more.
func (r *replication) lost(shard, epoch uint64) {
	r.mu.Lock()
	w := r.shards[shard]
	gone := w != nil && w.epoch == epoch
	if gone {
		delete(r.shards, shard)
	}
	r.mu.Unlock()
	if gone && r.onLost != nil {
		r.onLost(shard)
	}
}

// Writes reports whether this node holds shard's epoch.
func (s *Store) Writes(shard uint64) bool {
	r := s.repl.Load()
	if r == nil {
		return true // a lone store writes every shard
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shards[shard] != nil
}

func (s *Store) propose(r *replication, shard uint64, cmd []byte) (statemachine.Result, error) {
	ch := make(chan struct{})
	var res statemachine.Result
	var err error
	r.p.ProposeAsync(shard, cmd, r.timeout, func(rs statemachine.Result, e error) {
		res, err = rs, e
		close(ch)
	})
	<-ch
	return res, err
}

// commitReplicated proposes b's writes, shard by shard, and calls done when every part is
// applied here (or one failed). Parts of different shards are not atomic together.
func (s *Store) commitReplicated(r *replication, b *Batch, done func(error)) {
	parts, own, err := s.splitByShard(b)
	if !own {
		b.b.Close() // its writes are in the parts (or nowhere)
	}
	if err != nil {
		done(err)
		return
	}
	if len(parts) == 0 {
		s.forgetBindings(b)
		done(nil)
		return
	}
	var (
		left  atomic.Int32
		mu    sync.Mutex
		first error
	)
	left.Store(int32(len(parts)))
	finish := func(err error) {
		if err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
		}
		if left.Add(-1) == 0 {
			s.forgetBindings(b)
			done(first)
		}
	}
	for shard, part := range parts {
		r.mu.Lock()
		w := r.shards[shard]
		if w == nil {
			r.mu.Unlock()
			part.Close()
			finish(fmt.Errorf("%w: shard %d", ErrNotWriter, shard))
			continue
		}
		w.waiting = append(w.waiting, waitingPart{b: part, finish: finish})
		r.proposeWaiting(shard, w)
		r.mu.Unlock()
	}
}

// proposeWaiting proposes w's waiting batches, merged into entries, while fewer than
// maxInFlight of its entries are in flight. r.mu must be held: the seq is taken and the proposal
// made under it, so that the shard's entries reach Raft in the order of their seqs.
func (r *replication) proposeWaiting(shard uint64, w *writerShard) {
	for w.inFlight < maxInFlight && len(w.waiting) > 0 {
		size, n := len(w.waiting[0].b.Repr()), 1
		for ; n < len(w.waiting); n++ {
			if size += len(w.waiting[n].b.Repr()); size > maxEntryBytes {
				break
			}
		}
		taken := w.waiting[:n:n]
		if w.waiting = w.waiting[n:]; len(w.waiting) == 0 {
			w.waiting = nil // the taken parts' array goes with them
		}
		entry := taken[0].b
		var err error
		for _, p := range taken[1:] {
			if err == nil {
				err = entry.Apply(p.b, nil)
			}
			p.b.Close()
		}
		if err != nil { // a well-formed batch always applies: refuse them all rather than lose a part
			entry.Close()
			for _, p := range taken {
				p.finish(fmt.Errorf("storage: shard %d: merge batches: %w", shard, err))
			}
			continue
		}
		w.seq++
		w.inFlight++
		epoch := w.epoch
		cmd := EncodeBatch(epoch, w.seq, &Batch{b: entry})
		p := w.q.add(func(res statemachine.Result, err error) {
			switch {
			case err != nil:
				r.lost(shard, epoch)
				err = fmt.Errorf("%w: shard %d: %w", ErrNotCommitted, shard, err)
			case res.Value != ShardApplied:
				r.lost(shard, epoch) // another replica acquired the shard, or an earlier batch was lost
				err = fmt.Errorf("%w: shard %d: the batch was refused (a new writer, or a batch before it lost)", ErrNotWriter, shard)
			}
			for _, p := range taken {
				p.finish(err)
			}
			r.mu.Lock()
			w.inFlight--
			var stranded []waitingPart
			if r.shards[shard] == w {
				r.proposeWaiting(shard, w)
			} else { // released or lost meanwhile: nothing more goes under this epoch
				stranded, w.waiting = w.waiting, nil
			}
			r.mu.Unlock()
			for _, p := range stranded {
				p.b.Close()
				p.finish(fmt.Errorf("%w: shard %d", ErrNotWriter, shard))
			}
		})
		r.p.ProposeAsync(shard, cmd, r.timeout, func(res statemachine.Result, err error) { w.q.complete(p, res, err) })
	}
}

// splitByShard returns b's writes as one Pebble batch per shard: b's own batch when it writes
// one shard only (the common case), else copies, and b's is left to the caller.
func (s *Store) splitByShard(b *Batch) (parts map[uint64]*pebble.Batch, own bool, err error) {
	var first uint64
	one := true
	if err := eachRecord(b.b.Repr(), func(shard uint64, _ pebble.InternalKeyKind, _, _ []byte) error {
		if first == 0 {
			first = shard
		}
		one = one && shard == first
		return nil
	}); err != nil {
		return nil, false, err
	}
	switch {
	case first == 0:
		return nil, false, nil
	case one:
		return map[uint64]*pebble.Batch{first: b.b}, true, nil
	}
	parts = map[uint64]*pebble.Batch{}
	err = eachRecord(b.b.Repr(), func(shard uint64, kind pebble.InternalKeyKind, key, value []byte) error {
		p := parts[shard]
		if p == nil {
			p = s.db.NewBatch()
			parts[shard] = p
		}
		switch kind {
		case pebble.InternalKeyKindSet:
			return p.Set(key, value, nil)
		case pebble.InternalKeyKindDelete:
			return p.Delete(key, nil)
		case pebble.InternalKeyKindSingleDelete:
			return p.SingleDelete(key, nil)
		case pebble.InternalKeyKindRangeDelete:
			return p.DeleteRange(key, value, nil)
		}
		return fmt.Errorf("storage: batch record of kind %v", kind)
	})
	if err != nil {
		for _, p := range parts {
			p.Close()
		}
		return nil, false, err
	}
	return parts, false, nil
}

// eachRecord calls fn with every record of a batch's repr and the shard its key is under.
func eachRecord(repr []byte, fn func(shard uint64, kind pebble.InternalKeyKind, key, value []byte) error) error {
	r := batchrepr.Read(repr)
	for {
		kind, key, value, ok, err := r.Next()
		if err != nil {
			return fmt.Errorf("storage: split batch: %w", err)
		}
		if !ok {
			return nil
		}
		if len(key) < shardPrefixLen || key[0] != shardPrefixByte {
			return fmt.Errorf("storage: key %q is under no shard", key)
		}
		if err := fn(uint64(key[1])<<8|uint64(key[2]), kind, key, value); err != nil {
			return err
		}
	}
}

// clearBindings empties the binding cache: the bindings changed under a path that does not name
// its users (a shard's new writer, a snapshot).
func (s *Store) clearBindings() {
	if s.bindings != nil {
		s.bindings.clear()
	}
}

// forgetBindings drops from the binding cache the users whose bindings b wrote.
func (s *Store) forgetBindings(b *Batch) {
	if s.bindings != nil && len(b.bindingUsers) > 0 {
		s.bindings.forget(b.bindingUsers)
	}
}
