package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/storage"
)

func readCluster(addr string, digests bool) (daemon.ClusterStatus, error) {
	var v daemon.ClusterStatus
	q := "?scope=node" // each node's own view: the shards it holds
	if digests {
		q += "&digests=1"
	}
	req, err := http.NewRequest("GET", "http://"+addr+"/v1/cluster"+q, nil)
	if err != nil {
		return v, err
	}
	req.Header.Set("X-API-Key", testAPIKey)
	resp, err := testClient.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET /v1/cluster on %s: %d %s", addr, resp.StatusCode, b)
	}
	return v, json.Unmarshal(b, &v)
}

// waitSettled waits until no node reports a shard moving: every shard has its
// replicas and its leader where they belong.
func waitSettled(t *testing.T, nodes []*proc) {
	t.Helper()
	testwait.Until(t, 4*waitFor, func() error {
		for _, p := range nodes {
			v, err := readCluster(p.api, false)
			if err != nil {
				return err
			}
			if v.Moving {
				return fmt.Errorf("node %s: shards still moving", v.Node)
			}
		}
		return nil
	})
}

// postRetry is mustPost for a cluster whose shards may move meanwhile: a 503
// is tried again, as clients do.
func postRetry(t *testing.T, addr, path, user string, body any) map[string]any {
	t.Helper()
	var out map[string]any
	testwait.Until(t, waitFor, func() error {
		st, o, err := request(addr, "POST", path, user, body)
		if err != nil || st == http.StatusServiceUnavailable {
			return fmt.Errorf("POST %s: %d %v %v", path, st, o, err)
		}
		if st != http.StatusOK {
			t.Fatalf("POST %s: %d %v", path, st, o)
		}
		out = o
		return nil
	})
	return out
}

// mostLeads is the node that writes the most shards, as the nodes gossip it.
func mostLeads(t *testing.T, nodes []*proc) int {
	t.Helper()
	v, err := readCluster(nodes[0].api, false)
	if err != nil {
		t.Fatal(err)
	}
	best, most := -1, -1
	for i := range nodes {
		for _, n := range v.Nodes {
			if n.Name == fmt.Sprintf("node-%d", i+1) && n.Leads > most {
				best, most = i, n.Leads
			}
		}
	}
	return best
}

// waitReplicasAgree waits until every shard's replicas, on every node, hold
// the same data.
func waitReplicasAgree(t *testing.T, nodes []*proc) {
	t.Helper()
	testwait.Until(t, 2*waitFor, func() error {
		seen := map[uint64]map[string]string{} // shard → node → digest
		for _, p := range nodes {
			v, err := readCluster(p.api, true)
			if err != nil {
				return err
			}
			for shard, d := range v.Digests {
				if seen[shard] == nil {
					seen[shard] = map[string]string{}
				}
				seen[shard][v.Node] = d
			}
		}
		if len(seen) == 0 {
			return fmt.Errorf("no node reports a shard")
		}
		for shard, byNode := range seen {
			var first string
			for node, d := range byNode {
				if first == "" {
					first = d
				} else if d != first {
					return fmt.Errorf("shard %d: replicas differ (%v; %s)", shard, byNode, node)
				}
			}
			if len(byNode) < min(len(nodes), 3) {
				return fmt.Errorf("shard %d has %d replicas, want %d", shard, len(byNode), min(len(nodes), 3))
			}
		}
		return nil
	})
}

