package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

// ErrClosed is returned by writes handed to a Store after Close.
var ErrClosed = errors.New("storage: store is closed")

// ErrCorrupt wraps a stored value that does not decode.
var ErrCorrupt = errors.New("storage: corrupt value")

// Options tunes a Store. The zero value is usable.
type Options struct {
	// Logger receives Pebble's and the committer's messages; nil is silent.
	Logger *slog.Logger
	// MaxGroup caps how many batches one group commit merges (default 1024).
	MaxGroup int
	// CacheBytes is Pebble's block cache size (default 64 MiB).
	CacheBytes int64
	// MemTableBytes is the size of one Pebble memtable (default 64 MiB, as
	// CockroachDB uses; Pebble's own default is 4 MiB). Outbox jobs live
	// from their message to their vendor's answer, usually well under a
	// memtable's life, and a job written and single-deleted in the same
	// memtable never reaches an sstable; a small memtable spills a large
	// fan-out's jobs into compactions.
	MemTableBytes uint64
	// BindingCacheUsers is how many users' bindings EachUserBindings keeps
	// decoded in memory for the next group fan-out (default 131,072, about
	// 45 MiB; negative: none). See bindingCache.
	BindingCacheUsers int
	// MinFreeBytes is the disk space kept free: below it, commits that add data fail with
	// ErrNoSpace (default 256 MiB; negative: no reserve).
	MinFreeBytes int64
	// SnapshotBytesPerSecond paces the shard snapshots this store streams to replicas that
	// catch up, all shards together (0 or less: no limit).
	SnapshotBytesPerSecond int64

	// fs replaces the disk in tests (an in-memory or fault-injecting vfs.FS).
	fs vfs.FS
	// freeBytes and spaceRecheck replace the free-space reading and its interval in tests.
	freeBytes    func() (uint64, error)
	spaceRecheck time.Duration
}

// Stats are counters of the store's work since Open.
type Stats struct {
	Commits       uint64 // Pebble commits made by the committer
	Batches       uint64 // batches handed in (Commit + CommitAsync)
	SyncedCommits uint64 // commits that fsynced
	// ShardSnapshotsRecovered counts the shard snapshots this store took in from a Raft peer.
	ShardSnapshotsRecovered uint64
	// RefusedNoSpace counts commits refused with ErrNoSpace.
	RefusedNoSpace uint64
}

// Store is pushd's Pebble database.
type Store struct {
	db     *pebble.DB
	log    *slog.Logger
	max    int
	queue  chan *commitReq
	stop   chan struct{}
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once
	// handing is held shared by CommitAsync while it hands a batch over and
	// exclusively by Close while it sets closed, so that no batch enters the
	// queue after the committer's final drain.
	handing sync.RWMutex

	nextPush atomic.Uint64
	// repl, once Replicate is called, sends commits through the shards' Raft groups.
	repl atomic.Pointer[replication]
	// space refuses batches that add data while the disk is short of space; nil: no reserve.
	space *spaceGuard
	// bindings caches decoded bindings for fan-outs; nil when disabled.
	bindings *bindingCache
	// snapshots paces the shard snapshots streamed to peers; nil: no limit.
	snapshots *snapshotPacer

	commits, batches, synced atomic.Uint64
	snapshotsRecovered       atomic.Uint64
}

type commitReq struct {
	batch   *Batch
	durable bool
	done    func(error)
}

// Open opens (or creates) the store in dir and starts its committer.
func Open(dir string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 1024
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 64 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 64 << 20
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	popts := &pebble.Options{
		Cache:        cache,
		MemTableSize: o.MemTableBytes,
		Logger:       pebbleLogger{o.Logger},
		FS:           o.fs, // nil: the disk
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	s := &Store{
		db:    db,
		log:   o.Logger,
		max:   o.MaxGroup,
		queue: make(chan *commitReq, 4096),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),

		bindings:  newBindingCache(o.BindingCacheUsers),
		space:     newSpaceGuard(dir, o.MinFreeBytes, o.freeBytes, o.spaceRecheck),
		snapshots: newSnapshotPacer(o.SnapshotBytesPerSecond),
	}
	if err := s.checkLayout(dir); err != nil {
		db.Close()
		return nil, err
	}
	// Jobs and chunks share the id space: an id is never reused by either.
	var last uint64
	for shard := uint64(1); shard <= NumShards; shard++ {
		for _, f := range []string{outboxFamily, chunkFamily} {
			l, err := s.edgeSeq(familyPrefix(shard, f), true)
			if err != nil {
				db.Close()
				return nil, err
			}
			last = max(last, l)
		}
	}
	// Answered jobs are deleted, so the largest id stored can be below ids
	// handed out before: the clock, in microseconds, keeps a new run above
	// them (a run hands out fewer ids than microseconds pass).
	s.nextPush.Store(max(last, uint64(time.Now().UnixMicro())))
	go s.commitLoop()
	return s, nil
}

