package cluster

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/statemachine"
)

// Shards keeps every shard's Raft replicas on the right nodes as membership changes: the
// "elastic membership" of a pushd cluster. One runs on each node, beside its Node and Raft.
//
// # Where replicas belong
//
// There are NumShards shards, ids 1..NumShards (dragonboat's shard id 0 is invalid). The desired
// replicas of shard s are the top Replicas candidates by rendezvous score (score, as Placement
// uses) of the key "shard/<s>"; the first is the preferred leader. The candidates are the placed
// members that are not draining, plus the members that hold a replica of s and have been gone
// from placement for less than DeadNodeTimeout: a node that restarts quickly keeps its replicas
// and catches up from the log, and only one gone for longer is replaced.
//
// # Who changes membership
//
// Only a shard's leader does, one change at a time, from a linearizable read of the membership:
//
//  1. a desired node without a replica: AddNonVoting with a fresh replica id, then a message
//     (Node.Send) telling the node to JoinShard with that id, repeated until it has caught up;
//  2. a non-voting replica that reported itself caught up: AddVoting;
//  3. once every desired node votes, Remove a replica of a node no longer desired (a leader
//     that is itself no longer desired first hands leadership to the preferred leader), and
//     tell that node, which then deletes the replica's data;
//  4. finally TransferLeader to the preferred leader.
//
// A leader has at most MaxMoves shards with a non-voting replica in flight; a non-voting replica
// that has not caught up after CatchUpTimeout, or whose node left, is removed (its id is then
// burnt, and the next attempt uses a new one).
//
// # Catch-up check
//
// The joining node checks its own replica: a linearizable read of the membership on a non-voting
// replica completes only once that replica has applied everything the leader had committed when
// the read began (dragonboat's ReadIndex). When that read succeeds the node tells every member of
// the shard "caught up"; the leader promotes on that report. A replica restored by snapshot is
// caught up as soon as the read after the snapshot succeeds.
//
// # Replica ids
//
// Dragonboat refuses a removed replica id forever, and a host refuses an id whose data it
// deleted. Ids are therefore never derived from the node name alone: the replica of node n in
// shard s has id ShardReplicaID(n, s, salt), where salt is 0 for the replicas created at
// bootstrap and, for a replica added later, the shard's ConfigChangeID (the log index of its last
// membership change) at the time of the add, incremented while the id is already used or removed.
// Membership changes only grow that index, so an add never reuses an id. The node learns its id
// from the leader's join message, and records it (with whether it joined or was an initial
// member, which a restart must know) in Dir/shards.json before it starts the replica.
//
// # Bootstrap agreement
//
// A node that holds replicas (shards.json lists them) restarts them and never bootstraps. A node
// without any waits until exactly BootstrapExpect members are placed. If none of them gossips a
// formed cluster (Member.Formed), it bootstraps with exactly those members: every shard's initial
// replicas are the top Replicas of them by score, with salt 0, so every node of the set computes
// the same initial members. A formed node gossips the bootstrap id (a hash of the sorted names of
// the initial set); a node without replicas that sees a formed member bootstraps only if it is in
// that very set (it lost the race to gossip, not its data), and otherwise joins: it waits for the
// leaders' join messages. A node arriving in a grown cluster sees formed members, or more than
// BootstrapExpect members, and never bootstraps. So with bootstrap_expect 1 a single node starts
// every shard with one replica, and nodes that join later get replicas added by the leaders.
// Operators must not start more than BootstrapExpect empty nodes at once: a node that sees more
// than BootstrapExpect members, none formed, waits and logs.
type Shards struct {
	cfg  ShardsConfig
	node *Node
	raft *Raft
	log  *slog.Logger
	self string

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}
	once   sync.Once

	mu       sync.Mutex
	state    shardsFile            // persisted
	draining bool                  // Drain was called
	gossiped Member                // the shard state last gossiped
	known    map[string]string     // NodeHostID → node name, of every member seen
	seen     map[string]Member     // name → the member as last placed
	missing  map[string]time.Time  // name → when this node first saw it gone
	pending  map[uint64]pendingAdd // shard → non-voting replica this node added as leader
	caught   map[replicaKey]bool   // non-voting replicas that reported caught up
	joins    map[uint64]joinOrder  // shard → the last join message received
	removed  map[uint64]uint64     // shard → the replica the leader says it removed
	asks     map[replicaKey]string // replica → the node asking whether its shard still counts it
	transfer map[uint64]time.Time  // shard → when this node last asked a leader transfer
	warned   bool

	// leaderless: shard → since when (or since the last ask) the local replica knows no leader.
	// Only the run goroutine touches it.
	leaderless map[uint64]time.Time
}