// load sends one-to-one and group messages through every live node until
// stopped; a send that gets no 2xx is retried, with the same client_msg_id,
// through the next node, until it is answered 2xx.
type load struct {
	t     *testing.T
	mu    sync.Mutex
	nodes []*proc // where sends go; dead ones are skipped after a failure
	dead  map[*proc]bool
	// accepted maps a receiver (user, or "group:<g>") to the message ids
	// answered 2xx, in order of their answers.
	accepted map[string][]string
	from     map[string]string // message id → sender, of group messages
	answered atomic.Int64
	maxStall atomic.Int64 // the longest a send took to be answered 2xx, retries included (ns)
	failed   atomic.Value // the first send that never got a 2xx
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(t *testing.T, nodes []*proc, users []string, groups map[string][]string, workers int) *load {
	var names []string
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	l := &load{t: t, nodes: nodes, dead: map[*proc]bool{}, accepted: map[string][]string{}, from: map[string]string{}, stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				body := map[string]any{"from": fmt.Sprintf("sender%d", w), "type": 1, "body": fmt.Sprintf("w%d-%d", w, i),
					"client_msg_id": fmt.Sprintf("w%d-%d", w, i), "push_config": map[string]any{"title": "t", "content": "c"}}
				receiver := ""
				if len(names) > 0 && i%4 == 3 {
					g := names[(w+i)%len(names)]
					body["to"], body["conversation_type"], receiver = g, 2, "group:"+g
					body["from"] = groups[g][w%len(groups[g])]
				} else {
					u := users[(w*7+i)%len(users)]
					body["to"], body["conversation_type"], receiver = u, 0, u
				}
				id, ok := l.send(w+i, body)
				if !ok {
					return
				}
				l.mu.Lock()
				l.accepted[receiver] = append(l.accepted[receiver], id)
				if body["conversation_type"] == 2 {
					l.from[id] = body["from"].(string)
				}
				l.mu.Unlock()
				l.answered.Add(1)
			}
		}()
	}
	return l
}

func (l *load) send(start int, body map[string]any) (string, bool) {
	began := time.Now()
	deadline := began.Add(2 * waitFor)
	for try := start; time.Now().Before(deadline); try++ {
		l.mu.Lock()
		p := l.nodes[try%len(l.nodes)]
		dead := l.dead[p]
		l.mu.Unlock()
		if dead {
			continue
		}
		st, out, err := request(p.api, "POST", "/v1/messages", "", body)
		if err == nil && st == http.StatusOK {
			if d := int64(time.Since(began)); d > l.maxStall.Load() {
				l.maxStall.Store(d)
			}
			return out["message_id"].(string), true
		}
		if err == nil && st != http.StatusServiceUnavailable && st != http.StatusGatewayTimeout {
			l.failed.CompareAndSwap(nil, fmt.Sprintf("send %v through %s: %d %v", body["client_msg_id"], p.api, st, out))
			return "", false
		}
		time.Sleep(10 * time.Millisecond) // the owner is moving: let it settle
	}
	l.failed.CompareAndSwap(nil, fmt.Sprintf("send %v: no 2xx in %v", body["client_msg_id"], 2*waitFor))
	return "", false
}

func (l *load) markDead(p *proc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dead[p] = true
}

