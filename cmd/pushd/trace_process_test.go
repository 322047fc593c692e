package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/storage"
)

// TestClusterTraceMergesMembers: in a cluster of four nodes each shard has replicas on three,
// so no node holds every message's trace records; a trace asked of any node is the whole
// trace, each event once.
func TestClusterTraceMergesMembers(t *testing.T) {
	s, simDir := startSim(t)
	nodes := startNodes(t, s, simDir, 4)
	const users = 8
	ids := map[string]string{}
	for u := 0; u < users; u++ {
		user := fmt.Sprintf("traced%d", u)
		mustPost(t, nodes[u%4].api, "/v1/devices", user, map[string]any{"device_id": "phone", "provider": "apns", "token": apnsTok(300 + u)})
		out := mustPost(t, nodes[(u+1)%4].api, "/v1/messages", "", map[string]any{"from": "alice", "to": user, "conversation_type": 0, "type": 1,
			"body": "hi", "push_config": map[string]any{"title": "t", "content": user}})
		ids[user] = out["message_id"].(string)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := s.Wait(ctx, func([]vendorsim.Record) bool {
		for u := 0; u < users; u++ {
			if len(s.Delivered(push.APNs, apnsTok(300+u))) != 1 {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("pushes: %v", err)
	}
	for user, id := range ids {
		for _, n := range nodes {
			testwait.Until(t, waitFor, func() error {
				st, out, err := request(n.api, "GET", "/v1/messages/"+id+"/trace", "", nil)
				if err != nil || st != http.StatusOK || out["complete"] != true {
					return fmt.Errorf("trace of %s's message through %s: %d %v %v", user, n.api, st, out, err)
				}
				devs, _ := out["devices"].([]any)
				if len(devs) != 1 {
					return fmt.Errorf("trace of %s's message through %s: devices %v", user, n.api, devs)
				}
				var steps []string
				for _, e := range devs[0].(map[string]any)["events"].([]any) {
					ev := e.(map[string]any)
					steps = append(steps, fmt.Sprint(ev["event"], ":", ev["verdict"]))
				}
				if got := strings.Join(steps, " "); got != "push_job:<nil> vendor_attempt:delivered" {
					return fmt.Errorf("trace of %s's message through %s: %s, want the push job and its verdict once each", user, n.api, got)
				}
				return nil
			})
		}
	}
	// The merge was needed: some node holds none of some message's records.
	lacking := 0
	for _, id := range ids {
		for _, n := range nodes {
			st, out, err := request(n.api, "GET", "/v1/messages/"+id+"/trace?scope=node", "", nil)
			if evs, _ := out["events"].([]any); err == nil && st == http.StatusOK && len(evs) == 0 {
				lacking++
			}
		}
	}
	if lacking == 0 {
		t.Fatalf("every node holds every message's trace records: the test does not exercise the merge")
	}
	t.Logf("%d of %d (message, node) pairs hold no record locally", lacking, len(ids)*len(nodes))

	// The same four nodes: GET /v1/cluster, asked of any node, is every shard's, though no
	// node holds them all.
	t.Run("cluster status", func(t *testing.T) {
		waitSettled(t, nodes)
		partial := 0
		for _, n := range nodes {
			own, err := readCluster(n.api, false)
			if err != nil {
				t.Fatal(err)
			}
			if own.Scope != "node" {
				t.Fatalf("?scope=node answered scope %q", own.Scope)
			}
			if len(own.Shards) < storage.NumShards {
				partial++
			}
			st, out, err := request(n.api, "GET", "/v1/cluster", "", nil)
			if err != nil || st != http.StatusOK {
				t.Fatalf("GET /v1/cluster on %s: %d %v %v", n.api, st, out, err)
			}
			b, _ := json.Marshal(out)
			var v daemon.ClusterStatus
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			if v.Scope != "cluster" || !v.Complete || len(v.Shards) != storage.NumShards {
				t.Fatalf("GET /v1/cluster on %s: scope %q, complete %v, %d shards; want the cluster's %d, complete", n.api, v.Scope, v.Complete, len(v.Shards), storage.NumShards)
			}
			replicas := 0
			for i, sh := range v.Shards {
				if sh.Shard != uint64(i+1) || sh.Leader == "" || len(sh.Replicas) != 3 {
					t.Fatalf("GET /v1/cluster on %s: shard %+v, want shard %d with a leader and 3 replicas", n.api, sh, i+1)
				}
			}
			for _, nd := range v.Nodes {
				replicas += nd.Replicas
			}
			if replicas != 3*storage.NumShards {
				t.Fatalf("GET /v1/cluster on %s: the nodes hold %d replicas, want %d", n.api, replicas, 3*storage.NumShards)
			}
		}
		if partial == 0 {
			t.Fatal("every node holds every shard: the test does not exercise the merge")
		}
		if st, out, _ := request(nodes[0].api, "GET", "/v1/cluster?scope=everything", "", nil); st != http.StatusBadRequest {
			t.Fatalf("?scope=everything: %d %v, want 400", st, out)
		}
	})
}
