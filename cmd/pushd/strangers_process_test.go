package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pushd-im/pushd/storage"
)

// TestClusterStrangersCheckAcrossNodes: with client_message_strangers off on a
// three-node cluster, the check reads the sender's and the receiver's group
// indexes where they live. The users are picked so that the sender, the
// receivers and the node asked are on different nodes: a group member is
// messaged and called through every node, a stranger is refused through every
// node.
func TestClusterStrangersCheckAcrossNodes(t *testing.T) {
	s, simDir := startSim(t)
	nodes := startNodesWith(t, s, simDir, 3, "    client_message_strangers: false\n")
	st, err := readCluster(nodes[0].api, false)
	if err != nil {
		t.Fatal(err)
	}
	leader := map[uint64]string{}
	for _, sh := range st.Shards {
		leader[sh.Shard] = sh.Leader
	}
	ownerOf := func(user string) string { return leader[storage.ShardOf(storage.UserKey("demo", user))] }
	// pick finds a user, named from prefix, whose owner is none of avoid.
	pick := func(prefix string, avoid ...string) string {
		for i := 0; i < 1000; i++ {
			u := fmt.Sprintf("%s%d", prefix, i)
			if o := ownerOf(u); o != "" && !strings.Contains(strings.Join(avoid, ","), o) {
				return u
			}
		}
		t.Fatalf("no user %s* off %v", prefix, avoid)
		return ""
	}
	alice := pick("alice")
	friend := pick("friend", ownerOf(alice))
	stranger := pick("stranger", ownerOf(alice))
	group := pick("team") // the group's own shard is anywhere
	t.Logf("alice=%s on %s, friend=%s on %s, stranger=%s on %s", alice, ownerOf(alice), friend, ownerOf(friend), stranger, ownerOf(stranger))
	if st, out, err := request(nodes[0].api, "PUT", "/v1/groups/"+group, "", map[string]any{"members": []string{alice, friend}}); err != nil || st != http.StatusOK {
		t.Fatalf("PUT group: %d %v %v", st, out, err)
	}
	if st, out, err := request(nodes[1].api, "PUT", "/v1/groups/others", "", map[string]any{"members": []string{stranger, "someone"}}); err != nil || st != http.StatusOK {
		t.Fatalf("PUT group: %d %v %v", st, out, err)
	}
	for i, via := range nodes {
		msg := func(to string) map[string]any {
			return map[string]any{"to": to, "conversation_type": 0, "type": 1, "body": fmt.Sprintf("via %d", i)}
		}
		if st, out, err := request(via.api, "POST", "/v1/messages", alice, msg(friend)); err != nil || st != http.StatusOK {
			t.Errorf("to a group member via node %d: %d %v %v", i+1, st, out, err)
		}
		if st, out, err := request(via.api, "POST", "/v1/calls", alice, map[string]any{"invitees": []string{friend}}); err != nil || st != http.StatusOK {
			t.Errorf("calling a group member via node %d: %d %v %v", i+1, st, out, err)
		}
		st, out, err := request(via.api, "POST", "/v1/messages", alice, msg(stranger))
		if e, _ := out["error"].(map[string]any); err != nil || st != http.StatusForbidden || e["code"] != "forbidden" {
			t.Errorf("to a stranger via node %d: %d %v %v, want 403 forbidden", i+1, st, out, err)
		}
		if st, out, err := request(via.api, "POST", "/v1/messages", "", map[string]any{"from": alice, "to": stranger, "conversation_type": 0, "type": 1, "body": "backend"}); err != nil || st != http.StatusOK {
			t.Errorf("the backend to a stranger via node %d: %d %v %v", i+1, st, out, err)
		}
	}

	// The console's streams view of a user reads the user's node, whichever
	// node is asked: all three show the same streams.
	var first string
	for i, via := range nodes {
		st, out, err := request(via.api, "GET", "/v1/users/"+friend+"/streams", "", nil)
		if err != nil || st != http.StatusOK {
			t.Fatalf("streams of %s via node %d: %d %v %v", friend, i+1, st, out, err)
		}
		got := fmt.Sprint(out["streams"])
		if first == "" {
			first = got
			if !strings.Contains(got, "via 2") {
				t.Fatalf("streams of %s via node 1: %s, want the three messages", friend, got)
			}
		} else if got != first {
			t.Errorf("streams of %s via node %d: %s, want %s", friend, i+1, got, first)
		}
	}
}
