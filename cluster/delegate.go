package cluster

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/memberlist"
)

// metaDelegate hands memberlist this node's meta (which SetShardState may replace) and passes
// the messages peers send with Node.Send to the handler set with Node.OnMessage.
type metaDelegate struct {
	meta    atomic.Pointer[[]byte]
	handler atomic.Pointer[func([]byte)]
}

// NodeMeta returns the JSON of this node's Member; Config validation keeps it within limit.
func (d *metaDelegate) NodeMeta(limit int) []byte {
	meta := *d.meta.Load()
	if len(meta) > limit {
		return nil // unreachable after validation; peers then skip this node instead of panicking
	}
	return meta
}

// NotifyMsg passes a copy of a peer's message to the handler; memberlist reuses msg's memory.
func (d *metaDelegate) NotifyMsg(msg []byte) {
	if f := d.handler.Load(); f != nil {
		(*f)(bytes.Clone(msg))
	}
}

func (*metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (*metaDelegate) LocalState(join bool) []byte                { return nil }
func (*metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

// liveNode is what the view keeps of a memberlist node: copies, never memberlist's own memory.
type liveNode struct {
	meta []byte
	addr string // gossip host:port
}

// memberView is the memberlist EventDelegate. memberlist calls it with its node lock held, so the
// callbacks only copy the node into a map under a short mutex and signal the placement loop; they
// never block.
//
// The view, rather than Memberlist.Members, is what the loop reads: Members returns pointers into
// memberlist's node table whose Meta and Addr are rewritten under a lock the caller cannot take,
// while the copies made here are taken under it.
type memberView struct {
	mu    sync.Mutex
	nodes map[string]liveNode // by memberlist node name, alive or suspect

	changed chan struct{} // one slot: a pending signal covers any number of changes
}

func newMemberView() *memberView {
	return &memberView{nodes: make(map[string]liveNode), changed: make(chan struct{}, 1)}
}

// NotifyJoin records a node that became alive.
func (v *memberView) NotifyJoin(n *memberlist.Node) { v.put(n) }

// NotifyUpdate records a node whose meta changed.
func (v *memberView) NotifyUpdate(n *memberlist.Node) { v.put(n) }

// NotifyLeave forgets a node that left or was declared dead.
func (v *memberView) NotifyLeave(n *memberlist.Node) {
	v.mu.Lock()
	delete(v.nodes, n.Name)
	v.mu.Unlock()
	v.signal()
}

func (v *memberView) put(n *memberlist.Node) {
	rec := liveNode{
		meta: bytes.Clone(n.Meta),
		addr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
	}
	v.mu.Lock()
	v.nodes[n.Name] = rec
	v.mu.Unlock()
	v.signal()
}

func (v *memberView) signal() {
	select {
	case v.changed <- struct{}{}:
	default:
	}
}

// snapshot returns a copy of the live nodes.
func (v *memberView) snapshot() map[string]liveNode {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.nodes)
}

// addr returns the gossip address of the node called name, if it is live.
func (v *memberView) addr(name string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	n, ok := v.nodes[name]
	return n.addr, ok
}

// clusterGate refuses nodes of another cluster: memberlist asks it before it takes a node in
// (NotifyAlive) and before it merges a peer's member list at join (NotifyMerge).
type clusterGate struct {
	id string
	// refused keeps the last refusal of a merge, for Start to report instead of retrying.
	refused atomic.Pointer[string]
}

func (g *clusterGate) check(n *memberlist.Node) error {
	if got := metaClusterID(n.Meta); got != g.id {
		return fmt.Errorf("node %s carries cluster id %q, this node's is %q", n.Name, got, g.id)
	}
	return nil
}

// NotifyAlive refuses a node of another cluster.
func (g *clusterGate) NotifyAlive(n *memberlist.Node) error { return g.check(n) }

// NotifyMerge refuses a merge with any node of another cluster.
func (g *clusterGate) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if err := g.check(p); err != nil {
			msg := err.Error()
			g.refused.Store(&msg)
			return err
		}
	}
	return nil
}
