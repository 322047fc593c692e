package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"
	dbconfig "github.com/lni/dragonboat/v4/config"
	dblogger "github.com/lni/dragonboat/v4/logger"
	"github.com/lni/dragonboat/v4/raftio"
	"github.com/lni/dragonboat/v4/statemachine"
)

// Raft is this node's host of shard replicas: one dragonboat NodeHost, whose Raft groups (one
// per shard) replicate pushd's state. Raft traffic goes over mutual TLS with the cluster CA, and
// the Raft address of each node comes from membership (Member.RaftAddr), not from a registry of
// dragonboat's own: a node is addressed by its NodeHostID, derived from its name.
type Raft struct {
	nh  *dragonboat.NodeHost
	reg *raftRegistry

	snapshotEntries uint64
	electionTicks   uint64
	heartbeatTicks  uint64

	mu       sync.Mutex
	onLeader func(shard, leader, term uint64)
}

// RaftConfig configures a Raft host. Zero fields take the defaults stated on them.
type RaftConfig struct {
	// Node is this pushd node's name; its NodeHostID is NodeHostID(Node). Required.
	Node string
	// Dir keeps the Raft log and snapshots. Required.
	Dir string
	// Addr is the host:port peers reach this node's Raft at (gossiped as Member.RaftAddr). Required.
	Addr string
	// Listen is the host:port Raft listens on. Default: Addr.
	Listen string
	// CAFile, CertFile and KeyFile are the mutual TLS of Raft traffic (the files of cluster.tls).
	// All empty: plain TCP, for tests of one process only.
	CAFile, CertFile, KeyFile string
	// ClusterID becomes dragonboat's deployment id: hosts of another cluster drop our messages.
	ClusterID string
	// RTT is the Raft tick. Default 50ms.
	RTT time.Duration
	// SnapshotEntries is how many entries a replica applies between snapshots. Default 4,000.
	SnapshotEntries uint64
	// Resolve returns the Raft address of the node with the given NodeHostID, from membership.
	// Required.
	Resolve func(nodeHostID string) (addr string, ok bool)
	// OnLeader, when set, is called (on dragonboat's goroutine; it must not block) each time a
	// shard replica on this host learns of a new leader (0: none known).
	OnLeader func(shard, leader, term uint64)
}

// Shard election and heartbeat: a leader that stops is replaced after one to two election
// timeouts. Each replica is ticked every RaftConfig.RTT whatever its load, so the tick is no
// finer than the heartbeat: at 10ms, 3 × 64 idle replicas cost half a core.
const (
	raftElection  = 500 * time.Millisecond
	raftHeartbeat = 50 * time.Millisecond
	// raftSnapshotEntries is how many entries a replica applies between snapshots by default; the
	// log is compacted to a quarter of that behind the snapshot. A snapshot of an on-disk state
	// machine is an fsync of the store and a small file, so it is taken often to keep the log
	// short; a replica further behind than the quarter catches up by a streamed snapshot.
	raftSnapshotEntries = 4000
)

// ErrRaftConfig wraps a missing RaftConfig field.
var ErrRaftConfig = errors.New("cluster: invalid raft config")

