package suite

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
)

// soakCycle is one cycle of the soak scenario, and how often it samples.
const soakCycle = 10 * time.Second

// soakSample is what the soak scenario reads of the daemon at the end of a
// cycle, from its /metrics.
type soakSample struct {
	Goroutines float64
	HeapInuse  float64 // bytes, go_memstats_heap_inuse_bytes (no forced GC)
	RSS        float64 // bytes, includes Pebble's C memory
}

// runSoak runs mixed traffic against one pushd child process for 10 minutes
// (scaled; at least three cycles): one-to-one sends with push configs, group sends,
// devices connecting and disconnecting, and the simulator failing 20% of
// the devices' pushes (503 or 429 with Retry-After, or 2 s late) in every
// cycle. The daemon's goroutines and memory are sampled every 10 s; the
// figures are their trends, which must be flat: no growth per cycle.
func runSoak(ctx context.Context, e *env) error {
	duration := max(3*soakCycle, time.Duration(float64(10*time.Minute)*e.o.Scale))
	cycles := int(duration / soakCycle)
	users := e.scaled(2_000, 300)
	const groups, groupSize = 10, 50
	const sendRate, groupRate = 100, 2 // per second
	online := max(20, users/10)
	e.note("one `pushd serve` child process (lone node, simulator in process), %d users with one binding each (providers round-robin), %d groups of %d members", users, groups, groupSize)
	e.note("each %v cycle: %d one-to-one sends/s with a push_config and %d group sends/s (server API key), %d devices connect by WebSocket, ack what arrives and disconnect at the cycle's end (a different %d each cycle), and the simulator fails 20%% of the tokens (a different fifth each cycle; 503, 429 with Retry-After 1s, or 2 s latency, one request each)", soakCycle, sendRate, groupRate, online, online)
	e.note("the daemon's go_goroutines, go_memstats_heap_inuse_bytes and process_resident_memory_bytes are read from its /metrics at each cycle's end; a trend is the least-squares slope over the cycles after the first (warm-up), and the notes give the first and last thirds' medians")

	pn, err := newProcNodes(e.o.PushdCommand)
	if err != nil {
		return err
	}
	defer pn.close()
	pc := procClient{newClient()}
	defer pc.c.CloseIdleConnections()
	simAddr, err := freeAddr()
	if err != nil {
		return err
	}
	e.step("start pushd")
	p, err := pn.start(ctx, nodeSpec{name: "soak", simAddr: simAddr})
	if err != nil {
		return err
	}
	if err := waitReady(ctx, pc, []*proc{p}, 1); err != nil {
		return err
	}
	sim := simAdmin{base: "https://" + simAddr, c: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}} // the simulator's own certificate
	defer sim.c.CloseIdleConnections()

	e.step(fmt.Sprintf("bind %d users, make %d groups", users, groups))
	providers := vendors.Providers()
	tokens := make([]struct {
		p     push.Provider
		token string
	}, users)
	err = parallel(ctx, users, 32, func(i int) error {
		prov := providers[i%len(providers)]
		tokens[i].p, tokens[i].token = prov, providerToken(prov, i)
		body := fmt.Sprintf(`{"device_id":"phone","provider":%q,"token":%q}`, prov, tokens[i].token)
		return soakMust(pc.do(p.api, "POST", "/v1/devices", "u"+strconv.Itoa(i), []byte(body)))
	}, func(done int) { e.p.count(done, users) })
	if err != nil {
		return err
	}
	for g := range groups {
		members := make([]string, groupSize)
		for k := range members {
			members[k] = "u" + strconv.Itoa((g*groupSize+k*7)%users)
		}
		b, _ := json.Marshal(map[string]any{"members": members})
		if err := soakMust(pc.do(p.api, "PUT", "/v1/groups/sg"+strconv.Itoa(g), "", b)); err != nil {
			return err
		}
	}

	var sent, failed atomic.Int64
	var firstErr atomic.Value
	send := func(path string, body []byte) {
		st, b, err := pc.do(p.api, "POST", path, "", body)
		if err == nil && st != 200 {
			err = fmt.Errorf("POST %s: %d %s", path, st, trunc(b, 200))
		}
		if err != nil {
			if failed.Add(1) == 1 {
				firstErr.Store(err.Error())
			}
			return
		}
		sent.Add(1)
	}
	// The senders run for the whole soak, paced, each on its own goroutine,
	// stopped (and waited for) when the cycles end.
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = paced(trafficCtx, math.MaxInt32, sendRate, 16, func(i int) error {
			send("/v1/messages", messageJSON("u"+strconv.Itoa((i*13)%users), "u"+strconv.Itoa(i%users), "soak "+strconv.Itoa(i), false, true))
			return nil
		})
	}()
	go func() {
		defer wg.Done()
		_ = paced(trafficCtx, math.MaxInt32, groupRate, 4, func(i int) error {
			g := i % groups
			send("/v1/messages", messageJSON("u"+strconv.Itoa(g*groupSize%users), "sg"+strconv.Itoa(g), "soak group "+strconv.Itoa(i), true, true))
			return nil
		})
	}()
	stop := func() { stopTraffic(); wg.Wait() }
	defer stop()

	var samples []soakSample
	var frames, fleetErrs int64
	var fleetFirst string
	for c := range cycles {
		e.step(fmt.Sprintf("cycle %d of %d", c+1, cycles))
		start := time.Now()
		if err := sim.clearFaults(); err != nil {
			return err
		}
		for i := c % 5; i < users; i += 5 {
			f := map[string]any{"provider": tokens[i].p, "token": tokens[i].token, "times": 1}
			switch (i / 5) % 3 {
			case 0:
				f["status"] = 503
			case 1:
				f["status"], f["retry_after"] = 429, "1s"
			default:
				f["latency"] = "2s"
			}
			if err := sim.post("/sim/faults", f); err != nil {
				return err
			}
		}
		fl := newFleet()
		err := fl.connect(ctx, fleetSpec{Addr: p.api, App: daemon.DemoAppID, Secret: procSecret,
			Prefix: "u", Device: "phone", First: (c * online) % max(1, users-online), Count: online}, nil)
		if err == nil {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(time.Until(start.Add(soakCycle))):
			}
		}
		st, _ := fl.stats()
		fl.close()
		frames += st.Frames
		if st.Errors > 0 {
			fleetErrs += st.Errors
			if fleetFirst == "" {
				fleetFirst = st.FirstErr
			}
		}
		if err != nil {
			return err
		}
		if err := sim.delete("/sim/records"); err != nil { // the simulator's records are not pushd's memory
			return err
		}
		s, err := soakRead(pc, p.api)
		if err != nil {
			return err
		}
		samples = append(samples, s)
	}
	stop()

	e.step("trends")
	if len(samples) < 3 {
		return errors.New("soak: fewer than 3 cycles")
	}
	rest := samples[1:]
	series := func(f func(soakSample) float64) []float64 {
		out := make([]float64, len(rest))
		for i, s := range rest {
			out[i] = f(s)
		}
		return out
	}
	gor := series(func(s soakSample) float64 { return s.Goroutines })
	heap := series(func(s soakSample) float64 { return s.HeapInuse / 1024 })
	rssK := series(func(s soakSample) float64 { return s.RSS / 1024 })
	e.add(&Figure{Name: "goroutines, growth per cycle", Unit: "goroutines/cycle", Value: round3(slope(gor)), Count: len(gor), Samples: gor, Bar: trendBar(1, "goroutine/cycle")})
	e.add(&Figure{Name: "Go heap in use, growth per cycle", Unit: "KiB/cycle", Value: round3(slope(heap)), Count: len(heap), Samples: heap, Bar: trendBar(256, "KiB/cycle")})
	e.add(&Figure{Name: "RSS, growth per cycle", Unit: "KiB/cycle", Value: round3(slope(rssK)), Count: len(rssK), Samples: rssK})
	third := max(1, len(rest)/3)
	e.note("medians, first third → last third of the cycles: goroutines %.0f → %.0f, heap in use %.1f → %.1f MiB, RSS %.1f → %.1f MiB",
		median(gor[:third]), median(gor[len(gor)-third:]), median(heap[:third])/1024, median(heap[len(heap)-third:])/1024,
		median(rssK[:third])/1024, median(rssK[len(rssK)-third:])/1024)
	body, err := soakMetrics(pc, p.api)
	if err != nil {
		return err
	}
	pushes, _ := sumMetric(body, "pushd_pushes_total")
	retries, _ := sumMetric(body, "pushd_push_retries_total")
	e.note("sends answered 200: %d, failed: %d%s; WebSocket frames received: %d (fleet errors %d %s); pushes with a verdict: %.0f, retries: %.0f",
		sent.Load(), failed.Load(), firstErrText(&firstErr), frames, fleetErrs, fleetFirst, pushes, retries)
	return nil
}

