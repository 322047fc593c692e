package storage

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushd-im/pushd/cluster"
	"github.com/pushd-im/pushd/internal/testwait"
)

// The replica manager (cluster.Shards) over real nodes on loopback: memberlist membership, a
// Raft host and a Store each, as the daemon runs them.

const elasticShards = 8

// elasticNode is one node of a test cluster.
type elasticNode struct {
	name     string
	dir      string
	raftAddr string
	node     *cluster.Node
	raft     *cluster.Raft
	store    *Store
	shards   *cluster.Shards
}

type elastic struct {
	t       *testing.T
	expect  int
	dead    time.Duration
	mu      sync.Mutex
	nodes   map[string]*elasticNode
	running []*elasticNode
	logs    lockedBuffer
}

func newElastic(t *testing.T, expect int, dead time.Duration) *elastic {
	e := &elastic{t: t, expect: expect, dead: dead, nodes: map[string]*elasticNode{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the managers' logs:\n%s", e.logs.String())
		}
	})
	return e
}

// start starts the node called name (again, with the same data, when it ran before), joining
// the nodes running.
func (e *elastic) start(name string) *elasticNode {
	t := e.t
	t.Helper()
	e.mu.Lock()
	n := e.nodes[name]
	if n == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n = &elasticNode{name: name, dir: t.TempDir(), raftAddr: ln.Addr().String()}
		ln.Close()
		e.nodes[name] = n
	}
	var join []string
	for _, r := range e.running {
		join = append(join, r.node.GossipAddr())
	}
	e.mu.Unlock()

	node, err := cluster.New(cluster.Config{
		Name: name, Bind: "127.0.0.1:0", Join: join, RemoteAddr: "127.0.0.1:1", APIAddr: "127.0.0.1:2",
		RaftAddr: n.raftAddr, ProbeInterval: 100 * time.Millisecond, ClusterID: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := node.Start(ctx); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	store, err := Open(filepath.Join(n.dir, "store"), Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	r, err := cluster.NewRaft(cluster.RaftConfig{
		Node: name, Dir: filepath.Join(n.dir, "raft"), Addr: n.raftAddr, Resolve: node.ResolveRaft, ClusterID: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	shards, err := cluster.NewShards(cluster.ShardsConfig{
		Node: node, Raft: r, Create: store.ShardMachineFactory(), Drop: store.DropShard, Dir: filepath.Join(n.dir, "shards"),
		NumShards: elasticShards, BootstrapExpect: e.expect, DeadNodeTimeout: e.dead,
		Interval: 100 * time.Millisecond, CatchUpTimeout: 20 * time.Second, Logger: e.testLogger(name),
	})
	if err != nil {
		t.Fatal(err)
	}
	n.node, n.raft, n.store, n.shards = node, r, store, shards
	e.mu.Lock()
	e.running = append(e.running, n)
	e.mu.Unlock()
	t.Cleanup(func() { e.stop(n) })
	return n
}

// stop stops the node: the manager, its Raft host, its membership (it leaves), its store.
func (e *elastic) stop(n *elasticNode) {
	e.mu.Lock()
	e.running = slices.DeleteFunc(e.running, func(r *elasticNode) bool { return r == n })
	e.mu.Unlock()
	if n.shards != nil {
		n.shards.Close()
		n.shards = nil
	}
	if n.raft != nil {
		n.raft.Close()
		n.raft = nil
	}
	if n.node != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.node.Shutdown(ctx)
		cancel()
		n.node = nil
	}
	if n.store != nil {
		n.store.Close()
		n.store = nil
	}
}

func (e *elastic) live() []*elasticNode {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.running)
}

// settled waits until every shard's voting replicas are exactly the desired ones over the
// nodes called names (preferred leader first, and leading), with no non-voting replica, as the
// nodes running report it.
func (e *elastic) settled(names []string, timeout time.Duration) map[uint64][]string {
	e.t.Helper()
	start := time.Now()
	defer func() { e.t.Logf("settled over %v in %v", names, time.Since(start).Round(time.Millisecond)) }()
	want := map[uint64][]string{}
	for s := uint64(1); s <= elasticShards; s++ {
		want[s] = cluster.ShardReplicaNodes(names, s, min(3, len(names)))
	}
	testwait.Until(e.t, timeout, func() error {
		seen := map[uint64]cluster.ShardStatus{}
		for _, n := range e.live() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st := n.shards.Status(ctx)
			cancel()
			if st.Moving {
				var moving []string
				for _, ss := range st.Shards {
					if ss.Moving {
						moving = append(moving, fmt.Sprintf("%d: %+v leader %s desired %v", ss.Shard, ss.Replicas, ss.Leader, ss.Desired))
					}
				}
				return fmt.Errorf("%s: data still moving: %v", n.name, moving)
			}
			for _, ss := range st.Shards {
				if !slices.Contains(want[ss.Shard], n.name) {
					return fmt.Errorf("%s still holds shard %d (%+v)", n.name, ss.Shard, ss.Replicas)
				}
				seen[ss.Shard] = ss
			}
		}
		for s := uint64(1); s <= elasticShards; s++ {
			ss, ok := seen[s]
			if !ok {
				return fmt.Errorf("shard %d: no node reports it", s)
			}
			var voters []string
			for _, r := range ss.Replicas {
				if !r.Voting {
					return fmt.Errorf("shard %d: %s still non-voting", s, r.Node)
				}
				voters = append(voters, r.Node)
			}
			sort.Strings(voters)
			if w := slices.Sorted(slices.Values(want[s])); !slices.Equal(voters, w) {
				return fmt.Errorf("shard %d: voters %v, want %v", s, voters, w)
			}
			if ss.Leader != want[s][0] {
				return fmt.Errorf("shard %d: leader %q, want %s", s, ss.Leader, want[s][0])
			}
		}
		return nil
	})
	return want
}

// writer proposes to the shards through whichever running node holds them.
type writer struct {
	e      *elastic
	epochs map[uint64]uint64
}

func newWriter(t *testing.T, e *elastic) *writer {
	w := &writer{e: e, epochs: map[uint64]uint64{}}
	for s := uint64(1); s <= elasticShards; s++ {
		v, err := w.propose(s, EncodeAcquire(1), 20*time.Second)
		if err != nil {
			t.Fatalf("acquire shard %d: %v", s, err)
		}
		w.epochs[s] = v
	}
	return w
}

// propose tries every running node that holds shard until one commits cmd.
func (w *writer) propose(shard uint64, cmd []byte, timeout time.Duration) (uint64, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		for _, n := range w.e.live() {
			held := slices.ContainsFunc(n.raft.LocalReplicas(), func(lr cluster.LocalReplica) bool { return lr.Shard == shard })
			if !held {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			res, err := n.raft.Propose(ctx, shard, cmd)
			cancel()
			if err == nil {
				return res.Value, nil
			}
			last = fmt.Errorf("%s: %w", n.name, err)
		}
		time.Sleep(20 * time.Millisecond) // electing or moving: dragonboat has no wait of its own
	}
	return 0, fmt.Errorf("shard %d: no node committed in %v: %v", shard, timeout, last)
}

// set writes key=value into shard, under the writer's epoch.
func (w *writer) set(shard uint64, key, value string) error {
	var store *Store
	for _, n := range w.e.live() {
		store = n.store
		break
	}
	b := store.NewBatch()
	_ = b.b.Set(append(ShardPrefix(shard), key...), []byte(value), nil)
	got, err := w.propose(shard, EncodeBatch(w.epochs[shard], 0, b), 20*time.Second)
	if err == nil && got != ShardApplied {
		err = fmt.Errorf("shard %d: batch result %d", shard, got)
	}
	return err
}

func valueIn(s *Store, shard uint64, key string) (string, bool) {
	v, closer, err := s.db.Get(append(ShardPrefix(shard), key...))
	if err != nil {
		return "", false
	}
	defer closer.Close()
	return string(v), true
}

// holdsValue waits until every named node's store has key=value in shard.
func (e *elastic) holdsValue(names []string, shard uint64, key, value string) {
	e.t.Helper()
	testwait.Until(e.t, 20*time.Second, func() error {
		for _, name := range names {
			e.mu.Lock()
			n := e.nodes[name]
			e.mu.Unlock()
			if got, ok := valueIn(n.store, shard, key); !ok || got != value {
				return fmt.Errorf("%s: shard %d %s=%q (%v), want %q", name, shard, key, got, ok, value)
			}
		}
		return nil
	})
}

// Three nodes expecting three form the cluster: every shard gets three voting replicas and its
// preferred leader.
func TestShardsBootstrapThree(t *testing.T) {
	e := newElastic(t, 3, time.Hour)
	e.start("node-1")
	e.start("node-2")
	e.start("node-3")
	e.settled([]string{"node-1", "node-2", "node-3"}, 30*time.Second)
}

// A one-node cluster holds every shard alone; two nodes join and every shard grows to three
// voting replicas with the data on each; then the first node stops and every shard still takes
// writes and keeps the data.
func TestShardsGrowFromOne(t *testing.T) {
	e := newElastic(t, 1, time.Hour)
	first := e.start("node-1")
	e.settled([]string{"node-1"}, 20*time.Second)
	w := newWriter(t, e)
	for s := uint64(1); s <= 4; s++ {
		if err := w.set(s, "k", fmt.Sprint("v", s)); err != nil {
			t.Fatal(err)
		}
	}

	e.start("node-2")
	e.start("node-3")
	all := []string{"node-1", "node-2", "node-3"}
	e.settled(all, 40*time.Second)
	for s := uint64(1); s <= 4; s++ {
		e.holdsValue(all, s, "k", fmt.Sprint("v", s))
	}

	e.stop(first)
	rest := []string{"node-2", "node-3"}
	for s := uint64(1); s <= elasticShards; s++ {
		if err := w.set(s, "after", "1"); err != nil {
			t.Fatal(err)
		}
		e.holdsValue(rest, s, "after", "1")
	}
	for s := uint64(1); s <= 4; s++ {
		e.holdsValue(rest, s, "k", fmt.Sprint("v", s))
	}
}

// A fourth node joins three: the shards whose top three it enters move a replica to it (about
// three quarters of them), the data comes along, and a writer running all along keeps writing.
func TestShardsRebalanceToFourth(t *testing.T) {
	e := newElastic(t, 3, time.Hour)
	e.start("node-1")
	e.start("node-2")
	e.start("node-3")
	e.settled([]string{"node-1", "node-2", "node-3"}, 30*time.Second)
	w := newWriter(t, e)

	var (
		stop    atomic.Bool
		written atomic.Int64
		errs    = make(chan error, 1)
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			s := uint64(i%elasticShards) + 1
			if err := w.set(s, fmt.Sprintf("w%05d", i), fmt.Sprint(i)); err != nil {
				errs <- err
				return
			}
			written.Add(1)
		}
	}()

	e.start("node-4")
	all := []string{"node-1", "node-2", "node-3", "node-4"}
	before := written.Load()
	want := e.settled(all, 60*time.Second)
	stop.Store(true)
	<-done
	select {
	case err := <-errs:
		t.Fatalf("writer: %v", err)
	default:
	}
	if written.Load() <= before {
		t.Fatal("no write was acknowledged while the shards moved")
	}
	// What node-4 holds now, not what placement wants: settled compared the two already.
	moved := len(e.nodes["node-4"].raft.LocalReplicas())
	t.Logf("node-4 holds %d of %d shards; %d writes, %d during the move", moved, elasticShards, written.Load(), written.Load()-before)
	if moved == 0 || moved == elasticShards {
		t.Fatalf("node-4 holds %d of %d shards", moved, elasticShards)
	}
	n := int(written.Load())
	for i := 0; i < n; i++ {
		s := uint64(i%elasticShards) + 1
		e.holdsValue(want[s], s, fmt.Sprintf("w%05d", i), fmt.Sprint(i))
	}
}

