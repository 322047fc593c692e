package daemon

import (
	"encoding/json"
	"maps"
	"slices"
)

// mergeStatus makes a node's own view (status) cluster-wide with the other members' own views
// (their JSON answers to GET /v1/cluster?scope=node, by API address): every shard once, as its
// leader reports it when the leader answered (its replica applied the latest membership), else
// as the first member holding it did; each node's replica count over all shards; moving when
// any member says so. The members are the answering node's.
func mergeStatus(own ClusterStatus, peers map[string][]byte, missing []string) ClusterStatus {
	shards := map[uint64]ClusterShard{}
	byLeader := map[uint64]bool{}
	add := func(node string, view []ClusterShard) {
		for _, sh := range view {
			lead := sh.Leader != "" && sh.Leader == node
			if _, seen := shards[sh.Shard]; !seen || lead && !byLeader[sh.Shard] {
				shards[sh.Shard], byLeader[sh.Shard] = sh, lead
			}
		}
	}
	add(own.Node, own.Shards)
	for _, addr := range slices.Sorted(maps.Keys(peers)) {
		var st ClusterStatus
		if err := json.Unmarshal(peers[addr], &st); err != nil || st.Node == "" {
			missing = append(missing, addr)
			continue
		}
		add(st.Node, st.Shards)
		own.Moving = own.Moving || st.Moving
	}
	own.Shards = make([]ClusterShard, 0, len(shards))
	for _, id := range slices.Sorted(maps.Keys(shards)) {
		own.Shards = append(own.Shards, shards[id])
	}
	held := map[string]int{}
	for _, sh := range own.Shards {
		for _, r := range sh.Replicas {
			held[r.Node]++
		}
	}
	for i := range own.Nodes {
		own.Nodes[i].Replicas = held[own.Nodes[i].Name]
	}
	slices.Sort(missing)
	own.Scope, own.Complete, own.Missing = "cluster", len(missing) == 0, missing
	return own
}
