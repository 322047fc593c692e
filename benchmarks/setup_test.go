package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/transport/api"
)

// node is one daemon under benchmark with a fasthttp client pointed at it.
type node struct {
	d      *daemon.Daemon
	addr   string
	key    string
	secret []byte
	client *fasthttp.Client
}

func startNode(tb testing.TB, mods ...func(*config.Config)) *node {
	tb.Helper()
	cfg := config.Default()
	cfg.DataDir = tb.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Cluster.Bind = "127.0.0.1:0"
	cfg.Cluster.Remote = "127.0.0.1:0"
	cfg.Simulator.Enabled = true
	cfg.LogLevel = "error"
	for _, m := range mods {
		m(cfg)
	}
	d := daemon.New(cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := d.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	key, secret := d.DemoSecrets()
	return &node{d: d, addr: d.APIAddr(), key: key, secret: []byte(secret),
		client: &fasthttp.Client{MaxConnsPerHost: 512, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}}
}

// put sends a JSON body with PUT and the API key.
func (n *node) put(tb testing.TB, path string, body []byte) []byte {
	return n.do(tb, "PUT", path, "", body)
}

// post sends a JSON body with the API key (user "") or the user's client token.
func (n *node) post(tb testing.TB, path, user string, body []byte) []byte {
	return n.do(tb, "POST", path, user, body)
}

func (n *node) do(tb testing.TB, method, path, user string, body []byte) []byte {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + n.addr + path)
	req.Header.SetMethod(method)
	if user == "" {
		req.Header.Set("X-API-Key", n.key)
	} else {
		req.Header.Set("Authorization", "Bearer "+n.token(tb, user))
	}
	req.SetBody(body)
	if err := n.client.Do(req, resp); err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode() != 200 {
		tb.Fatalf("%s %s: %d %s", method, path, resp.StatusCode(), resp.Body())
	}
	return append([]byte(nil), resp.Body()...)
}

func (n *node) token(tb testing.TB, user string) string {
	tok, err := api.MintClientToken(daemon.DemoAppID, user, n.secret, time.Hour, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func (n *node) bind(tb testing.TB, user, device, provider, token string) {
	b, _ := json.Marshal(map[string]string{"device_id": device, "provider": provider, "token": token})
	n.post(tb, "/v1/devices", user, b)
}

func message(from, to, body string, push bool) map[string]any {
	m := map[string]any{"from": from, "to": to, "conversation_type": 0, "type": 1, "body": body}
	if push {
		m["push_config"] = map[string]any{"title": "bench", "content": body}
	}
	return m
}

func apnsToken(i int) string { return fmt.Sprintf("%064x", i+1) }

// parallel calls f(0..count-1) from workers goroutines and returns when every
// call has returned.
func parallel(workers, count int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
