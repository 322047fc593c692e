package suite

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push/vendors"
)

// runTrace measures what recording message traces costs: the ingest and fan-out figures of a
// daemon with trace on (the default) against the same daemon with trace: false, both running in
// this process, measured in paired rounds (trace off, then on) so that a shared machine's drift
// weighs on both sides. The bar is the issue's: no figure falls by more than 5%.
func runTrace(ctx context.Context, e *env) error {
	sends := e.scaled(50_000, 2_000)
	size := e.scaled(10_000, 300)
	const receivers, workers = 1000, 64
	e.note("ingest: %d durable single sends per round (POST /v1/messages, %d clients, %d receivers, with push_config, no bindings: each send records its decision)", sends, workers, receivers)
	e.note("fan-out: a group of %s offline members with one binding each, round-robin over %v; the figure is members pushed per second from the POST to the last push", commas(int64(size)), vendors.Providers())
	e.note("baseline: the same daemon with trace: false; %d paired rounds, the ratio is the median of the rounds' ratios", rounds)

	e.step("start the daemons")
	idle := func(c *config.Config) { c.UserIdleTimeout = config.Duration(fanoutIdle) }
	on, err := startNode(ctx, idle)
	if err != nil {
		return err
	}
	defer on.close()
	off, err := startNode(ctx, idle, func(c *config.Config) { f := false; c.Trace = &f })
	if err != nil {
		return err
	}
	defer off.close()

	bodies := make([][]byte, receivers)
	for i := range bodies {
		bodies[i] = messageJSON("sender", "user"+strconv.Itoa(i), "hello, this is a benchmark message", false, true)
	}
	ingest := func(n *node) func() (float64, []time.Duration, error) {
		return func() (float64, []time.Duration, error) {
			secs, lat, err := postLoad(ctx, e, n, sends, workers, func(i int) []byte { return bodies[i%receivers] })
			return float64(sends) / secs, lat, err
		}
	}
	f := &Figure{Name: "durable sends with trace, POST /v1/messages", Unit: "msg/s", Count: sends,
		BaselineName: "trace: false", Bar: ratioBar(0.95)}
	if err := e.inRounds(f, "ingest", ingest(off), ingest(on)); err != nil {
		return err
	}

	group := "g" + strconv.Itoa(size)
	for _, n := range []*node{off, on} {
		e.step(fmt.Sprintf("bind %d members", size-1))
		bs := make([]binding, size-1)
		members := make([]string, size-1)
		providers := vendors.Providers()
		for i := range bs {
			p := providers[i%len(providers)]
			members[i] = "m" + strconv.Itoa(i)
			bs[i] = binding{members[i], "phone", p, providerToken(p, i)}
		}
		if err := n.bindAll(ctx, e, bs); err != nil {
			return err
		}
		if err := putGroup(n, group, append([]string{"boss"}, members...)); err != nil {
			return err
		}
		// One fan-out first opens the vendor connections and fetches their access tokens.
		if _, _, err := fanoutOnce(ctx, e, n, group, size, "warm-up"); err != nil {
			return err
		}
	}
	fanout := func(n *node, label string) func() (float64, []time.Duration, error) {
		return func() (float64, []time.Duration, error) {
			total, at, err := fanoutOnce(ctx, e, n, group, size, label)
			if err != nil {
				return 0, nil, err
			}
			return float64(size-1) / total.Seconds(), at, nil
		}
	}
	f = &Figure{Name: fmt.Sprintf("group fan-out with trace, %s offline members", commas(int64(size))), Unit: "push/s", Count: size - 1,
		BaselineName: "trace: false", Bar: ratioBar(0.95)}
	return e.inRounds(f, "fan-out", fanout(off, "trace: false"), fanout(on, "trace on"))
}

// postLoad posts calls bodies to POST /v1/messages of n from workers clients (after a warm-up
// that opens the connections and the receivers' actors) and returns the seconds from the first
// request to the last answer and each request's latency.
func postLoad(ctx context.Context, e *env, n *node, calls, workers int, body func(i int) []byte) (float64, []time.Duration, error) {
	c := newClient()
	defer c.CloseIdleConnections()
	post := func(b []byte) error {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + n.addr + "/v1/messages")
		req.Header.SetMethod("POST")
		req.Header.Set("X-API-Key", n.key)
		req.Header.SetContentType("application/json")
		req.SetBody(b)
		if err := c.Do(req, resp); err != nil {
			return err
		}
		if resp.StatusCode() != 200 || bytes.Contains(resp.Body(), []byte(`"error"`)) {
			return fmt.Errorf("POST /v1/messages: %d %s", resp.StatusCode(), trunc(resp.Body(), 200))
		}
		return nil
	}
	if err := parallel(ctx, workers*4, workers, func(i int) error { return post(body(i)) }, nil); err != nil {
		return 0, nil, err
	}
	lat := make([]time.Duration, calls)
	start := time.Now()
	err := parallel(ctx, calls, workers, func(i int) error {
		t := time.Now()
		err := post(body(i))
		lat[i] = time.Since(t)
		return err
	}, func(done int) { e.p.count(done, calls) })
	return time.Since(start).Seconds(), lat, err
}
