package storage

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
	"github.com/lni/dragonboat/v4/statemachine"
)

// A shard is one slice of the stored state that a Raft group replicates: its keys sit under
// ShardPrefix, so that a snapshot of the shard is one key range. ShardMachine is the shard's
// state machine: it applies the entries its Raft group commits into this Store's Pebble.
//
// # Entries
//
// An entry is an Acquire or a Batch:
//
//   - Acquire(replica) makes replica the shard's writer. The shard's epoch becomes the entry's
//     Raft index, which no other entry has, and is the entry's result.
//   - Batch(epoch, seq, writes) applies writes (a Pebble batch, every key under the shard's
//     prefix) if epoch is still the shard's epoch and seq follows the last batch applied under it
//     (the first after an Acquire is 1), and is refused (result ShardRefused) otherwise. A writer
//     numbers its batches in the order it proposes them: when one of them is lost (dropped by
//     Raft during a leader change, say), the ones after it are refused too, so that no later
//     write (the next seq of a stream) lands on top of a missing one; the writer acquires the
//     shard again and its actors reload what is stored. Seq 0 is not checked (tests).
//
// A node that becomes a shard's Raft leader proposes Acquire before it writes, and tags every
// later batch with the epoch it got. A batch computed by the shard's previous writer, from state
// that may since have changed, can still commit after the Acquire (a deposed leader's proposal
// is forwarded), but it is refused, so each state change is computed from the state it replaces.
// Apply reads neither a clock nor randomness: it depends on the entries alone.
//
// # Durability
//
// Update applies without fsync: the Raft log is the write-ahead log, and dragonboat replays
// what the store lost. Sync fsyncs the store before dragonboat compacts its log. The applied
// index, epoch and writer are written with the entries they follow, so the store never holds an
// entry's effects without its index.

// Results of a Batch entry.
const (
	ShardApplied uint64 = 1
	ShardRefused uint64 = 2
)

const (
	entryAcquire byte = 1
	entryBatch   byte = 2
)

// shardPrefixByte starts every shard key; the rest of the tree's keys start with a letter.
const shardPrefixByte = 0x01

// shardPrefixLen is the length of every ShardPrefix.
const shardPrefixLen = 3

// ShardPrefix is the prefix of every key of shard (1 to 65535).
func ShardPrefix(shard uint64) []byte {
	return append(make([]byte, 0, 64), shardPrefixByte, byte(shard>>8), byte(shard))
}

// shardMetaKey holds the shard's applied index, epoch and writer. '!' sorts before the letters
// that start the data keys.
func shardMetaKey(shard uint64) []byte { return append(ShardPrefix(shard), '!') }

// ShardMeta is a shard's replicated bookkeeping.
type ShardMeta struct {
	Applied uint64 // the last Raft index applied
	Epoch   uint64 // the index of the Acquire that made the current writer
	Writer  uint64 // the replica id of the current writer (0: none yet)
	Seq     uint64 // the seq of the last batch applied under Epoch
}

func (m ShardMeta) encode() []byte {
	b := binary.AppendUvarint(nil, m.Applied)
	b = binary.AppendUvarint(b, m.Epoch)
	b = binary.AppendUvarint(b, m.Writer)
	return binary.AppendUvarint(b, m.Seq)
}

func decodeShardMeta(b []byte) (ShardMeta, error) {
	var m ShardMeta
	var n int
	for _, f := range []*uint64{&m.Applied, &m.Epoch, &m.Writer, &m.Seq} {
		v, k := binary.Uvarint(b[n:])
		if k <= 0 {
			return ShardMeta{}, fmt.Errorf("%w: shard meta", ErrCorrupt)
		}
		*f, n = v, n+k
	}
	return m, nil
}

// EncodeAcquire is the entry that makes replica the shard's writer.
func EncodeAcquire(replica uint64) []byte {
	return binary.AppendUvarint([]byte{entryAcquire}, replica)
}

// EncodeBatch is the entry that applies b's writes if epoch is still the shard's epoch and seq
// follows the last batch applied (0: unchecked). b must not be committed otherwise, and is
// closed.
func EncodeBatch(epoch, seq uint64, b *Batch) []byte {
	repr := b.b.Repr()
	out := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(repr))
	out = binary.AppendUvarint(append(out, entryBatch), epoch)
	out = binary.AppendUvarint(out, seq)
	out = append(out, repr...)
	b.b.Close()
	return out
}

// ErrShardQuery is returned by ShardMachine.Lookup for a query it does not know.
var ErrShardQuery = errors.New("storage: unknown shard query")

