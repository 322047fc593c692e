package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/cluster"
	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/storage"
)

// proposalTimeout bounds one replicated commit: a shard with no leader or no
// quorum answers its writers unavailable after it.
const proposalTimeout = 3 * time.Second

// leaderCheck is how often leadership is reconciled without an event: a
// missed leader event costs at most this long.
const leaderCheck = time.Second

// replication is a peered node's share of the replicated store: its Raft
// host, the shard replica manager, and the loop that makes this node the
// writer of the shards it leads.
type replication struct {
	log     *slog.Logger
	store   *storage.Store
	node    *actors.Node
	members *cluster.Node
	raft    *cluster.Raft
	shards  *cluster.Shards
	self    cluster.Member

	// owners[s] is shard s's writer as this node last worked it out (zero:
	// none known); this node's own shards are read from node.OwnsShard.
	owners atomic.Pointer[[storage.NumShards + 1]cluster.Member]

	wake    chan struct{}
	publish chan uint64 // the latest leads bitmap to gossip
	stop    chan struct{}
	wg      sync.WaitGroup

	mu        sync.Mutex
	acquiring map[uint64]bool
	acquired  int64 // Acquire calls that succeeded, for metrics

	// sharedLeads is the count of led shards the vendors' QPS share was last
	// set for (-1: not yet); the loop's alone.
	sharedLeads int

	lagMu   sync.Mutex // serialises lag; not mu, which the loop takes
	lagAt   time.Time
	lagLast float64
}

// startReplication starts the Raft host on cfg's addresses and makes the
// store commit through it. The node must not have started its actors yet;
// run starts the rest once they have.
func startReplication(cfg *config.Config, sec *clusterSecurity, store *storage.Store, node *actors.Node, members *cluster.Node, log *slog.Logger) (*replication, error) {
	r := &replication{
		log: log, store: store, node: node, members: members, self: members.Self(),
		wake: make(chan struct{}, 1), publish: make(chan uint64, 1), stop: make(chan struct{}),
		acquiring: map[uint64]bool{}, sharedLeads: -1,
	}
	r.owners.Store(&[storage.NumShards + 1]cluster.Member{})
	addr := cfg.Cluster.Raft
	if cfg.Cluster.AdvertiseRaft != "" {
		addr = cfg.Cluster.AdvertiseRaft
	}
	raft, err := cluster.NewRaft(cluster.RaftConfig{
		Node: cfg.Cluster.Name, Dir: filepath.Join(cfg.DataDir, "raft"), Addr: addr, Listen: cfg.Cluster.Raft,
		CAFile: cfg.Cluster.TLS.CAFile, CertFile: cfg.Cluster.TLS.CertFile, KeyFile: cfg.Cluster.TLS.KeyFile,
		ClusterID: sec.clusterID, Resolve: members.ResolveRaft,
		OnLeader: func(uint64, uint64, uint64) { r.poke() },
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: cluster.raft: %w", err)
	}
	r.raft = raft
	store.Replicate(raft, proposalTimeout, func(uint64) { r.poke() })
	return r, nil
}

// run starts the shard manager and the leadership loop.
func (r *replication) run(cfg *config.Config) error {
	shards, err := cluster.NewShards(cluster.ShardsConfig{
		Node: r.members, Raft: r.raft, Create: r.store.ShardMachineFactory(), Dir: cfg.DataDir, Drop: r.store.DropShard,
		NumShards: storage.NumShards, Replicas: cfg.Cluster.Replicas, BootstrapExpect: cfg.Cluster.BootstrapExpect,
		DeadNodeTimeout: cfg.Cluster.DeadNodeTimeout.Std(), MaxMoves: cfg.Cluster.MaxMoves, Logger: r.log,
	})
	if err != nil {
		return err
	}
	r.shards = shards
	placements, unsubscribe := r.members.Subscribe()
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		defer unsubscribe()
		r.loop(placements)
	}()
	go func() {
		defer r.wg.Done()
		r.gossipLeads()
	}()
	return nil
}

