package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4/statemachine"

	"github.com/pushd-im/pushd/cluster"
	"github.com/pushd-im/pushd/internal/testwait"
)

// raftNode is one member of a test Raft cluster: a Store and a Raft host on loopback.
type raftNode struct {
	name  string
	dir   string
	addr  string
	store *Store
	raft  *cluster.Raft
}

// raftCluster keeps the test nodes' addresses for the hosts' Resolve, as membership would.
type raftCluster struct {
	t     *testing.T
	mu    sync.Mutex
	addrs map[string]string // NodeHostID → Raft address
	nodes map[string]*raftNode
	snap  uint64
	// tls, when set, gives each node its mutual-TLS files: tls(name) → CA, cert, key.
	tls func(name string) (ca, cert, key string)
}

func newRaftCluster(t *testing.T, snapshotEntries uint64) *raftCluster {
	return &raftCluster{t: t, addrs: map[string]string{}, nodes: map[string]*raftNode{}, snap: snapshotEntries}
}

func (c *raftCluster) resolve(nhid string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.addrs[nhid]
	return a, ok
}

// start opens (or reopens, with the same dirs and address) the node called name.
func (c *raftCluster) start(name string) *raftNode {
	c.t.Helper()
	c.mu.Lock()
	n := c.nodes[name]
	if n == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		n = &raftNode{name: name, dir: c.t.TempDir(), addr: addr}
		c.nodes[name] = n
		c.addrs[cluster.NodeHostID(name)] = addr
	}
	c.mu.Unlock()
	s, err := Open(filepath.Join(n.dir, "store"), Options{CacheBytes: 1 << 20})
	if err != nil {
		c.t.Fatal(err)
	}
	rc := cluster.RaftConfig{
		Node: name, Dir: filepath.Join(n.dir, "raft"), Addr: n.addr, Resolve: c.resolve,
		SnapshotEntries: c.snap, ClusterID: "test",
	}
	if c.tls != nil {
		rc.CAFile, rc.CertFile, rc.KeyFile = c.tls(name)
	}
	r, err := cluster.NewRaft(rc)
	if err != nil {
		s.Close()
		c.t.Fatal(err)
	}
	n.store, n.raft = s, r
	c.t.Cleanup(func() { n.stop() })
	return n
}

// stop closes the node's Raft host and store, as a crash would leave them (the store's
// unsynced writes are replayed from the Raft log on restart).
func (n *raftNode) stop() {
	if n.raft != nil {
		n.raft.Close()
		n.raft = nil
	}
	if n.store != nil {
		n.store.Close()
		n.store = nil
	}
}

const testShard = 7

func startShard(t *testing.T, nodes []*raftNode) {
	t.Helper()
	members := map[uint64]string{}
	for _, n := range nodes {
		members[cluster.ReplicaID(n.name)] = n.name
	}
	for _, n := range nodes {
		if err := n.raft.StartShard(testShard, cluster.ReplicaID(n.name), members, n.store.ShardMachineFactory()); err != nil {
			t.Fatal(err)
		}
	}
}

// leader waits until the nodes agree on a leader of the test shard and returns it.
func leader(t *testing.T, nodes []*raftNode) *raftNode {
	t.Helper()
	var found *raftNode
	testwait.Until(t, 20*time.Second, func() error {
		found = nil
		for _, n := range nodes {
			id, _, ok := n.raft.Leader(testShard)
			if !ok {
				return fmt.Errorf("%s knows no leader", n.name)
			}
			for _, m := range nodes {
				if cluster.ReplicaID(m.name) == id {
					found = m
				}
			}
		}
		if found == nil {
			return errors.New("the leader is not one of the nodes")
		}
		return nil
	})
	return found
}

func propose(t *testing.T, n *raftNode, cmd []byte) uint64 {
	t.Helper()
	// While the shard elects, a proposal fails at once: dragonboat has no wait of its own.
	var res statemachine.Result
	testwait.Until(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		if res, err = n.raft.Propose(ctx, testShard, cmd); err != nil {
			return fmt.Errorf("propose on %s: %w", n.name, err)
		}
		return nil
	})
	return res.Value
}

// shardWrite is a batch that sets key (under the test shard) to value.
func shardWrite(s *Store, key, value string) *Batch {
	b := s.NewBatch()
	_ = b.b.Set(append(ShardPrefix(testShard), key...), []byte(value), nil)
	return b
}

