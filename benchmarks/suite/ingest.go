package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// runIngest measures durable one-to-one sends per second through POST
// /v1/messages (64 concurrent clients) and POST /v1/messages/batch (100 a
// call, 8 concurrent clients), 1,000 receivers, no pushes, with per-request
// p50/p99. The baseline is a fasthttp server in this process that only
// decodes the same bodies the way pushd does (encoding/json,
// DisallowUnknownFields, each batch item on its own) and answers a small JSON,
// driven by the same client with the same concurrency and bodies.
func runIngest(ctx context.Context, e *env) error {
	singles := e.scaled(100_000, 2_000)
	batched := e.scaled(300_000, 5_000)
	const perBatch, receivers = 100, 1000
	e.note("%d single sends (64 clients) and %d messages in batches of %d (8 clients), to %d receivers, no push_config; every send is answered after its fsync", singles, batched, perBatch, receivers)
	e.note("latency is per HTTP request (a batch call for the batch figure); throughput is messages/s from the first request to the last answer")
	e.note("each figure is measured in %d rounds of baseline then pushd; the figures are the medians, the ratio the median of the rounds' ratios", rounds)
	e.note("baseline: fasthttp handler in the same process that only decodes the same JSON (encoding/json, DisallowUnknownFields) and answers a small JSON; same client, same concurrency")

	e.step("start daemon")
	n, err := startNode(ctx)
	if err != nil {
		return err
	}
	defer n.close()
	base, err := startParseOnly(n.key)
	if err != nil {
		return err
	}
	defer base.close()

	bodies := make([][]byte, receivers)
	for i := range bodies {
		bodies[i] = messageJSON("sender", fmt.Sprintf("user%d", i), "hello, this is a benchmark message", false, false)
	}
	batches := make([][]byte, receivers/perBatch)
	for k := range batches {
		batches[k] = batchJSON(bodies[k*perBatch : (k+1)*perBatch])
	}

	load := func(addr, path string, calls, workers int, body func(i int) []byte) (float64, []time.Duration, error) {
		c := newClient()
		defer c.CloseIdleConnections()
		post := func(b []byte) error {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + path)
			req.Header.SetMethod("POST")
			req.Header.Set("X-API-Key", n.key)
			req.Header.SetContentType("application/json")
			req.SetBody(b)
			if err := c.Do(req, resp); err != nil {
				return err
			}
			if resp.StatusCode() != 200 || bytes.Contains(resp.Body(), []byte(`"error"`)) {
				return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode(), trunc(resp.Body(), 200))
			}
			return nil
		}
		// Warm up: open the connections and the receivers' actors.
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

	measure := func(name, path string, msgs, per, workers int, body func(i int) []byte, bar *Bar) error {
		calls := msgs / per
		rate := func(addr string, profile bool) func() (float64, []time.Duration, error) {
			return func() (float64, []time.Duration, error) {
				stop := func() {}
				if profile {
					stop = e.profile(strings.ReplaceAll(strings.TrimPrefix(path, "/v1/"), "/", "-"))
				}
				secs, lat, err := load(addr, path, calls, workers, body)
				stop()
				return float64(calls*per) / secs, lat, err
			}
		}
		f := &Figure{Name: name, Unit: "msg/s", Count: calls * per, BaselineName: "fasthttp parse-only handler", Bar: bar}
		return e.inRounds(f, name, rate(base.addr, false), rate(n.addr, true))
	}
	if err := measure("durable sends, POST /v1/messages", "/v1/messages", singles, 1, 64,
		func(i int) []byte { return bodies[i%receivers] }, ratioBar(0.5)); err != nil {
		return err
	}
	if err := measure(fmt.Sprintf("durable sends, POST /v1/messages/batch (%d a call)", perBatch), "/v1/messages/batch", batched, perBatch, 8,
		func(i int) []byte { return batches[i%len(batches)] }, ratioBar(0.5)); err != nil {
		return err
	}
	if st := n.d.Store().Stats(); st.Commits > 0 {
		e.note("pushd store: %.1f write batches per fsync (group commit)", float64(st.Batches)/float64(st.Commits))
	}
	return nil
}

// parseOnly is the ingest baseline: the same routes, the same strict JSON
// decoding into the same shape of struct, and nothing else.
type parseOnly struct {
	srv  *fasthttp.Server
	ln   net.Listener
	addr string
	seq  atomic.Uint64
}

// sendBody has the fields (and types) of pushd's POST /v1/messages body.
type sendBody struct {
	From             string `json:"from"`
	To               string `json:"to"`
	ConversationType *int   `json:"conversation_type"`
	Type             int    `json:"type"`
	Body             string `json:"body"`
	Priority         int    `json:"priority"`
	PushConfig       *struct {
		Title          string `json:"title"`
		Content        string `json:"content"`
		Payload        string `json:"payload"`
		ResourcesID    string `json:"resources_id"`
		BadgeIncrement int    `json:"badge_increment"`
		VoIP           *struct {
			HandleType  int    `json:"handle_type"`
			HandleValue string `json:"handle_value"`
			HasVideo    bool   `json:"has_video"`
		} `json:"voip"`
	} `json:"push_config"`
	ClientMsgID string `json:"client_msg_id"`
}

type sendAnswer struct {
	MessageID string `json:"message_id"`
	Seq       uint64 `json:"seq"`
	Timestamp int64  `json:"timestamp"`
}

func startParseOnly(key string) (*parseOnly, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &parseOnly{ln: ln, addr: ln.Addr().String()}
	p.srv = &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { p.handle(ctx, key) }, MaxRequestBodySize: 1 << 20,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *parseOnly) close() { _ = p.srv.Shutdown() }

func (p *parseOnly) handle(ctx *fasthttp.RequestCtx, key string) {
	fail := func(err error) {
		ctx.SetStatusCode(400)
		ctx.SetBodyString(`{"error":{"code":"bad_request","message":` + strconv.Quote(err.Error()) + `}}`)
	}
	if string(ctx.Request.Header.Peek("X-API-Key")) != key {
		ctx.SetStatusCode(401)
		return
	}
	answer := func() sendAnswer {
		s := p.seq.Add(1)
		return sendAnswer{MessageID: "bench" + strconv.FormatUint(s, 36), Seq: s, Timestamp: time.Now().UnixMilli()}
	}
	var out any
	switch string(ctx.Path()) {
	case "/v1/messages":
		var r sendBody
		if err := strictDecode(ctx.PostBody(), &r); err != nil {
			fail(err)
			return
		}
		out = answer()
	case "/v1/messages/batch":
		var b struct {
			Messages []json.RawMessage `json:"messages"`
		}
		if err := strictDecode(ctx.PostBody(), &b); err != nil {
			fail(err)
			return
		}
		results := make([]sendAnswer, len(b.Messages))
		for i, raw := range b.Messages {
			var r sendBody
			if err := strictDecode(raw, &r); err != nil {
				fail(err)
				return
			}
			results[i] = answer()
		}
		out = map[string]any{"results": results}
	default:
		ctx.SetStatusCode(404)
		return
	}
	b, _ := json.Marshal(out)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// strictDecode decodes one JSON object as pushd does: unknown fields and
// trailing data are errors.
func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	return nil
}