// close stops the manager and the loop, releases every shard, and closes
// the Raft host. Idempotent through the daemon's once.
func (r *replication) close() {
	if r.shards != nil {
		r.shards.Close()
	}
	close(r.stop)
	r.wg.Wait()
	for shard := uint64(1); shard <= storage.NumShards; shard++ {
		if r.node.OwnsShard(shard) {
			r.node.ReleaseShard(shard)
			r.store.Release(shard)
		}
	}
	r.raft.Close()
}

func (r *replication) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// loop reconciles, on every leader event, placement change and tick, the
// shards this node writes with the shards it leads, and works out every
// shard's writer for routing.
func (r *replication) loop(placements <-chan cluster.Placement) {
	tick := time.NewTicker(leaderCheck)
	defer tick.Stop()
	for {
		r.reconcile()
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-placements:
		case <-tick.C:
		}
	}
}

func (r *replication) reconcile() {
	locals := r.raft.LocalReplicas()
	p := r.members.Placement()
	byHost := map[string]cluster.Member{}
	for _, m := range p.Members() {
		byHost[cluster.NodeHostID(m.ID)] = m
	}
	var owners [storage.NumShards + 1]cluster.Member
	known := [storage.NumShards + 1]bool{}
	leading := [storage.NumShards + 1]uint64{} // the replica of the shards this node leads
	for _, lr := range locals {
		if lr.Shard < 1 || lr.Shard > storage.NumShards || lr.Leader == 0 {
			continue
		}
		known[lr.Shard] = true
		if lr.Leader == lr.Replica {
			leading[lr.Shard] = lr.Replica
			owners[lr.Shard] = r.self
			continue
		}
		if m, ok := byHost[lr.Replicas[lr.Leader]]; ok {
			owners[lr.Shard] = m
		}
	}
	// A shard this node serves but no longer leads, or whose epoch its store
	// lost (a batch was not applied), is released: its actors stop; one it
	// leads and does not serve is acquired (again).
	var leads uint64
	for shard := uint64(1); shard <= storage.NumShards; shard++ {
		if r.node.OwnsShard(shard) && (leading[shard] == 0 || !r.store.Writes(shard)) {
			r.node.ReleaseShard(shard)
			r.store.Release(shard)
		}
		switch {
		case r.node.OwnsShard(shard):
			leads |= 1 << (shard - 1)
		case leading[shard] != 0:
			r.acquire(shard, leading[shard])
		}
	}
	// Shards this node has no replica of (or whose leader it does not know):
	// the node that gossips it leads them. Two may claim one while it moves;
	// a request to the wrong one is answered NotOwner and placed again.
	for _, m := range p.Members() {
		if m.ID == r.self.ID {
			continue
		}
		for l := m.Leads; l != 0; l &= l - 1 {
			shard := uint64(bits.TrailingZeros64(l)) + 1
			if shard <= storage.NumShards && !known[shard] && (owners[shard].ID == "" || rand.IntN(2) == 0) {
				owners[shard] = m
			}
		}
	}
	// Each node sends the pushes of the shards it leads: its vendors get that
	// share of every QPS limit (a node leading none still drains what it holds).
	if n := bits.OnesCount64(leads); n != r.sharedLeads {
		r.sharedLeads = n
		r.node.SetVendorShare(float64(max(n, 1)) / storage.NumShards)
	}
	old := r.owners.Swap(&owners)
	select {
	case <-r.publish:
	default:
	}
	r.publish <- leads
	if *old != owners {
		r.node.OwnersChanged()
	}
}

// acquire makes this node the writer of a shard it leads, in the background:
// Acquire waits for its entry to commit, which a leader without a quorum
// never sees.
func (r *replication) acquire(shard, replica uint64) {
	r.mu.Lock()
	if r.acquiring[shard] {
		r.mu.Unlock()
		return
	}
	r.acquiring[shard] = true
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.acquiring, shard)
			r.mu.Unlock()
			r.poke()
		}()
		if _, err := r.store.Acquire(shard, replica); err != nil {
			r.log.Warn("shard not acquired; will try again while leading it", "shard", shard, "err", err)
			select { // not at once: a leader without a quorum fails every time
			case <-time.After(100 * time.Millisecond):
			case <-r.stop:
			}
			return
		}
		if leader, _, ok := r.raft.Leader(shard); !ok || leader != replica {
			r.store.Release(shard) // lost it meanwhile
			return
		}
		if err := r.node.TakeShard(shard); err != nil {
			r.log.Error("shard taken, but its work did not resume", "shard", shard, "err", err)
		}
		r.mu.Lock()
		r.acquired++
		r.mu.Unlock()
	}()
}

