package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/cluster"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/transport/api"
)

// The cluster scenario runs pushd as child processes (`pushd serve`): a
// node must be killable with SIGKILL, and several nodes' actor remotes and
// Raft hosts do not belong in one process.

// procKey and procSecret are the demo app's credentials on every child node.
const (
	procKey    = "pk_bench_cluster_key"
	procSecret = "bench-cluster-client-token-secret-0123456789"
)

// procNodes starts and owns child pushd processes, their configs and data
// under one temporary directory; close kills every process it started.
type procNodes struct {
	cmd []string // pushd's CLI; "serve --config <file>" is appended
	dir string
	ca  *cluster.CA

	mu    sync.Mutex
	procs []*proc
}

// proc is one running pushd child process.
type proc struct {
	name   string
	cfg    string
	cmd    *exec.Cmd
	api    string // host:port
	gossip string
	exited chan struct{}
	stderr *tailBuffer
}

func newProcNodes(cmd []string) (*procNodes, error) {
	if len(cmd) == 0 {
		return nil, errors.New("needs Options.PushdCommand (pushd's own binary; `pushd bench` sets it)")
	}
	dir, err := os.MkdirTemp("", "pushd-bench-cluster-")
	if err != nil {
		return nil, err
	}
	ca, err := cluster.NewCA("pushd bench cluster CA", 24*time.Hour)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	pn := &procNodes{cmd: cmd, dir: dir, ca: ca}
	for f, b := range map[string][]byte{"ca.pem": ca.CertPEM(), "gossip.key": cluster.NewGossipKey()} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return pn, nil
}

// close kills every child still running and removes their data.
func (pn *procNodes) close() {
	pn.mu.Lock()
	procs := pn.procs
	pn.procs = nil
	pn.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	os.RemoveAll(pn.dir)
}

// nodeSpec is one child's cluster settings.
type nodeSpec struct {
	name     string
	peered   bool     // false: a lone node (no gossip, no Raft), pushd's one-node deployment
	bind     string   // gossip address (peered)
	join     []string // gossip addresses to join
	expect   int      // bootstrap_expect
	maxMoves int      // 0: the default
}

// config writes the child's config file: the demo app with fixed
// credentials, the simulator in process (the app's providers; the scenario
// sends no pushes), errors-only logs.
func (pn *procNodes) config(s nodeSpec) (string, error) {
	data := filepath.Join(pn.dir, s.name)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", err
	}
	cl := fmt.Sprintf("{name: %s}", s.name)
	if s.peered {
		cert, key, err := pn.ca.WriteNode(pn.dir, s.name, []string{"127.0.0.1", "localhost"}, 24*time.Hour)
		if err != nil {
			return "", err
		}
		raft, err := freeAddr()
		if err != nil {
			return "", err
		}
		join, _ := json.Marshal(s.join)
		extra := ""
		if s.maxMoves > 0 {
			extra = fmt.Sprintf(", max_moves: %d", s.maxMoves)
		}
		cl = fmt.Sprintf(`{name: %s, bind: %q, remote: "127.0.0.1:0", raft: %q, join: %s, bootstrap_expect: %d, gossip_key_file: %q, tls: {cert_file: %q, key_file: %q, ca_file: %q}%s}`,
			s.name, s.bind, raft, join, s.expect, filepath.Join(pn.dir, "gossip.key"), cert, key, filepath.Join(pn.dir, "ca.pem"), extra)
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %q
log_level: error
simulator: {enabled: true, addr: "127.0.0.1:0"}
cluster: %s
apps:
  - id: %s
    api_keys: [%s]
    client_token_secret: %s
`, data, cl, daemon.DemoAppID, procKey, procSecret)
	p := filepath.Join(pn.dir, s.name+".yaml")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

var nodeLine = regexp.MustCompile(`^pushd node \S+: api http://(\S+) gossip (\S+) remote (\S+)`)

// start runs `pushd serve` on the spec's config and waits for the line
// naming its API address (a peered node prints it once it has joined).
//
// A port picked free (Raft, gossip) can be taken by another process, or by
// an outgoing connection's ephemeral port, before the child binds it: such a
// start is tried again, twice, on fresh ports and an empty data dir. The
// others' join lists may keep the old gossip address; joining needs one.
func (pn *procNodes) start(ctx context.Context, s nodeSpec) (*proc, error) {
	for try := 0; ; try++ {
		p, err := pn.startOnce(ctx, s)
		if err == nil || try == 2 || !strings.Contains(err.Error(), "address already in use") {
			return p, err
		}
		if err := os.RemoveAll(filepath.Join(pn.dir, s.name)); err != nil {
			return nil, err
		}
		if s.peered && s.bind != "127.0.0.1:0" {
			if s.bind, err = freeAddr(); err != nil {
				return nil, err
			}
		}
	}
}

func (pn *procNodes) startOnce(ctx context.Context, s nodeSpec) (*proc, error) {
	cfg, err := pn.config(s)
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), pn.cmd[1:]...), "serve", "--config", cfg)
	cmd := exec.Command(pn.cmd[0], args...)
	// Only the config file speaks: no PUSHD_* of the caller's environment.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PUSHD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{name: s.name, cfg: cfg, cmd: cmd, exited: make(chan struct{}), stderr: &tailBuffer{max: 8 << 10}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pn.mu.Lock()
	pn.procs = append(pn.procs, p)
	pn.mu.Unlock()
	// One goroutine owns the child's end: it reads stdout until the
	// process closes it (handing over the API line), then reaps it.
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := nodeLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(p.exited)
	}()
	// A peered node prints the line once its cluster has formed: with three
	// nodes starting at once on two cores that can take a while.
	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
	select {
	case m := <-found:
		p.api, p.gossip = m[1], m[2]
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before serving: %s", s.name, p.stderr.String())
	case <-timeout.C:
		p.kill()
		return nil, fmt.Errorf("%s did not serve within 2m: %s", s.name, p.stderr.String())
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
}

// kill sends SIGKILL and waits for the process to end.
func (p *proc) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// tailBuffer keeps the last max bytes written to it (a child's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, b...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// freeAddr is a loopback address free a moment ago (Raft and gossip need a
// fixed one, known before the node starts).
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// procClient sends requests to child nodes with the demo app's credentials.
type procClient struct{ c *fasthttp.Client }

// do sends one request to addr: as the server (user "") or as user's client.
func (pc procClient) do(addr, method, path, user string, body []byte) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + path)
	req.Header.SetMethod(method)
	if user == "" {
		req.Header.Set("X-API-Key", procKey)
	} else {
		tok, err := api.MintClientToken(daemon.DemoAppID, user, []byte(procSecret), 6*time.Hour, time.Now())
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if err := pc.c.Do(req, resp); err != nil {
		return 0, nil, fmt.Errorf("%s %s on %s: %w", method, path, addr, err)
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

func (pc procClient) cluster(addr string) (daemon.ClusterStatus, error) {
	var v daemon.ClusterStatus
	st, b, err := pc.do(addr, "GET", "/v1/cluster?scope=node", "", nil) // the shards addr holds
	if err != nil {
		return v, err
	}
	if st != 200 {
		return v, fmt.Errorf("GET /v1/cluster on %s: %d %s", addr, st, trunc(b, 200))
	}
	return v, json.Unmarshal(b, &v)
}

// poll calls f every interval until it returns nil, ctx ends or timeout
// passes (then its last error).
func poll(ctx context.Context, timeout, interval time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
