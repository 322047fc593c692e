package cluster

import (
	"encoding/json"
	"fmt"
)

// Member is one pushd node as the rest of the cluster sees it.
type Member struct {
	// ID is the node name, unique in the cluster; placement scores it.
	ID string
	// RemoteAddr is the host:port of the node's protoactor remote endpoint.
	RemoteAddr string
	// APIAddr is the host:port of the node's HTTP API.
	APIAddr string
	// RaftAddr is the host:port of the node's Raft transport ("" when it runs none).
	RaftAddr string
	// Formed, when set, says the node belongs to a cluster whose shards exist (it bootstrapped
	// them, holds a replica, or joined a formed member), and is that cluster's bootstrap id: a node
	// without data that sees a formed member joins the cluster instead of bootstrapping shards of
	// its own (see Shards). Set with Node.SetShardState.
	Formed string
	// Draining says the node is moving its shard replicas away before it leaves: no new replica
	// is placed on it. Set with Node.SetShardState.
	Draining bool
	// Leads has bit s-1 set for each shard s this node writes as its Raft leader (shards 1..64).
	// Nodes route a shard's requests to it; one with a replica of the shard asks Raft instead.
	// Set with Node.SetLeads.
	Leads uint64
}

// memberMeta is the JSON a node gossips as its memberlist meta. It is the wire form of Member, kept
// apart so that Member can change without changing what old nodes decode. Unknown fields are
// ignored, so a newer node may add fields.
type memberMeta struct {
	ID         string `json:"id"`
	RemoteAddr string `json:"remote"`
	APIAddr    string `json:"api"`
	RaftAddr   string `json:"raft,omitempty"`
	Formed     string `json:"formed,omitempty"`
	Draining   bool   `json:"draining,omitempty"`
	Leads      uint64 `json:"leads,omitempty"`
	// Cluster is the cluster id (Config.ClusterID); nodes of another cluster are refused.
	Cluster string `json:"cluster,omitempty"`
}

func encodeMeta(m Member, clusterID string) ([]byte, error) {
	return json.Marshal(memberMeta{ID: m.ID, RemoteAddr: m.RemoteAddr, APIAddr: m.APIAddr, RaftAddr: m.RaftAddr,
		Formed: m.Formed, Draining: m.Draining, Leads: m.Leads, Cluster: clusterID})
}

// metaClusterID returns the cluster id in a node's meta ("" when it carries none or does not decode).
func metaClusterID(b []byte) string {
	var meta memberMeta
	_ = json.Unmarshal(b, &meta)
	return meta.Cluster
}

// decodeMeta decodes the meta gossiped by the memberlist node called name. The id inside the meta
// must be that name: memberlist guarantees names are unique, so the name is the member's identity.
func decodeMeta(name string, b []byte) (Member, error) {
	var meta memberMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		return Member{}, fmt.Errorf("cluster: meta of node %q: %w", name, err)
	}
	if meta.ID != name {
		return Member{}, fmt.Errorf("cluster: meta of node %q carries id %q", name, meta.ID)
	}
	return Member{ID: meta.ID, RemoteAddr: meta.RemoteAddr, APIAddr: meta.APIAddr, RaftAddr: meta.RaftAddr,
		Formed: meta.Formed, Draining: meta.Draining, Leads: meta.Leads}, nil
}