// gossipLeads gossips the latest leads bitmap: it waits for each broadcast,
// so it runs apart from the loop.
func (r *replication) gossipLeads() {
	var last uint64
	first := true
	for {
		select {
		case <-r.stop:
			return
		case leads := <-r.publish:
			if leads == last && !first {
				continue
			}
			if err := r.members.SetLeads(leads); err != nil && !errors.Is(err, cluster.ErrShutdown) {
				r.log.Debug("leads gossip not confirmed", "err", err)
			}
			last, first = leads, false
		}
	}
}

// Owner is the actors' placement in a cluster: a key's owner is the writer
// of its shard.
func (r *replication) Owner(key string) (string, string) {
	shard := storage.ShardOf(key)
	if r.node.OwnsShard(shard) {
		return r.self.ID, r.self.RemoteAddr
	}
	m := r.owners.Load()[shard]
	return m.ID, m.RemoteAddr
}

// ready says whether every shard has a writer this node knows of: until then
// some requests would wait for one and answer unavailable.
func (r *replication) ready() error {
	owners := r.owners.Load()
	missing := 0
	for shard := uint64(1); shard <= storage.NumShards; shard++ {
		if owners[shard].ID == "" && !r.node.OwnsShard(shard) {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("%d of %d shards have no writer known yet", missing, storage.NumShards)
	}
	return nil
}

// Self is this node's name.
func (r *replication) Self() string { return r.self.ID }

// digests are the digests of the shard replicas on this node.
func (r *replication) digests() (map[uint64]string, error) {
	out := map[uint64]string{}
	for _, lr := range r.raft.LocalReplicas() {
		d, err := r.store.ShardDigest(lr.Shard)
		if err != nil {
			return nil, err
		}
		out[lr.Shard] = d
	}
	return out, nil
}

// status is the cluster as this node sees it, for GET /v1/cluster.
func (r *replication) status(ctx context.Context) ClusterStatus {
	st := r.shards.Status(ctx)
	out := ClusterStatus{Mode: "replicated", Node: r.self.ID, Formed: st.Formed, Moving: st.Moving}
	for _, m := range r.members.Placement().Members() {
		ns := st.Nodes[m.ID]
		out.Nodes = append(out.Nodes, ClusterNode{Name: m.ID, API: m.APIAddr, Raft: m.RaftAddr, Draining: m.Draining,
			Replicas: ns.Shards, Leads: bits.OnesCount64(m.Leads)})
	}
	for _, s := range st.Shards {
		cs := ClusterShard{Shard: s.Shard, Leader: s.Leader, Desired: s.Desired, Moving: s.Moving}
		for _, rp := range s.Replicas {
			cs.Replicas = append(cs.Replicas, ClusterReplica{Node: rp.Node, Voting: rp.Voting})
		}
		out.Shards = append(out.Shards, cs)
	}
	return out
}

// ClusterStatus is GET /v1/cluster's answer.
type ClusterStatus struct {
	Mode   string `json:"mode"` // "lone" or "replicated"
	Node   string `json:"node"` // the node that answered
	Formed bool   `json:"formed"`
	Moving bool   `json:"moving"`
	// Scope is "cluster" (every shard, the members' views merged) or "node" (?scope=node: the
	// shards the answering node holds a replica of).
	Scope string `json:"scope"`
	// Complete is false when a member did not answer a cluster-scope read: its shards that no
	// answering member holds are missing, and Missing names it (its API address).
	Complete bool          `json:"complete"`
	Missing  []string      `json:"missing,omitempty"`
	Nodes    []ClusterNode `json:"nodes"`
	// Shards are the shards of Scope, by shard id.
	Shards []ClusterShard `json:"shards"`
	// Digests (with ?digests=1) are a digest of each shard replica on the
	// answering node, to check replicas for divergence.
	Digests map[uint64]string `json:"digests,omitempty"`
}

// ClusterNode is one member in ClusterStatus.
type ClusterNode struct {
	Name     string `json:"name"`
	API      string `json:"api"`
	Raft     string `json:"raft,omitempty"`
	Draining bool   `json:"draining,omitempty"`
	Replicas int    `json:"replicas"` // of the shards in the answer
	Leads    int    `json:"leads"`    // shards it writes, as it gossips
}

// ClusterShard is one shard in ClusterStatus.
type ClusterShard struct {
	Shard    uint64           `json:"shard"`
	Leader   string           `json:"leader"`
	Replicas []ClusterReplica `json:"replicas"`
	Desired  []string         `json:"desired"`
	Moving   bool             `json:"moving"`
}

// ClusterReplica is one replica of a ClusterShard.
type ClusterReplica struct {
	Node   string `json:"node"`
	Voting bool   `json:"voting"`
}

// lagReadTimeout bounds the read that measures one replica's lag; lagEvery
// is how often the lag is measured.
const (
	lagReadTimeout = time.Second
	lagEvery       = 5 * time.Second
)

// lag is the most entries any shard replica on this node had applied fewer
// than its shard had committed, measured now: the applied index before a
// linearizable read, against the index the read saw. A replica that cannot
// read (no leader) is left out; pushd_cluster_shard_leaderless counts those.
func (r *replication) lag() float64 {
	// Measured at most every lagEvery: a scrape would otherwise cost a read
	// per shard.
	r.lagMu.Lock()
	defer r.lagMu.Unlock()
	if time.Since(r.lagAt) < lagEvery {
		return r.lagLast
	}
	locals := r.raft.LocalReplicas()
	lags := make([]uint64, len(locals))
	var wg sync.WaitGroup
	for i, lr := range locals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			before, err := r.store.ShardMeta(lr.Shard)
			if err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), lagReadTimeout)
			defer cancel()
			v, err := r.raft.Read(ctx, lr.Shard, storage.ShardMetaQuery{})
			if now, ok := v.(storage.ShardMeta); err == nil && ok && now.Applied > before.Applied {
				lags[i] = now.Applied - before.Applied
			}
		}()
	}
	wg.Wait()
	var most uint64
	for _, l := range lags {
		most = max(most, l)
	}
	r.lagAt, r.lagLast = time.Now(), float64(most)
	return r.lagLast
}

