package suite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
)

// runCluster measures three peered nodes on this machine (replicas 3, every
// write committed through Raft on a majority) as child processes of pushd:
// durable single and batched sends spread over the three APIs, against one
// lone node (no peers, no Raft: pushd's one-node deployment) started the same
// way and driven by the same client; the failover time when the node leading
// the most shards is killed with SIGKILL; and the time to rebalance the
// shards onto a fourth node that joins with N users bound.
// singleClients and batchClients are the concurrent senders of each
// throughput figure, for the one node and the cluster alike: enough that
// both measure how many sends they can take, not their latency. A shard's
// leader merges the writes waiting behind its entries in flight into one
// Raft entry, and Raft's cost is mostly per entry, so the cluster keeps
// gaining with concurrency long after the one node has levelled off: a
// sweep (benchmarks/README.md) found the one node flat from 192 single / 24
// batch clients, the cluster from about 576 single clients, and in batches
// from 48 over short rounds but only at 192 over longer ones (at 96 its three
// nodes used 175 % of the two cores).
const (
	singleClients = 3 * 192
	batchClients  = 3 * 64
)

func runCluster(ctx context.Context, e *env) error {
	singles := e.scaled(100_000, 2_000)
	batched := e.scaled(300_000, 5_000)
	users := e.scaled(100_000, 1_000)
	const perBatch, receivers = 100, 1000
	e.note("nodes are `pushd serve` child processes on loopback (simulator in process, no pushes sent); the cluster: 3 nodes, replicas 3, mutual TLS, gossip key, bootstrap_expect 3; the baseline: one lone node (no peers: no gossip, no Raft, direct group commit), same config otherwise")
	e.note("%d single sends (%d clients) and %d messages in batches of %d (%d clients), to %d receivers, for the one node and the cluster alike; cluster requests go round-robin to the three nodes' APIs (a node forwards to the shard's leader); a 503 is retried and counted in the latency", singles, singleClients, batched, perBatch, batchClients, receivers)
	e.note("each throughput figure is measured in %d rounds of one node then the cluster; the figures are the medians, the ratio the median of the rounds' ratios; the nodes not measured stay up (idle)", rounds)

	pn, err := newProcNodes(e.o.PushdCommand)
	if err != nil {
		return err
	}
	defer pn.close()
	pc := procClient{newClient()}
	defer pc.c.CloseIdleConnections()

	e.step("start one node and a cluster of three")
	lone, err := pn.start(ctx, nodeSpec{name: "lone"})
	if err != nil {
		return err
	}
	if err := waitReady(ctx, pc, []*proc{lone}, 1); err != nil {
		return err
	}
	nodes, err := pn.startCluster(ctx, pc, "node", 3)
	if err != nil {
		return err
	}
	apis := make([]string, len(nodes))
	for i, p := range nodes {
		apis[i] = p.api
	}

	bodies := make([][]byte, receivers)
	for i := range bodies {
		bodies[i] = messageJSON("sender", fmt.Sprintf("user%d", i), "hello, this is a benchmark message", false, false)
	}
	batches := make([][]byte, receivers/perBatch)
	for k := range batches {
		batches[k] = batchJSON(bodies[k*perBatch : (k+1)*perBatch])
	}
	var retries atomic.Int64
	// idle is the CPU the side not measured burns meanwhile (heartbeats of
	// 3×64 Raft replicas, gossip): it weighs on the measured side.
	var idleCluster, idleLone, loneSecs, clusterSecs, busyLone, busyCluster time.Duration
	// The cluster's CPU at rest, before any load: the floor of what it
	// takes from the one node's rounds.
	restStart := cpuOf(nodes)
	time.Sleep(2 * time.Second)
	rest := cpuOf(nodes) - restStart
	// load warms up, calls started, then measures: the CPU figures count the
	// measured calls only.
	load := func(addrs []string, path string, calls, workers int, body func(i int) []byte, started func()) (float64, []time.Duration, error) {
		post := func(i int) error {
			for try := 0; ; try++ {
				st, b, err := pc.do(addrs[i%len(addrs)], "POST", path, "", body(i))
				if err != nil {
					return err
				}
				if st == 503 && try < 100 {
					retries.Add(1)
					continue
				}
				if st != 200 || bytes.Contains(b, []byte(`"error"`)) {
					return fmt.Errorf("POST %s: %d %s", path, st, trunc(b, 200))
				}
				return nil
			}
		}
		// Warm up: the connections and the receivers' actors.
		if err := parallel(ctx, workers*4, workers, post, nil); err != nil {
			return 0, nil, err
		}
		started()
		lat := make([]time.Duration, calls)
		start := time.Now()
		err := parallel(ctx, calls, workers, func(i int) error {
			t := time.Now()
			err := post(i)
			lat[i] = time.Since(t)
			return err
		}, func(done int) { e.p.count(done, calls) })
		return time.Since(start).Seconds(), lat, err
	}
	measure := func(name, path string, msgs, per, workers int, body func(i int) []byte) error {
		calls := msgs / per
		rate := func(addrs []string, measured, idle []*proc, idleSum, busyCPU, busy *time.Duration) func() (float64, []time.Duration, error) {
			return func() (float64, []time.Duration, error) {
				var before, mbefore time.Duration
				secs, lat, err := load(addrs, path, calls, workers, body, func() { before, mbefore = cpuOf(idle), cpuOf(measured) })
				*idleSum += cpuOf(idle) - before
				*busyCPU += cpuOf(measured) - mbefore
				*busy += time.Duration(secs * float64(time.Second))
				return float64(calls*per) / secs, lat, err
			}
		}
		f := &Figure{Name: name, Unit: "msg/s", Count: calls * per, BaselineName: "one lone node", Bar: ratioBar(0.3)}
		return e.inRounds(f, name, rate([]string{lone.api}, []*proc{lone}, nodes, &idleCluster, &busyLone, &loneSecs), rate(apis, nodes, []*proc{lone}, &idleLone, &busyCluster, &clusterSecs))
	}
	if err := measure("3 nodes, durable sends, POST /v1/messages", "/v1/messages", singles, 1, singleClients,
		func(i int) []byte { return bodies[i%receivers] }); err != nil {
		return err
	}
	if err := measure(fmt.Sprintf("3 nodes, durable sends, POST /v1/messages/batch (%d a call)", perBatch), "/v1/messages/batch", batched, perBatch, batchClients,
		func(i int) []byte { return batches[i%len(batches)] }); err != nil {
		return err
	}
	share := func(cpu, wall time.Duration) float64 { return 100 * cpu.Seconds() / max(wall.Seconds(), 1e-9) }
	e.note("CPU, %% of one core (the machine has %d): the one node used %.0f%% while measured, the three nodes %.0f%% together while measured; at rest (2 s before any load) the cluster used %.0f%%, and %.0f%% during the one node's rounds (still applying and compacting the previous round); the idle one node %.0f%% during the cluster's; 503s retried: %d",
		runtime.NumCPU(), share(busyLone, loneSecs), share(busyCluster, clusterSecs), share(rest, 2*time.Second), share(idleCluster, loneSecs), share(idleLone, clusterSecs), retries.Load())
	lone.kill() // frees its share of the cores for what follows

	if err := failover(ctx, e, pc, nodes); err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	for _, p := range nodes {
		p.kill()
	}
	return rebalance(ctx, e, pn, pc, users)
}

