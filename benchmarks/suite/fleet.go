package suite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/pushd-im/pushd/transport/api"
)

// The WebSocket client fleet of the online scenario: N devices connected to
// pushd, each reading its frames, acking every message and pinging now and
// then. It runs in a helper process when Options.HelperCommand is set (so the
// daemon's memory is measured alone), else in this process.

// helperEnv names the environment variable that makes a program the fleet helper.
const helperEnv = "PUSHD_BENCH_HELPER"

// IsHelper reports whether this process was started as the suite's helper
// (Options.HelperCommand); it should then call RunHelper and exit.
func IsHelper() bool { return os.Getenv(helperEnv) == "wsfleet" }

// RunHelper serves the fleet protocol on stdin/stdout until stdin closes, and
// returns the exit code.
func RunHelper() int {
	raiseFileLimit()
	f := newFleet()
	defer f.close()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var cmd fleetCmd
		var rep fleetReply
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			rep.Error = err.Error()
		} else {
			rep = f.serve(cmd)
		}
		if err := out.Encode(rep); err != nil {
			return 1
		}
		if cmd.Cmd == "close" {
			return 0
		}
	}
	return 0
}

// fleetSpec says which devices to connect: users Prefix{First}..
// Prefix{First+Count-1}, each with one device Device.
type fleetSpec struct {
	Addr   string `json:"addr"`
	App    string `json:"app"`
	Secret string `json:"secret"`
	Prefix string `json:"prefix"`
	Device string `json:"device"`
	Count  int    `json:"count"`
	First  int    `json:"first,omitempty"`
	// WaitMs bounds "idlewait".
	WaitMs int64 `json:"wait_ms,omitempty"`
}

// fleetStats are the counts since the last reset. Latencies are from the
// send time a message body carries ("t=<unix ns>") to the frame's arrival.
type fleetStats struct {
	Connected int    `json:"connected"`
	Frames    int64  `json:"frames"`
	LastNs    int64  `json:"last_ns"` // wall clock of the latest frame
	LatCount  int    `json:"lat_count"`
	P50Ns     int64  `json:"p50_ns"`
	P99Ns     int64  `json:"p99_ns"`
	Errors    int64  `json:"errors"`
	FirstErr  string `json:"first_error,omitempty"`
	// IdleOpen is how many of the idle sockets ("idle") the server has not
	// closed, and IdleLastMs when it closed the last, from their opening
	// ("idlewait").
	IdleOpen   int   `json:"idle_open,omitempty"`
	IdleLastMs int64 `json:"idle_last_ms,omitempty"`
}

type fleetCmd struct {
	Cmd  string    `json:"cmd"` // connect, stats, reset, close; idle, idlewait (the slowloris scenario)
	Spec fleetSpec `json:"spec"`
}

type fleetReply struct {
	Stats fleetStats `json:"stats"`
	Error string     `json:"error,omitempty"`
}

// fleet is what the online scenario drives, in process or through the helper.
type fleet interface {
	connect(ctx context.Context, spec fleetSpec, progress func(done int)) error
	stats() (fleetStats, error)
	reset() error
	close()
}

// localFleet is the fleet itself.
type localFleet struct {
	mu     sync.Mutex
	conns  []*fleetConn
	frames atomic.Int64
	lastNs atomic.Int64
	errs   atomic.Int64
	first  atomic.Value // string
	latMu  sync.Mutex
	lat    []int64
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
	// idle are the half-sent requests of "idle", opened at idleAt.
	idle   []net.Conn
	idleAt time.Time
}

type fleetConn struct {
	mu sync.Mutex // one writer at a time: acks and pings
	ws *websocket.Conn
}

func newFleet() *localFleet {
	f := &localFleet{stop: make(chan struct{})}
	f.wg.Add(1)
	go f.pinger()
	return f
}

