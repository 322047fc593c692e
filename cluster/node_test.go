package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/internal/testwait"
)

// waitTimeout bounds every wait on gossip; on loopback a join or graceful leave is seen in tens of
// milliseconds, the rest is headroom for -race on a loaded machine.
const waitTimeout = 10 * time.Second

// logRecorder is a slog.Handler that keeps every record, to wait on what a node logged.
type logRecorder struct {
	mu      sync.Mutex
	records []string // "LEVEL message attrs..."
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, b.String())
	r.mu.Unlock()
	return nil
}

// find returns the first record containing every one of parts.
func (r *logRecorder) find(parts ...string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(rec, p) }) {
			return rec, true
		}
	}
	return "", false
}

func (r *logRecorder) waitFor(t *testing.T, parts ...string) {
	t.Helper()
	testwait.Until(t, waitTimeout, func() error {
		if _, ok := r.find(parts...); !ok {
			return fmt.Errorf("no log record containing %q", parts)
		}
		return nil
	})
}

// testConfig is a node on loopback with a kernel-chosen gossip port and distinct meta addresses.
func testConfig(name string, join ...string) Config {
	i, _ := strconv.Atoi(strings.TrimPrefix(name, "node-"))
	return Config{
		Name:       name,
		Bind:       "127.0.0.1:0",
		Join:       join,
		RemoteAddr: fmt.Sprintf("127.0.0.1:%d", 18090+i),
		APIAddr:    fmt.Sprintf("127.0.0.1:%d", 18080+i),
	}
}

// startNode builds and starts a node, and shuts it down when the test ends.
func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, n) })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatalf("start %s: %v", cfg.Name, err)
	}
	return n
}

func shutdown(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Errorf("shutdown %s: %v", n.Self().ID, err)
	}
}

// memberIDs returns the sorted ids of a placement.
func memberIDs(p Placement) []string {
	ids := make([]string, 0, p.Len())
	for _, m := range p.Members() {
		ids = append(ids, m.ID)
	}
	return ids
}

// waitMembers waits until every node's placement has exactly the members with ids.
func waitMembers(t *testing.T, nodes []*Node, ids ...string) {
	t.Helper()
	slices.Sort(ids)
	testwait.Until(t, waitTimeout, func() error {
		for _, n := range nodes {
			if got := memberIDs(n.Placement()); !slices.Equal(got, ids) {
				return fmt.Errorf("%s sees %v, want %v", n.Self().ID, got, ids)
			}
		}
		return nil
	})
}

// freePort returns a loopback port that was free for both TCP and UDP a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	u, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	return port
}

func TestSingleNodeIsReadyAlone(t *testing.T) {
	logs := &logRecorder{}
	cfg := testConfig("node-1")
	cfg.Logger = slog.New(logs)
	n := startNode(t, cfg)

	if !n.Ready() {
		t.Fatal("a node without Join is not ready after Start")
	}
	host, port, err := net.SplitHostPort(n.GossipAddr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("GossipAddr() = %q, want 127.0.0.1 with the bound port", n.GossipAddr())
	}
	if got := n.Placement().Members(); len(got) != 1 || got[0] != n.Self() {
		t.Fatalf("placement = %v, want only %v", got, n.Self())
	}
	if owner := n.Owner("user/42"); !n.IsLocal(owner) {
		t.Fatalf("Owner in a one-node cluster = %v, want this node", owner)
	}
	if n.IsLocal(Member{ID: "node-2"}) {
		t.Fatal("IsLocal(node-2) on node-1")
	}
	// memberlist's own log lines arrive at debug level.
	logs.waitFor(t, "DEBUG", "memberlist: Using dynamic bind port "+port)
}

// TestThreeNodesAgree is the property placement depends on: every node computes the same owner
// for every key, and knows how to reach it.
func TestThreeNodesAgree(t *testing.T) {
	a := startNode(t, testConfig("node-1"))
	b := startNode(t, testConfig("node-2", a.GossipAddr()))
	c := startNode(t, testConfig("node-3", b.GossipAddr()))
	nodes := []*Node{a, b, c}
	waitMembers(t, nodes, "node-1", "node-2", "node-3")

	want := []Member{a.Self(), b.Self(), c.Self()}
	for _, n := range nodes {
		if !n.Ready() {
			t.Errorf("%s not ready", n.Self().ID)
		}
		if got := n.Placement().Members(); !slices.Equal(got, want) {
			t.Errorf("%s decoded members %v, want %v", n.Self().ID, got, want)
		}
	}
	owned := make(map[string]int)
	for i := range 1000 {
		key := userKey(i)
		owner := a.Owner(key)
		owned[owner.ID]++
		for _, n := range nodes[1:] {
			if got := n.Owner(key); got != owner {
				t.Fatalf("owner of %q: %v on node-1, %v on %s", key, owner, got, n.Self().ID)
			}
		}
		if owner != Owner(want, key) {
			t.Fatalf("owner of %q: %v, the pure Owner says %v", key, owner, Owner(want, key))
		}
	}
	t.Logf("1000 keys over 3 live nodes: %v", owned)
}

