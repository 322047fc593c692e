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
	e.note("the daemon runs in this process (as in the other scenarios); at each cycle's end, with the devices disconnected and the senders still running, the goroutines, the Go heap in use after a full collection and the RSS are sampled; a trend is the least-squares slope over the second half of the cycles (the first half warms caches that fill up to their bound), and the notes give the whole run's and the first and last thirds' medians")

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
	// The first half warms what fills up to a bound and stays (Pebble's block
	// cache and memtables, the binding cache, maps grown to their peak): the
	// trend judged is the second half's, the whole run's is in the notes.
	steady := samples[len(samples)/2:]
	series := func(from []soakSample, f func(soakSample) float64) []float64 {
		out := make([]float64, len(from))
		for i, s := range from {
			out[i] = f(s)
		}
		return out
	}
	gor := func(s soakSample) float64 { return s.Goroutines }
	heap := func(s soakSample) float64 { return s.HeapInuse / 1024 }
	rssK := func(s soakSample) float64 { return s.RSS / 1024 }
	e.add(&Figure{Name: "goroutines, growth per cycle (second half)", Unit: "goroutines/cycle", Value: round3(slope(series(steady, gor))),
		Count: len(steady), Samples: series(samples, gor), Bar: trendBar(1, "goroutine/cycle")})
	e.add(&Figure{Name: "Go heap in use, growth per cycle (second half)", Unit: "KiB/cycle", Value: round3(slope(series(steady, heap))),
		Count: len(steady), Samples: series(samples, heap), Bar: trendBar(256, "KiB/cycle")})
	e.add(&Figure{Name: "RSS, growth per cycle (second half)", Unit: "KiB/cycle", Value: round3(slope(series(steady, rssK))),
		Count: len(steady), Samples: series(samples, rssK)})
	third := max(1, len(samples)/3)
	med := func(f func(soakSample) float64, from []soakSample) float64 { return median(series(from, f)) }
	first, last := samples[:third], samples[len(samples)-third:]
	e.note("over the whole run (%d cycles), growth per cycle: goroutines %.2f, heap %.0f KiB, RSS %.0f KiB; medians, first third → last third: goroutines %.0f → %.0f, heap in use %.1f → %.1f MiB, RSS %.1f → %.1f MiB",
		len(samples), slope(series(samples, gor)), slope(series(samples, heap)), slope(series(samples, rssK)),
		med(gor, first), med(gor, last), med(heap, first)/1024, med(heap, last)/1024, med(rssK, first)/1024, med(rssK, last)/1024)
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
