package suite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// soakCycle is one cycle of the soak scenario, and how often it samples.
const soakCycle = 10 * time.Second

// soakSample is what the soak scenario reads of this process at the end of a
// cycle, after a full collection, with no client connected.
type soakSample struct {
	Goroutines float64
	HeapInuse  float64 // bytes
	RSS        float64 // bytes, includes Pebble's C memory
}

// runSoak runs mixed traffic against one pushd daemon for 10 minutes
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
	e.note("the daemon runs in this process (as in the other scenarios); at each cycle's end, with the devices disconnected and the senders still running, the goroutines, the Go heap in use after a full collection and the RSS are sampled; a trend is the least-squares slope over the cycles after the first (warm-up), and the notes give the first and last thirds' medians")

	e.step("start pushd")
	n, err := startNode(ctx)
	if err != nil {
		return err
	}
	defer n.close()
	sim := n.sim()

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
		_, err := n.must("POST", "/v1/devices", "u"+strconv.Itoa(i), []byte(body))
		return err
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
		if _, err := n.must("PUT", "/v1/groups/sg"+strconv.Itoa(g), "", b); err != nil {
			return err
		}
	}

	var sent, failed atomic.Int64
	var firstErr atomic.Value
	send := func(path string, body []byte) {
		st, b, err := n.do("POST", path, "", body)
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
		sim.ClearFaults()
		for i := c % 5; i < users; i += 5 {
			f := vendorsim.Fault{Provider: tokens[i].p, Token: tokens[i].token, Times: 1}
			switch (i / 5) % 3 {
			case 0:
				f.Status = 503
			case 1:
				f.Status, f.RetryAfter = 429, time.Second
			default:
				f.Latency = 2 * time.Second
			}
			if err := sim.SetFault(f); err != nil {
				return err
			}
		}
		fl := newFleet()
		err := fl.connect(ctx, fleetSpec{Addr: n.addr, App: daemon.DemoAppID, Secret: string(n.secret),
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
		sim.Reset() // the simulator's records are not pushd's memory
		if c == 1 {
			e.heapProfile("after-first-cycle")
		}
		m := sampleMem()
		samples = append(samples, soakSample{Goroutines: float64(runtime.NumGoroutine()), HeapInuse: float64(m.HeapInuse), RSS: float64(m.RSS)})
	}
	stop()
	e.heapProfile("end")

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
	pushes, _ := n.metric("pushd_pushes_total")
	retries, _ := n.metric("pushd_push_retries_total")
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