func firstErrText(v *atomic.Value) string {
	if s, ok := v.Load().(string); ok {
		return " (first: " + s + ")"
	}
	return ""
}

// soakMust turns a request's answer into an error unless it is a 200.
func soakMust(st int, b []byte, err error) error {
	if err == nil && st != 200 {
		err = fmt.Errorf("%d %s", st, trunc(b, 200))
	}
	return err
}

func soakMetrics(pc procClient, addr string) ([]byte, error) {
	st, b, err := pc.do(addr, "GET", "/metrics", "", nil)
	if err == nil && st != 200 {
		err = fmt.Errorf("GET /metrics: %d", st)
	}
	return b, err
}

func soakRead(pc procClient, addr string) (soakSample, error) {
	b, err := soakMetrics(pc, addr)
	if err != nil {
		return soakSample{}, err
	}
	var s soakSample
	for _, m := range []struct {
		name string
		to   *float64
	}{{"go_goroutines", &s.Goroutines}, {"go_memstats_heap_inuse_bytes", &s.HeapInuse}, {"process_resident_memory_bytes", &s.RSS}} {
		if *m.to, err = sumMetric(b, m.name); err != nil {
			return s, err
		}
	}
	return s, nil
}

// slope is the least-squares slope of ys over their index.
func slope(ys []float64) float64 {
	n := float64(len(ys))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i, y := range ys {
		x := float64(i)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// simAdmin drives a child's simulator through its admin API (/sim/...).
type simAdmin struct {
	base string
	c    *http.Client
}

func (s simAdmin) post(path string, v any) error {
	b, _ := json.Marshal(v)
	return s.req("POST", path, b)
}

func (s simAdmin) delete(path string) error { return s.req("DELETE", path, nil) }

func (s simAdmin) clearFaults() error { return s.delete("/sim/faults") }

func (s simAdmin) req(method, path string, body []byte) error {
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, trunc(buf.Bytes(), 200))
	}
	return nil
}