func TestGracefulShutdownDropsMember(t *testing.T) {
	a := startNode(t, testConfig("node-1"))
	b := startNode(t, testConfig("node-2", a.GossipAddr()))
	c := startNode(t, testConfig("node-3", a.GossipAddr()))
	waitMembers(t, []*Node{a, b, c}, "node-1", "node-2", "node-3")
	versionBefore := a.Placement().Version()

	shutdown(t, c)
	if c.Ready() {
		t.Error("node-3 still ready after Shutdown")
	}
	waitMembers(t, []*Node{a, b}, "node-1", "node-2")
	if v := a.Placement().Version(); v <= versionBefore {
		t.Errorf("placement version went from %d to %d after a member left", versionBefore, v)
	}
	for i := range 1000 {
		if owner := a.Owner(userKey(i)); owner.ID == "node-3" {
			t.Fatalf("%q still owned by the departed node-3", userKey(i))
		}
	}
}

func TestLateJoinerIsSeen(t *testing.T) {
	a := startNode(t, testConfig("node-1"))
	b := startNode(t, testConfig("node-2", a.GossipAddr()))
	waitMembers(t, []*Node{a, b}, "node-1", "node-2")

	d := startNode(t, testConfig("node-4", b.GossipAddr()))
	waitMembers(t, []*Node{a, b, d}, "node-1", "node-2", "node-4")
	for i := range 1000 {
		key := userKey(i)
		if x, y, z := a.Owner(key), b.Owner(key), d.Owner(key); x != y || y != z {
			t.Fatalf("owner of %q: %v, %v, %v", key, x, y, z)
		}
	}
}

func TestSubscribe(t *testing.T) {
	a := startNode(t, testConfig("node-1"))
	updates, unsubscribe := a.Subscribe()
	other, _ := a.Subscribe()

	first := <-updates
	if got := memberIDs(first); !slices.Equal(got, []string{"node-1"}) {
		t.Fatalf("first placement from Subscribe has %v, want the current one, [node-1]", got)
	}

	b := startNode(t, testConfig("node-2", a.GossipAddr()))
	timeout := time.After(waitTimeout)
	for p := first; !slices.Equal(memberIDs(p), []string{"node-1", "node-2"}); {
		select {
		case p = <-updates:
			if p.Version() <= first.Version() {
				t.Fatalf("placement version %d after %d", p.Version(), first.Version())
			}
		case <-timeout:
			t.Fatalf("no placement with node-2 within %v", waitTimeout)
		}
	}

	unsubscribe()
	unsubscribe() // harmless twice
	if _, ok := <-updates; ok {
		t.Fatal("channel still open after unsubscribe")
	}

	// The other subscriber never read: it holds exactly the latest placement.
	if p := <-other; !slices.Equal(memberIDs(p), []string{"node-1", "node-2"}) {
		t.Fatalf("lagging subscriber holds %v, want the latest placement", memberIDs(p))
	}

	shutdown(t, b)
	waitMembers(t, []*Node{a}, "node-1")
	shutdown(t, a)
	for range other {
		// drain what was published before Shutdown closed it
	}
	late, _ := a.Subscribe()
	if p, ok := <-late; !ok || p.Version() != a.Placement().Version() {
		t.Fatalf("Subscribe after Shutdown: %v, %v; want the last placement", p.Version(), ok)
	}
	if _, ok := <-late; ok {
		t.Fatal("Subscribe after Shutdown returned an open channel")
	}
}

func TestLifecycleErrors(t *testing.T) {
	idle, err := New(testConfig("node-1"))
	if err != nil {
		t.Fatal(err)
	}
	shutdown(t, idle) // never started
	if err := idle.Start(context.Background()); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Start after Shutdown: %v, want ErrShutdown", err)
	}

	n := startNode(t, testConfig("node-2"))
	if err := n.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	shutdown(t, n)
	shutdown(t, n) // idempotent
	if n.Ready() {
		t.Fatal("Ready after Shutdown")
	}
}