// A node that stops has its replicas replaced once it has been gone DeadNodeTimeout; a node
// that drains hands its replicas and leaderships over before it leaves.
func TestShardsDeadNodeThenDrain(t *testing.T) {
	const dead = 3 * time.Second
	e := newElastic(t, 4, dead)
	for i := 1; i <= 4; i++ {
		e.start(fmt.Sprint("node-", i))
	}
	e.settled([]string{"node-1", "node-2", "node-3", "node-4"}, 30*time.Second)
	w := newWriter(t, e)
	for s := uint64(1); s <= elasticShards; s++ {
		if err := w.set(s, "k", "v"); err != nil {
			t.Fatal(err)
		}
	}

	e.mu.Lock()
	n4 := e.nodes["node-4"]
	e.mu.Unlock()
	gone := time.Now()
	e.stop(n4)
	three := []string{"node-1", "node-2", "node-3"}
	e.settled(three, 40*time.Second)
	if since := time.Since(gone); since < dead {
		t.Fatalf("replicas replaced %v after the node left, before DeadNodeTimeout %v", since, dead)
	}
	for s := uint64(1); s <= elasticShards; s++ {
		e.holdsValue(three, s, "k", "v")
	}

	// node-4 comes back: its old replicas were removed (their ids are burnt), so the leaders
	// give it new ones and it drops the old.
	e.start("node-4")
	four := []string{"node-1", "node-2", "node-3", "node-4"}
	want := e.settled(four, 40*time.Second)
	for s := uint64(1); s <= elasticShards; s++ {
		e.holdsValue(want[s], s, "k", "v")
	}

	e.mu.Lock()
	n3 := e.nodes["node-3"]
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := n3.shards.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := n3.raft.LocalReplicas(); len(got) != 0 {
		t.Fatalf("node-3 still runs %d replicas after Drain", len(got))
	}
	e.stop(n3)
	rest := []string{"node-1", "node-2", "node-4"}
	e.settled(rest, 30*time.Second)
	for s := uint64(1); s <= elasticShards; s++ {
		if err := w.set(s, "after", "1"); err != nil {
			t.Fatal(err)
		}
		e.holdsValue(rest, s, "after", "1")
		e.holdsValue(rest, s, "k", "v")
	}
}

