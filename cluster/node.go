package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	// joinBackoffMin and joinBackoffMax bound the wait between join attempts; each wait doubles and
	// is jittered to [d/2, d) so that nodes started together do not retry in step.
	joinBackoffMin = 100 * time.Millisecond
	joinBackoffMax = 5 * time.Second

	// defaultLeaveTimeout bounds the wait for the leave broadcast when Shutdown's ctx has no deadline.
	defaultLeaveTimeout = 5 * time.Second
	// failedStartTimeout bounds the cleanup after Start gave up joining.
	failedStartTimeout = 2 * time.Second
)

type lifecycle int

const (
	stateNew lifecycle = iota
	stateStarted
	stateShutdown
)

// Node is this process's membership in the pushd cluster and its view of placement. Build it with
// New, run it with Start, stop it with Shutdown.
type Node struct {
	cfg  settings
	self Member
	log  *slog.Logger
	view *memberView

	placement atomic.Pointer[Placement]
	raftIndex atomic.Pointer[raftIndex] // ResolveRaft's index of the current placement
	ready     atomic.Bool

	subsMu     sync.Mutex // serialises publishing with Subscribe and unsubscribing
	subs       map[*subscription]struct{}
	subsClosed bool

	mu         sync.Mutex // guards state, ml and gossipAddr
	state      lifecycle
	ml         *memberlist.Memberlist
	gossipAddr string

	gate     *clusterGate
	delegate *metaDelegate
	metaMu   sync.Mutex // serialises SetShardState and SetLeads
	gossiped Member     // the shard state and leads last set; guarded by metaMu

	checksMu sync.Mutex
	checks   map[string]*peerCheck // by member id: VerifyPeer's results and the checks running
	checkWG  sync.WaitGroup        // the peer checks' goroutines
	checkCtx context.Context       // ends at Shutdown: stops the peer checks
	cancel   context.CancelFunc

	stop     chan struct{} // closed by Shutdown: ends the placement loop and Start's join retries
	loopDone chan struct{} // closed when the placement loop has returned
	down     chan struct{} // closed when Shutdown has finished
}

// New validates cfg, reporting every invalid field at once (each a *ConfigError wrapping
// ErrInvalidConfig), and returns a Node that is not started yet. Until it is, its placement holds
// only itself.
func New(cfg Config) (*Node, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	checkCtx, cancel := context.WithCancel(context.Background())
	n := &Node{
		gate:     &clusterGate{id: s.ClusterID},
		checks:   make(map[string]*peerCheck),
		checkCtx: checkCtx,
		cancel:   cancel,
		cfg:      s,
		self:     Member{ID: s.Name, RemoteAddr: s.RemoteAddr, APIAddr: s.APIAddr, RaftAddr: s.RaftAddr},
		log:      s.Logger,
		view:     newMemberView(),
		subs:     make(map[*subscription]struct{}),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		down:     make(chan struct{}),
	}
	n.delegate = &metaDelegate{}
	n.delegate.meta.Store(&s.meta)
	initial := NewPlacement(1, []Member{n.self})
	n.placement.Store(&initial)
	return n, nil
}

// Start binds memberlist, starts the placement loop and joins the cluster through Config.Join,
// retrying with backoff until a peer answers or ctx is done, then waits until BootstrapExpect
// members (and, with Join, a peer) are placed. A lone node binds nothing and returns at once, as
// does a node without Join that expects no peers. Start does not interrupt a join attempt in
// flight, so it may return up to memberlist's TCP timeout (10s) per unreachable Join address
// after ctx is done.
//
// When ctx ends first, Start shuts the node down and returns an error wrapping ErrJoin and
// ctx.Err(); it fails at once with ErrClusterMismatch when the nodes reached gossip another
// cluster id, and with ErrPeerRefused when every peer seen keeps failing VerifyPeer. It returns
// ErrStarted when called twice and ErrShutdown once Shutdown has begun.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	switch n.state {
	case stateStarted:
		n.mu.Unlock()
		return ErrStarted
	case stateShutdown:
		n.mu.Unlock()
		return ErrShutdown
	}
	if n.cfg.Lone {
		n.state = stateStarted
		close(n.loopDone)
		n.ready.Store(true)
		n.mu.Unlock()
		n.log.Info("cluster: lone node, no gossip", "name", n.self.ID)
		return nil
	}
	ml, err := memberlist.Create(n.memberlistConfig())
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("cluster: start memberlist on %s: %w", n.cfg.Bind, err)
	}
	n.ml = ml
	n.state = stateStarted
	n.gossipAddr, _ = n.view.addr(n.self.ID) // memberlist announced this node inside Create
	go n.run()
	n.mu.Unlock()
	n.log.Info("cluster: memberlist started", "name", n.self.ID, "gossip", n.gossipAddr)

	err = n.join(ctx, ml)
	if err == nil {
		err = n.awaitPeers(ctx)
	}
	if err != nil {
		if !errors.Is(err, ErrShutdown) {
			cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), failedStartTimeout)
			defer cancel()
			if serr := n.Shutdown(cleanup); serr != nil {
				n.log.Warn("cluster: shutdown after failed join", "err", serr)
			}
		}
		return err
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != stateStarted {
		return ErrShutdown
	}
	n.ready.Store(true)
	return nil
}

