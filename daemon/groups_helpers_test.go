package daemon_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// Helpers for the group and call tests. Everything here that may run on a
// goroutine other than the test's returns an error instead of failing the test.

// bulkClient keeps enough idle connections for the concurrent set-up requests.
var bulkClient = &http.Client{
	Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
	Timeout:   60 * time.Second,
}

// try is call without failing the test: safe on any goroutine.
func (h *harness) try(method, path, auth string, body any) (int, map[string]any, error) {
	req, err := h.newRequest(method, path, auth, body)
	if err != nil {
		return 0, nil, err
	}
	return do(bulkClient, req)
}

// parallel runs f(0), ..., f(n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// binding is one device binding to make in bulk.
type binding struct {
	user, device string
	provider     push.Provider
	token        string
	extra        map[string]any
}

// bindAll binds every b over HTTP, concurrently.
func (h *harness) bindAll(bs []binding) {
	h.t.Helper()
	err := parallel(len(bs), 16, func(i int) error {
		b := bs[i]
		body := map[string]any{"device_id": b.device, "provider": string(b.provider), "token": b.token}
		for k, v := range b.extra {
			body[k] = v
		}
		st, out, err := h.try("POST", "/v1/devices", b.user, body)
		if err != nil {
			return fmt.Errorf("bind %s/%s: %w", b.user, b.device, err)
		}
		if st != http.StatusOK {
			return fmt.Errorf("bind %s/%s: status %d %v", b.user, b.device, st, out)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// putGroup creates or replaces a group and checks the answer's count.
func (h *harness) putGroup(group string, members []string) {
	h.t.Helper()
	out := h.mustCall("PUT", "/v1/groups/"+group, "key", map[string]any{"members": members})
	if out["group_id"] != group || out["members"] != float64(len(members)) {
		h.t.Fatalf("PUT group %s with %d members answered %v", group, len(members), out)
	}
}

// groupMembers changes a group's members (method POST adds, DELETE removes) and returns the new count.
func (h *harness) groupMembers(method, group string, members ...string) int {
	h.t.Helper()
	out := h.mustCall(method, "/v1/groups/"+group+"/members", "key", map[string]any{"members": members})
	if out["group_id"] != group {
		h.t.Fatalf("%s members of %s answered %v", method, group, out)
	}
	n, _ := out["members"].(float64)
	return int(n)
}

// sendGroup makes a server send of a group message from → group and returns its answer.
func (h *harness) sendGroup(from, group, body string, pc pushCfg, extra ...map[string]any) map[string]any {
	h.t.Helper()
	return h.send(from, group, body, pc, append([]map[string]any{{"conversation_type": 2}}, extra...)...)
}

// users returns prefix0000 ... for i in [from, to).
func users(prefix string, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%04d", prefix, i))
	}
	return out
}

// metric sums the samples of a metric (every label set) on /metrics; ok is
// false when the metric is not there at all.
func (h *harness) metric(name string) (sum float64, ok bool) {
	h.t.Helper()
	return h.metricWith(name)
}

// metricWith sums the samples of metric name on /metrics whose labels include
// every name=value pair of labels (alternating); ok is false when no sample matched.
func (h *harness) metricWith(name string, labels ...string) (sum float64, ok bool) {
	h.t.Helper()
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		h.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var want []string
	for i := 0; i+1 < len(labels); i += 2 {
		want = append(want, labels[i]+`="`+labels[i+1]+`"`)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		metric, lbls, _ := strings.Cut(line[:sp], "{")
		if metric != name {
			continue
		}
		have := strings.Split(strings.TrimSuffix(lbls, "}"), ",")
		match := true
		for _, w := range want {
			if !slices.Contains(have, w) {
				match = false
				break
			}
		}
		if v, err := strconv.ParseFloat(line[sp+1:], 64); err == nil && match {
			sum += v
			ok = true
		}
	}
	if err := sc.Err(); err != nil {
		h.t.Fatalf("reading /metrics: %v", err)
	}
	return sum, ok
}

// fanoutDone waits until the daemon reports no group fan-out pending and the outbox is empty.
func (h *harness) fanoutDone() {
	h.t.Helper()
	h.eventually("pushd_fanout_pending == 0", func() bool {
		v, ok := h.metric("pushd_fanout_pending")
		return ok && v == 0
	})
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
}

// pushData returns a custom data key of a push record: APNs carries it at the
// top level of the body, FCM in message.data.
func pushData(r vendorsim.Record, key string) string {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return ""
	}
	var v any
	switch r.Provider {
	case push.FCM:
		v = dig(m, "message", "data", key)
	default:
		v = m[key]
	}
	s, _ := v.(string)
	return s
}

// delivered counts the delivered pushes of provider per token and per (token, message_id).
func delivered(s *vendorsim.Sim, p push.Provider) (perToken map[string]int, perMessage map[string]int) {
	perToken, perMessage = map[string]int{}, map[string]int{}
	for _, r := range s.Records(p) {
		if !r.Delivered(r.Token) || r.Token == "" {
			continue
		}
		perToken[r.Token]++
		perMessage[r.Token+"/"+pushData(r, "message_id")]++
	}
	return perToken, perMessage
}

// readOne reads one frame without failing the test: safe on any goroutine.
func (c *wsClient) readOne(timeout time.Duration) (map[string]any, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	var f map[string]any
	if err := c.ws.ReadJSON(&f); err != nil {
		return nil, err
	}
	return f, nil
}

// expect reads the next frame and checks its type; call frames are in the inbox with a seq.
func (c *wsClient) expect(typ string) map[string]any {
	c.t.Helper()
	f := c.next()
	if f["type"] != typ {
		c.t.Fatalf("want a %s frame, got %v", typ, f)
	}
	if strings.HasPrefix(typ, "call_") {
		if f["stream"] != "inbox" {
			c.t.Fatalf("%s frame not in the inbox stream: %v", typ, f)
		}
		if s, ok := f["seq"].(float64); !ok || s < 1 {
			c.t.Fatalf("%s frame without a seq: %v", typ, f)
		}
	}
	return f
}

// ackFrame acks the frame's stream up to its seq.
func (c *wsClient) ackFrame(f map[string]any) {
	c.t.Helper()
	c.ack(f["stream"].(string), int(f["seq"].(float64)))
}

// quiet checks that nothing more arrived on the connection (up to a ping's pong).
func (c *wsClient) quiet(who string) {
	c.t.Helper()
	if extra := c.sync(); len(extra) != 0 {
		c.t.Fatalf("%s: unexpected frames %v", who, extra)
	}
}

// frameSeq is a frame's seq as an int (0 when absent).
func frameSeq(f map[string]any) int {
	s, _ := f["seq"].(float64)
	return int(s)
}

// strs turns a JSON array into sorted strings.
func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// patientAcks gives online devices time to ack under a loaded machine: what
// these tests check is that an acked device is not pushed, not how fast it acks.
func patientAcks(c *configT) {
	c.AckTimeout = durationT(3 * time.Second)
	c.HeartbeatTimeout = durationT(60 * time.Second)
}

// longTests skips t unless PUSHD_LONG_TESTS=1 and not -short.
func longTests(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("long test: skipped with -short")
	}
	if os.Getenv("PUSHD_LONG_TESTS") != "1" {
		t.Skip("long test: set PUSHD_LONG_TESTS=1 to run it")
	}
}
