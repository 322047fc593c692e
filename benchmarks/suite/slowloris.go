package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/pushd-im/pushd/config"
)

// slowlorisRead is the scenario's limits.read_timeout: long enough to hold
// every socket through the measurement, short enough to see them closed.
const slowlorisRead = 90 * time.Second

// runSlowloris holds 20,000 (scaled) sockets that each send half a request
// and then nothing, and measures /healthz and durable sends through fresh
// connections meanwhile, against the same with no idle socket; then how long
// the server takes to close the idle sockets after limits.read_timeout.
func runSlowloris(ctx context.Context, e *env) error {
	want := e.scaled(20_000, 500)
	// Each socket is a descriptor in the daemon and one in the client: the
	// clients run in the helper process when there is one, so that the
	// daemon's open-file limit holds only its own ends.
	limit := raiseFileLimit()
	perSocket := 1
	if e.o.HelperCommand == nil {
		perSocket = 2
	}
	sockets := min(want, max(0, (int(limit)-1024)/perSocket))
	if sockets < want {
		e.note("this process may open %d files (its hard limit): holding %s sockets, not %s", limit, commas(int64(sockets)), commas(int64(want)))
	}
	const probes, sends = 200, 2000
	e.note("%s sockets (from %s) each send `POST /v1/messages HTTP/1.1`, a Host and half an `X-API-Key` header, then nothing; limits.read_timeout is %v",
		commas(int64(sockets)), map[bool]string{true: "a helper process", false: "this process"}[e.o.HelperCommand != nil], slowlorisRead)
	e.note("with them open and without (the baseline, same daemon, before they open): %d GET /healthz and %d durable sends, each on a fresh connection (as a new client would), 16 at a time", probes, sends)

	e.step("start daemon")
	n, err := startNode(ctx, func(c *config.Config) {
		c.Limits.ReadTimeout = config.Duration(slowlorisRead)
		c.Limits.MaxHTTPConnections = max(c.Limits.MaxHTTPConnections, sockets+1024)
	})
	if err != nil {
		return err
	}
	defer n.close()
	var call func(fleetCmd) (fleetStats, error)
	if e.o.HelperCommand != nil {
		pf, err := startProcFleet(e.o.HelperCommand)
		if err != nil {
			return err
		}
		defer pf.close()
		call = pf.call
	} else {
		lf := newFleet()
		defer lf.close()
		call = func(c fleetCmd) (fleetStats, error) {
			rep := lf.serve(c)
			if rep.Error != "" {
				return rep.Stats, errors.New(rep.Error)
			}
			return rep.Stats, nil
		}
	}
	fresh := func(label string) (healthRate float64, sendRate float64, hlat, slat []time.Duration, err error) {
		hlat = make([]time.Duration, probes)
		start := time.Now()
		err = parallel(ctx, probes, 16, func(i int) error {
			t := time.Now()
			if err := freshRequest(n.addr, "GET /healthz HTTP/1.1\r\nHost: pushd\r\nConnection: close\r\n\r\n"); err != nil {
				return fmt.Errorf("%s: /healthz: %w", label, err)
			}
			hlat[i] = time.Since(t)
			return nil
		}, nil)
		if err != nil {
			return
		}
		healthRate = float64(probes) / time.Since(start).Seconds()
		slat = make([]time.Duration, sends)
		start = time.Now()
		err = parallel(ctx, sends, 16, func(i int) error {
			body := messageJSON("alice", "u"+strconv.Itoa(i%100), "hi", false, false)
			req := fmt.Sprintf("POST /v1/messages HTTP/1.1\r\nHost: pushd\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", n.key, len(body), body)
			t := time.Now()
			if err := freshRequest(n.addr, req); err != nil {
				return fmt.Errorf("%s: send: %w", label, err)
			}
			slat[i] = time.Since(t)
			return nil
		}, nil)
		sendRate = float64(sends) / time.Since(start).Seconds()
		return
	}

	e.step("baseline: no idle socket")
	bh, bs, bhl, bsl, err := fresh("baseline")
	if err != nil {
		return err
	}

	e.step(fmt.Sprintf("open %s half-sent requests", commas(int64(sockets))))
	opened := time.Now()
	if _, err := call(fleetCmd{Cmd: "idle", Spec: fleetSpec{Addr: n.addr, Count: sockets}}); err != nil {
		return err
	}
	e.note("opening them took %.1fs", time.Since(opened).Seconds())

	e.step("measure with them open")
	hh, hs, hhl, hsl, err := fresh("with the sockets open")
	if err != nil {
		return err
	}
	if left := time.Until(opened.Add(slowlorisRead)); left < 10*time.Second {
		e.note("the measurement ended %v before the read timeout: some sockets may have closed during it", left.Round(time.Second))
	}
	f := e.add(&Figure{Name: fmt.Sprintf("GET /healthz with %s idle sockets open", commas(int64(sockets))), Unit: "req/s", Value: hh, Count: probes,
		Baseline: bh, BaselineName: "no idle socket", Bar: ratioBar(0.5)})
	f.P50Ms, f.P99Ms = pct(hhl)
	f.BaselineP50Ms, f.BaselineP99Ms = pct(bhl)
	f = e.add(&Figure{Name: fmt.Sprintf("durable sends with %s idle sockets open", commas(int64(sockets))), Unit: "msg/s", Value: hs, Count: sends,
		Baseline: bs, BaselineName: "no idle socket", Bar: ratioBar(0.5)})
	f.P50Ms, f.P99Ms = pct(hsl)
	f.BaselineP50Ms, f.BaselineP99Ms = pct(bsl)

	e.step("wait for the server to close them")
	st, err := call(fleetCmd{Cmd: "idlewait", Spec: fleetSpec{WaitMs: (time.Until(opened.Add(slowlorisRead)) + time.Minute).Milliseconds()}})
	if err != nil {
		return err
	}
	e.add(&Figure{Name: "the last idle socket closed by the server, from the first opened", Unit: "s", Value: round3(float64(st.IdleLastMs) / 1000), Count: sockets,
		Bar: maxBar((slowlorisRead + 30*time.Second).Seconds(), "s")})
	if st.IdleOpen > 0 {
		return fmt.Errorf("%d idle sockets still open a minute after the read timeout", st.IdleOpen)
	}
	return nil
}

// freshRequest sends one raw HTTP/1.1 request on a connection of its own and
// reads the answer to its end; anything but a 200 is an error.
func freshRequest(addr, req string) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if len(b) < 12 || string(b[9:12]) != "200" {
		return fmt.Errorf("answer %q", trunc(b, 120))
	}
	return nil
}