// NewRaft starts a Raft host. Its shards start with StartShard.
func NewRaft(cfg RaftConfig) (*Raft, error) {
	if cfg.Node == "" || cfg.Dir == "" || cfg.Addr == "" || cfg.Resolve == nil {
		return nil, fmt.Errorf("%w: Node, Dir, Addr and Resolve are required", ErrRaftConfig)
	}
	if cfg.RTT <= 0 {
		cfg.RTT = 50 * time.Millisecond
	}
	if cfg.SnapshotEntries == 0 {
		cfg.SnapshotEntries = raftSnapshotEntries
	}
	quietDragonboat()
	r := &Raft{onLeader: cfg.OnLeader, snapshotEntries: cfg.SnapshotEntries,
		heartbeatTicks: uint64(max(raftHeartbeat/cfg.RTT, 1))}
	r.electionTicks = max(uint64(raftElection/cfg.RTT), 3*r.heartbeatTicks) // dragonboat wants more than twice the heartbeat
	r.reg = &raftRegistry{resolve: cfg.Resolve, targets: map[raftio.NodeInfo]string{}}
	engine := dbconfig.GetDefaultEngineConfig()
	// Far fewer workers and log shards than dragonboat's 16 of each: spread over many, the
	// proposals of 64 busy shards went out as many small writes and fsyncs, each worker's own;
	// with one Raft log every step worker's updates share the log's commits. The step workers'
	// and log shards' counts are written into the node's Raft dir at its first start and may
	// not change afterwards; the other workers' may.
	engine.ExecShards, engine.CommitShards, engine.ApplyShards, engine.SnapshotShards, engine.CloseShards = 2, 2, 2, 2, 2
	logdb := dbconfig.GetSmallMemLogDBConfig()
	logdb.Shards = 1
	// The Raft log is short-lived: entries are deleted a quarter of SnapshotEntries behind each
	// (cheap, on-disk) snapshot. Its Pebble keeps up to 24 memtables' worth in L0 before a
	// compaction, so a compaction mostly drops deleted entries instead of rewriting live ones;
	// at dragonboat's 8 files of 16 MiB, each L0 compaction rewrote the whole log (every L0 file
	// spans all 64 shards' keys).
	logdb.KVWriteBufferSize = 32 << 20
	logdb.KVLevel0FileNumCompactionTrigger = 24
	logdb.KVLevel0SlowdownWritesTrigger = 48
	logdb.KVLevel0StopWritesTrigger = 72
	nhc := dbconfig.NodeHostConfig{
		NodeHostID:        NodeHostID(cfg.Node),
		DeploymentID:      deploymentID(cfg.ClusterID),
		NodeHostDir:       filepath.Join(cfg.Dir, "host"),
		WALDir:            filepath.Join(cfg.Dir, "wal"),
		RTTMillisecond:    uint64(max(cfg.RTT/time.Millisecond, 1)),
		RaftAddress:       cfg.Addr,
		ListenAddress:     cfg.Listen,
		MutualTLS:         cfg.CAFile != "",
		CAFile:            cfg.CAFile,
		CertFile:          cfg.CertFile,
		KeyFile:           cfg.KeyFile,
		RaftEventListener: r,
		Expert: dbconfig.ExpertConfig{
			NodeRegistryFactory: r.reg,
			Engine:              engine,
			LogDB:               logdb,
		},
	}
	nh, err := dragonboat.NewNodeHost(nhc)
	if err != nil {
		return nil, fmt.Errorf("cluster: start raft on %s: %w", cfg.Addr, err)
	}
	r.nh = nh
	return r, nil
}

// quietDragonboat keeps dragonboat's own loggers (package-level in dragonboat) to errors: they log
// every election and snapshot at info. Once per process: setting a level races with a host that
// is already logging (tests run several hosts in one process).
func quietDragonboat() { quietOnce.Do(setDragonboatLevels) }

var quietOnce sync.Once

func setDragonboatLevels() {
	for _, name := range []string{"dragonboat", "raft", "rsm", "transport", "logdb", "raftpb", "registry",
		"config", "settings", "server", "tan", "pebblekv", "LogDB", "raft-mt", "tools", "gossip"} {
		dblogger.GetLogger(name).SetLevel(dblogger.ERROR)
	}
}