// ShardsConfig configures Shards. Zero fields take the defaults stated on them.
type ShardsConfig struct {
	// Node is this node's membership; Raft is its Raft host (whose Resolve is Node.ResolveRaft).
	// Create makes the state machine of each shard replica. Dir keeps shards.json. Required.
	Node   *Node
	Raft   *Raft
	Create statemachine.CreateOnDiskStateMachineFunc
	Dir    string
	// Drop deletes this node's state-machine data of a shard (what Create's machines keep outside
	// the Raft log), durably. It runs once the node's replica of the shard was removed and before
	// the node joins a shard afresh: a new replica must start from an empty state machine.
	// Required.
	Drop func(shard uint64) error
	// NumShards is the number of shards, ids 1..NumShards. Default 64. It must never change in
	// a cluster.
	NumShards uint64
	// Replicas is how many replicas each shard has (fewer while fewer nodes are placed). Default 3.
	Replicas int
	// BootstrapExpect is how many nodes form a new cluster. Default 1.
	BootstrapExpect int
	// DeadNodeTimeout is how long a node may be gone from placement before its replicas are
	// replaced. Default 5m.
	DeadNodeTimeout time.Duration
	// CatchUpTimeout is how long a non-voting replica may take to catch up before it is removed
	// (and its node given a new one). Default 2m.
	CatchUpTimeout time.Duration
	// MaxMoves is how many shards a leader moves at once (non-voting replicas in flight). Default 2.
	MaxMoves int
	// Interval is how often each shard is checked (also on every placement change). Default 1s.
	Interval time.Duration
	// Logger receives the manager's logs. Default: discard.
	Logger *slog.Logger
}

// DefaultNumShards and the other defaults of ShardsConfig.
const (
	DefaultNumShards       = 64
	DefaultReplicas        = 3
	DefaultDeadNodeTimeout = 5 * time.Minute
	DefaultCatchUpTimeout  = 2 * time.Minute
	DefaultMaxMoves        = 2
	DefaultShardInterval   = time.Second
)

// shardOpTimeout bounds one Raft call of the manager; statusReadTimeout one membership read of
// Status.
const (
	shardOpTimeout    = 5 * time.Second
	statusReadTimeout = time.Second
)

// shardsFileName is the file in ShardsConfig.Dir that records this node's replicas.
const shardsFileName = "shards.json"

type replicaKey struct{ shard, replica uint64 }

type pendingAdd struct {
	node    string
	replica uint64
	since   time.Time
}

type joinOrder struct {
	replica uint64
	from    string
}

// shardsFile is what a node keeps of its replicas across restarts.
type shardsFile struct {
	// Boot is the bootstrap id of the cluster this node belongs to ("": none yet).
	Boot string `json:"boot,omitempty"`
	// Replicas: shard → the replica this node runs.
	Replicas map[uint64]localShard `json:"replicas"`
}

type localShard struct {
	Replica uint64 `json:"replica"`
	Joined  bool   `json:"joined,omitempty"` // started by JoinShard, not as an initial member
}

// shardMsg is the message nodes exchange about shard replicas (over Node.Send).
type shardMsg struct {
	Kind    string `json:"shards"` // "join", "caught", "removed", "ask"
	Shard   uint64 `json:"s"`
	Replica uint64 `json:"r"`
	From    string `json:"from"`
}

// ShardReplicaID is the replica id of node's replica in shard made with salt (see Shards).
func ShardReplicaID(node string, shard, salt uint64) uint64 {
	h := sha256.New()
	h.Write([]byte("pushd shard replica\x00" + node + "\x00"))
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], shard)
	binary.BigEndian.PutUint64(b[8:], salt)
	h.Write(b[:])
	return binary.BigEndian.Uint64(h.Sum(nil)[:8])>>1 | 1
}

// ShardKey is the rendezvous key that places shard's replicas.
func ShardKey(shard uint64) string { return "shard/" + strconv.FormatUint(shard, 10) }

