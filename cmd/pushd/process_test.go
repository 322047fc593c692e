package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/transport/api"
)

// These tests run pushd as real processes: kill -9 needs one, and several
// protoactor remotes do not belong in one test process.

var pushdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pushd-bin")
	if err != nil {
		panic(err)
	}
	pushdBin = filepath.Join(dir, "pushd")
	args := []string{"build", "-o", pushdBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building pushd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	testAPIKey = "pk_test_process_key"
	testSecret = "process-test-client-secret-0123456789"
)

// waitFor bounds each wait of the process tests; the race detector's
// processes (three or four of them on two cores) are several times slower.
var waitFor = func() time.Duration {
	if raceEnabled {
		return 90 * time.Second
	}
	return 30 * time.Second
}()

// startSim runs the vendor simulator in the test process and writes its
// credentials where the pushd processes read them.
func startSim(t *testing.T) (*vendorsim.Sim, string) {
	t.Helper()
	dir := t.TempDir()
	creds, err := vendorsim.LoadOrGenerateCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := vendorsim.New(vendorsim.Options{Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	if err := s.WriteServiceAccountFile(dir); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// nodeConfig is a pushd config for one node of the test cluster.
func nodeConfig(t *testing.T, s *vendorsim.Sim, simDir, name, dataDir string, join []string) string {
	return nodeConfigWith(t, s, simDir, name, dataDir, join, clusterSecurityYAML(t, simDir, name))
}

// nodeConfigWith is nodeConfig with the given cluster keys for its security (gossip key, TLS).
func nodeConfigWith(t *testing.T, s *vendorsim.Sim, simDir, name, dataDir string, join []string, security string) string {
	return nodeConfigAt(t, s, simDir, name, dataDir, "127.0.0.1:0", join, security)
}

// nodeConfigAt is nodeConfigWith with the node's gossip address.
func nodeConfigAt(t *testing.T, s *vendorsim.Sim, simDir, name, dataDir, bind string, join []string, security string) string {
	return nodeConfigFull(t, s, simDir, name, dataDir, bind, "127.0.0.1:0", freeAddr(t), join, security)
}

// nodeConfigFull is nodeConfigAt with the node's actor remote and Raft listen addresses.
func nodeConfigFull(t *testing.T, s *vendorsim.Sim, simDir, name, dataDir, bind, remote, raft string, join []string, security string) string {
	c := s.Credentials()
	joinYAML := "[]"
	if len(join) > 0 {
		joinYAML = `["` + strings.Join(join, `","`) + `"]`
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
ack_timeout: 1s
log_level: warn
cluster: {name: %s, bind: "%s", remote: "%s", raft: "%s", join: %s, %s}
apps:
  - id: demo
    api_keys: [%s]
    client_token_secret: %s
    providers:
      apns:
        team_id: %s
        key_id: %s
        key_file: %s
        bundle_id: %s
        endpoint_production: %s
        endpoint_development: %s
        ca_file: %s
      fcm:
        service_account_file: %s
        endpoint: %s
        ca_file: %s
`, dataDir, name, bind, remote, raft, joinYAML, security, testAPIKey, testSecret,
		c.APNs.TeamID, c.APNs.KeyID, filepath.Join(simDir, vendorsim.FileAPNsKey), c.APNs.BundleID,
		s.Endpoint(push.APNs), s.Endpoint(push.APNs), filepath.Join(simDir, vendorsim.FileCACert),
		filepath.Join(simDir, vendorsim.FileFCMServiceAccount), s.Endpoint(push.FCM), filepath.Join(simDir, vendorsim.FileCACert))
	p := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// proc is one running pushd process.
type proc struct {
	t      *testing.T
	cfg    string // its config file
	cmd    *exec.Cmd
	api    string // host:port
	gossip string
	remote string
	exited chan struct{}
	stderr *lockedWriter // its log
}

var nodeLine = regexp.MustCompile(`^pushd node \S+: api https?://(\S+) gossip (\S+) remote (\S+)`)

func startProc(t *testing.T, cfgPath string) *proc {
	t.Helper()
	p, err := startProcAsync(t, cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	dataDirLine = regexp.MustCompile(`(?m)^data_dir: (.+)$`)
	addrInUse   = regexp.MustCompile(`(127\.0\.0\.1:\d+): bind: address already in use`)
)

// startProcAsync is startProc for any goroutine: it fails with an error.
//
// A port freeAddr picked can be taken by another process, or by an outgoing
// connection's ephemeral port, before the child binds it. A first start
// (its data dir empty) that fails so is tried again, twice, with that
// address changed to a fresh one in its config and its data dir emptied; the
// others' join lists may keep an old gossip address, and joining needs one.
func startProcAsync(t *testing.T, cfgPath string) (*proc, error) {
	for try := 0; ; try++ {
		cfg, err := os.ReadFile(cfgPath)
		if err != nil {
			return nil, err
		}
		var dataDir string
		if m := dataDirLine.FindSubmatch(cfg); m != nil {
			dataDir = string(m[1])
		}
		entries, _ := os.ReadDir(dataDir)
		fresh := dataDir != "" && len(entries) == 0
		p, err := startProcOnce(t, cfgPath)
		m := addrInUse.FindStringSubmatch(fmt.Sprint(err))
		if err == nil || try == 2 || !fresh || m == nil {
			return p, err
		}
		t.Logf("%s: %s was taken; starting again on a fresh port", cfgPath, m[1])
		addr, err := pickAddr()
		if err != nil {
			return nil, err
		}
		cfg = bytes.ReplaceAll(cfg, []byte(m[1]), []byte(addr))
		if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
			return nil, err
		}
		if err := os.RemoveAll(dataDir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
	}
}

func startProcOnce(t *testing.T, cfgPath string) (*proc, error) {
	cmd := exec.Command(pushdBin, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "PUSHD_CONFIG=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &lockedWriter{w: &bytes.Buffer{}}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{t: t, cfg: cfgPath, cmd: cmd, exited: make(chan struct{}), stderr: stderr}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("pushd %s stderr:\n%s", cfgPath, stderr.String())
		}
	})
	deadline := time.After(waitFor)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return nil, fmt.Errorf("pushd exited before serving:\n%s", stderr.String())
			}
			if m := nodeLine.FindStringSubmatch(l); m != nil {
				p.api, p.gossip, p.remote = m[1], m[2], m[3]
				go func() {
					for range lines {
					}
				}()
				return p, nil
			}
		case <-deadline:
			p.kill()
			return nil, fmt.Errorf("pushd did not start:\n%s", stderr.String())
		}
	}
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.w)
}