// ErrLayout is returned by Open for a store written by a pushd whose keys were
// not under shard prefixes.
var ErrLayout = errors.New("storage: the store was written by an older pushd (keys not under shard prefixes)")

// checkLayout refuses a store with keys outside the shard prefixes: an older
// pushd's, whose data this version would neither see nor replicate.
func (s *Store) checkLayout(dir string) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{shardPrefixByte + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	if it.First() {
		return fmt.Errorf("%w: %s; start with an empty data_dir (move this one away)", ErrLayout, dir)
	}
	return it.Error()
}

// Close stops the committer after it has committed what was handed to it, then
// closes Pebble. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.handing.Lock()
		s.closed.Store(true)
		s.handing.Unlock()
		close(s.stop)
		<-s.done
		err = s.db.Close()
	})
	return err
}

// Stats reports the committer's counters.
func (s *Store) Stats() Stats {
	st := Stats{Commits: s.commits.Load(), Batches: s.batches.Load(), SyncedCommits: s.synced.Load(),
		ShardSnapshotsRecovered: s.snapshotsRecovered.Load()}
	if s.space != nil {
		st.RefusedNoSpace = s.space.refused.Load()
	}
	return st
}

// NewPushID returns a fresh outbox id, larger than any in the store.
func (s *Store) NewPushID() uint64 { return s.nextPush.Add(1) }

// Commit hands b to the committer and waits until it is committed; with durable
// the commit is fsynced before Commit returns.
func (s *Store) Commit(b *Batch, durable bool) error {
	ch := make(chan error, 1)
	s.CommitAsync(b, durable, func(err error) { ch <- err })
	return <-ch
}

// CommitAsync hands b to the committer; done is called from the committer's
// goroutine once b is committed (or failed). done must not block.
func (s *Store) CommitAsync(b *Batch, durable bool, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	if b.grows && !s.space.allow() {
		b.b.Close()
		done(ErrNoSpace)
		return
	}
	s.handing.RLock()
	if s.closed.Load() {
		s.handing.RUnlock()
		done(ErrClosed)
		return
	}
	s.batches.Add(1)
	if r := s.repl.Load(); r != nil {
		s.handing.RUnlock()
		s.commitReplicated(r, b, done)
		return
	}
	s.queue <- &commitReq{batch: b, durable: durable, done: done}
	s.handing.RUnlock()
}

func (s *Store) commitLoop() {
	defer close(s.done)
	group := make([]*commitReq, 0, s.max)
	for {
		group = group[:0]
		select {
		case r := <-s.queue:
			group = append(group, r)
		case <-s.stop:
			// Commit whatever is still queued, then stop.
			for {
				select {
				case r := <-s.queue:
					s.commitGroup(append(group[:0], r))
				default:
					return
				}
			}
		}
	collect:
		for len(group) < s.max {
			select {
			case r := <-s.queue:
				group = append(group, r)
			default:
				break collect
			}
		}
		s.commitGroup(group)
	}
}

func (s *Store) commitGroup(group []*commitReq) {
	durable := false
	for _, r := range group {
		durable = durable || r.durable
	}
	var err error
	if len(group) == 1 {
		err = group[0].batch.b.Commit(writeOpts(durable))
	} else {
		merged := s.db.NewBatch()
		for _, r := range group {
			if err = merged.Apply(r.batch.b, nil); err != nil {
				break
			}
		}
		if err == nil {
			err = merged.Commit(writeOpts(durable))
		}
		merged.Close()
	}
	s.commits.Add(1)
	if durable {
		s.synced.Add(1)
	}
	if err != nil {
		s.log.Error("storage: commit failed", "batches", len(group), "err", err)
		err = fmt.Errorf("storage: commit: %w", err)
	}
	for _, r := range group {
		// Before the writer hears of it, committed or not: a fan-out must not
		// go on reading what the cache held for these users.
		if s.bindings != nil && len(r.batch.bindingUsers) > 0 {
			s.bindings.forget(r.batch.bindingUsers)
		}
		r.batch.b.Close()
		r.done(err)
	}
}

func writeOpts(durable bool) *pebble.WriteOptions {
	if durable {
		return pebble.Sync
	}
	return pebble.NoSync
}

// Batch collects writes that commit together, atomically.
type Batch struct {
	b *pebble.Batch
	// bindingUsers are the binding key prefixes of the users whose bindings
	// the batch writes: the binding cache forgets them at commit.
	bindingUsers []string
	// grows: the batch adds data (a message, a binding, a member, a call), and
	// is refused while the disk is short of space.
	grows bool
}