// registerReplicationMetrics adds the gauges of this node's share of the
// shards: replicas held, shards written (led), and shards whose replica here
// knows no leader.
func (d *Daemon) registerReplicationMetrics() {
	r := d.repl
	count := func(f func(cluster.LocalReplica) bool) func() float64 {
		return func() float64 {
			n := 0
			for _, lr := range r.raft.LocalReplicas() {
				if f(lr) {
					n++
				}
			}
			return float64(n)
		}
	}
	d.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pushd_cluster_shard_replicas", Help: "Shard replicas this node holds (voting and not)."},
			count(func(cluster.LocalReplica) bool { return true })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pushd_cluster_shard_nonvoting", Help: "Shard replicas on this node still catching up (non-voting)."},
			count(func(lr cluster.LocalReplica) bool { return lr.NonVoting })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pushd_cluster_shard_leaderless", Help: "Shard replicas on this node that know no leader."},
			count(func(lr cluster.LocalReplica) bool { return lr.Leader == 0 })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pushd_cluster_shards_led", Help: "Shards this node writes as their leader."},
			func() float64 {
				n := 0
				for s := uint64(1); s <= storage.NumShards; s++ {
					if d.node.OwnsShard(s) {
						n++
					}
				}
				return float64(n)
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pushd_cluster_replication_lag_entries",
			Help: "The most Raft entries a shard replica on this node was behind its shard's commit when scraped."}, r.lag),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pushd_cluster_shard_acquisitions_total", Help: "Times this node became a shard's writer."},
			func() float64 {
				r.mu.Lock()
				defer r.mu.Unlock()
				return float64(r.acquired)
			}),
	)
}