func clientToken(t *testing.T, user string) string {
	tok, err := api.MintClientToken("demo", user, []byte(testSecret), time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// testClient keeps enough idle connections for the concurrent set-up requests.
var testClient = &http.Client{
	Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64},
	Timeout:   30 * time.Second,
}

// request sends JSON with the API key (user "") or a user's client token; it
// never fails the test, so it may run on any goroutine.
func request(addr, method, path, user string, body any) (int, map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	if user == "" {
		req.Header.Set("X-API-Key", testAPIKey)
	} else {
		tok, err := api.MintClientToken("demo", user, []byte(testSecret), time.Hour, time.Now())
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, nil
}

func mustPost(t *testing.T, addr, path, user string, body any) map[string]any {
	t.Helper()
	st, out, err := request(addr, "POST", path, user, body)
	if err != nil || st != 200 {
		t.Fatalf("POST %s: %d %v %v", path, st, out, err)
	}
	return out
}

func dialWS(t *testing.T, addr, user, device string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/connect?device_id="+device, http.Header{"Authorization": {"Bearer " + clientToken(t, user)}})
	if err != nil {
		t.Fatalf("connect %s on %s: %v", user, addr, err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func readFrame(t *testing.T, ws *websocket.Conn) map[string]any {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(waitFor))
	var f map[string]any
	if err := ws.ReadJSON(&f); err != nil {
		t.Fatalf("ws read: %v", err)
	}
	return f
}

func apnsTok(i int) string { return fmt.Sprintf("%064x", 0xabc000+i) }

// pushedMessageIDs returns the message ids the simulator delivered to token.
func pushedMessageIDs(s *vendorsim.Sim, token string) map[string]int {
	ids := map[string]int{}
	for _, r := range s.Delivered(push.APNs, token) {
		var b map[string]any
		if json.Unmarshal(r.Body, &b) == nil {
			if id, ok := b["message_id"].(string); ok {
				ids[id]++
			}
		}
	}
	return ids
}

func TestKill9MidTrafficLosesNothing(t *testing.T) {
	s, simDir := startSim(t)
	dataDir := t.TempDir()
	cfg := nodeConfig(t, s, simDir, "solo", dataDir, nil)
	p := startProc(t, cfg)

	const users = 8
	for u := 0; u < users; u++ {
		mustPost(t, p.api, "/v1/devices", fmt.Sprintf("user%d", u), map[string]any{"device_id": "phone", "provider": "apns", "token": apnsTok(u)})
	}
	// The vendor fails every push for now: they all wait in the outbox, retrying.
	if err := s.SetFault(vendorsim.Fault{Provider: push.APNs, Status: 503}); err != nil {
		t.Fatal(err)
	}
	// Senders run until the process dies; every answered send must survive.
	var mu sync.Mutex
	accepted := map[string][]string{} // user → message ids in seq order
	var sent atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				to := fmt.Sprintf("user%d", (w+i*4)%users)
				st, out, err := request(p.api, "POST", "/v1/messages", "", map[string]any{
					"from": "sender", "to": to, "conversation_type": 0, "type": 1, "body": fmt.Sprintf("w%d-%d", w, i),
					"push_config": map[string]any{"title": "t", "content": "c"},
				})
				if err != nil || st != 200 {
					return // the process is gone
				}
				mu.Lock()
				accepted[to] = append(accepted[to], out["message_id"].(string))
				mu.Unlock()
				sent.Add(1)
			}
		}()
	}
	testwait.Until(t, waitFor, func() error {
		if n := sent.Load(); n < 200 {
			return fmt.Errorf("only %d sends answered", n)
		}
		return nil
	})
	p.kill() // SIGKILL mid-traffic
	close(stop)
	wg.Wait()
	s.ClearFaults()

	p = startProc(t, cfg)
	total := 0
	for u := 0; u < users; u++ {
		user := fmt.Sprintf("user%d", u)
		want := accepted[user]
		total += len(want)
		ws := dialWS(t, p.api, user, "phone")
		got := map[string]bool{}
		lastSeq := 0.0
		for len(got) < len(want) {
			f := readFrame(t, ws)
			if f["type"] != "message" {
				continue
			}
			if seq := f["seq"].(float64); seq != lastSeq+1 {
				t.Fatalf("%s: seq %v after %v: a gap or reorder", user, seq, lastSeq)
			}
			lastSeq = f["seq"].(float64)
			got[f["message"].(map[string]any)["message_id"].(string)] = true
		}
		for _, id := range want {
			if !got[id] {
				t.Fatalf("%s: accepted message %s lost after kill -9", user, id)
			}
		}
		ws.Close()
	}
	// Every accepted message's push goes out after the restart (duplicates allowed, bounded).
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := s.Wait(ctx, func([]vendorsim.Record) bool {
		for u := 0; u < users; u++ {
			ids := pushedMessageIDs(s, apnsTok(u))
			for _, id := range accepted[fmt.Sprintf("user%d", u)] {
				if ids[id] == 0 {
					return false
				}
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("not every accepted message was pushed after restart: %v", err)
	}
	for u := 0; u < users; u++ {
		for id, n := range pushedMessageIDs(s, apnsTok(u)) {
			if n > 2 {
				t.Errorf("message %s pushed %d times", id, n)
			}
		}
	}
	t.Logf("%d messages accepted before kill -9; all stored and pushed after restart", total)
}

// startCluster starts the simulator and three daemon processes that join the
// first, and waits until every node sees all three: a send through any node
// then reaches the same owner.
func startCluster(t *testing.T) (*vendorsim.Sim, []*proc) {
	t.Helper()
	s, simDir := startSim(t)
	return s, startNodes(t, s, simDir, 3)
}

// startNodes starts n nodes that form a new cluster together (bootstrap_expect
// n), each shard replicated on min(n, 3) of them, and waits until every node
// knows every shard's writer.
func startNodes(t *testing.T, s *vendorsim.Sim, simDir string, n int, extra ...string) []*proc {
	t.Helper()
	return startNodesWith(t, s, simDir, n, "", extra...)
}

// startNodesWith is startNodes with appKeys added to each node's app (YAML
// lines indented as the app's keys).
func startNodesWith(t *testing.T, s *vendorsim.Sim, simDir string, n int, appKeys string, extra ...string) []*proc {
	t.Helper()
	binds := make([]string, n)
	for i := range binds {
		binds[i] = freeAddr(t)
	}
	// Each start waits for the others: they start at once.
	procs := make([]*proc, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range procs {
		name := fmt.Sprintf("node-%d", i+1)
		cfg := nodeConfigAt(t, s, simDir, name, t.TempDir(), binds[i], binds, clusterSecurityYAML(t, simDir, name)+fmt.Sprintf(", bootstrap_expect: %d", n)+strings.Join(extra, ""))
		if appKeys != "" {
			f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
			if err == nil {
				_, err = f.WriteString(appKeys)
				err = errors.Join(err, f.Close())
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i], errs[i] = startProcAsync(t, cfg)
		}()
	}
	wg.Wait()
	for i, p := range procs {
		if p == nil {
			t.Fatalf("node-%d: %v", i+1, errs[i])
		}
	}
	for _, p := range procs {
		waitMembers(t, p.api, n)
		waitReady(t, p.api)
	}
	waitSettled(t, procs)
	return procs
}

func TestMultiNodeDeliveryAndPush(t *testing.T) {
	s, nodes := startCluster(t)
	n1, n3 := nodes[0], nodes[2]
	// Online delivery: each user connects to one node and is sent to through
	// every other node; many users, so owners are spread over all three nodes.
	conns := map[string]*websocket.Conn{}
	for u := 0; u < 6; u++ {
		user := fmt.Sprintf("online%d", u)
		conn := nodes[u%3]
		ws := dialWS(t, conn.api, user, "phone")
		conns[user] = ws
		for i, via := range nodes {
			mustPost(t, via.api, "/v1/messages", "", map[string]any{"from": "alice", "to": user, "conversation_type": 0, "type": 1, "body": fmt.Sprintf("via %d", i)})
			f := readFrame(t, ws)
			if f["type"] != "message" || f["seq"].(float64) != float64(i+1) || f["message"].(map[string]any)["body"] != fmt.Sprintf("via %d", i) {
				t.Fatalf("%s connected to node %d, sent via node %d: got %v", user, u%3+1, i+1, f)
			}
		}
	}
	// A batch through one node for users owned by all three: each node's share
	// goes to it in one request, and each user gets its two messages in order.
	var batch []any
	for u := 0; u < 6; u++ {
		for _, body := range []string{"batch a", "batch b"} {
			batch = append(batch, map[string]any{"from": "alice", "to": fmt.Sprintf("online%d", u), "conversation_type": 0, "type": 1, "body": body})
		}
	}
	out := mustPost(t, n1.api, "/v1/messages/batch", "", map[string]any{"messages": batch})
	if rs, _ := out["results"].([]any); len(rs) != len(batch) {
		t.Fatalf("batch answer: %v", out)
	} else {
		for i, r := range rs {
			if r.(map[string]any)["message_id"] == nil {
				t.Fatalf("batch item %d: %v", i, r)
			}
		}
	}
	for u := 0; u < 6; u++ {
		for k, body := range []string{"batch a", "batch b"} {
			f := readFrame(t, conns[fmt.Sprintf("online%d", u)])
			if f["type"] != "message" || f["seq"].(float64) != float64(4+k) || f["message"].(map[string]any)["body"] != body {
				t.Fatalf("online%d after the batch: got %v, want seq %d %q", u, f, 4+k, body)
			}
		}
	}

	// Offline push: bind through one node, send through another.
	for u := 0; u < 6; u++ {
		user := fmt.Sprintf("offline%d", u)
		mustPost(t, nodes[u%3].api, "/v1/devices", user, map[string]any{"device_id": "phone", "provider": "apns", "token": apnsTok(100 + u)})
		mustPost(t, nodes[(u+1)%3].api, "/v1/messages", "", map[string]any{"from": "alice", "to": user, "conversation_type": 0, "type": 1, "body": "hi",
			"push_config": map[string]any{"title": "t", "content": user}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := s.Wait(ctx, func([]vendorsim.Record) bool {
		for u := 0; u < 6; u++ {
			if len(s.Delivered(push.APNs, apnsTok(100+u))) != 1 {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("offline users on other nodes were not pushed exactly once: %v", err)
	}

	// A group whose members are owned by all three nodes: created through one
	// node, sent to through another; connected members get the frame wherever
	// they are connected, offline ones are pushed, the sender neither.
	var members []string
	for u := 0; u < 6; u++ {
		members = append(members, fmt.Sprintf("online%d", u), fmt.Sprintf("offline%d", u))
	}
	if st, out, err := request(n1.api, "PUT", "/v1/groups/team", "", map[string]any{"members": members}); err != nil || st != http.StatusOK {
		t.Fatalf("create group: %d %v %v", st, out, err)
	}
	mustPost(t, n3.api, "/v1/messages", "", map[string]any{"from": "online0", "to": "team", "conversation_type": 2, "type": 1, "body": "to the team",
		"push_config": map[string]any{"title": "team", "content": "to the team"}})
	for u := 1; u < 6; u++ {
		f := readFrame(t, conns[fmt.Sprintf("online%d", u)])
		if f["type"] != "message" || f["stream"] != "group:team" || f["seq"].(float64) != 1 {
			t.Fatalf("online%d got %v, want the group message", u, f)
		}
	}
	err = s.Wait(ctx, func([]vendorsim.Record) bool {
		for u := 0; u < 6; u++ {
			if len(s.Delivered(push.APNs, apnsTok(100+u))) != 2 {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("offline members on other nodes were not pushed the group message: %v", err)
	}
	// Offline members now connect, each through some node: the group stream
	// lives on the group's owner, and each drain reads it from there.
	for u := 0; u < 6; u++ {
		ws := dialWS(t, nodes[(u+2)%3].api, fmt.Sprintf("offline%d", u), "tablet")
		for {
			f := readFrame(t, ws)
			if f["stream"] == "group:team" {
				if f["seq"].(float64) != 1 || f["message"].(map[string]any)["body"] != "to the team" {
					t.Fatalf("offline%d drained %v", u, f)
				}
				break
			}
		}
	}
}

// A token bound to a user through one node and then to another user through
// another node leaves the first user, wherever the two users are placed: the
// push id index lives with the push id's token actor, not with the node that
// happened to store the binding. Six tokens move, each between users bound
// through different nodes, so that the pairs' owners are spread over the
// three nodes; a binding left with the old user would push its messages to
// the device now logged in as someone else.
func TestMultiNodeTokenMovesBetweenUsers(t *testing.T) {
	s, nodes := startCluster(t)
	const moves = 6
	for k := 0; k < moves; k++ {
		dev := map[string]any{"device_id": "phone", "provider": "apns", "token": apnsTok(200 + k)}
		first := mustPost(t, nodes[k%3].api, "/v1/devices", fmt.Sprintf("old%d", k), dev)
		second := mustPost(t, nodes[(k+1)%3].api, "/v1/devices", fmt.Sprintf("new%d", k), dev)
		if first["push_id"] != second["push_id"] {
			t.Fatalf("token %d: push ids %v then %v; the same token must keep its push id", k, first["push_id"], second["push_id"])
		}
	}
	// The old users hold nothing, as seen through any node.
	for k := 0; k < moves; k++ {
		for _, via := range nodes {
			st, out, err := request(via.api, "GET", fmt.Sprintf("/v1/users/old%d/devices", k), "", nil)
			if err != nil || st != http.StatusOK {
				t.Fatalf("devices of old%d: %d %v %v", k, st, out, err)
			}
			if devs, _ := out["devices"].([]any); len(devs) != 0 {
				t.Fatalf("old%d still holds %v after its token moved to new%d", k, devs, k)
			}
		}
	}
	// A message to an old user pushes nothing; one to the new user pushes the token.
	want := map[string]string{}
	for k := 0; k < moves; k++ {
		send := func(to string) string {
			out := mustPost(t, nodes[(k+2)%3].api, "/v1/messages", "", map[string]any{"from": "alice", "to": to, "conversation_type": 0, "type": 1,
				"body": "hi " + to, "push_config": map[string]any{"title": "t", "content": to}})
			return out["message_id"].(string)
		}
		send(fmt.Sprintf("old%d", k))
		want[apnsTok(200+k)] = send(fmt.Sprintf("new%d", k))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := s.Wait(ctx, func([]vendorsim.Record) bool {
		for tok := range want {
			if len(s.Delivered(push.APNs, tok)) == 0 {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("the new users' messages were not pushed: %v", err)
	}
	for tok, id := range want {
		if got := pushedMessageIDs(s, tok); len(got) != 1 || got[id] != 1 {
			t.Fatalf("pushes to %s: %v; want only the new user's message %s once", tok, got, id)
		}
	}
}

// aheadClock is the wall clock an hour ahead: a node whose clock is wrong.
type aheadClock struct{}

func (aheadClock) Now() time.Time { return time.Now().Add(time.Hour) }
func (aheadClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Binds of one token through two nodes whose clocks are an hour apart are
// ordered by the clock of the node that owns the token, not by the clocks of
// the nodes that took them: alice binds through the node that runs ahead,
// then bob binds the same token through the other, and the token moves to
// bob. (Before, alice's binding looked an hour newer and bob's bind was
// refused with a conflict until the clocks passed.) The node ahead runs in
// this test process, with its clock an hour ahead; the other is a process of
// its own, so that only one protoactor remote lives in each process.
func TestMultiNodeBindsOrderedByTheTokenNodesClock(t *testing.T) {
	s, simDir := startSim(t)
	// The two form the cluster together, so that no shard's leader moves while
	// the test runs (a token whose leader moved between two binds would be
	// stamped by two clocks).
	binds := []string{freeAddr(t), freeAddr(t)}
	security := func(name string) string { return clusterSecurityYAML(t, simDir, name) + ", bootstrap_expect: 2" }
	cfg, err := config.Load(nodeConfigAt(t, s, simDir, "node-2", t.TempDir(), binds[1], binds, security("node-2")), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg1 := nodeConfigAt(t, s, simDir, "node-1", t.TempDir(), binds[0], binds, security("node-1"))
	behindc := make(chan *proc, 1)
	errc := make(chan error, 1)
	go func() {
		p, err := startProcAsync(t, cfg1)
		behindc <- p
		errc <- err
	}()
	ahead := daemon.New(cfg, daemon.Options{Clock: aheadClock{}})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := ahead.Start(ctx); err != nil {
		t.Fatal(err)
	}
	behind := <-behindc
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = ahead.Shutdown(ctx)
	})
	waitMembers(t, behind.api, 2)
	waitMembers(t, ahead.APIAddr(), 2)
	waitReady(t, behind.api)
	waitReady(t, ahead.APIAddr())
	waitSettled(t, []*proc{behind, {api: ahead.APIAddr()}})
	view, err := readCluster(ahead.APIAddr(), false)
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[uint64]string{}
	for _, sh := range view.Shards {
		leaders[sh.Shard] = sh.Leader
	}

	const tokens = 12
	ownedAhead := 0 // tokens whose token actor is on the node ahead (the leader of its shard)
	for k := 0; k < tokens; k++ {
		dev := map[string]any{"device_id": "phone", "provider": "apns", "token": apnsTok(300 + k)}
		alice, bob := fmt.Sprintf("alice%d", k), fmt.Sprintf("bob%d", k)
		id := mustPost(t, ahead.APIAddr(), "/v1/devices", alice, dev)["push_id"].(string)
		if got := mustPost(t, behind.api, "/v1/devices", bob, dev)["push_id"]; got != id {
			t.Fatalf("token %d: push id %s through one node, %v through the other", k, id, got)
		}
		for _, via := range []string{ahead.APIAddr(), behind.api} {
			for user, want := range map[string]int{alice: 0, bob: 1} {
				st, out, err := request(via, "GET", "/v1/users/"+user+"/devices", "", nil)
				if devs, _ := out["devices"].([]any); err != nil || st != http.StatusOK || len(devs) != want {
					t.Fatalf("token %d: %s holds %v through %s (%d %v); want %d devices", k, user, out, via, st, err, want)
				}
			}
		}
		if leaders[storage.ShardOf(storage.TokenKey("demo", id))] == "node-2" {
			ownedAhead++
		}
	}
	// Both ways are taken: stamped by the node that took the bind, and asked
	// of the other node.
	if ownedAhead == 0 || ownedAhead == tokens {
		t.Fatalf("the node ahead owns %d of %d tokens; want both nodes to own some", ownedAhead, tokens)
	}
}

// waitMembers waits until the node's /metrics shows n cluster members.
// freeAddr is a loopback address with a port free now (Raft cannot listen on
// port 0: it gossips the address it was given).
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := pickAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// pickAddr is freeAddr for any goroutine.
func pickAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady waits until the node at addr is ready: joined, and knowing a
// writer for every shard.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	testwait.Until(t, waitFor, func() error {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("node %s not ready: %s", addr, b)
		}
		return nil
	})
}

func waitMembers(t *testing.T, addr string, n int) {
	t.Helper()
	testwait.Until(t, waitFor, func() error {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), fmt.Sprintf("pushd_cluster_members %d", n)) {
			return fmt.Errorf("node %s does not see %d members", addr, n)
		}
		return nil
	})
}