// NewBatch starts a batch. Hand it to Commit or CommitAsync exactly once.
func (s *Store) NewBatch() *Batch { return &Batch{b: s.db.NewBatch()} }

// Empty reports whether the batch holds no writes.
func (b *Batch) Empty() bool { return b.b.Empty() }

func (b *Batch) setProto(key []byte, m proto.Message) { _ = b.b.Set(key, mustMarshal(nil, m), nil) }

// mustMarshal appends m's encoding to buf.
func mustMarshal(buf []byte, m proto.Message) []byte {
	v, err := proto.MarshalOptions{}.MarshalAppend(buf, m)
	if err != nil {
		// Marshalling our own generated types cannot fail except for invalid
		// UTF-8, which every input path has rejected before.
		panic(fmt.Sprintf("storage: marshal %T: %v", m, err))
	}
	return v
}

// PutBinding stores a binding. The push id index is not touched: it lives
// on the node of the push id's token actor (PutPushOwner).
func (b *Batch) PutBinding(bd *wire.Binding) {
	b.grows = true
	b.setProto(bindingKey(bd.App, bd.User, bd.PushId), bd)
	b.touchBindings(bd.App, bd.User)
}

// DeleteBinding removes the user's binding and its last verdict.
func (b *Batch) DeleteBinding(app, user, pushID string) {
	_ = b.b.Delete(bindingKey(app, user, pushID), nil)
	_ = b.b.Delete(verdictKey(app, user, pushID), nil)
	b.touchBindings(app, user)
}

func (b *Batch) touchBindings(app, user string) {
	b.bindingUsers = append(b.bindingUsers, string(bindingsPrefix(app, user)))
}

// PutPushOwner points the push id index at the app's user.
func (b *Batch) PutPushOwner(pushID, app, user string) {
	b.grows = true
	_ = b.b.Set(pushIndexKey(app, pushID), []byte(app+"/"+user), nil)
}

// DeletePushOwner drops the push id's index entry.
func (b *Batch) DeletePushOwner(app, pushID string) {
	_ = b.b.Delete(pushIndexKey(app, pushID), nil)
}

// PutVerdict records a binding's last vendor verdict.
func (b *Batch) PutVerdict(app, user, pushID string, v *wire.VerdictRecord) {
	b.setProto(verdictKey(app, user, pushID), v)
}

// DeleteVerdict forgets a binding's last verdict (it registered again).
func (b *Batch) DeleteVerdict(app, user, pushID string) {
	_ = b.b.Delete(verdictKey(app, user, pushID), nil)
}

// PutMessage appends m (with its Stream and Seq set) to the user's stream.
func (b *Batch) PutMessage(app, user string, m *wire.Message) {
	b.grows = true
	b.setProto(messageKey(app, user, m.Stream, m.Seq), m)
}

// DropMessagesBefore removes the stream's messages with seq < seq.
func (b *Batch) DropMessagesBefore(app, user, stream string, seq uint64) {
	_ = b.b.DeleteRange(messageKey(app, user, stream, 0), messageKey(app, user, stream, seq), nil)
}

// SetCursor records that device has received everything up to seq in stream.
func (b *Batch) SetCursor(app, user, device, stream string, seq uint64) {
	_ = b.b.Set(cursorKey(app, user, device, stream), binary.AppendUvarint(nil, seq), nil)
}

// SetCursorAt is SetCursor that also records when the cursor moved (atMs),
// so that a device never seen again has its cursors removed with the
// messages of their time (Sweep).
func (b *Batch) SetCursorAt(app, user, device, stream string, seq uint64, atMs int64) {
	_ = b.b.Set(cursorKey(app, user, device, stream), binary.AppendUvarint(binary.AppendUvarint(nil, seq), uint64(max(atMs, 0))), nil)
}

// DeleteCursors forgets every cursor of the device.
func (b *Batch) DeleteCursors(app, user, device string) {
	p := cursorPrefix(app, user, device)
	_ = b.b.DeleteRange(p, prefixEnd(p), nil)
}

// PutIdempotency records the first answer to (from, clientMsgID) for user's stream.
func (b *Batch) PutIdempotency(app, user, from, clientMsgID string, createdMs int64, r *wire.IdempotencyRecord) {
	b.putIdempotency(idempotencyKey(app, user, from, clientMsgID), createdMs, r)
}