func (n *Node) memberlistConfig() *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = n.cfg.Name
	mc.BindAddr = n.cfg.bindIP
	mc.BindPort = n.cfg.bindPort
	// An empty AdvertiseAddr makes memberlist advertise the address and port it actually bound.
	mc.AdvertiseAddr = n.cfg.advertiseIP
	mc.AdvertisePort = n.cfg.advertise
	mc.ProbeInterval = n.cfg.ProbeInterval
	mc.SuspicionMult = n.cfg.SuspicionMult
	mc.Delegate = n.delegate
	mc.Alive = n.gate
	mc.Merge = n.gate
	if len(n.cfg.GossipKey) > 0 {
		mc.SecretKey = n.cfg.GossipKey // memberlist then encrypts and verifies every message, UDP and TCP
	}
	mc.Events = n.view
	mc.LogOutput = nil
	mc.Logger = slog.NewLogLogger(n.log.Handler(), slog.LevelDebug)
	return mc
}

// join contacts cfg.Join until this node shares a cluster with at least one other node. Reaching
// only itself (its own address in Join) does not count: a cold start in which every node lists
// every node would otherwise leave each one alone in its own cluster.
func (n *Node) join(ctx context.Context, ml *memberlist.Memberlist) error {
	if len(n.cfg.Join) == 0 {
		return nil
	}
	delay := joinBackoffMin
	for attempt := 1; ; attempt++ {
		if ml.NumMembers() > 1 {
			n.log.Info("cluster: joined by a peer", "members", ml.NumMembers(), "attempts", attempt-1)
			return nil
		}
		contacted, err := ml.Join(n.cfg.Join)
		if refused := n.gate.refused.Load(); refused != nil {
			return fmt.Errorf("%w via %v: %s", ErrClusterMismatch, n.cfg.Join, *refused)
		}
		if err == nil && ml.NumMembers() > 1 {
			n.log.Info("cluster: joined", "contacted", contacted, "members", ml.NumMembers(), "attempts", attempt)
			return nil
		}
		if err == nil {
			err = errors.New("reached no node but this one")
		} else {
			err = joinError{err}
		}
		wait := delay/2 + rand.N(delay/2)
		n.log.Debug("cluster: join attempt failed", "attempt", attempt, "retry_in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w via %v after %d attempts: %w (last attempt: %w)",
				ErrJoin, n.cfg.Join, attempt, ctx.Err(), err)
		case <-n.stop:
			timer.Stop()
			return ErrShutdown
		case <-timer.C:
		}
		delay = min(2*delay, joinBackoffMax)
	}
}

// joinError puts memberlist's multi-line join error on one line, for logs; it still unwraps.
type joinError struct{ err error }

func (e joinError) Error() string { return strings.Join(strings.Fields(e.err.Error()), " ") }
func (e joinError) Unwrap() error { return e.err }

// run is the placement loop: one rebuild per signal from the member view, until Shutdown.
func (n *Node) run() {
	defer close(n.loopDone)
	for {
		select {
		case <-n.stop:
			return
		case <-n.view.changed:
			n.refresh()
		}
	}
}

// refresh rebuilds the placement from the member view and publishes it if the member set changed.
// Nodes whose meta cannot be decoded are left out; every node sees the same meta, so every node
// leaves them out alike.
func (n *Node) refresh() {
	nodes := n.view.snapshot()
	members := make([]Member, 0, len(nodes))
	for name, node := range nodes {
		m, err := decodeMeta(name, node.meta)
		if err != nil {
			n.log.Warn("cluster: leaving node out of placement", "node", name, "gossip", node.addr, "err", err)
			continue
		}
		if m.ID != n.self.ID && !n.peerVerified(m) {
			continue
		}
		members = append(members, m)
	}
	n.forgetChecks(nodes)
	slices.SortFunc(members, compareMembers)
	current := n.placement.Load()
	if current.sameMembers(members) {
		return
	}
	next := &Placement{version: current.version + 1, members: members}
	n.publish(next)
	n.log.Info("cluster: placement changed", "version", next.version, "members", len(members))
}

// Placement returns the current placement snapshot.
func (n *Node) Placement() Placement { return *n.placement.Load() }

// Owner returns the member that owns key in the current placement.
func (n *Node) Owner(key string) Member { return n.placement.Load().Owner(key) }

// ResolveRaft returns the Raft address of the placed member whose NodeHostID is nodeHostID: the
// Raft host's RaftConfig.Resolve. A member not placed (not verified, or gone) is not resolved.
// Dragonboat resolves for every message it sends, so the addresses are indexed once per
// placement, not hashed per call.
func (n *Node) ResolveRaft(nodeHostID string) (string, bool) {
	p := n.placement.Load()
	idx := n.raftIndex.Load()
	if idx == nil || idx.version != p.version {
		idx = &raftIndex{version: p.version, addrs: map[string]string{}}
		for _, m := range p.members {
			if m.RaftAddr != "" {
				idx.addrs[NodeHostID(m.ID)] = m.RaftAddr
			}
		}
		n.raftIndex.Store(idx)
	}
	addr, ok := idx.addrs[nodeHostID]
	return addr, ok
}