// waitAnswered waits until n more sends were answered 2xx.
func (l *load) waitAnswered(n int64) {
	l.t.Helper()
	want := l.answered.Load() + n
	deadline := time.Now().Add(2 * waitFor)
	for l.answered.Load() < want {
		if f := l.failed.Load(); f != nil {
			l.t.Fatal(f)
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%d sends answered, want %d", l.answered.Load(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *load) finish() map[string][]string {
	l.t.Helper()
	close(l.stop)
	l.wg.Wait()
	if f := l.failed.Load(); f != nil {
		l.t.Fatal(f)
	}
	return l.accepted
}

// drainAll connects every user through the nodes in turn and checks that its
// inbox and its groups' streams hold every accepted message exactly once,
// with seq gap-free from 1.
func drainAll(t *testing.T, nodes []*proc, users []string, members map[string][]string, accepted map[string][]string) {
	t.Helper()
	for i, u := range users {
		want := map[string]map[string]bool{"inbox": {}}
		for _, id := range accepted[u] {
			want["inbox"][id] = true
		}
		for g, ms := range members {
			if slices.Contains(ms, u) {
				want["group:"+g] = map[string]bool{}
				for _, id := range accepted["group:"+g] {
					want["group:"+g][id] = true
				}
			}
		}
		// A connection kicked "moved" (a shard's leader changed meanwhile) is
		// opened again, and the drain starts over: nothing is acked.
		var err error
		for try := 0; try < 5; try++ {
			if err = drainOnce(t, nodes[(i+try)%len(nodes)].api, u, want); err == nil {
				break
			}
			t.Logf("%s: drain again: %v", u, err)
		}
		if err != nil {
			// Their goroutines, in the log, show where the user is stuck.
			for _, p := range nodes {
				_ = p.cmd.Process.Signal(syscall.SIGQUIT)
				<-p.exited
			}
			t.Fatal(err)
		}
	}
}

// drainOnce connects u and reads until every message of want (stream → ids)
// arrived: an error for a dropped connection; a test failure for a gap, a
// repeat or a reorder.
func drainOnce(t *testing.T, addr, u string, want map[string]map[string]bool) error {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/connect?device_id=checker", http.Header{"Authorization": {"Bearer " + clientToken(t, u)}})
	if err != nil {
		return err
	}
	defer ws.Close()
	got := map[string]map[string]int{}
	last := map[string]float64{}
	done := func() bool {
		for stream, ids := range want {
			for id := range ids {
				if got[stream][id] == 0 {
					return false
				}
			}
		}
		return true
	}
	for !done() {
		_ = ws.SetReadDeadline(time.Now().Add(waitFor))
		var f map[string]any
		if err := ws.ReadJSON(&f); err != nil {
			missing := map[string][]string{}
			for stream, ids := range want {
				for id := range ids {
					if got[stream][id] == 0 {
						missing[stream] = append(missing[stream], id)
					}
				}
			}
			return fmt.Errorf("%w (through %s; last seqs %v; still missing %v)", err, addr, last, missing)
		}
		if f["type"] == "kicked" {
			return fmt.Errorf("kicked: %v", f["reason"])
		}
		if f["type"] != "message" {
			continue
		}
		stream := f["stream"].(string)
		seq := f["seq"].(float64)
		if seq != last[stream]+1 {
			t.Fatalf("%s: %s seq %v after %v: a gap, a repeat or a reorder", u, stream, seq, last[stream])
		}
		last[stream] = seq
		id := f["message"].(map[string]any)["message_id"].(string)
		if got[stream] == nil {
			got[stream] = map[string]int{}
		}
		if got[stream][id]++; got[stream][id] > 1 {
			t.Fatalf("%s: message %s twice in %s", u, id, stream)
		}
	}
	return nil
}

// TestClusterKill9UnderLoad: three nodes, replicas 3, one-to-one and group
// sends through every node; the node that leads the most shards is killed
// with SIGKILL mid-traffic. Every send answered 2xx is in its receiver's
// streams exactly once with gap-free seq, every offline receiver is pushed
// every message (duplicates only from pushes in flight), and once the killed
// node is back every replica of every shard holds the same data.
func TestClusterKill9UnderLoad(t *testing.T) {
	s, simDir := startSim(t)
	nodes := startNodes(t, s, simDir, 3)
	var users []string
	for i := 0; i < 24; i++ {
		u := fmt.Sprintf("user%d", i)
		users = append(users, u)
		postRetry(t, nodes[i%3].api, "/v1/devices", u, map[string]any{"device_id": "phone", "provider": "apns", "token": apnsTok(500 + i)})
	}
	members := map[string][]string{"club": users[:12]}
	if st, out, err := request(nodes[1].api, "PUT", "/v1/groups/club", "", map[string]any{"members": members["club"]}); err != nil || st != http.StatusOK {
		t.Fatalf("create group: %d %v %v", st, out, err)
	}

	l := startLoad(t, nodes, users, members, 6)
	l.waitAnswered(150)
	victim := mostLeads(t, nodes)
	nodes[victim].kill()
	l.markDead(nodes[victim])
	l.waitAnswered(150)
	accepted := l.finish()
	t.Logf("killed node-%d; the longest a send waited for a 2xx (retries included): %v", victim+1, time.Duration(l.maxStall.Load()))

	// Everything is served by the two left, then by all three again.
	live := slices.Delete(slices.Clone(nodes), victim, victim+1)
	for _, p := range live {
		waitReady(t, p.api)
	}
	drainAll(t, live, users, members, accepted)
	nodes[victim] = startProc(t, nodes[victim].cfg)
	for _, p := range nodes {
		waitMembers(t, p.api, 3)
		waitReady(t, p.api)
	}

	// Pushes: every receiver stayed offline (the checker connected after),
	// so each accepted message reached the vendor at least once, but a
	// group message's sender's own.
	pushWant := map[string][]string{}
	for _, u := range users {
		pushWant[u] = slices.Clone(accepted[u])
		if slices.Contains(members["club"], u) {
			for _, id := range accepted["group:club"] {
				if l.from[id] != u {
					pushWant[u] = append(pushWant[u], id)
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitFor)
	defer cancel()
	tokenOf := map[string]string{}
	for i, u := range users {
		tokenOf[u] = apnsTok(500 + i)
	}
	err := s.Wait(ctx, func([]vendorsim.Record) bool {
		for _, u := range users {
			ids := pushedMessageIDs(s, tokenOf[u])
			for _, id := range pushWant[u] {
				if ids[id] == 0 {
					return false
				}
			}
		}
		return true
	})
	if err != nil {
		for _, u := range users {
			ids := pushedMessageIDs(s, tokenOf[u])
			want := pushWant[u]
			var missing []string
			for _, id := range want {
				if ids[id] == 0 {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				t.Errorf("%s: %d of %d messages never pushed (%d pushed): %v", u, len(missing), len(want), len(ids), missing)
			}
		}
		t.Fatalf("not every accepted message was pushed: %v", err)
	}
	dups := map[int]int{}
	for _, u := range users {
		for id, n := range pushedMessageIDs(s, tokenOf[u]) {
			dups[n]++
			if n > 3 {
				t.Errorf("%s: message %s pushed %d times", u, id, n)
			}
		}
	}
	total := 0
	for _, ids := range accepted {
		total += len(ids)
	}
	t.Logf("%d sends accepted; pushes per message: %v", total, dups)
	waitReplicasAgree(t, nodes)
}

// addNode makes the load send through p too.
func (l *load) addNode(p *proc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nodes = append(l.nodes, p)
}

// lister reads every user's devices through every live node, all the time,
// and records any answer that misses a binding: a 503 (no writer for a moment)
// is allowed, a 200 without the device is not.
type lister struct {
	stop     chan struct{}
	done     chan struct{}
	reads    atomic.Int64
	retries  atomic.Int64
	mu       sync.Mutex
	nodes    []*proc
	gone     map[*proc]bool
	violated []string
}

func startLister(nodes []*proc, users []string) *lister {
	ls := &lister{stop: make(chan struct{}), done: make(chan struct{}), nodes: slices.Clone(nodes), gone: map[*proc]bool{}}
	go func() {
		defer close(ls.done)
		for i := 0; ; i++ {
			select {
			case <-ls.stop:
				return
			default:
			}
			ls.mu.Lock()
			p := ls.nodes[i%len(ls.nodes)]
			gone := ls.gone[p]
			ls.mu.Unlock()
			if gone {
				continue
			}
			u := users[i%len(users)]
			st, out, err := request(p.api, "GET", "/v1/users/"+u+"/devices", "", nil)
			switch {
			case err != nil || st == http.StatusServiceUnavailable:
				ls.retries.Add(1)
			case st != http.StatusOK:
				ls.record(fmt.Sprintf("%s through %s: %d %v", u, p.api, st, out))
			default:
				ls.reads.Add(1)
				if devs, _ := out["devices"].([]any); len(devs) != 1 {
					ls.record(fmt.Sprintf("%s through %s: %d devices listed, want 1: %v", u, p.api, len(devs), out))
				}
			}
		}
	}()
	return ls
}

func (ls *lister) record(v string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.violated = append(ls.violated, v)
}

func (ls *lister) add(p *proc) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.nodes = append(ls.nodes, p)
}

func (ls *lister) leave(p *proc) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.gone[p] = true
}

func (ls *lister) finish(t *testing.T) {
	t.Helper()
	close(ls.stop)
	<-ls.done
	for _, v := range ls.violated {
		t.Error(v)
	}
	t.Logf("listings: %d answered, %d unavailable for a moment (retried)", ls.reads.Load(), ls.retries.Load())
}

// bindUsers binds n users (one APNs device each, tokens from base) through
// the nodes in turn.
func bindUsers(t *testing.T, nodes []*proc, n, base int) []string {
	t.Helper()
	var users []string
	for i := 0; i < n; i++ {
		u := fmt.Sprintf("user%d", i)
		users = append(users, u)
		postRetry(t, nodes[i%len(nodes)].api, "/v1/devices", u, map[string]any{"device_id": "phone", "provider": "apns", "token": apnsTok(base + i)})
	}
	return users
}

// joinConfig is the config of a new node that joins the cluster of nodes.
func joinConfig(t *testing.T, s *vendorsim.Sim, simDir, name string, nodes []*proc) string {
	var join []string
	for _, p := range nodes {
		join = append(join, p.gossip)
	}
	return nodeConfigAt(t, s, simDir, name, t.TempDir(), "127.0.0.1:0", join, clusterSecurityYAML(t, simDir, name)+", max_moves: 16")
}

// TestClusterJoinAndLeaveUnderLoad: with sends running through every node, a
// fourth node joins (shards rebalance onto it: non-voting replica, catch-up,
// promotion, leadership), then one of the first three leaves gracefully
// (POST /v1/cluster/leave). Every binding stays listed through every node
// all along, and every send answered 2xx is stored once with gap-free seq.
func TestClusterJoinAndLeaveUnderLoad(t *testing.T) {
	s, simDir := startSim(t)
	nodes := startNodes(t, s, simDir, 3)
	users := bindUsers(t, nodes, 16, 700)
	members := map[string][]string{"club": users[:8]}
	if st, out, err := request(nodes[0].api, "PUT", "/v1/groups/club", "", map[string]any{"members": members["club"]}); err != nil || st != http.StatusOK {
		t.Fatalf("create group: %d %v %v", st, out, err)
	}
	l := startLoad(t, nodes, users, members, 4)
	ls := startLister(nodes, users)
	l.waitAnswered(100)

	joined := time.Now()
	n4 := startProc(t, joinConfig(t, s, simDir, "node-4", nodes))
	l.addNode(n4)
	ls.add(n4)
	all := append(slices.Clone(nodes), n4)
	for _, p := range all {
		waitMembers(t, p.api, 4)
	}
	waitSettled(t, all)
	t.Logf("node-4 joined; shards rebalanced in %v", time.Since(joined))
	l.waitAnswered(100)

	leaving := nodes[1]
	left := time.Now()
	if st, out, err := request(leaving.api, "POST", "/v1/cluster/leave", "", nil); err != nil || st != http.StatusAccepted {
		t.Fatalf("leave: %d %v %v", st, out, err)
	}
	select {
	case <-leaving.exited:
	case <-time.After(4 * waitFor):
		t.Fatal("node-2 did not finish leaving")
	}
	l.markDead(leaving)
	ls.leave(leaving)
	rest := []*proc{nodes[0], nodes[2], n4}
	for _, p := range rest {
		waitMembers(t, p.api, 3)
	}
	waitSettled(t, rest)
	t.Logf("node-2 left; its replicas moved in %v", time.Since(left))
	l.waitAnswered(100)
	accepted := l.finish()
	ls.finish(t)
	drainAll(t, rest, users, members, accepted)
	waitReplicasAgree(t, rest)
}

// TestClusterGrowsFromOne: a one-node deployment (replicating, one copy of
// each shard) with data grows to three; then the original node is killed,
// and everything it stored is served by the other two.
func TestClusterGrowsFromOne(t *testing.T) {
	s, simDir := startSim(t)
	n1 := startProc(t, nodeConfigAt(t, s, simDir, "node-1", t.TempDir(), freeAddr(t), nil, clusterSecurityYAML(t, simDir, "node-1")+", max_moves: 16"))
	waitReady(t, n1.api)
	users := bindUsers(t, []*proc{n1}, 12, 900)
	sent := map[string][]string{}
	for i, u := range users {
		for k := 0; k <= i%3; k++ {
			out := postRetry(t, n1.api, "/v1/messages", "", map[string]any{"from": "boss", "to": u, "conversation_type": 0, "type": 1, "body": fmt.Sprintf("m%d", k)})
			sent[u] = append(sent[u], out["message_id"].(string))
		}
	}
	grown := time.Now()
	n2 := startProc(t, joinConfig(t, s, simDir, "node-2", []*proc{n1}))
	n3 := startProc(t, joinConfig(t, s, simDir, "node-3", []*proc{n1}))
	all := []*proc{n1, n2, n3}
	for _, p := range all {
		waitMembers(t, p.api, 3)
	}
	waitSettled(t, all)
	t.Logf("grew from one node to three in %v", time.Since(grown))
	waitReplicasAgree(t, all)

	n1.kill()
	rest := []*proc{n2, n3}
	for _, p := range rest {
		waitReady(t, p.api)
	}
	for i, u := range users {
		via := rest[i%2].api
		testwait.Until(t, waitFor, func() error {
			st, out, err := request(via, "GET", "/v1/users/"+u+"/devices", "", nil)
			if devs, _ := out["devices"].([]any); err != nil || st != http.StatusOK || len(devs) != 1 {
				return fmt.Errorf("%s through %s: %d %v %v", u, via, st, out, err)
			}
			return nil
		})
	}
	drainAll(t, rest, users, nil, sent)
}

// proxy forwards TCP connections from its own loopback address to target
// until cut: then it closes every connection and refuses new ones, until
// healed. A node that advertises a proxy's address instead of its own hears
// nothing that other nodes send it while the proxy is cut.
type proxy struct {
	addr   string
	target string
	ln     net.Listener
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			in.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(in)
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			if !p.track(out) {
				out.Close()
				return
			}
			defer p.untrack(out)
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
			go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
			<-done
		}()
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

// TestClusterPartitionedLeader: three nodes whose Raft and actor traffic
// reach each node through a loopback proxy. The proxies of the node leading
// the most shards are cut: it hears no other node (gossip still flows). Writes
// through it never answer 2xx while it is cut; writes through the other two
// are served within seconds, for its shards too; after healing, every 2xx
// write is stored exactly once and every shard's replicas agree.
func TestClusterPartitionedLeader(t *testing.T) {
	s, simDir := startSim(t)
	const n = 3
	binds := make([]string, n)
	for i := range binds {
		binds[i] = freeAddr(t)
	}
	cfgs := make([]string, n)
	proxies := make([][2]*proxy, n) // Raft, remote
	for i := range cfgs {
		name := fmt.Sprintf("node-%d", i+1)
		remote, raft := freeAddr(t), freeAddr(t)
		proxies[i] = [2]*proxy{startProxy(t, raft), startProxy(t, remote)}
		cfgs[i] = nodeConfigFull(t, s, simDir, name, t.TempDir(), binds[i], remote, raft, binds,
			clusterSecurityYAML(t, simDir, name)+fmt.Sprintf(`, bootstrap_expect: %d, advertise_raft: "%s", advertise_remote: "%s"`, n, proxies[i][0].addr, proxies[i][1].addr))
	}
	nodes := make([]*proc, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = startProcAsync(t, cfgs[i])
		}()
	}
	wg.Wait()
	for i := range nodes {
		if errs[i] != nil {
			t.Fatalf("node-%d: %v", i+1, errs[i])
		}
	}
	for _, p := range nodes {
		waitMembers(t, p.api, n)
		waitReady(t, p.api)
	}
	waitSettled(t, nodes)
	users := bindUsers(t, nodes, 24, 1100)

	x := mostLeads(t, nodes)
	view, err := readCluster(nodes[x].api, false)
	if err != nil {
		t.Fatal(err)
	}
	ledByX := map[uint64]bool{}
	for _, sh := range view.Shards {
		if sh.Leader == fmt.Sprintf("node-%d", x+1) {
			ledByX[sh.Shard] = true
		}
	}
	var xUsers []string
	for _, u := range users {
		if ledByX[storage.ShardOf(storage.UserKey("demo", u))] {
			xUsers = append(xUsers, u)
		}
	}
	if len(xUsers) == 0 {
		t.Fatalf("no user's shard is led by node-%d", x+1)
	}
	majority := slices.Delete(slices.Clone(nodes), x, x+1)

	var mu sync.Mutex
	accepted := map[string][]string{}
	send := func(p *proc, u, id string) (int, error) {
		st, out, err := request(p.api, "POST", "/v1/messages", "", map[string]any{"from": "boss", "to": u, "conversation_type": 0, "type": 1,
			"body": id, "client_msg_id": id})
		if err == nil && st == http.StatusOK {
			mu.Lock()
			accepted[u] = append(accepted[u], out["message_id"].(string))
			mu.Unlock()
		}
		return st, err
	}

	proxies[x][0].setCut(true)
	proxies[x][1].setCut(true)
	cutAt := time.Now()
	// The cut node: no write through it is answered 2xx while it hears no one.
	minority := make(chan string, 1)
	go func() {
		defer close(minority)
		for i := 0; time.Since(cutAt) < 8*time.Second; i++ {
			u := xUsers[i%len(xUsers)]
			if st, err := send(nodes[x], u, fmt.Sprintf("minority-%d", i)); err == nil && st == http.StatusOK {
				minority <- fmt.Sprintf("a write to %s through the cut node-%d was answered 200", u, x+1)
				return
			}
		}
	}()
	// The majority serves the cut node's users within seconds.
	for i, u := range xUsers {
		via := majority[i%len(majority)]
		id := fmt.Sprintf("majority-%d", i)
		testwait.Until(t, waitFor, func() error {
			if st, err := send(via, u, id); err != nil || st != http.StatusOK {
				return fmt.Errorf("%s through %s: %d %v", u, via.api, st, err)
			}
			return nil
		})
		if i == 0 {
			t.Logf("the majority served a user of the cut node's shards %v after the cut", time.Since(cutAt))
		}
	}
	if msg, ok := <-minority; ok {
		t.Fatal(msg)
	}

	proxies[x][0].setCut(false)
	proxies[x][1].setCut(false)
	for _, p := range nodes {
		waitReady(t, p.api)
	}
	waitSettled(t, nodes)
	waitReplicasAgree(t, nodes)
	drainAll(t, nodes, xUsers, nil, accepted)
}

// TestClusterReplacesADeadNode: four nodes, replicas 3; one is killed and
// stays dead. After cluster.dead_node_timeout its replicas are rebuilt on the
// other three (every shard has three voting replicas, none on the dead node),
// and every binding is still served.
func TestClusterReplacesADeadNode(t *testing.T) {
	s, simDir := startSim(t)
	nodes := startNodes(t, s, simDir, 4, ", dead_node_timeout: 3s, max_moves: 16")
	users := bindUsers(t, nodes, 16, 1300)
	dead := nodes[3]
	dead.kill()
	rest := nodes[:3]
	killed := time.Now()
	testwait.Until(t, 4*waitFor, func() error {
		seen := map[uint64]bool{}
		for _, p := range rest {
			v, err := readCluster(p.api, false)
			if err != nil {
				return err
			}
			for _, sh := range v.Shards {
				seen[sh.Shard] = true
				voting := 0
				for _, r := range sh.Replicas {
					if r.Node == "node-4" {
						return fmt.Errorf("shard %d still has a replica on the dead node", sh.Shard)
					}
					if r.Voting {
						voting++
					}
				}
				if voting != 3 {
					return fmt.Errorf("shard %d has %d voting replicas, want 3", sh.Shard, voting)
				}
			}
		}
		if len(seen) != 64 {
			return fmt.Errorf("%d shards reported, want 64", len(seen))
		}
		return nil
	})
	t.Logf("the dead node's replicas were rebuilt on the others %v after the kill (dead_node_timeout 3s)", time.Since(killed))
	for i, u := range users {
		via := rest[i%3].api
		testwait.Until(t, waitFor, func() error {
			st, out, err := request(via, "GET", "/v1/users/"+u+"/devices", "", nil)
			if devs, _ := out["devices"].([]any); err != nil || st != http.StatusOK || len(devs) != 1 {
				return fmt.Errorf("%s through %s: %d %v %v", u, via, st, out, err)
			}
			return nil
		})
	}
	waitReplicasAgree(t, rest)
}