func TestStartGivesUpWhenNoPeerAnswers(t *testing.T) {
	cfg := testConfig("node-1", net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))))
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = n.Start(ctx)
	if !errors.Is(err, ErrJoin) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start with an unreachable seed: %v, want ErrJoin and DeadlineExceeded", err)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Start error should say on one line why the last attempt failed: %q", err)
	}
	if n.Ready() {
		t.Fatal("Ready after a failed join")
	}
	shutdown(t, n) // already shut down by Start: a no-op
}

// TestJoinOnlyItselfIsNotJoined covers a static Join list that names the node itself: reaching
// itself must not count as joining, or a cold-started cluster would split into one-node clusters.
func TestJoinOnlyItselfIsNotJoined(t *testing.T) {
	self := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	cfg := testConfig("node-1", self)
	cfg.Bind = self
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := n.Start(ctx); !errors.Is(err, ErrJoin) {
		t.Fatalf("Start joining only itself: %v, want ErrJoin", err)
	}
}

// TestJoinRetriesUntilSeedStarts starts a node whose seed is not up yet: Start keeps retrying and
// returns once the seed appears.
func TestJoinRetriesUntilSeedStarts(t *testing.T) {
	seedAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	logs := &logRecorder{}
	cfg := testConfig("node-2", seedAddr)
	cfg.Logger = slog.New(logs)
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, b) })
	started := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		started <- b.Start(ctx)
	}()
	logs.waitFor(t, "join attempt failed", "attempt=1")
	if b.Ready() {
		t.Fatal("ready before any peer answered")
	}

	seedCfg := testConfig("node-1")
	seedCfg.Bind = seedAddr
	a := startNode(t, seedCfg)
	if err := <-started; err != nil {
		t.Fatalf("Start of node-2 once the seed is up: %v", err)
	}
	if !b.Ready() {
		t.Fatal("not ready after Start returned")
	}
	waitMembers(t, []*Node{a, b}, "node-1", "node-2")
}

func TestShutdownInterruptsJoin(t *testing.T) {
	logs := &logRecorder{}
	cfg := testConfig("node-1", net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))))
	cfg.Logger = slog.New(logs)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- n.Start(context.Background()) }()
	logs.waitFor(t, "join attempt failed")
	shutdown(t, n)
	if err := <-started; !errors.Is(err, ErrShutdown) {
		t.Fatalf("Start interrupted by Shutdown: %v, want ErrShutdown", err)
	}
	if n.Ready() {
		t.Fatal("Ready after Shutdown")
	}
}

// The shard state a node gossips (SetShardState) reaches every placement, its own included, and
// a message sent with Send reaches the peer's OnMessage handler.
func TestShardStateAndMessages(t *testing.T) {
	a := startNode(t, testConfig("node-1"))
	b := startNode(t, testConfig("node-2", a.GossipAddr()))
	nodes := []*Node{a, b}
	waitMembers(t, nodes, "node-1", "node-2")

	if err := a.SetShardState("boot-1", true); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, waitTimeout, func() error {
		for _, n := range nodes {
			for _, m := range n.Placement().Members() {
				if m.ID == "node-1" && (m.Formed != "boot-1" || !m.Draining) {
					return fmt.Errorf("%s sees node-1 as %+v", n.Self().ID, m)
				}
			}
		}
		return nil
	})

	got := make(chan string, 1)
	a.OnMessage(func(msg []byte) { got <- string(msg) })
	if err := b.Send("node-1", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-got:
		if msg != "hello" {
			t.Fatalf("received %q", msg)
		}
	case <-time.After(waitTimeout):
		t.Fatal("message not received")
	}
	if err := b.Send("node-9", []byte("x")); err == nil {
		t.Fatal("Send to a node that is not a member succeeded")
	}
}

// A lone node's shard state shows in its placement at once.
func TestLoneShardState(t *testing.T) {
	n := startNode(t, Config{Name: "solo", Lone: true, APIAddr: "127.0.0.1:1"})
	if err := n.SetShardState("boot", false); err != nil {
		t.Fatal(err)
	}
	if m := n.Placement().Members(); len(m) != 1 || m[0].Formed != "boot" {
		t.Fatalf("placement %+v", m)
	}
}