func (f *localFleet) serve(cmd fleetCmd) fleetReply {
	var err error
	switch cmd.Cmd {
	case "connect":
		err = f.connect(context.Background(), cmd.Spec, nil)
	case "stats":
	case "reset":
		err = f.reset()
	case "close":
		f.close()
	case "idle":
		err = f.openIdle(cmd.Spec)
	case "idlewait":
		st, _ := f.stats()
		st.IdleOpen, st.IdleLastMs = f.waitIdle(time.Duration(cmd.Spec.WaitMs) * time.Millisecond)
		return fleetReply{Stats: st}
	default:
		err = fmt.Errorf("unknown command %q", cmd.Cmd)
	}
	st, _ := f.stats()
	rep := fleetReply{Stats: st}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

func (f *localFleet) fail(err error) {
	if f.errs.Add(1) == 1 {
		f.first.Store(err.Error())
	}
}

func (f *localFleet) connect(ctx context.Context, spec fleetSpec, progress func(done int)) error {
	dialer := &websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 512, HandshakeTimeout: 30 * time.Second,
		NetDial: (&net.Dialer{Timeout: 30 * time.Second}).Dial}
	return parallel(ctx, spec.Count, 32, func(i int) error {
		user := spec.Prefix + strconv.Itoa(spec.First+i)
		tok, err := api.MintClientToken(spec.App, user, []byte(spec.Secret), 6*time.Hour, time.Now())
		if err != nil {
			return err
		}
		var ws *websocket.Conn
		for attempt := 0; ; attempt++ {
			var resp *http.Response
			ws, resp, err = dialer.Dial("ws://"+spec.Addr+"/v1/connect?device_id="+spec.Device, http.Header{"Authorization": {"Bearer " + tok}})
			if err == nil {
				break
			}
			if resp != nil || attempt == 3 {
				return fmt.Errorf("connect %s: %w", user, err)
			}
			time.Sleep(100 * time.Millisecond) // a full accept queue: try again
		}
		c := &fleetConn{ws: ws}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go f.read(c)
		return nil
	}, progress)
}

// frame is what the fleet reads of a server frame.
type frame struct {
	Type    string `json:"type"`
	Stream  string `json:"stream"`
	Seq     uint64 `json:"seq"`
	Reason  string `json:"reason"`
	Message struct {
		Body string `json:"body"`
	} `json:"message"`
}

func (f *localFleet) read(c *fleetConn) {
	defer f.wg.Done()
	var fr frame
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			select {
			case <-f.stop:
			default:
				f.fail(fmt.Errorf("read: %w", err))
			}
			return
		}
		now := time.Now().UnixNano()
		fr = frame{}
		if err := json.Unmarshal(data, &fr); err != nil {
			f.fail(fmt.Errorf("frame %q: %w", trunc(data, 100), err))
			continue
		}
		switch fr.Type {
		case "message":
			if t, ok := bytes.CutPrefix([]byte(fr.Message.Body), []byte("t=")); ok {
				if sent, err := strconv.ParseInt(string(t), 10, 64); err == nil {
					f.latMu.Lock()
					f.lat = append(f.lat, now-sent)
					f.latMu.Unlock()
				}
			}
			for {
				last := f.lastNs.Load()
				if now <= last || f.lastNs.CompareAndSwap(last, now) {
					break
				}
			}
			f.frames.Add(1)
			ack := fmt.Appendf(nil, `{"type":"ack","stream":%q,"seq":%d}`, fr.Stream, fr.Seq)
			if err := c.write(ack); err != nil {
				f.fail(fmt.Errorf("ack: %w", err))
				return
			}
		case "kicked":
			f.fail(fmt.Errorf("kicked: %s", fr.Reason))
		case "error":
			f.fail(fmt.Errorf("error frame: %s", trunc(data, 200)))
		}
	}
}

func (c *fleetConn) write(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// pinger sends every connection a ping every 10 s, well within the daemon's
// 30 s heartbeat timeout.
func (f *localFleet) pinger() {
	defer f.wg.Done()
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	ping := []byte(`{"type":"ping"}`)
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		f.mu.Lock()
		conns := append([]*fleetConn(nil), f.conns...)
		f.mu.Unlock()
		for _, c := range conns {
			_ = c.write(ping)
		}
	}
}

func (f *localFleet) stats() (fleetStats, error) {
	f.mu.Lock()
	st := fleetStats{Connected: len(f.conns)}
	f.mu.Unlock()
	st.Frames, st.LastNs, st.Errors = f.frames.Load(), f.lastNs.Load(), f.errs.Load()
	if s, ok := f.first.Load().(string); ok {
		st.FirstErr = s
	}
	f.latMu.Lock()
	ds := make([]time.Duration, len(f.lat))
	for i, v := range f.lat {
		ds[i] = time.Duration(v)
	}
	f.latMu.Unlock()
	st.LatCount = len(ds)
	p50, p99 := pct(ds)
	st.P50Ns, st.P99Ns = int64(p50*1e6), int64(p99*1e6)
	return st, nil
}