// startCluster starts n peered nodes called prefix-1..n that form a new
// cluster together (bootstrap_expect n), and waits until every node is ready
// and no shard is moving.
func (pn *procNodes) startCluster(ctx context.Context, pc procClient, prefix string, n int) ([]*proc, error) {
	binds := make([]string, n)
	for i := range binds {
		var err error
		if binds[i], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	// Each node's start waits for the others: start them at once.
	nodes := make([]*proc, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = pn.start(ctx, nodeSpec{name: fmt.Sprintf("%s-%d", prefix, i+1), peered: true, bind: binds[i], join: binds, expect: n})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return nodes, waitReady(ctx, pc, nodes, n)
}

// waitReady waits until every node answers /readyz and, when peered, sees
// members nodes and no shard moving.
func waitReady(ctx context.Context, pc procClient, nodes []*proc, members int) error {
	return poll(ctx, 5*time.Minute, 100*time.Millisecond, func() error {
		for _, p := range nodes {
			if st, b, err := pc.do(p.api, "GET", "/readyz", "", nil); err != nil || st != 200 {
				return fmt.Errorf("%s not ready: %d %s %v", p.name, st, trunc(b, 200), err)
			}
			if members < 2 {
				continue
			}
			v, err := pc.cluster(p.api)
			if err != nil {
				return err
			}
			if len(v.Nodes) != members || v.Moving {
				return fmt.Errorf("%s: %d members, moving %v", p.name, len(v.Nodes), v.Moving)
			}
		}
		return nil
	})
}

// failover kills the node leading the most shards under a light load and
// measures, for one user in each shard it led, the time from the kill to the
// first 2xx of a send to that user (retried, with the same client_msg_id,
// through the surviving nodes).
func failover(ctx context.Context, e *env, pc procClient, nodes []*proc) error {
	e.step("failover: kill -9 the node leading the most shards")
	v, err := pc.cluster(nodes[0].api)
	if err != nil {
		return err
	}
	victim := slices.MaxFunc(nodes, func(a, b *proc) int { return leadsOf(v, a.name) - leadsOf(v, b.name) })
	var live []string
	for _, p := range nodes {
		if p != victim {
			live = append(live, p.api)
		}
	}
	// One probe user per shard the victim leads, its actor started there.
	type probe struct {
		shard uint64
		user  string
	}
	var probes []probe
	want := map[uint64]bool{}
	for _, s := range v.Shards {
		if s.Leader == victim.name {
			want[s.Shard] = true
		}
	}
	if len(want) == 0 {
		return fmt.Errorf("%s leads no shard", victim.name)
	}
	for i, need := 0, len(want); len(probes) < need; i++ {
		u := "fo" + strconv.Itoa(i)
		if s := storage.ShardOf(storage.UserKey(daemon.DemoAppID, u)); want[s] {
			probes = append(probes, probe{s, u})
			delete(want, s)
		}
	}
	send := func(addr, to, id string) (int, error) {
		st, _, err := pc.do(addr, "POST", "/v1/messages", "", fmt.Appendf(nil,
			`{"from":"sender","to":%q,"conversation_type":0,"type":1,"body":"failover","client_msg_id":%q}`, to, id))
		return st, err
	}
	for _, p := range probes {
		if st, err := send(victim.api, p.user, fmt.Sprintf("warm-%d", p.shard)); err != nil || st != 200 {
			return fmt.Errorf("warm-up send to %s: %d %v", p.user, st, err)
		}
	}

	// The light load: 4 clients through the survivors, each send retried
	// (same client_msg_id) until 2xx; it runs across the kill.
	var sent, retried atomic.Int64
	var stall atomic.Int64 // the longest a send waited for its 2xx, ns
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				t := time.Now()
				id := fmt.Sprintf("load-%d-%d", w, i)
				for try := 0; ; try++ {
					st, err := send(live[(i+try)%len(live)], "user"+strconv.Itoa((w*7919+i)%1000), id)
					if err == nil && st == 200 {
						break
					}
					retried.Add(1)
					select {
					case <-stop:
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
				sent.Add(1)
				for d, old := int64(time.Since(t)), stall.Load(); d > old && !stall.CompareAndSwap(old, d); old = stall.Load() {
				}
				time.Sleep(5 * time.Millisecond) // light: about 4×150 sends/s at most
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(time.Second) // the load running before the kill

	killed := time.Now()
	victim.kill()
	took := make([]time.Duration, 0, len(probes))
	var mu sync.Mutex
	err = parallel(ctx, len(probes), len(probes), func(i int) error {
		shard, u := probes[i].shard, probes[i].user
		for try := 0; ; try++ {
			st, err := send(live[try%len(live)], u, fmt.Sprintf("probe-%d", shard))
			if err == nil && st == 200 {
				mu.Lock()
				took = append(took, time.Since(killed))
				mu.Unlock()
				return nil
			}
			if err == nil && st != 503 {
				return fmt.Errorf("send to %s after the kill: %d", u, st)
			}
			if time.Since(killed) > 5*time.Minute {
				return fmt.Errorf("send to %s: no 2xx 5m after the kill (%d %v)", u, st, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}, nil)
	if err != nil {
		return err
	}
	slices.Sort(took)
	e.add(&Figure{Name: fmt.Sprintf("failover: kill -9 to the first 2xx for an affected user (first of %d shards)", len(took)), Unit: "ms", Value: ms(took[0]), Count: len(took)})
	e.add(&Figure{Name: fmt.Sprintf("failover: kill -9 to the first 2xx for an affected user (median of %d shards)", len(took)), Unit: "ms", Value: ms(took[len(took)/2]), Count: len(took)})
	e.add(&Figure{Name: fmt.Sprintf("failover: kill -9 to the first 2xx for an affected user (last of %d shards)", len(took)), Unit: "ms", Value: ms(took[len(took)-1]), Count: len(took)})
	time.Sleep(500 * time.Millisecond) // the load after the failover
	e.note("failover: killed %s (led %d of %d shards); one probe user per shard it led, its actor started there, sent to every 10 ms through the two survivors from the kill on, same client_msg_id; meanwhile 4 clients sent through the survivors (%d sends answered, %d retries, the longest wait for a 2xx %v)",
		victim.name, len(probes), storage.NumShards, sent.Load(), retried.Load(), time.Duration(stall.Load()).Round(time.Millisecond))
	return nil
}

func leadsOf(v daemon.ClusterStatus, name string) int {
	for _, n := range v.Nodes {
		if n.Name == name {
			return n.Leads
		}
	}
	return 0
}

// rebalance binds users on a fresh cluster of three, then starts a fourth
// node that joins, and measures from its start until every node reports no
// shard moving.
func rebalance(ctx context.Context, e *env, pn *procNodes, pc procClient, users int) error {
	e.step("rebalance: start a fresh cluster of three")
	nodes, err := pn.startCluster(ctx, pc, "r", 3)
	if err != nil {
		return err
	}
	e.step(fmt.Sprintf("rebalance: bind %d users", users))
	var retried atomic.Int64
	start := time.Now()
	err = parallel(ctx, users, 64, func(i int) error {
		u := "u" + strconv.Itoa(i)
		body := fmt.Appendf(nil, `{"device_id":"phone","provider":"apns","token":%q}`, providerToken(push.APNs, i))
		for try := 0; ; try++ {
			st, b, err := pc.do(nodes[i%len(nodes)].api, "POST", "/v1/devices", u, body)
			if err != nil {
				return err
			}
			if st == 503 && try < 100 {
				retried.Add(1)
				continue
			}
			if st != 200 {
				return fmt.Errorf("bind %s: %d %s", u, st, trunc(b, 200))
			}
			return nil
		}
	}, func(done int) { e.p.count(done, users) })
	if err != nil {
		return err
	}
	bindSecs := time.Since(start).Seconds()
	e.add(&Figure{Name: "3 nodes, bindings through POST /v1/devices (64 clients)", Unit: "bind/s", Value: float64(users) / bindSecs, Count: users})
	if err := waitReady(ctx, pc, nodes, 3); err != nil {
		return err
	}

	e.step("rebalance: a 4th node joins")
	var join []string
	for _, p := range nodes {
		join = append(join, p.gossip)
	}
	started := time.Now()
	n4, err := pn.start(ctx, nodeSpec{name: "r-4", peered: true, bind: "127.0.0.1:0", join: join, expect: 1})
	if err != nil {
		return err
	}
	joined := time.Since(started)
	all := append(slices.Clone(nodes), n4)
	held := 0
	err = poll(ctx, 30*time.Minute, 50*time.Millisecond, func() error {
		for _, p := range all {
			v, err := pc.cluster(p.api)
			if err != nil {
				return err
			}
			if len(v.Nodes) != len(all) || v.Moving {
				return fmt.Errorf("%s: %d members, moving %v", p.name, len(v.Nodes), v.Moving)
			}
			if p == n4 {
				if held = len(v.Shards); held == 0 {
					return errors.New("the new node holds no shard yet")
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	took := time.Since(started)
	e.add(&Figure{Name: fmt.Sprintf("rebalance after a join, %s users bound: 4th node started to no shard moving", commas(int64(users))), Unit: "s", Value: took.Seconds(), Count: users})
	e.note("rebalance: %d users bound (one APNs binding each) at %.0f/s (%d 503s retried); the 4th node (join = the three gossip addresses, bootstrap_expect 1, default max_moves 2) served after %v and ended holding %d of %d shards; the time runs from its start until every node's GET /v1/cluster says moving: false",
		users, float64(users)/bindSecs, retried.Load(), joined.Round(time.Millisecond), held, storage.NumShards)
	return nil
}

// cpuOf is the CPU time (user + system) the processes have used so far.
func cpuOf(procs []*proc) time.Duration {
	var sum time.Duration
	for _, p := range procs {
		if p.cmd.Process == nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces) in parentheses.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		sum += time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
	}
	return sum
}
