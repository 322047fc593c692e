package suite

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/pushd-im/pushd/daemon"
)

// runOnline connects D devices (10,000 at scale 1), measures the daemon's
// memory per connected idle device, then messages/s delivered to them over
// WebSocket (server sends in batches, as fast as the daemon takes them, from
// the first send to the last frame), then send → frame p50/p99 at a fixed
// rate of single sends. Every device acks every message. The clients run in a
// helper process when the suite has one, so the memory is the daemon's alone.
func runOnline(ctx context.Context, e *env) error {
	devices := e.scaled(10_000, 100)
	messages := e.scaled(100_000, 2_000)
	const rate = 1000
	fixed := max(2*time.Second, time.Duration(float64(10*time.Second)*e.o.Scale))

	e.step("start daemon")
	n, err := startNode(ctx)
	if err != nil {
		return err
	}
	defer n.close()

	var fl fleet
	inProcess := len(e.o.HelperCommand) == 0
	if inProcess {
		// Both ends of every connection are in this process.
		if lim := int(raiseFileLimit()); devices*2+1024 > lim {
			devices = max(100, (lim-1024)/2)
			e.note("the open-file limit (%d) allows %d connected devices with both ends in one process: scaled down", lim, devices)
		}
	} else {
		pf, err := startProcFleet(e.o.HelperCommand)
		if err != nil {
			return fmt.Errorf("fleet helper: %w", err)
		}
		fl = pf
	}
	if lim := int(raiseFileLimit()); devices+1024 > lim {
		devices = max(100, lim-1024)
		e.note("the open-file limit (%d) allows %d connected devices: scaled down", lim, devices)
	}
	before := sampleMem()
	if inProcess {
		fl = newFleet()
		e.note("the WebSocket clients run in this process (no helper command): the memory per device includes the clients' own")
	} else {
		e.note("the WebSocket clients run in a helper process: the memory per device is the daemon's alone")
	}
	defer fl.close()

	e.step(fmt.Sprintf("connect %d devices", devices))
	spec := fleetSpec{Addr: n.addr, App: daemon.DemoAppID, Secret: string(n.secret), Prefix: "o", Device: "phone", Count: devices}
	connStart := time.Now()
	err = fl.connect(ctx, spec, func(done int) {
		if done < 0 { // the helper: count the daemon's sessions
			if v, err := n.metric("pushd_sessions"); err == nil {
				done = int(v)
			}
		}
		e.p.count(done, devices)
	})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if _, err := n.waitMetric(ctx, "pushd_sessions", time.Minute, func(v float64) bool { return int(v) >= devices }); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	e.note("%d devices connected in %.1fs (%.0f/s)", devices, time.Since(connStart).Seconds(), float64(devices)/time.Since(connStart).Seconds())

	e.step("memory")
	time.Sleep(time.Second) // let the handshakes' garbage go
	after := sampleMem()
	e.heapProfile("connected")
	perDev := (diff(before.HeapInuse, after.HeapInuse) + diff(before.StackInuse, after.StackInuse)) / float64(devices) / 1024
	if devices < 1000 {
		e.note("with %d devices the memory per device is within the noise of the heap; trust the full run", devices)
	}
	e.add(&Figure{Name: fmt.Sprintf("memory per connected idle device (%s devices)", commas(int64(devices))), Unit: "KiB/device",
		Value: round3(perDev), Count: devices, Bar: maxBar(20, "KiB")})
	e.note("memory per device = (HeapInuse + StackInuse after − before) / devices, after runtime.GC: heap %.1f KiB + stacks %.1f KiB; RSS grew %.1f KiB/device",
		diff(before.HeapInuse, after.HeapInuse)/float64(devices)/1024, diff(before.StackInuse, after.StackInuse)/float64(devices)/1024,
		diff(before.RSS, after.RSS)/float64(devices)/1024)

	// Throughput: server sends in batches of 500, 4 concurrent callers.
	e.step(fmt.Sprintf("deliver %d messages", messages))
	if err := fl.reset(); err != nil {
		return err
	}
	const per = 500
	calls := (messages + per - 1) / per
	start := time.Now()
	err = parallel(ctx, calls, 4, func(c int) error {
		msgs := make([][]byte, 0, per)
		for j := 0; j < per && c*per+j < messages; j++ {
			i := c*per + j
			msgs = append(msgs, messageJSON("sender", "o"+strconv.Itoa(i%devices), "t="+strconv.FormatInt(time.Now().UnixNano(), 10), false, false))
		}
		_, err := n.must("POST", "/v1/messages/batch", "", batchJSON(msgs))
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	st, err := waitFrames(ctx, e, fl, int64(messages), 3*time.Minute)
	if err != nil {
		return err
	}
	el := time.Duration(st.LastNs - start.UnixNano())
	e.add(&Figure{Name: fmt.Sprintf("messages delivered over WebSocket to %s devices", commas(int64(devices))), Unit: "msg/s",
		Value: float64(messages) / el.Seconds(), Count: messages, P50Ms: ms(time.Duration(st.P50Ns)), P99Ms: ms(time.Duration(st.P99Ns))})
	e.note("delivery throughput: %d server sends in batches of %d (4 callers) to the connected devices round-robin, first send to last frame; its p50/p99 are send → frame under that saturating load", messages, per)

	// Latency at a fixed rate: single sends, open loop.
	count := int(fixed.Seconds() * rate)
	e.step(fmt.Sprintf("send → frame at %d msg/s", rate))
	if err := fl.reset(); err != nil {
		return err
	}
	start = time.Now()
	if err := paced(ctx, count, rate, 64, func(i int) error {
		body := messageJSON("sender", "o"+strconv.Itoa(i%devices), "t="+strconv.FormatInt(time.Now().UnixNano(), 10), false, false)
		_, err := n.must("POST", "/v1/messages", "", body)
		return err
	}); err != nil {
		return fmt.Errorf("paced send: %w", err)
	}
	st, err = waitFrames(ctx, e, fl, int64(count), time.Minute)
	if err != nil {
		return err
	}
	el = time.Duration(st.LastNs - start.UnixNano())
	e.add(&Figure{Name: fmt.Sprintf("send → frame at a fixed %s msg/s (single POST /v1/messages)", commas(rate)), Unit: "msg/s",
		Value: float64(count) / el.Seconds(), Count: count, P50Ms: ms(time.Duration(st.P50Ns)), P99Ms: ms(time.Duration(st.P99Ns))})
	e.note("fixed rate: %d single sends at %d/s (open loop, %v), each body carries its send time; latency is send → frame at the device", count, rate, fixed)
	if st.Errors > 0 {
		e.note("the clients saw %d errors; the first: %s", st.Errors, st.FirstErr)
	}
	e.step("disconnect")
	return nil
}

// waitFrames polls the fleet until it has read want message frames.
func waitFrames(ctx context.Context, e *env, fl fleet, want int64, timeout time.Duration) (fleetStats, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := fl.stats()
		if err != nil {
			return st, err
		}
		if st.Frames >= want {
			return st, nil
		}
		e.p.count(int(st.Frames), int(want))
		if time.Now().After(deadline) {
			return st, fmt.Errorf("%d of %d frames after %v (client errors %d: %s)", st.Frames, want, timeout, st.Errors, st.FirstErr)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// paced calls f(0..count-1) at rate per second, open loop: call i starts at
// start + i/rate whether or not earlier calls have answered (up to workers at
// once).
func paced(ctx context.Context, count, rate, workers int, f func(i int) error) error {
	jobs := make(chan int)
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
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
	start := time.Now()
	for i := 0; i < count && ctx.Err() == nil; i++ {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