// raftIndex maps the NodeHostIDs of one placement's members to their Raft addresses.
type raftIndex struct {
	version uint64
	addrs   map[string]string
}

// SetShardState gossips this node's shard state: Member.Formed and Member.Draining as peers (and
// this node's own placement) see them; Self keeps the Member of Config. It waits up to 5s for the
// update's broadcast; an error says it was not confirmed, and gossip will still carry it.
func (n *Node) SetShardState(formed string, draining bool) error {
	return n.updateMeta(func(m *Member) { m.Formed, m.Draining = formed, draining })
}

// SetLeads gossips the shards this node writes as their leader (Member.Leads), as SetShardState
// gossips its state.
func (n *Node) SetLeads(leads uint64) error {
	return n.updateMeta(func(m *Member) { m.Leads = leads })
}

func (n *Node) updateMeta(change func(*Member)) error {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	m := n.self
	m.Formed, m.Draining, m.Leads = n.gossiped.Formed, n.gossiped.Draining, n.gossiped.Leads
	change(&m)
	n.gossiped = m
	meta, err := encodeMeta(m, n.cfg.ClusterID)
	if err != nil {
		return err
	}
	n.delegate.meta.Store(&meta)
	n.mu.Lock()
	ml, state := n.ml, n.state
	n.mu.Unlock()
	switch {
	case state == stateShutdown:
		return ErrShutdown
	case n.cfg.Lone:
		n.publish(&Placement{version: n.placement.Load().version + 1, members: []Member{m}})
		return nil
	case ml == nil:
		return nil // Start gossips the new meta
	}
	return ml.UpdateNode(defaultLeaveTimeout)
}

// Send sends msg to the placed member called to, reliably (over memberlist's TCP, encrypted with
// Config.GossipKey), to the handler it set with OnMessage.
func (n *Node) Send(to string, msg []byte) error {
	n.mu.Lock()
	ml, state := n.ml, n.state
	n.mu.Unlock()
	if state != stateStarted || ml == nil {
		return ErrShutdown
	}
	addr, ok := n.view.addr(to)
	if !ok {
		return fmt.Errorf("cluster: send to %s: not a live member", to)
	}
	host, port, err := splitIPPort(addr)
	if err != nil {
		return fmt.Errorf("cluster: send to %s: %w", to, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("cluster: send to %s: %w", to, err)
	}
	return ml.SendReliable(&memberlist.Node{Name: to, Addr: ip.AsSlice(), Port: uint16(port)}, msg)
}

// OnMessage sets the function that receives the messages peers Send to this node (nil: drop
// them). It runs on memberlist's goroutine: it must not block.
func (n *Node) OnMessage(f func(msg []byte)) {
	if f == nil {
		n.delegate.handler.Store(nil)
		return
	}
	n.delegate.handler.Store(&f)
}

// Self returns this node as a Member; its ID is Config.Name.
func (n *Node) Self() Member { return n.self }

// IsLocal reports whether m is this node.
func (n *Node) IsLocal(m Member) bool { return m.ID == n.self.ID }

// Ready reports whether Start has succeeded (the node is joined, or alone by configuration) and
// Shutdown has not begun.
func (n *Node) Ready() bool { return n.ready.Load() }

// GossipAddr returns the ip:port memberlist advertises to peers, the one to list in another node's
// Config.Join. With Bind port 0 it carries the port actually bound. Empty before Start.
func (n *Node) GossipAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gossipAddr
}

// Shutdown stops the placement loop, leaves the cluster gracefully, shuts memberlist down and
// closes every subscription. The leave waits for its broadcast until ctx's deadline (5s without
// one); a non-nil error says the leave was not confirmed, and peers will then detect the departure
// by probing. Resources are released in every case. Shutdown is idempotent: later calls wait for
// the first to finish, or for their own ctx.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	prev := n.state
	if prev == stateShutdown {
		n.mu.Unlock()
		select {
		case <-n.down:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n.state = stateShutdown
	n.ready.Store(false)
	close(n.stop)
	n.cancel()
	ml := n.ml
	n.mu.Unlock()

	var err error
	if prev == stateStarted {
		<-n.loopDone // the loop is at most in one short refresh, and starts no check after it
	}
	n.checkWG.Wait()
	if prev == stateStarted && ml != nil {
		timeout := defaultLeaveTimeout
		if deadline, ok := ctx.Deadline(); ok {
			timeout = max(time.Until(deadline), time.Millisecond)
		}
		if lerr := ml.Leave(timeout); lerr != nil {
			err = fmt.Errorf("cluster: leave not confirmed by peers: %w", lerr)
		}
		if serr := ml.Shutdown(); serr != nil {
			err = errors.Join(err, fmt.Errorf("cluster: memberlist shutdown: %w", serr))
		}
		n.log.Info("cluster: left and shut down", "name", n.self.ID)
	}
	n.closeSubscriptions()
	close(n.down)
	return err
}