// ShardReplicaNodes returns the names of the top n of candidates by rendezvous score for shard,
// best first: its desired replicas, the first its preferred leader.
func ShardReplicaNodes(candidates []string, shard uint64, n int) []string {
	key := ShardKey(shard)
	ranked := slices.Clone(candidates)
	slices.SortFunc(ranked, func(a, b string) int {
		if c := cmp.Compare(score(b, key), score(a, key)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return ranked[:min(n, len(ranked))]
}

func bootID(names []string) string {
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	h := sha256.New()
	for _, n := range sorted {
		h.Write([]byte(n + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// NewShards starts the manager: it restarts the replicas this node ran before and then keeps
// every shard's replicas where they belong, until Close.
func NewShards(cfg ShardsConfig) (*Shards, error) {
	if cfg.Node == nil || cfg.Raft == nil || cfg.Create == nil || cfg.Drop == nil || cfg.Dir == "" {
		return nil, errors.New("cluster: shards: Node, Raft, Create, Drop and Dir are required")
	}
	if cfg.NumShards == 0 {
		cfg.NumShards = DefaultNumShards
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = DefaultReplicas
	}
	if cfg.BootstrapExpect <= 0 {
		cfg.BootstrapExpect = 1
	}
	if cfg.DeadNodeTimeout <= 0 {
		cfg.DeadNodeTimeout = DefaultDeadNodeTimeout
	}
	if cfg.CatchUpTimeout <= 0 {
		cfg.CatchUpTimeout = DefaultCatchUpTimeout
	}
	if cfg.MaxMoves <= 0 {
		cfg.MaxMoves = DefaultMaxMoves
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultShardInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Shards{
		cfg: cfg, node: cfg.Node, raft: cfg.Raft, log: cfg.Logger, self: cfg.Node.Self().ID,
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{}),
		known: map[string]string{}, seen: map[string]Member{}, missing: map[string]time.Time{},
		pending: map[uint64]pendingAdd{}, caught: map[replicaKey]bool{}, joins: map[uint64]joinOrder{},
		removed: map[uint64]uint64{}, transfer: map[uint64]time.Time{},
		asks: map[replicaKey]string{}, leaderless: map[uint64]time.Time{},
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		cancel()
		return nil, fmt.Errorf("cluster: shards: %w", err)
	}
	if err := s.load(); err != nil {
		cancel()
		return nil, err
	}
	for shard, l := range s.state.Replicas {
		err := s.raft.RestartShard(shard, l.Replica, l.Joined, cfg.Create)
		if errors.Is(err, dragonboat.ErrReplicaRemoved) || errors.Is(err, dragonboat.ErrShardNotBootstrapped) {
			// Its Raft data was deleted (the node stopped while discarding it): finish the job.
			s.log.Warn("cluster: shards: replica's raft data is gone; dropping it", "shard", shard, "replica", l.Replica)
			if err = cfg.Drop(shard); err == nil {
				delete(s.state.Replicas, shard)
				err = s.save()
			}
		}
		if err != nil {
			cancel()
			return nil, fmt.Errorf("cluster: shards: restart shard %d: %w", shard, err)
		}
	}
	if len(s.state.Replicas) > 0 {
		s.log.Info("cluster: shard replicas restarted", "replicas", len(s.state.Replicas))
	}
	s.node.OnMessage(s.receive)
	go s.run()
	return s, nil
}

func (s *Shards) load() error {
	s.state = shardsFile{Replicas: map[uint64]localShard{}}
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, shardsFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = json.Unmarshal(b, &s.state)
	}
	if err != nil {
		return fmt.Errorf("cluster: shards: read %s: %w", shardsFileName, err)
	}
	if s.state.Replicas == nil {
		s.state.Replicas = map[uint64]localShard{}
	}
	return nil
}

// save writes shards.json durably (a new file renamed over the old). s.mu is held.
func (s *Shards) save() error {
	b, err := json.Marshal(s.state)
	if err != nil {
		return err
	}
	path := filepath.Join(s.cfg.Dir, shardsFileName)
	f, err := os.CreateTemp(s.cfg.Dir, shardsFileName+".*")
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cluster: shards: write %s: %w", shardsFileName, err)
	}
	if d, err := os.Open(s.cfg.Dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Close stops the manager. The replicas keep running on the Raft host, which its owner closes.
func (s *Shards) Close() {
	s.once.Do(func() {
		s.node.OnMessage(nil)
		s.cancel()
		<-s.done
	})
}

func (s *Shards) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// receive handles a peer's message; it runs on memberlist's goroutine and only records it.
func (s *Shards) receive(b []byte) {
	var m shardMsg
	if err := json.Unmarshal(b, &m); err != nil || m.Kind == "" {
		return
	}
	s.mu.Lock()
	switch m.Kind {
	case "join":
		s.joins[m.Shard] = joinOrder{replica: m.Replica, from: m.From}
	case "caught":
		s.caught[replicaKey{m.Shard, m.Replica}] = true
	case "removed":
		s.removed[m.Shard] = m.Replica
	case "ask":
		s.asks[replicaKey{m.Shard, m.Replica}] = m.From
	}
	s.mu.Unlock()
	s.poke()
}

func (s *Shards) send(to string, m shardMsg) {
	m.From = s.self
	b, _ := json.Marshal(m)
	if to == s.self {
		s.receive(b)
		return
	}
	if err := s.node.Send(to, b); err != nil {
		s.log.Debug("cluster: shard message not sent", "to", to, "kind", m.Kind, "shard", m.Shard, "err", err)
	}
}

func (s *Shards) run() {
	defer close(s.done)
	placements, unsubscribe := s.node.Subscribe()
	defer unsubscribe()
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		s.step()
		select {
		case <-s.ctx.Done():
			return
		case _, ok := <-placements:
			if !ok {
				placements = nil
			}
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// step is one pass: membership bookkeeping, bootstrap or join, then each local replica.
func (s *Shards) step() {
	now := time.Now()
	p := s.node.Placement()
	s.observe(p, now)
	if !s.formed(p) {
		return
	}
	s.gossip()
	s.handleJoins(p)
	locals := s.raft.LocalReplicas()
	s.mu.Lock()
	asks := s.asks
	s.asks = map[replicaKey]string{} // a shard this node does not lead asks again later
	for shard := range s.pending {
		if !slices.ContainsFunc(locals, func(lr LocalReplica) bool { return lr.Shard == shard && lr.Leader == lr.Replica }) {
			delete(s.pending, shard) // no longer this node's to move: the new leader picks it up
		}
	}
	var unloaded []replicaKey
	for shard, l := range s.state.Replicas {
		if !slices.ContainsFunc(locals, func(lr LocalReplica) bool { return lr.Shard == shard }) {
			unloaded = append(unloaded, replicaKey{shard, l.Replica})
		}
	}
	s.mu.Unlock()
	// A replica recorded here but not running was unloaded by dragonboat when it applied its own
	// removal (every other replica runs from NewShards or handleJoins on, which this loop runs).
	for _, k := range unloaded {
		s.discard(k.shard, k.replica)
	}
	for shard := range s.leaderless {
		if !slices.ContainsFunc(locals, func(lr LocalReplica) bool { return lr.Shard == shard && lr.Leader == 0 }) {
			delete(s.leaderless, shard)
		}
	}
	for _, lr := range locals {
		if s.ctx.Err() != nil {
			return
		}
		s.tend(lr, p, now, asks)
	}
}

// askIfRemoved asks the other members, once a local replica has known no leader for ten
// intervals (and again every ten), whether its shard still counts it. A replica removed while
// its node was away (replaced after DeadNodeTimeout) hears from no leader, and no leader's
// message told it; the shard's leader answers "removed" (see lead), which tend acts on as for
// any removal: only if the replica's own linearizable read fails or leaves it out.
func (s *Shards) askIfRemoved(lr LocalReplica, p Placement, now time.Time) {
	since, ok := s.leaderless[lr.Shard]
	if !ok || now.Sub(since) < 10*s.cfg.Interval {
		if !ok {
			s.leaderless[lr.Shard] = now
		}
		return
	}
	s.leaderless[lr.Shard] = now
	for _, m := range p.members {
		if m.ID != s.self && s.runsRaft(m) {
			s.send(m.ID, shardMsg{Kind: "ask", Shard: lr.Shard, Replica: lr.Replica})
		}
	}
}

// observe records the members placed now and when the others went missing.
func (s *Shards) observe(p Placement, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	placed := map[string]bool{}
	for _, m := range p.members {
		placed[m.ID] = true
		s.known[NodeHostID(m.ID)] = m.ID
		s.seen[m.ID] = m
		delete(s.missing, m.ID)
	}
	for name := range s.seen {
		if !placed[name] {
			if _, ok := s.missing[name]; !ok {
				s.missing[name] = now
			}
		}
	}
}

// formed bootstraps the shards, or decides to join, until this node belongs to a formed cluster.
func (s *Shards) formed(p Placement) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.Boot != "" {
		return true
	}
	var names []string
	boots := map[string]bool{}
	for _, m := range p.members {
		if !s.runsRaft(m) {
			continue
		}
		names = append(names, m.ID)
		if m.Formed != "" && m.ID != s.self {
			boots[m.Formed] = true
		}
	}
	exact := len(names) == s.cfg.BootstrapExpect
	switch {
	case len(boots) == 0 && exact:
		return s.bootstrap(names)
	case len(boots) > 0 && exact && boots[bootID(names)] && len(boots) == 1:
		return s.bootstrap(names) // an initial member that has not started yet: same set
	case len(boots) > 0:
		var boot string
		for b := range boots {
			boot = max(boot, b)
		}
		s.state.Boot = boot
		if err := s.save(); err != nil {
			s.log.Error("cluster: shards: record cluster", "err", err)
		}
		s.log.Info("cluster: joining a formed cluster; leaders will add replicas here", "boot", boot)
		return true
	case len(names) > s.cfg.BootstrapExpect && !s.warned:
		s.warned = true
		s.log.Error("cluster: more nodes than bootstrap_expect and none formed: not bootstrapping; start exactly bootstrap_expect nodes first",
			"placed", len(names), "bootstrap_expect", s.cfg.BootstrapExpect)
	}
	return false
}

// bootstrap starts this node's initial replicas of every shard over exactly names. s.mu is held.
func (s *Shards) bootstrap(names []string) bool {
	boot := bootID(names)
	n := min(s.cfg.Replicas, len(names))
	type start struct {
		shard, replica uint64
		initial        map[uint64]string
	}
	var starts []start
	for shard := uint64(1); shard <= s.cfg.NumShards; shard++ {
		top := ShardReplicaNodes(names, shard, n)
		if !slices.Contains(top, s.self) {
			continue
		}
		initial := map[uint64]string{}
		for _, name := range top {
			initial[ShardReplicaID(name, shard, 0)] = name
		}
		id := ShardReplicaID(s.self, shard, 0)
		s.state.Replicas[shard] = localShard{Replica: id}
		starts = append(starts, start{shard, id, initial})
	}
	s.state.Boot = boot
	if err := s.save(); err != nil {
		s.log.Error("cluster: shards: bootstrap not recorded", "err", err)
		s.state = shardsFile{Replicas: map[uint64]localShard{}}
		return false
	}
	for _, st := range starts {
		if err := s.raft.StartShard(st.shard, st.replica, st.initial, s.cfg.Create); err != nil {
			s.log.Error("cluster: shards: start initial replica", "shard", st.shard, "err", err)
		}
	}
	s.log.Info("cluster: shards bootstrapped", "nodes", names, "boot", boot, "replicas_here", len(starts))
	return true
}

// gossip makes sure peers see this node's shard state.
func (s *Shards) gossip() {
	s.mu.Lock()
	want := Member{Formed: s.state.Boot, Draining: s.draining}
	if s.gossiped == want {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if err := s.node.SetShardState(want.Formed, want.Draining); err != nil {
		s.log.Warn("cluster: shards: gossip shard state", "err", err)
		return
	}
	s.mu.Lock()
	s.gossiped = want
	s.mu.Unlock()
}

// handleJoins starts the replicas leaders asked for.
func (s *Shards) handleJoins(p Placement) {
	s.mu.Lock()
	joins := s.joins
	s.joins = map[uint64]joinOrder{}
	draining := s.draining
	s.mu.Unlock()
	for shard, j := range joins {
		if draining || shard == 0 || shard > s.cfg.NumShards || j.replica == 0 || !placed(p, j.from) {
			continue
		}
		s.mu.Lock()
		cur, ok := s.state.Replicas[shard]
		s.mu.Unlock()
		if ok && cur.Replica == j.replica {
			continue
		}
		if ok && s.liveMember(shard, cur.Replica) {
			// A join message delayed past a newer leader's decisions: the replica this node runs
			// is still a member, so it is the current one.
			s.log.Warn("cluster: ignoring a join for a shard whose replica here is a live member", "shard", shard,
				"replica", cur.Replica, "asked", j.replica, "from", j.from)
			continue
		}
		if ok {
			// The leader adds a replica for a node only when the node has none in the shard's
			// (linearizably read) membership: this one was removed (a node that was away for
			// longer than DeadNodeTimeout restarts such replicas, which no leader talks to), or
			// never added.
			s.log.Info("cluster: replacing a replica no longer in its shard", "shard", shard, "old", cur.Replica, "new", j.replica)
			if !s.discard(shard, cur.Replica) {
				continue
			}
		}
		if err := s.cfg.Drop(shard); err != nil {
			s.log.Error("cluster: shards: clear the shard before joining", "shard", shard, "err", err)
			continue
		}
		s.mu.Lock()
		s.state.Replicas[shard] = localShard{Replica: j.replica, Joined: true}
		err := s.save()
		s.mu.Unlock()
		if err != nil {
			s.log.Error("cluster: shards: join not recorded", "shard", shard, "err", err)
			continue
		}
		if err := s.raft.JoinShard(shard, j.replica, s.cfg.Create); err != nil {
			s.log.Error("cluster: shards: join", "shard", shard, "replica", j.replica, "err", err)
			s.mu.Lock()
			delete(s.state.Replicas, shard)
			_ = s.save()
			s.mu.Unlock()
			continue
		}
		s.log.Info("cluster: joined shard as non-voting replica", "shard", shard, "replica", j.replica, "leader", j.from)
	}
}

// liveMember reports whether this node's replica of shard is, by a linearizable read of the
// shard's membership through it, still a member. A removed replica cannot complete the read (no
// leader talks to it), so a message saying it was removed, or asking for another replica, is
// acted on only when the read fails or leaves it out: a delayed message, or one forged by a
// holder of the gossip key, cannot delete a replica that its shard still counts.
func (s *Shards) liveMember(shard, replica uint64) bool {
	ctx, cancel := context.WithTimeout(s.ctx, statusReadTimeout)
	defer cancel()
	m, err := s.raft.Membership(ctx, shard)
	if err != nil {
		return false
	}
	_, voting := m.Voting[replica]
	_, nonVoting := m.NonVoting[replica]
	return voting || nonVoting
}

// discard stops a replica removed from its shard and deletes its data.
func (s *Shards) discard(shard, replica uint64) bool {
	if err := s.raft.StopReplica(shard, replica); err != nil && !errors.Is(err, dragonboat.ErrShardNotFound) {
		s.log.Warn("cluster: shards: stop removed replica", "shard", shard, "replica", replica, "err", err)
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, shardOpTimeout)
	defer cancel()
	// The Raft data goes first: a restart that finds it gone drops the rest (see NewShards).
	if err := s.raft.RemoveData(ctx, shard, replica); err != nil {
		s.log.Warn("cluster: shards: delete removed replica", "shard", shard, "replica", replica, "err", err)
		return false
	}
	if err := s.cfg.Drop(shard); err != nil {
		s.log.Error("cluster: shards: drop removed replica's data", "shard", shard, "err", err)
		return false
	}
	s.mu.Lock()
	if cur, ok := s.state.Replicas[shard]; ok && cur.Replica == replica {
		delete(s.state.Replicas, shard)
		if err := s.save(); err != nil {
			s.log.Error("cluster: shards: removal not recorded", "shard", shard, "err", err)
		}
	}
	s.mu.Unlock()
	s.log.Info("cluster: removed replica deleted", "shard", shard, "replica", replica)
	return true
}

func placed(p Placement, name string) bool {
	return slices.ContainsFunc(p.members, func(m Member) bool { return m.ID == name })
}

// tend looks after one local replica: deletes it once removed, asks whether it was removed
// while it has no leader, reports catch-up, and leads (answering asks about the shard).
func (s *Shards) tend(lr LocalReplica, p Placement, now time.Time, asks map[replicaKey]string) {
	s.mu.Lock()
	hint, hinted := s.removed[lr.Shard]
	if hinted {
		delete(s.removed, lr.Shard)
	}
	s.mu.Unlock()
	// A replica that applies its own removal is unloaded by dragonboat (step then discards it);
	// the leader's message covers one that did not get that far. Its own view of the membership
	// says nothing: a joining replica replaying the log has applied memberships without itself.
	if hinted && hint == lr.Replica && !s.liveMember(lr.Shard, lr.Replica) {
		s.discard(lr.Shard, lr.Replica)
		return
	}
	if lr.Leader == 0 {
		s.askIfRemoved(lr, p, now)
	}
	if lr.NonVoting {
		s.reportCaughtUp(lr)
		return
	}
	if lr.Leader == lr.Replica && lr.Leader != 0 {
		s.lead(lr, p, now, asks)
	}
}

// reportCaughtUp tells the shard's members that this non-voting replica has caught up, once a
// linearizable read on it succeeds (see Shards).
func (s *Shards) reportCaughtUp(lr LocalReplica) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Interval+time.Second)
	defer cancel()
	m, err := s.raft.Membership(ctx, lr.Shard)
	if err != nil {
		return
	}
	if _, ok := m.NonVoting[lr.Replica]; !ok {
		return
	}
	s.mu.Lock()
	names := map[string]bool{}
	for _, nh := range m.Voting {
		if name, ok := s.known[nh]; ok {
			names[name] = true
		}
	}
	s.mu.Unlock()
	for name := range names {
		s.send(name, shardMsg{Kind: "caught", Shard: lr.Shard, Replica: lr.Replica})
	}
}

// holding is one replica of a shard as its leader sees it.
type holding struct {
	node    string
	replica uint64
	voting  bool
}

// lead makes at most one membership change to shard, whose leader this node is.
func (s *Shards) lead(lr LocalReplica, p Placement, now time.Time, asks map[replicaKey]string) {
	shard := lr.Shard
	ctx, cancel := context.WithTimeout(s.ctx, shardOpTimeout)
	defer cancel()
	m, err := s.raft.Membership(ctx, shard)
	if err != nil {
		return
	}
	for k, from := range asks {
		_, voting := m.Voting[k.replica]
		_, nonVoting := m.NonVoting[k.replica]
		if k.shard == shard && !voting && !nonVoting {
			s.log.Info("cluster: telling a node its replica was removed", "shard", shard, "node", from, "replica", k.replica)
			s.send(from, shardMsg{Kind: "removed", Shard: shard, Replica: k.replica})
		}
	}
	s.mu.Lock()
	var held []holding
	for id, nh := range m.Voting {
		held = append(held, holding{s.nameOf(nh), id, true})
	}
	for id, nh := range m.NonVoting {
		held = append(held, holding{s.nameOf(nh), id, false})
	}
	slices.SortFunc(held, func(a, b holding) int { return cmp.Compare(a.replica, b.replica) })
	desired := s.desired(shard, p, held, now)
	pend, hasPending := s.pending[shard]
	moving := len(s.pending)
	s.mu.Unlock()

	isDesired := func(name string) bool { return slices.Contains(desired, name) }
	byNode := map[string]holding{}
	for _, h := range held {
		byNode[h.node] = h
	}

	// A non-voting replica: promote it once caught up, or give up on it.
	for _, h := range held {
		if h.voting {
			continue
		}
		key := replicaKey{shard, h.replica}
		s.mu.Lock()
		caught := s.caught[key]
		if !hasPending || pend.replica != h.replica {
			pend = pendingAdd{node: h.node, replica: h.replica, since: now} // added by an earlier leader
			s.pending[shard] = pend
			hasPending = true
		}
		s.mu.Unlock()
		switch {
		case !isDesired(h.node) || !placed(p, h.node) || now.Sub(pend.since) > s.cfg.CatchUpTimeout:
			s.log.Info("cluster: removing non-voting replica", "shard", shard, "node", h.node, "replica", h.replica,
				"desired", isDesired(h.node), "placed", placed(p, h.node))
			if err := s.raft.Remove(ctx, shard, h.replica); err == nil {
				s.forget(shard, key)
				s.send(h.node, shardMsg{Kind: "removed", Shard: shard, Replica: h.replica})
			}
		case caught:
			if err := s.raft.AddVoting(ctx, shard, h.replica, h.node); err != nil {
				s.log.Warn("cluster: promote replica", "shard", shard, "node", h.node, "err", err)
				return
			}
			s.forget(shard, key)
			s.log.Info("cluster: replica promoted to voting", "shard", shard, "node", h.node, "replica", h.replica)
		default:
			s.send(h.node, shardMsg{Kind: "join", Shard: shard, Replica: h.replica})
		}
		return
	}
	s.mu.Lock()
	delete(s.pending, shard)
	s.mu.Unlock()

	// A desired node without a replica: add one, throttled.
	for _, name := range desired {
		if _, ok := byNode[name]; ok || !placed(p, name) {
			continue
		}
		if moving >= s.cfg.MaxMoves {
			return
		}
		id := freshReplicaID(name, shard, m)
		if err := s.raft.AddNonVoting(ctx, shard, id, name); err != nil {
			s.log.Warn("cluster: add non-voting replica", "shard", shard, "node", name, "err", err)
			return
		}
		s.mu.Lock()
		s.pending[shard] = pendingAdd{node: name, replica: id, since: now}
		s.mu.Unlock()
		s.log.Info("cluster: non-voting replica added", "shard", shard, "node", name, "replica", id)
		s.send(name, shardMsg{Kind: "join", Shard: shard, Replica: id})
		return
	}

	// Every desired node votes: remove a replica no longer desired, gone nodes first.
	var extra []holding
	for _, h := range held {
		if !isDesired(h.node) {
			extra = append(extra, h)
		}
	}
	slices.SortStableFunc(extra, func(a, b holding) int {
		return cmp.Compare(btoi(placed(p, a.node)), btoi(placed(p, b.node)))
	})
	if len(extra) > 0 {
		h := extra[0]
		if h.replica == lr.Replica {
			s.transferTo(shard, desired, byNode, p, now)
			return
		}
		if err := s.raft.Remove(ctx, shard, h.replica); err != nil {
			s.log.Warn("cluster: remove replica", "shard", shard, "node", h.node, "err", err)
			return
		}
		s.log.Info("cluster: replica removed", "shard", shard, "node", h.node, "replica", h.replica)
		if placed(p, h.node) {
			s.send(h.node, shardMsg{Kind: "removed", Shard: shard, Replica: h.replica})
		}
		return
	}

	if len(desired) > 0 && desired[0] != s.self {
		s.transferTo(shard, desired, byNode, p, now)
	}
}

// transferTo hands the shard's leadership to the most preferred desired node that votes and is
// placed, at most once a second per shard.
func (s *Shards) transferTo(shard uint64, desired []string, byNode map[string]holding, p Placement, now time.Time) {
	s.mu.Lock()
	last := s.transfer[shard]
	s.mu.Unlock()
	if now.Sub(last) < time.Second {
		return
	}
	for _, name := range desired {
		h, ok := byNode[name]
		if name == s.self || !ok || !h.voting || !placed(p, name) {
			continue
		}
		if err := s.raft.TransferLeader(shard, h.replica); err == nil {
			s.mu.Lock()
			s.transfer[shard] = now
			s.mu.Unlock()
			s.log.Debug("cluster: leadership transfer asked", "shard", shard, "to", name)
		}
		return
	}
}

func (s *Shards) forget(shard uint64, key replicaKey) {
	s.mu.Lock()
	delete(s.pending, shard)
	delete(s.caught, key)
	s.mu.Unlock()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nameOf returns the node name of a NodeHostID (the id itself when no member had it). s.mu is held.
func (s *Shards) nameOf(nodeHostID string) string {
	if name, ok := s.known[nodeHostID]; ok {
		return name
	}
	return nodeHostID
}

// runsRaft reports whether m can hold replicas: it gossips a Raft address (this node runs Raft
// whatever its Config says: it has a Shards).
func (s *Shards) runsRaft(m Member) bool { return m.RaftAddr != "" || m.ID == s.self }

// desired returns the shard's desired nodes, preferred leader first. s.mu is held.
func (s *Shards) desired(shard uint64, p Placement, held []holding, now time.Time) []string {
	var candidates []string
	for _, m := range p.members {
		if s.runsRaft(m) && !m.Draining && !(m.ID == s.self && s.draining) {
			candidates = append(candidates, m.ID)
		}
	}
	for _, h := range held {
		if placed(p, h.node) || slices.Contains(candidates, h.node) {
			continue
		}
		since, gone := s.missing[h.node]
		if !gone {
			since = now
			s.missing[h.node] = now
		}
		if now.Sub(since) < s.cfg.DeadNodeTimeout && !s.seen[h.node].Draining {
			candidates = append(candidates, h.node) // away, not dead yet: keeps its replica
		}
	}
	return ShardReplicaNodes(candidates, shard, min(s.cfg.Replicas, len(candidates)))
}

// freshReplicaID returns an id for node's new replica of shard that m has never used.
func freshReplicaID(node string, shard uint64, m Membership) uint64 {
	for salt := m.ConfigChangeID; ; salt++ {
		id := ShardReplicaID(node, shard, salt)
		_, v := m.Voting[id]
		_, nv := m.NonVoting[id]
		_, r := m.Removed[id]
		if !v && !nv && !r {
			return id
		}
	}
}

// Drain moves this node's replicas and leaderships to other nodes before it leaves: it gossips
// that it is draining, so that no leader places replicas here, and returns once this node holds
// no replica. It fails when ctx ends first (always, when no other node can take the replicas).
func (s *Shards) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.poke()
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		if len(s.raft.LocalReplicas()) == 0 {
			s.mu.Lock()
			n := len(s.state.Replicas)
			s.mu.Unlock()
			if n == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: drain: %d replicas left here: %w", len(s.raft.LocalReplicas()), ctx.Err())
		case <-s.ctx.Done():
			return ErrShutdown
		case <-tick.C:
		}
	}
}

// ShardsStatus is the state of the shards as this node sees them.
type ShardsStatus struct {
	// Formed says this node belongs to a formed cluster; Draining that Drain was called.
	Formed, Draining bool
	// Moving says some shard this node holds is not yet as desired (replicas being added,
	// promoted or removed, or leadership not on the preferred node): data is still moving.
	Moving bool
	// Shards holds one entry per shard this node holds a replica of, by id.
	Shards []ShardStatus
	// Nodes counts, per node, the replicas and leaderships of those shards.
	Nodes map[string]NodeShards
}

// ShardStatus is one shard.
type ShardStatus struct {
	Shard    uint64
	Replicas []ReplicaStatus
	Leader   string // the leader's node ("": none known)
	Desired  []string
	Moving   bool
}

// ReplicaStatus is one replica of a shard.
type ReplicaStatus struct {
	Node    string
	Replica uint64
	Voting  bool
}

// NodeShards counts one node's replicas and leaderships.
type NodeShards struct {
	Shards, Leaders int
}

// Status reads the membership of every shard this node holds (through each shard's leader) and
// reports it, for GET /v1/cluster and metrics. A shard whose membership cannot be read within a
// second is reported from this node's local view, as moving. Shards this node holds no replica
// of are not in it: a cluster-wide view merges the Status of every node.
func (s *Shards) Status(ctx context.Context) ShardsStatus {
	p := s.node.Placement()
	now := time.Now()
	s.mu.Lock()
	st := ShardsStatus{Formed: s.state.Boot != "", Draining: s.draining, Nodes: map[string]NodeShards{}}
	s.mu.Unlock()
	locals := s.raft.LocalReplicas()
	slices.SortFunc(locals, func(a, b LocalReplica) int { return cmp.Compare(a.Shard, b.Shard) })
	// The reads run at once: a replica that hears from no leader (a removed one, or one cut
	// off) costs statusReadTimeout, not that much per shard.
	type read struct {
		m   Membership
		err error
	}
	reads := make([]read, len(locals))
	var wg sync.WaitGroup
	for i, lr := range locals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, statusReadTimeout)
			defer cancel()
			reads[i].m, reads[i].err = s.raft.Membership(rctx, lr.Shard)
		}()
	}
	wg.Wait()
	for i, lr := range locals {
		m, err := reads[i].m, reads[i].err
		leaderID, _, _ := s.raft.Leader(lr.Shard)
		s.mu.Lock()
		ss := ShardStatus{Shard: lr.Shard}
		if err != nil {
			ss.Moving = true
			for id, nh := range lr.Replicas {
				ss.Replicas = append(ss.Replicas, ReplicaStatus{s.nameOf(nh), id, true})
			}
		} else {
			for id, nh := range m.Voting {
				ss.Replicas = append(ss.Replicas, ReplicaStatus{s.nameOf(nh), id, true})
			}
			for id, nh := range m.NonVoting {
				ss.Replicas = append(ss.Replicas, ReplicaStatus{s.nameOf(nh), id, false})
			}
		}
		slices.SortFunc(ss.Replicas, func(a, b ReplicaStatus) int { return cmp.Compare(a.Node, b.Node) })
		var held []holding
		for _, r := range ss.Replicas {
			held = append(held, holding{r.Node, r.Replica, r.Voting})
			if r.Replica == leaderID {
				ss.Leader = r.Node
			}
		}
		ss.Desired = s.desired(lr.Shard, p, held, now)
		s.mu.Unlock()
		var voters []string
		for _, r := range ss.Replicas {
			if r.Voting {
				voters = append(voters, r.Node)
			}
			n := st.Nodes[r.Node]
			n.Shards++
			if r.Node == ss.Leader {
				n.Leaders++
			}
			st.Nodes[r.Node] = n
		}
		slices.Sort(voters)
		want := slices.Sorted(slices.Values(ss.Desired))
		if !slices.Equal(voters, want) || len(voters) != len(ss.Replicas) ||
			(len(ss.Desired) > 0 && ss.Leader != ss.Desired[0]) {
			ss.Moving = true
		}
		st.Moving = st.Moving || ss.Moving
		st.Shards = append(st.Shards, ss)
	}
	return st
}