// NodeHostID is the dragonboat NodeHostID of the node called name: a UUID made from a hash of the
// name, so that it is stable across restarts and known to every node.
func NodeHostID(name string) string {
	h := sha256.Sum256([]byte("pushd node " + name))
	h[6] = h[6]&0x0f | 0x50 // version 5 (name-based)
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// ReplicaID is the replica id of the node called name in every shard it holds.
func ReplicaID(name string) uint64 {
	h := sha256.Sum256([]byte("pushd replica " + name))
	return binary.BigEndian.Uint64(h[:8])>>1 | 1 // non-zero, and positive as a signed number
}

func deploymentID(clusterID string) uint64 {
	if clusterID == "" {
		return 0
	}
	h := sha256.Sum256([]byte("pushd cluster " + clusterID))
	return binary.BigEndian.Uint64(h[:8]) | 1
}

// StartShard starts this host's replica of shard with the state machines of create. members maps
// each initial replica id to its node's name. A replica that restarts passes the same members (or
// none: its log has them).
func (r *Raft) StartShard(shard, replica uint64, members map[uint64]string, create statemachine.CreateOnDiskStateMachineFunc) error {
	initial := make(map[uint64]dragonboat.Target, len(members))
	for id, node := range members {
		initial[id] = NodeHostID(node)
	}
	return r.start(shard, replica, initial, false, create)
}

// JoinShard starts this host's replica of an existing shard, as the non-voting replica that a
// member of the shard added with AddNonVoting: it catches up, by snapshot when the shard's log
// was compacted, and votes once AddVoting promotes it.
func (r *Raft) JoinShard(shard, replica uint64, create statemachine.CreateOnDiskStateMachineFunc) error {
	return r.start(shard, replica, nil, true, create)
}

func (r *Raft) start(shard, replica uint64, initial map[uint64]dragonboat.Target, join bool, create statemachine.CreateOnDiskStateMachineFunc) error {
	cfg := dbconfig.Config{
		IsNonVoting:        join,
		ShardID:            shard,
		ReplicaID:          replica,
		ElectionRTT:        r.electionTicks,
		HeartbeatRTT:       r.heartbeatTicks,
		CheckQuorum:        true,
		PreVote:            true,
		SnapshotEntries:    r.snapshotEntries,
		CompactionOverhead: r.snapshotEntries / 4,
		// dragonboat would compact the log DB's key range of the shard after each log truncation:
		// with L0 files spanning every shard, a compaction of most of L0, 64 times per round of
		// snapshots. Pebble's own compactions drop the deleted entries.
		DisableAutoCompactions: true,
	}
	if err := r.nh.StartOnDiskReplica(initial, join, create, cfg); err != nil {
		return fmt.Errorf("cluster: start shard %d replica %d: %w", shard, replica, err)
	}
	return nil
}

// Propose replicates cmd through shard's Raft group and returns its result once this host has
// applied it. ctx must carry a deadline.
func (r *Raft) Propose(ctx context.Context, shard uint64, cmd []byte) (statemachine.Result, error) {
	return r.nh.SyncPropose(ctx, r.nh.GetNoOPSession(shard), cmd)
}

// ProposeAsync starts replicating cmd through shard's Raft group and calls done once, from
// another goroutine, with its result once this host has applied it (or with the error that
// ended it: timeout, not the leader, shut down). Proposals started one after another on the
// shard's leader are applied in that order.
func (r *Raft) ProposeAsync(shard uint64, cmd []byte, timeout time.Duration, done func(statemachine.Result, error)) {
	rs, err := r.nh.Propose(r.nh.GetNoOPSession(shard), cmd, timeout)
	if err != nil {
		go done(statemachine.Result{}, fmt.Errorf("cluster: propose to shard %d: %w", shard, err))
		return
	}
	go func() {
		res := <-rs.ResultC()
		rs.Release()
		switch {
		case res.Completed():
			done(res.GetResult(), nil)
		case res.Timeout():
			done(statemachine.Result{}, fmt.Errorf("cluster: shard %d: %w", shard, dragonboat.ErrTimeout))
		case res.Dropped():
			done(statemachine.Result{}, fmt.Errorf("cluster: shard %d: proposal dropped (no leader): %w", shard, dragonboat.ErrShardNotReady))
		default:
			done(statemachine.Result{}, fmt.Errorf("cluster: shard %d: proposal ended: %w", shard, dragonboat.ErrAborted))
		}
	}()
}

// Leader returns the shard's leader replica as this host knows it.
func (r *Raft) Leader(shard uint64) (leader, term uint64, ok bool) {
	leader, term, ok, err := r.nh.GetLeaderID(shard)
	return leader, term, ok && err == nil
}

// Read returns the state machine's answer to q once this host's replica has applied everything
// committed before the call (a linearizable read). ctx must carry a deadline.
func (r *Raft) Read(ctx context.Context, shard uint64, q any) (any, error) {
	return r.nh.SyncRead(ctx, shard, q)
}

// Members returns the shard's voting and non-voting replicas (replica id → NodeHostID).
func (r *Raft) Members(ctx context.Context, shard uint64) (voting, nonVoting map[uint64]string, err error) {
	m, err := r.nh.SyncGetShardMembership(ctx, shard)
	if err != nil {
		return nil, nil, err
	}
	return m.Nodes, m.NonVotings, nil
}

// Membership is a shard's replica set as a committed membership change left it.
type Membership struct {
	Voting, NonVoting map[uint64]string   // replica id → NodeHostID
	Removed           map[uint64]struct{} // replica ids that can never be used again
	ConfigChangeID    uint64              // the index of the last membership change
}

// Membership returns the shard's membership, read linearizably through its leader. ctx must carry
// a deadline.
func (r *Raft) Membership(ctx context.Context, shard uint64) (Membership, error) {
	m, err := r.nh.SyncGetShardMembership(ctx, shard)
	if err != nil {
		return Membership{}, err
	}
	return Membership{Voting: m.Nodes, NonVoting: m.NonVotings, Removed: m.Removed, ConfigChangeID: m.ConfigChangeID}, nil
}

// LocalReplica is a replica running on this host as it knows itself, without asking the leader.
type LocalReplica struct {
	Shard, Replica uint64
	NonVoting      bool
	Leader, Term   uint64            // the leader it knows (0: none)
	Replicas       map[uint64]string // the members it has applied (voting and non-voting)
}

// LocalReplicas returns the replicas running on this host.
func (r *Raft) LocalReplicas() []LocalReplica {
	info := r.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true})
	if info == nil {
		return nil
	}
	out := make([]LocalReplica, 0, len(info.ShardInfoList))
	for _, si := range info.ShardInfoList {
		out = append(out, LocalReplica{Shard: si.ShardID, Replica: si.ReplicaID, NonVoting: si.IsNonVoting,
			Leader: si.LeaderID, Term: si.Term, Replicas: si.Replicas})
	}
	return out
}