// A node that restarts before DeadNodeTimeout keeps its replicas, with their ids, and catches
// up from the log, also the replicas it joined (which restart as non-voting and replay their
// promotion).
func TestShardsRestartKeepsReplicas(t *testing.T) {
	e := newElastic(t, 3, time.Hour)
	e.start("node-1")
	e.start("node-2")
	e.start("node-3")
	e.settled([]string{"node-1", "node-2", "node-3"}, 30*time.Second)
	n4 := e.start("node-4")
	four := []string{"node-1", "node-2", "node-3", "node-4"}
	want := e.settled(four, 40*time.Second)
	ids := map[uint64]uint64{}
	for _, lr := range n4.raft.LocalReplicas() {
		ids[lr.Shard] = lr.Replica
	}
	if len(ids) == 0 {
		t.Fatal("node-4 holds no replica")
	}
	e.stop(n4)
	w := newWriter(t, e)
	for s := uint64(1); s <= elasticShards; s++ {
		if err := w.set(s, "while-away", "1"); err != nil {
			t.Fatal(err)
		}
	}
	n4 = e.start("node-4")
	e.settled(four, 40*time.Second)
	for _, lr := range n4.raft.LocalReplicas() {
		if ids[lr.Shard] != lr.Replica {
			t.Fatalf("shard %d: node-4 came back with replica %d, had %d", lr.Shard, lr.Replica, ids[lr.Shard])
		}
	}
	for s := uint64(1); s <= elasticShards; s++ {
		e.holdsValue(want[s], s, "while-away", "1")
	}
}