func shardValue(s *Store, key string) (string, bool) {
	v, closer, err := s.db.Get(append(ShardPrefix(testShard), key...))
	if err != nil {
		return "", false
	}
	defer closer.Close()
	return string(v), true
}

func waitValue(t *testing.T, nodes []*raftNode, key, want string) {
	t.Helper()
	testwait.Until(t, 20*time.Second, func() error {
		for _, n := range nodes {
			if got, ok := shardValue(n.store, key); !ok || got != want {
				return fmt.Errorf("%s has %s=%q (%v), want %q", n.name, key, got, ok, want)
			}
		}
		return nil
	})
}

// acquiredShard starts the test shard on three nodes, waits for its leader and makes it the
// shard's writer.
func acquiredShard(t *testing.T, snapshotEntries uint64) (*raftCluster, []*raftNode, *raftNode, uint64) {
	t.Helper()
	c := newRaftCluster(t, snapshotEntries)
	nodes := []*raftNode{c.start("node-1"), c.start("node-2"), c.start("node-3")}
	startShard(t, nodes)
	lead := leader(t, nodes)
	return c, nodes, lead, propose(t, lead, EncodeAcquire(cluster.ReplicaID(lead.name)))
}

// A shard's writes reach every replica's Pebble; a batch computed under an old writer's epoch
// is refused once another replica has acquired the shard, and so is one that writes outside the
// shard; the data survives the leader's loss and a restart.
func TestShardReplicatesWritesUnderEpochs(t *testing.T) {
	c, nodes, first, epoch := acquiredShard(t, 0)
	if epoch == 0 {
		t.Fatal("acquire returned epoch 0")
	}
	if got := propose(t, first, EncodeBatch(epoch, 0, shardWrite(first.store, "a", "1"))); got != ShardApplied {
		t.Fatalf("batch of the writer: result %d, want applied", got)
	}
	waitValue(t, nodes, "a", "1")

	// Another replica acquires the shard: the first writer's batches are refused from then on,
	// whoever proposes them.
	var second *raftNode
	for _, n := range nodes {
		if n != first {
			second = n
			break
		}
	}
	epoch2 := propose(t, second, EncodeAcquire(cluster.ReplicaID(second.name)))
	if epoch2 <= epoch {
		t.Fatalf("second acquire: epoch %d after %d", epoch2, epoch)
	}
	if got := propose(t, first, EncodeBatch(epoch, 0, shardWrite(first.store, "a", "stale"))); got != ShardRefused {
		t.Fatalf("batch of the old epoch: result %d, want refused", got)
	}
	if got := propose(t, second, EncodeBatch(epoch2, 0, shardWrite(second.store, "b", "2"))); got != ShardApplied {
		t.Fatalf("batch of the new epoch: result %d, want applied", got)
	}
	outside := second.store.NewBatch()
	_ = outside.b.Set(append(ShardPrefix(testShard+1), "x"...), []byte("y"), nil)
	if got := propose(t, second, EncodeBatch(epoch2, 0, outside)); got != ShardRefused {
		t.Fatalf("batch outside the shard: result %d, want refused", got)
	}
	waitValue(t, nodes, "a", "1")
	waitValue(t, nodes, "b", "2")
	for _, n := range nodes {
		meta, err := n.store.ShardMeta(testShard)
		if err != nil || meta.Epoch != epoch2 || meta.Writer != cluster.ReplicaID(second.name) {
			t.Fatalf("%s: meta %+v (%v), want epoch %d writer %s", n.name, meta, err, epoch2, second.name)
		}
	}

	// The leader goes away: the other two elect one and take writes.
	lead := leader(t, nodes)
	lead.stop()
	var rest []*raftNode
	for _, n := range nodes {
		if n != lead {
			rest = append(rest, n)
		}
	}
	next := leader(t, rest)
	epoch3 := propose(t, next, EncodeAcquire(cluster.ReplicaID(next.name)))
	if got := propose(t, next, EncodeBatch(epoch3, 0, shardWrite(next.store, "c", "3"))); got != ShardApplied {
		t.Fatalf("batch after failover: result %d", got)
	}
	waitValue(t, rest, "c", "3")

	// The stopped node comes back and catches up from the log.
	back := c.start(lead.name)
	if err := back.raft.StartShard(testShard, cluster.ReplicaID(back.name), nil, back.store.ShardMachineFactory()); err != nil {
		t.Fatal(err)
	}
	waitValue(t, []*raftNode{back}, "c", "3")
	waitValue(t, []*raftNode{back}, "a", "1")
}