// ShardMetaQuery asks ShardMachine.Lookup for the shard's ShardMeta.
type ShardMetaQuery struct{}

// ShardMachine is the dragonboat on-disk state machine of one shard in a Store.
type ShardMachine struct {
	s      *Store
	shard  uint64
	prefix []byte
	end    []byte
	meta   ShardMeta
}

var _ statemachine.IOnDiskStateMachine = (*ShardMachine)(nil)

// ShardMachineFactory returns the factory dragonboat calls to make each shard's state machine
// on this store (dragonboat's CreateOnDiskStateMachineFunc).
func (s *Store) ShardMachineFactory() statemachine.CreateOnDiskStateMachineFunc {
	return func(shard, _ uint64) statemachine.IOnDiskStateMachine {
		p := ShardPrefix(shard)
		return &ShardMachine{s: s, shard: shard, prefix: p, end: prefixEnd(p)}
	}
}

// Open returns the last index applied to this store.
func (m *ShardMachine) Open(<-chan struct{}) (uint64, error) {
	meta, err := m.s.ShardMeta(m.shard)
	if err != nil {
		return 0, err
	}
	m.meta = meta
	return meta.Applied, nil
}

// ShardMeta reads a shard's bookkeeping as this store has applied it.
func (s *Store) ShardMeta(shard uint64) (ShardMeta, error) {
	v, closer, err := s.db.Get(shardMetaKey(shard))
	if errors.Is(err, pebble.ErrNotFound) {
		return ShardMeta{}, nil
	}
	if err != nil {
		return ShardMeta{}, err
	}
	defer closer.Close()
	return decodeShardMeta(v)
}

// DropShard deletes every key of shard from this store, its bookkeeping too, durably: what a
// node does once its replica of the shard was removed, so that a replica it runs later starts
// from nothing (dragonboat refuses a new replica whose state machine has applied entries).
func (s *Store) DropShard(shard uint64) error {
	p := ShardPrefix(shard)
	wb := s.db.NewBatch()
	defer wb.Close()
	_ = wb.DeleteRange(p, prefixEnd(p), nil)
	if err := wb.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("storage: drop shard %d: %w", shard, err)
	}
	s.clearBindings()
	return nil
}

// Update applies committed entries, all in one Pebble batch with the new bookkeeping.
func (m *ShardMachine) Update(entries []statemachine.Entry) ([]statemachine.Entry, error) {
	wb := m.s.db.NewBatch()
	defer wb.Close()
	meta := m.meta
	for i := range entries {
		e := &entries[i]
		meta.Applied = e.Index
		e.Result = statemachine.Result{Value: ShardRefused}
		if len(e.Cmd) == 0 {
			continue // an empty proposal: nothing to apply
		}
		switch e.Cmd[0] {
		case entryAcquire:
			replica, n := binary.Uvarint(e.Cmd[1:])
			if n <= 0 {
				continue
			}
			meta.Epoch, meta.Writer, meta.Seq = e.Index, replica, 0
			e.Result.Value = e.Index
		case entryBatch:
			epoch, n := binary.Uvarint(e.Cmd[1:])
			if n <= 0 || epoch != meta.Epoch {
				continue
			}
			seq, k := binary.Uvarint(e.Cmd[1+n:])
			if k <= 0 || (seq != 0 && seq != meta.Seq+1) {
				continue
			}
			repr := e.Cmd[1+n+k:]
			if !m.confined(repr) {
				m.s.log.Error("storage: shard entry writes outside its shard; refused", "shard", m.shard, "index", e.Index)
				continue
			}
			// Apply copies the writes into wb, so b may borrow the entry's memory.
			var b pebble.Batch
			if err := b.SetRepr(repr); err != nil {
				continue
			}
			if err := wb.Apply(&b, nil); err != nil {
				return nil, fmt.Errorf("storage: shard %d: apply entry %d: %w", m.shard, e.Index, err)
			}
			e.Result.Value = ShardApplied
			if seq != 0 {
				meta.Seq = seq
			}
		}
	}
	_ = wb.Set(shardMetaKey(m.shard), meta.encode(), nil)
	if err := wb.Commit(pebble.NoSync); err != nil {
		return nil, fmt.Errorf("storage: shard %d: commit: %w", m.shard, err)
	}
	if meta.Epoch != m.meta.Epoch {
		m.s.clearBindings() // a new writer reads what the old one wrote, not what was cached
	}
	m.meta = meta
	return entries, nil
}