func (f *localFleet) reset() error {
	f.frames.Store(0)
	f.lastNs.Store(0)
	f.latMu.Lock()
	f.lat = nil
	f.latMu.Unlock()
	return nil
}

// openIdle opens Spec.Count sockets to Spec.Addr that each send half a
// request and then nothing, and keeps them.
func (f *localFleet) openIdle(spec fleetSpec) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	f.idleAt = time.Now()
	for len(f.idle) < spec.Count {
		c, err := d.Dial("tcp", spec.Addr)
		if err != nil {
			return fmt.Errorf("idle socket %d: %w", len(f.idle), err)
		}
		f.idle = append(f.idle, c)
		if _, err := io.WriteString(c, "POST /v1/messages HTTP/1.1\r\nHost: pushd\r\nX-API-Key: "); err != nil {
			return fmt.Errorf("idle socket %d: %w", len(f.idle), err)
		}
	}
	return nil
}

// waitIdle waits up to wait for the server to close every idle socket, and
// returns how many it did not and when it closed the last (from the opening).
func (f *localFleet) waitIdle(wait time.Duration) (open int, lastMs int64) {
	closedAt := make(chan time.Duration, len(f.idle))
	deadline := time.Now().Add(wait)
	for _, c := range f.idle {
		go func() {
			_ = c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				closedAt <- -1
				return
			}
			closedAt <- time.Since(f.idleAt)
		}()
	}
	var last time.Duration
	for range f.idle {
		if d := <-closedAt; d < 0 {
			open++
		} else {
			last = max(last, d)
		}
	}
	return open, last.Milliseconds()
}

func (f *localFleet) close() {
	f.closed.Do(func() {
		for _, c := range f.idle {
			c.Close()
		}
		close(f.stop)
		f.mu.Lock()
		conns := f.conns
		f.mu.Unlock()
		for _, c := range conns {
			c.ws.Close()
		}
		f.wg.Wait()
	})
}

// procFleet drives a localFleet in a helper process.
type procFleet struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *bytes.Buffer
	mu     sync.Mutex
}

func startProcFleet(command []string) (*procFleet, error) {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = append(os.Environ(), helperEnv+"=wsfleet")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &procFleet{cmd: cmd, in: in, out: bufio.NewScanner(out), stderr: &bytes.Buffer{}}
	p.out.Buffer(make([]byte, 1<<20), 1<<20)
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *procFleet) call(c fleetCmd) (fleetStats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(c)
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		return fleetStats{}, fmt.Errorf("fleet helper: %w (stderr: %s)", err, trunc(p.stderr.Bytes(), 500))
	}
	if !p.out.Scan() {
		return fleetStats{}, fmt.Errorf("fleet helper exited: %v (stderr: %s)", p.out.Err(), trunc(p.stderr.Bytes(), 500))
	}
	var rep fleetReply
	if err := json.Unmarshal(p.out.Bytes(), &rep); err != nil {
		return fleetStats{}, fmt.Errorf("fleet helper said %q: %w", trunc(p.out.Bytes(), 200), err)
	}
	if rep.Error != "" {
		return rep.Stats, errors.New(rep.Error)
	}
	return rep.Stats, nil
}

func (p *procFleet) connect(ctx context.Context, spec fleetSpec, progress func(done int)) error {
	done := make(chan error, 1)
	go func() { _, err := p.call(fleetCmd{Cmd: "connect", Spec: spec}); done <- err }()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			p.close()
			return ctx.Err()
		case <-t.C:
			// The helper answers one command at a time; progress comes from the daemon side.
			if progress != nil {
				progress(-1)
			}
		}
	}
}

func (p *procFleet) stats() (fleetStats, error) { return p.call(fleetCmd{Cmd: "stats"}) }

func (p *procFleet) reset() error { _, err := p.call(fleetCmd{Cmd: "reset"}); return err }

func (p *procFleet) close() {
	done := make(chan struct{})
	go func() {
		_, _ = p.call(fleetCmd{Cmd: "close"})
		p.in.Close()
		_ = p.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}