// A replica added to a shard whose log was compacted catches up by snapshot as a non-voting
// member, then votes.
func TestShardNewReplicaCatchesUpBySnapshot(t *testing.T) {
	c, nodes, lead, epoch := acquiredShard(t, 20)
	for i := 0; i < 200; i++ {
		if got := propose(t, lead, EncodeBatch(epoch, 0, shardWrite(lead.store, fmt.Sprintf("k%03d", i), fmt.Sprint(i)))); got != ShardApplied {
			t.Fatalf("write %d: result %d", i, got)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Every replica compacts its log: whoever sends node-4 the shard must send a snapshot.
	for _, n := range nodes {
		if _, err := n.raft.Snapshot(ctx, testShard); err != nil {
			t.Fatalf("snapshot on %s: %v", n.name, err)
		}
	}
	n4 := c.start("node-4")
	if err := lead.raft.AddNonVoting(ctx, testShard, cluster.ReplicaID("node-4"), "node-4"); err != nil {
		t.Fatal(err)
	}
	if err := n4.raft.JoinShard(testShard, cluster.ReplicaID("node-4"), n4.store.ShardMachineFactory()); err != nil {
		t.Fatal(err)
	}
	waitValue(t, []*raftNode{n4}, "k000", "0")
	waitValue(t, []*raftNode{n4}, "k199", "199")
	if meta, err := n4.store.ShardMeta(testShard); err != nil || meta.Epoch != epoch {
		t.Fatalf("node-4 meta %+v (%v), want epoch %d from the snapshot", meta, err, epoch)
	}
	testwait.Until(t, 20*time.Second, func() error {
		if n4.store.Stats().ShardSnapshotsRecovered == 0 {
			return errors.New("node-4 caught up without a snapshot: the log was not compacted")
		}
		return nil
	})
	if err := lead.raft.AddVoting(ctx, testShard, cluster.ReplicaID("node-4"), "node-4"); err != nil {
		t.Fatal(err)
	}
	voting, _, err := lead.raft.Members(ctx, testShard)
	if err != nil || len(voting) != 4 {
		t.Fatalf("voting members %v (%v), want 4", voting, err)
	}
	// Only this shard's keys came over.
	if n := bytes.Count([]byte(fmt.Sprint(allKeys(t, n4.store))), []byte{shardPrefixByte}); n != 201 {
		t.Fatalf("node-4 holds %d shard keys, want 200 and the meta", n)
	}
}

// Raft traffic runs over mutual TLS: nodes with certificates of the cluster CA replicate, and a
// node with another CA's certificate, added to the shard, never receives its data.
func TestShardRaftOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	issue := func(caName string) func(string) (string, string, string) {
		ca, err := cluster.NewCA(caName, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		caFile := filepath.Join(dir, caName+".pem")
		writeFile(t, caFile, ca.CertPEM())
		return func(name string) (string, string, string) {
			certFile, keyFile, err := ca.WriteNode(dir, name, []string{"127.0.0.1"}, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return caFile, certFile, keyFile
		}
	}
	own, other := issue("cluster"), issue("other")
	c := newRaftCluster(t, 0)
	c.tls = func(name string) (string, string, string) {
		if name == "stranger" {
			return other(name)
		}
		return own(name)
	}
	nodes := []*raftNode{c.start("node-1"), c.start("node-2"), c.start("node-3")}
	startShard(t, nodes)
	lead := leader(t, nodes)
	epoch := propose(t, lead, EncodeAcquire(cluster.ReplicaID(lead.name)))
	if got := propose(t, lead, EncodeBatch(epoch, 0, shardWrite(lead.store, "a", "1"))); got != ShardApplied {
		t.Fatalf("write: result %d", got)
	}
	waitValue(t, nodes, "a", "1")

	stranger := c.start("stranger")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := lead.raft.AddNonVoting(ctx, testShard, cluster.ReplicaID("stranger"), "stranger"); err != nil {
		t.Fatal(err)
	}
	if err := stranger.raft.JoinShard(testShard, cluster.ReplicaID("stranger"), stranger.store.ShardMachineFactory()); err != nil {
		t.Fatal(err)
	}
	if got := propose(t, lead, EncodeBatch(epoch, 0, shardWrite(lead.store, "b", "2"))); got != ShardApplied {
		t.Fatalf("write: result %d", got)
	}
	waitValue(t, nodes, "b", "2")
	// The members had every chance to send it: the write above is applied on all three.
	if _, ok := shardValue(stranger.store, "a"); ok {
		t.Fatal("a node with another CA's certificate received the shard's data")
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