// confined reports whether every write of repr is a key (or key range) of this shard.
func (m *ShardMachine) confined(repr []byte) bool {
	if len(repr) < batchrepr.HeaderLen {
		return false
	}
	r := batchrepr.Read(repr)
	for {
		kind, key, value, ok, err := r.Next()
		if err != nil {
			return false
		}
		if !ok {
			return true
		}
		if !m.inShard(key) {
			return false
		}
		switch kind {
		case pebble.InternalKeyKindRangeDelete:
			if bytes.Compare(value, m.prefix) < 0 || bytes.Compare(value, m.end) > 0 {
				return false
			}
		case pebble.InternalKeyKindSet, pebble.InternalKeyKindDelete, pebble.InternalKeyKindSingleDelete:
		default:
			return false // pushd writes no other kind
		}
	}
}

func (m *ShardMachine) inShard(key []byte) bool {
	return bytes.HasPrefix(key, m.prefix)
}

// Lookup answers ShardMetaQuery.
func (m *ShardMachine) Lookup(q any) (any, error) {
	if _, ok := q.(ShardMetaQuery); ok {
		return m.s.ShardMeta(m.shard)
	}
	return nil, ErrShardQuery
}

// Sync fsyncs the store's write-ahead log: everything applied so far survives a crash.
func (m *ShardMachine) Sync() error { return m.s.db.LogData(nil, pebble.Sync) }

// PrepareSnapshot takes a point-in-time view of the store for SaveSnapshot.
func (m *ShardMachine) PrepareSnapshot() (any, error) { return m.s.db.NewSnapshot(), nil }

// SaveSnapshot writes every key of the shard, as of PrepareSnapshot, to w: for each key, the
// uvarint lengths and bytes of the key (without the shard prefix) and its value.
func (m *ShardMachine) SaveSnapshot(ctx any, w io.Writer, stop <-chan struct{}) error {
	snap := ctx.(*pebble.Snapshot)
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: m.prefix, UpperBound: m.end})
	if err != nil {
		return err
	}
	defer it.Close()
	bw := bufio.NewWriterSize(m.s.snapshots.writer(w, stop), snapshotChunk)
	var buf []byte
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if n++; n%1024 == 0 {
			select {
			case <-stop:
				return statemachine.ErrSnapshotStopped
			default:
			}
		}
		k := it.Key()[len(m.prefix):]
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		buf = binary.AppendUvarint(buf[:0], uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		if _, err := bw.Write(v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// RecoverFromSnapshot replaces the shard's keys with a snapshot's, in one synced batch.
func (m *ShardMachine) RecoverFromSnapshot(r io.Reader, stop <-chan struct{}) error {
	br := bufio.NewReaderSize(r, 256<<10)
	wb := m.s.db.NewBatch()
	defer wb.Close()
	_ = wb.DeleteRange(m.prefix, m.end, nil)
	n := 0
	for {
		if n++; n%1024 == 0 {
			select {
			case <-stop:
				return statemachine.ErrSnapshotStopped
			default:
			}
		}
		k, err := readChunk(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("storage: shard %d snapshot: %w", m.shard, err)
		}
		v, err := readChunk(br)
		if err != nil {
			return fmt.Errorf("storage: shard %d snapshot: %w", m.shard, err)
		}
		_ = wb.Set(append(bytes.Clone(m.prefix), k...), v, nil)
	}
	if err := wb.Commit(pebble.Sync); err != nil {
		return err
	}
	meta, err := m.s.ShardMeta(m.shard)
	if err != nil {
		return err
	}
	m.s.clearBindings()
	m.meta = meta
	m.s.snapshotsRecovered.Add(1)
	return nil
}

// readChunk reads one uvarint length and that many bytes; io.EOF only at a clean end.
func readChunk(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > 64<<20 {
		return nil, fmt.Errorf("%w: snapshot record of %d bytes", ErrCorrupt, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}

// Close leaves the store open: the daemon owns it.
func (m *ShardMachine) Close() error { return nil }

// ShardDigest is a SHA-256 over every key and value of shard as this store has applied it, its
// bookkeeping left out: replicas that applied the same entries have the same digest, so a
// cluster at rest can be checked for divergence.
func (s *Store) ShardDigest(shard uint64) (string, error) {
	h := sha256.New()
	meta := shardMetaKey(shard)
	p := ShardPrefix(shard)
	var n [binary.MaxVarintLen64]byte
	err := s.scan(p, prefixEnd(p), func(k, v []byte) (bool, error) {
		if bytes.Equal(k, meta) {
			return true, nil
		}
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(k)))])
		h.Write(k)
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
		h.Write(v)
		return true, nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
