package suite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/transport/api"
)

// node is one daemon under measurement with a fasthttp client pointed at it.
type node struct {
	d       *daemon.Daemon
	dataDir string
	addr    string
	key     string
	secret  []byte
	client  *fasthttp.Client
}

// startNode starts a daemon like `pushd serve` with the built-in default
// config, but on ephemeral loopback ports, in a fresh temporary data dir, the
// simulator on, logging errors only (to nowhere). mods adjust the config.
func startNode(ctx context.Context, mods ...func(*config.Config)) (*node, error) {
	dir, err := os.MkdirTemp("", "pushd-bench-")
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.Cluster.Bind = "127.0.0.1:0"
	cfg.Cluster.Remote = "127.0.0.1:0"
	cfg.Simulator.Enabled = true
	cfg.Simulator.Addr = "127.0.0.1:0"
	cfg.LogLevel = "error"
	// Every simulated device connects from loopback: one address.
	cfg.Limits.MaxConnectionsPerIP = cfg.Limits.MaxConnections
	for _, m := range mods {
		m(cfg)
	}
	d := daemon.New(cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := d.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	key, secret := d.DemoSecrets()
	n := &node{d: d, dataDir: dir, addr: d.APIAddr(), key: key, secret: []byte(secret), client: newClient()}
	// Wait until the node has joined its own cluster and serves.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _, err := n.do("GET", "/readyz", "-", nil)
		if err == nil && st == 200 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			n.close()
			return nil, fmt.Errorf("daemon not ready after 30s: %d %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n, nil
}

func newClient() *fasthttp.Client {
	return &fasthttp.Client{MaxConnsPerHost: 1024, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second,
		MaxIdleConnDuration: time.Minute, MaxConnWaitTimeout: 60 * time.Second}
}

// close shuts the daemon down and removes its data.
func (n *node) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = n.d.Shutdown(ctx)
	n.client.CloseIdleConnections()
	os.RemoveAll(n.dataDir)
}

func (n *node) sim() *vendorsim.Sim { return n.d.Simulator() }

// simDir is where the daemon keeps the simulator's credentials.
func (n *node) simDir() string { return filepath.Join(n.dataDir, "simulator") }

// token is a client token for user.
func (n *node) token(user string) string {
	tok, err := api.MintClientToken(daemon.DemoAppID, user, n.secret, 6*time.Hour, time.Now())
	if err != nil {
		panic(err) // HS256 with a fixed secret cannot fail
	}
	return tok
}

// do sends one request: as the server (user ""), as user's client, or with no
// credentials (user "-"). It returns the status and a copy of the body.
func (n *node) do(method, path, user string, body []byte) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + n.addr + path)
	req.Header.SetMethod(method)
	switch user {
	case "":
		req.Header.Set("X-API-Key", n.key)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+n.token(user))
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if err := n.client.Do(req, resp); err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

// must sends a request that has to answer 200 and returns the body.
func (n *node) must(method, path, user string, body []byte) ([]byte, error) {
	st, b, err := n.do(method, path, user, body)
	if err != nil {
		return nil, err
	}
	if st != 200 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, st, trunc(b, 300))
	}
	return b, nil
}

// metric sums every sample of a metric on /metrics.
func (n *node) metric(name string) (float64, error) {
	st, body, err := n.do("GET", "/metrics", "-", nil)
	if err != nil {
		return 0, err
	}
	if st != 200 {
		return 0, fmt.Errorf("GET /metrics: %d", st)
	}
	return sumMetric(body, name)
}

// sumMetric sums every sample of a metric in a /metrics body.
func sumMetric(body []byte, name string) (float64, error) {
	sum, found := 0.0, false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || strings.HasPrefix(line, "#") || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return 0, fmt.Errorf("metric %s not on /metrics", name)
	}
	return sum, nil
}

