package daemon

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A shard is reported as its leader sees it, a member that did not answer (or answered
// something else) is named, and the nodes' replica counts are over every shard.
func TestMergeStatusPrefersTheLeadersView(t *testing.T) {
	rep := func(nodes ...string) []ClusterReplica {
		var out []ClusterReplica
		for _, n := range nodes {
			out = append(out, ClusterReplica{Node: n, Voting: true})
		}
		return out
	}
	own := ClusterStatus{Node: "a", Nodes: []ClusterNode{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		Shards: []ClusterShard{{Shard: 2, Leader: "b", Replicas: rep("a", "b")}}} // a's replica is behind
	peer := func(st ClusterStatus) []byte {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	peers := map[string][]byte{
		"http://b": peer(ClusterStatus{Node: "b", Moving: true, Shards: []ClusterShard{
			{Shard: 2, Leader: "b", Replicas: rep("b", "c")},
			{Shard: 1, Leader: "c", Replicas: rep("b", "c")}}}),
		"http://x": []byte("<html>not pushd</html>"),
	}
	got := mergeStatus(own, peers, []string{"http://d"})
	want := []ClusterShard{{Shard: 1, Leader: "c", Replicas: rep("b", "c")}, {Shard: 2, Leader: "b", Replicas: rep("b", "c")}}
	if !reflect.DeepEqual(got.Shards, want) {
		t.Fatalf("shards %+v, want %+v", got.Shards, want)
	}
	if got.Scope != "cluster" || got.Complete || !reflect.DeepEqual(got.Missing, []string{"http://d", "http://x"}) || !got.Moving {
		t.Fatalf("scope %q complete %v missing %v moving %v", got.Scope, got.Complete, got.Missing, got.Moving)
	}
	held := map[string]int{}
	for _, n := range got.Nodes {
		held[n.Name] = n.Replicas
	}
	if !reflect.DeepEqual(held, map[string]int{"a": 0, "b": 2, "c": 2}) {
		t.Fatalf("replicas held %v", held)
	}
}