// testLogger keeps the manager's logs (at info: each move) in the test's log buffer, printed
// only when the test fails.
func (e *elastic) testLogger(name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", name)
}

// lockedBuffer is a log sink shared by the nodes of a test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A node back after DeadNodeTimeout, when another node took its place meanwhile, drops its old
// replicas of the shards it is no longer wanted in: they were removed while it was away, so no
// leader's message told it, and they would sit idle on its disk.
func TestShardsNodeBackAfterItsReplacementDropsStaleReplicas(t *testing.T) {
	const dead = 2 * time.Second
	four := []string{"node-1", "node-2", "node-3", "node-4"}
	// A node to stop, and a newcomer that outranks it in some shard it held.
	var victim, newcomer string
	var all []string
	var stale []uint64
	for i := 5; len(stale) == 0; i++ {
		if i == 100 {
			t.Fatal("no newcomer name takes a shard of another node's")
		}
		newcomer = fmt.Sprint("node-", i)
		all = append(slices.Clone(four), newcomer)
		for _, victim = range four {
			for s := uint64(1); s <= elasticShards; s++ {
				if slices.Contains(cluster.ShardReplicaNodes(four, s, 3), victim) && !slices.Contains(cluster.ShardReplicaNodes(all, s, 3), victim) {
					stale = append(stale, s)
				}
			}
			if len(stale) > 0 {
				break
			}
		}
	}
	t.Logf("with %s in, %s's replicas of shards %v are stale", newcomer, victim, stale)

	e := newElastic(t, 4, dead)
	for _, name := range four {
		e.start(name)
	}
	e.settled(four, 30*time.Second)
	e.mu.Lock()
	gone := e.nodes[victim]
	e.mu.Unlock()
	e.stop(gone)
	e.start(newcomer)
	e.settled(slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == victim }), 40*time.Second)

	back := e.start(victim)
	e.settled(all, 40*time.Second)
	for _, lr := range back.raft.LocalReplicas() {
		if slices.Contains(stale, lr.Shard) {
			t.Fatalf("%s still runs its old replica of shard %d", victim, lr.Shard)
		}
	}
}