// waitMetric polls a metric until ok holds for it or the timeout passes.
func (n *node) waitMetric(ctx context.Context, name string, timeout time.Duration, ok func(float64) bool) (float64, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, err := n.metric(name)
		if err == nil && ok(v) {
			return v, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s = %g after %v", name, v, timeout)
			}
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// binding is one device binding to make through POST /v1/devices.
type binding struct {
	user, device string
	provider     push.Provider
	token        string
}

// bindAll binds every b over HTTP with many concurrent clients (each a user's
// own client token, as a device would) and reports the count to the bar.
func (n *node) bindAll(ctx context.Context, e *env, bs []binding) error {
	return parallel(ctx, len(bs), 64, func(i int) error {
		b := bs[i]
		body := fmt.Sprintf(`{"device_id":%q,"provider":%q,"token":%q}`, b.device, b.provider, b.token)
		_, err := n.must("POST", "/v1/devices", b.user, []byte(body))
		return err
	}, func(done int) { e.p.count(done, len(bs)) })
}

// providerToken is a token of the provider's shape for device i.
func providerToken(p push.Provider, i int) string {
	if p == push.APNs {
		return fmt.Sprintf("%064x", i+1)
	}
	return fmt.Sprintf("%s-bench-token-%08d", p, i)
}

// parallel runs f(0..count-1) on workers goroutines, stopping at the first
// error (returned) or when ctx is done; progress, when set, is told the count
// done now and then.
func parallel(ctx context.Context, count, workers int, f func(i int) error, progress func(done int)) error {
	var (
		next  atomic.Int64
		done  atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return first != nil }
	for w := 0; w < min(workers, max(count, 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= count || failed() || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				if d := done.Add(1); progress != nil && (d%256 == 0 || int(d) == count) {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// memSample is the process's memory at one moment, after a full collection.
type memSample struct {
	HeapInuse  uint64
	StackInuse uint64
	RSS        uint64 // resident set size (includes Pebble's C-allocated memory)
}

func sampleMem() memSample {
	// Collect until the in-use figures settle: goroutines of what ran before
	// (a previous scenario's clients and daemon) may still be ending, and one
	// collection frees what only they held.
	var ms runtime.MemStats
	var last uint64
	for try := 0; try < 20; try++ {
		runtime.GC()
		debug.FreeOSMemory()
		runtime.ReadMemStats(&ms)
		now := ms.HeapInuse + ms.StackInuse
		if try > 0 && max(now, last)-min(now, last) < 64<<10 {
			break
		}
		last = now
		time.Sleep(50 * time.Millisecond)
	}
	return memSample{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, RSS: rss()}
}

// rss reads the resident set size from /proc (0 where there is none).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func diff(a, b uint64) float64 { return float64(int64(b) - int64(a)) }

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// pct returns the p50 and p99 of ds in milliseconds.
func pct(ds []time.Duration) (p50, p99 float64) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		i = min(max(i, 0), len(s)-1)
		return ms(s[i])
	}
	return at(0.50), at(0.99)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// raiseFileLimit raises the open-file limit to its hard limit and returns it.
func raiseFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return lim.Cur
}

func trunc(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// trimFloat formats v without trailing zeros, with thousands separators.
func trimFloat(v float64) string {
	if v == float64(int64(v)) {
		return commas(int64(v))
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func commas(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// messageJSON is a server send of a one-to-one (or group) message.
func messageJSON(from, to, body string, group, withPush bool) []byte {
	ct := 0
	if group {
		ct = 2
	}
	pc := ""
	if withPush {
		pc = `,"push_config":{"title":"bench","content":"new message"}`
	}
	return fmt.Appendf(nil, `{"from":%q,"to":%q,"conversation_type":%d,"type":1,"body":%q,"priority":3%s}`, from, to, ct, body, pc)
}

// batchJSON wraps messages into a POST /v1/messages/batch body.
func batchJSON(msgs [][]byte) []byte {
	b := []byte(`{"messages":[`)
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	return append(b, "]}"...)
}

// sendAnswers are the message ids of a batch answer, in order ("" for an item error).
func sendAnswers(body []byte) ([]string, error) {
	var a struct {
		Results []struct {
			MessageID string `json:"message_id"`
			Error     *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	ids := make([]string, len(a.Results))
	for i, r := range a.Results {
		if r.Error != nil {
			return nil, fmt.Errorf("batch item %d: %s: %s", i, r.Error.Code, r.Error.Message)
		}
		ids[i] = r.MessageID
	}
	return ids, nil
}