// RestartShard restarts a replica this host ran before, from its log: joined says whether it was
// started with JoinShard (it then restarts as a non-voting replica, and turns voting again when
// its log replays the promotion) rather than StartShard.
func (r *Raft) RestartShard(shard, replica uint64, joined bool, create statemachine.CreateOnDiskStateMachineFunc) error {
	return r.start(shard, replica, nil, joined, create)
}

// StopReplica stops this host's replica of shard; its data stays.
func (r *Raft) StopReplica(shard, replica uint64) error {
	return r.nh.StopReplica(shard, replica)
}

// RemoveData deletes the data of a stopped replica. Only for a replica removed from its shard:
// the id can never run on this host again. ctx must carry a deadline.
func (r *Raft) RemoveData(ctx context.Context, shard, replica uint64) error {
	return r.nh.SyncRemoveData(ctx, shard, replica)
}

// AddNonVoting adds the node called node as a non-voting replica of shard: it catches up (by
// snapshot when it is far behind) without counting towards the quorum.
func (r *Raft) AddNonVoting(ctx context.Context, shard, replica uint64, node string) error {
	return r.nh.SyncRequestAddNonVoting(ctx, shard, replica, NodeHostID(node), 0)
}

// AddVoting makes replica (already a non-voting replica on node) a voting one.
func (r *Raft) AddVoting(ctx context.Context, shard, replica uint64, node string) error {
	return r.nh.SyncRequestAddReplica(ctx, shard, replica, NodeHostID(node), 0)
}

// Remove removes replica from shard.
func (r *Raft) Remove(ctx context.Context, shard, replica uint64) error {
	return r.nh.SyncRequestDeleteReplica(ctx, shard, replica, 0)
}

// Snapshot makes this host's replica of shard take a snapshot now and compact its log up to it,
// returning the snapshot's index. ctx must carry a deadline.
func (r *Raft) Snapshot(ctx context.Context, shard uint64) (uint64, error) {
	return r.nh.SyncRequestSnapshot(ctx, shard, dragonboat.SnapshotOption{OverrideCompactionOverhead: true})
}

// TransferLeader asks shard's leader to hand leadership to replica.
func (r *Raft) TransferLeader(shard, replica uint64) error {
	return r.nh.RequestLeaderTransfer(shard, replica)
}

// LeaderUpdated is dragonboat's leader event; it passes it on to RaftConfig.OnLeader.
func (r *Raft) LeaderUpdated(info raftio.LeaderInfo) {
	r.mu.Lock()
	f := r.onLeader
	r.mu.Unlock()
	if f != nil {
		f(info.ShardID, info.LeaderID, info.Term)
	}
}

// Close stops every replica on this host and its Raft transport. The data stays for a restart.
func (r *Raft) Close() {
	r.mu.Lock()
	r.onLeader = nil
	r.mu.Unlock()
	r.nh.Close()
}

// raftRegistry is dragonboat's node registry (its NodeRegistryFactory too): it keeps which
// NodeHostID each replica is on, as dragonboat tells it, and resolves a NodeHostID to a Raft
// address through membership.
type raftRegistry struct {
	resolve func(string) (string, bool)

	mu      sync.Mutex
	targets map[raftio.NodeInfo]string // replica → NodeHostID
}

var _ dbconfig.NodeRegistryFactory = (*raftRegistry)(nil)

// Create returns the registry itself: one per host.
func (g *raftRegistry) Create(string, uint64, dbconfig.TargetValidator) (raftio.INodeRegistry, error) {
	return g, nil
}

func (g *raftRegistry) Close() error { return nil }

func (g *raftRegistry) Add(shard, replica uint64, target string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.targets[raftio.GetNodeInfo(shard, replica)] = target
}

func (g *raftRegistry) Remove(shard, replica uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.targets, raftio.GetNodeInfo(shard, replica))
}

func (g *raftRegistry) RemoveShard(shard uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k := range g.targets {
		if k.ShardID == shard {
			delete(g.targets, k)
		}
	}
}

// errUnknownReplica is returned by Resolve for a replica, or a node, not known (yet).
var errUnknownReplica = errors.New("cluster: raft replica not known")

// Resolve returns the replica's Raft address and the key its connection is shared under (one
// connection per address).
func (g *raftRegistry) Resolve(shard, replica uint64) (string, string, error) {
	g.mu.Lock()
	target, ok := g.targets[raftio.GetNodeInfo(shard, replica)]
	g.mu.Unlock()
	if !ok {
		return "", "", errUnknownReplica
	}
	addr, ok := g.resolve(target)
	if !ok {
		return "", "", errUnknownReplica
	}
	return addr, addr, nil
}
