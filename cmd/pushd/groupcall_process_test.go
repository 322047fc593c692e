package main

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/storage"
)

// shardReplicas is each shard's voting replicas, by node index, as the nodes report them.
func shardReplicas(t *testing.T, nodes []*proc) map[uint64][]int {
	t.Helper()
	out := map[uint64][]int{}
	for _, p := range nodes {
		v, err := readCluster(p.api, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range v.Shards {
			if out[sh.Shard] != nil {
				continue
			}
			for _, r := range sh.Replicas {
				for i := range nodes {
					if !r.Voting {
						continue
					}
					if r.Node == fmt.Sprintf("node-%d", i+1) {
						out[sh.Shard] = append(out[sh.Shard], i)
					}
				}
			}
		}
	}
	return out
}

// A call cancelled while the invitee's data has no quorum (two of its three
// replicas killed -9) still ends for the invitee: the cancellation is stored
// with the ended call and delivered once those nodes are back, so the
// invitee's connect replays the cancellation and not the invitation. Before,
// the cancel was answered 200 and its event lost after one request timeout.
func TestClusterCallEndingSurvivesTheInviteesOutage(t *testing.T) {
	nodes, replicas, bob := bobOnFourNodes(t)
	// Two of bob's replicas die; the call's shard must keep a majority, and
	// the node the test talks to must live.
	var call string
	var dead []int
	for try := 0; dead == nil; try++ {
		if try == 20 {
			t.Fatal("no call placed apart from bob's shard in 20 tries")
		}
		live := slices.IndexFunc([]int{0, 1, 2, 3}, func(i int) bool { return !slices.Contains(bob, i) })
		out := postRetry(t, nodes[live].api, "/v1/calls", "alice", map[string]any{"invitees": []string{"bob"}, "timeout": 600})
		call, _ = out["call_id"].(string)
		callReplicas := replicas[storage.ShardOf(storage.CallKey("demo", call))]
		for a := 0; a < 3 && dead == nil; a++ {
			pair := []int{bob[a], bob[(a+1)%3]}
			if !(slices.Contains(callReplicas, pair[0]) && slices.Contains(callReplicas, pair[1])) {
				dead = pair
			}
		}
	}
	via := survivor(nodes, dead)
	for _, i := range dead {
		nodes[i].kill()
	}
	// A cancel answered 503 (its shard's leader died) may have been stored:
	// tried again, it is then refused as call_ended.
	testwait.Until(t, waitFor, func() error {
		st, out, err := request(via.api, "POST", "/v1/calls/"+call+"/cancel", "alice", map[string]any{})
		if err == nil && (st == http.StatusOK || st == http.StatusConflict && fmt.Sprint(out["error"]) == fmt.Sprint(map[string]any{"code": "call_ended", "message": "call " + call + " has ended"})) {
			return nil
		}
		if err == nil && st != http.StatusServiceUnavailable {
			t.Fatalf("cancel: %d %v", st, out)
		}
		return fmt.Errorf("cancel: %d %v %v", st, out, err)
	})
	// Both at once: each start waits until the cluster's expected nodes are placed.
	restartAll(t, nodes, dead)

	// bob connects until the cancellation is in his inbox and the invitation
	// no longer rings for him.
	testwait.Until(t, 3*waitFor, func() error {
		var types []string
		err := drainToPong(t, via.api, "bob", func(f map[string]any) {
			if f["call_id"] == call {
				types = append(types, fmt.Sprint(f["type"]))
			}
		})
		if err != nil {
			return err
		}
		if len(types) != 1 || types[0] != "call_invitation_cancelled" {
			return fmt.Errorf("bob's drain has %v of call %s, want only call_invitation_cancelled", types, call)
		}
		return nil
	})
}

// A member removed while its own data has no quorum (two of its three
// replicas killed -9) is removed for good: the removal stands though the
// member's node could not be told (503), the same request again, once the
// nodes are back, answers 200, and the member's connect replays nothing of
// the group. Before, the retry found nothing left to remove and the member's
// index kept the group, so its connect replayed what was sent after its removal.
func TestClusterGroupRemovalSurvivesTheMembersOutage(t *testing.T) {
	nodes, replicas, bob := bobOnFourNodes(t)
	dead := bob[:2]
	group := ""
	for i := 0; group == ""; i++ {
		g := fmt.Sprintf("team%d", i)
		r := replicas[storage.ShardOf(storage.GroupKey("demo", g))]
		if !(slices.Contains(r, dead[0]) && slices.Contains(r, dead[1])) {
			group = g
		}
	}
	via := survivor(nodes, dead)
	if st, out, err := request(via.api, "PUT", "/v1/groups/"+group, "", map[string]any{"members": []string{"alice", "bob"}}); err != nil || st != http.StatusOK {
		t.Fatalf("create group: %d %v %v", st, out, err)
	}
	sendGroup := func(body string) {
		postRetry(t, via.api, "/v1/messages", "", map[string]any{"from": "alice", "to": group, "conversation_type": 2, "type": 1, "body": body})
	}
	sendGroup("before")
	for _, i := range dead {
		nodes[i].kill()
	}
	remove := func() (int, map[string]any) {
		st, out, err := request(via.api, "DELETE", "/v1/groups/"+group+"/members", "", map[string]any{"members": []string{"bob"}})
		if err != nil {
			t.Fatal(err)
		}
		return st, out
	}
	sendGroup("after")
	// While bob's side cannot be told, no retry says it is done (each waits
	// up to the API's request timeout; the third outlasts the group's first
	// attempt to tell bob).
	for i := 0; i < 3; i++ {
		if st, out := remove(); st != http.StatusServiceUnavailable {
			t.Fatalf("removing bob while his data has no quorum, time %d: %d %v, want 503", i+1, st, out)
		}
	}

	restartAll(t, nodes, dead)
	testwait.Until(t, 3*waitFor, func() error {
		if st, out := remove(); st != http.StatusOK || out["members"] != float64(1) {
			return fmt.Errorf("removing bob again: %d %v", st, out)
		}
		return nil
	})
	testwait.Until(t, waitFor, func() error {
		return drainToPong(t, via.api, "bob", func(f map[string]any) {
			if f["stream"] == "group:"+group {
				t.Errorf("bob, removed from %s, replays %v", group, f)
			}
		})
	})
}

// restartAll starts the killed nodes[i] of dead again, all at once: each start
// waits until the cluster's expected nodes are placed.
func restartAll(t *testing.T, nodes []*proc, dead []int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(dead))
	for k, i := range dead {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[k] = startProcAsync(t, nodes[i].cfg)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// bobOnFourNodes starts four nodes and finds the three that hold bob's shard.
func bobOnFourNodes(t *testing.T) (nodes []*proc, replicas map[uint64][]int, bob []int) {
	t.Helper()
	s, simDir := startSim(t)
	nodes = startNodes(t, s, simDir, 4)
	replicas = shardReplicas(t, nodes)
	bob = replicas[storage.ShardOf(storage.UserKey("demo", "bob"))]
	if len(bob) != 3 {
		t.Fatalf("bob's shard has replicas %v, want 3", bob)
	}
	return nodes, replicas, bob
}

// survivor is a node not among dead.
func survivor(nodes []*proc, dead []int) *proc {
	var via *proc
	for i, p := range nodes {
		if !slices.Contains(dead, i) {
			via = p
		}
	}
	return via
}

// drainToPong connects user's device "phone" through api, pings, and hands f
// each frame that comes before the pong: the whole replay.
func drainToPong(t *testing.T, api, user string, f func(map[string]any)) error {
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+api+"/v1/connect?device_id=phone", http.Header{"Authorization": {"Bearer " + clientToken(t, user)}})
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]any{"type": "ping"}); err != nil {
		return err
	}
	for {
		_ = ws.SetReadDeadline(time.Now().Add(waitFor))
		var fr map[string]any
		if err := ws.ReadJSON(&fr); err != nil {
			return err
		}
		if fr["type"] == "pong" {
			return nil
		}
		f(fr)
	}
}
