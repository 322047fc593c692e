package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/storage"
)

// oneNode places every actor on this node (no cluster, no remote).
type oneNode struct{}

func (oneNode) Owner(string) (node, remoteAddr string) { return "n1", "" }
func (oneNode) Self() string                           { return "n1" }

// testAPI is a real Server on loopback over a real node and store.
type testAPI struct {
	t      *testing.T
	srv    *Server
	node   *actors.Node
	base   string
	key    string
	secret []byte
}

// startAPI starts the server; mods change its options before New, and
// setup reaches the built server (its test hooks) before Start.
func startAPI(t *testing.T, mods ...func(*Options)) *testAPI {
	return startAPIWith(t, mods, nil)
}

func startAPIWith(t *testing.T, mods []func(*Options), setup func(*Server)) *testAPI {
	t.Helper()
	st, err := storage.Open(filepath.Join(t.TempDir(), "store"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	node, err := actors.New(actors.Options{Store: st, Apps: map[string]*actors.App{"demo": {ID: "demo"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(oneNode{}); err != nil {
		t.Fatal(err)
	}
	a := &testAPI{t: t, key: "test-key", secret: []byte("test-secret")}
	reg := prometheus.NewRegistry()
	o := Options{Listen: "127.0.0.1:0", Node: node, Apps: []*App{{ID: "demo", APIKeySums: [][sha256.Size]byte{sha256.Sum256([]byte(a.key))}, ClientTokenSecret: a.secret}},
		Gatherer: reg, Registerer: reg}
	for _, m := range mods {
		m(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(srv)
	}
	a.srv, a.node = srv, node
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	a.base = "http://" + srv.Addr()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("api shutdown: %v", err)
		}
		if err := node.Shutdown(ctx); err != nil {
			t.Errorf("node shutdown: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("store close: %v", err)
		}
	})
	return a
}

// do sends a request as user (a client token) or, for user "", with the API
// key, and returns the status and the decoded body.
func (a *testAPI) do(method, path, user, body string) (int, map[string]any) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if user == "" {
		req.Header.Set("X-API-Key", a.key)
	} else {
		tok, err := MintClientToken("demo", user, a.secret, time.Hour, time.Now())
		if err != nil {
			a.t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		a.t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// wantError checks a failed request's status and error code.
func (a *testAPI) wantError(method, path, user, body string, status int, code string) {
	a.t.Helper()
	st, out := a.do(method, path, user, body)
	e, _ := out["error"].(map[string]any)
	if st != status || e == nil || e["code"] != code {
		a.t.Errorf("%s %s as %q: %d %v, want %d %s", method, path, user, st, out, status, code)
	}
}