// PutGroupIdempotency records the first answer to (from, clientMsgID) for a group's stream.
func (b *Batch) PutGroupIdempotency(app, group, from, clientMsgID string, createdMs int64, r *wire.IdempotencyRecord) {
	b.putIdempotency(groupIdempotencyKey(app, group, from, clientMsgID), createdMs, r)
}

func (b *Batch) putIdempotency(key []byte, createdMs int64, r *wire.IdempotencyRecord) {
	_ = b.b.Set(key, mustMarshal(binary.AppendUvarint(nil, uint64(createdMs)), r), nil)
}

// PutPush writes a push job into the outbox.
func (b *Batch) PutPush(j *wire.PushJob) { b.setProto(outboxKey(j.App, j.User, j.Id), j) }

// DeletePush removes a push job from the outbox. Outbox ids are never
// reused and a job is written once (a retry changes it only in memory), the
// condition for Pebble's SingleDelete, which cancels the job's Set when the
// two meet (in a memtable flush, usually) instead of leaving a tombstone to
// compact. Deleting a job twice (ack and answer racing) is harmless: the
// second finds no Set.
func (b *Batch) DeletePush(j *wire.PushJob) {
	_ = b.b.SingleDelete(outboxKey(j.App, j.User, j.Id), nil)
}

// PutPushChunk writes the pushes of one fan-out chunk into the outbox as one
// record (its id from NewPushID). Each push's binding is stored by its key
// only, user and push id: the binding's own record has the rest, and
// recovery reads it back (a binding gone by then is a push not to make).
// Whole bindings would make the chunk most of a fan-out's write volume and
// their encoding a large share of its CPU. Read back, the chunk's
// bindings have only User and PushId. Every binding's user is in shard, the
// chunk's.
func (b *Batch) PutPushChunk(shard uint64, c *wire.PushChunk) {
	_ = b.b.Set(chunkKey(shard, c.Id), appendPushChunk(nil, c), nil)
}

// Field numbers of wire.PushChunk and wire.Binding that appendPushChunk
// writes (TestPushChunkFieldNumbers holds them to the generated code).
const (
	chunkFieldID, chunkFieldMessage, chunkFieldBindings, chunkFieldCreatedAt = 1, 2, 3, 4
	bindingFieldPushID, bindingFieldUser                                     = 1, 3
)

// appendPushChunk appends c's encoding with each binding cut to its key.
func appendPushChunk(buf []byte, c *wire.PushChunk) []byte {
	if c.Id != 0 {
		buf = protowire.AppendTag(buf, chunkFieldID, protowire.VarintType)
		buf = protowire.AppendVarint(buf, c.Id)
	}
	if c.Message != nil {
		buf = protowire.AppendTag(buf, chunkFieldMessage, protowire.BytesType)
		buf = protowire.AppendBytes(buf, mustMarshal(nil, c.Message))
	}
	for _, bd := range c.Bindings {
		size := protowire.SizeTag(bindingFieldPushID) + protowire.SizeBytes(len(bd.PushId)) +
			protowire.SizeTag(bindingFieldUser) + protowire.SizeBytes(len(bd.User))
		buf = protowire.AppendTag(buf, chunkFieldBindings, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(size))
		buf = protowire.AppendTag(buf, bindingFieldPushID, protowire.BytesType)
		buf = protowire.AppendString(buf, bd.PushId)
		buf = protowire.AppendTag(buf, bindingFieldUser, protowire.BytesType)
		buf = protowire.AppendString(buf, bd.User)
	}
	if c.CreatedAtMs != 0 {
		buf = protowire.AppendTag(buf, chunkFieldCreatedAt, protowire.VarintType)
		buf = protowire.AppendVarint(buf, uint64(c.CreatedAtMs))
	}
	return buf
}

// DeletePushChunk removes a chunk whose pushes are all answered (or written
// as jobs of their own). A chunk is written once, as a job is, so it is a
// SingleDelete too.
// The chunk is named by its shard and id.
func (b *Batch) DeletePushChunk(shard, id uint64) { _ = b.b.SingleDelete(chunkKey(shard, id), nil) }

// MarkFanoutChunk records, in the batch that writes a fan-out chunk's pushes
// to members of shard, that their part of the chunk of group message seq that
// starts at member first is done. Sweep removes the mark with the messages of
// its time (atMs).
func (b *Batch) MarkFanoutChunk(shard uint64, app, group string, seq uint64, first string, atMs int64) {
	_ = b.b.Set(fanoutMarkKey(shard, app, group, seq, first), binary.AppendUvarint(nil, uint64(atMs)), nil)
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any)  { p.l.Debug(fmt.Sprintf(format, args...)) }
func (p pebbleLogger) Errorf(format string, args ...any) { p.l.Error(fmt.Sprintf(format, args...)) }
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
