package daemon_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// lockedBuffer collects a daemon's log lines for a test to read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLoggedDaemon starts a daemon on cfg whose log, from level info, the
// test reads.
func startLoggedDaemon(t *testing.T, cfg *config.Config) (*harness, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	h := &harness{t: t, cfg: cfg, clock: newTestClock()}
	h.d = daemon.New(cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})), Clock: h.clock})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stop)
	h.base = "http://" + h.d.APIAddr()
	key, secret := h.d.DemoSecrets()
	h.key, h.secret = key, []byte(secret)
	return h, logs
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestVendorReasonsCarryNoTokenOrURL points every provider at a closed
// loopback port: the network error of APNs (token in the URL path) and of an
// HTTP vendor (Xiaomi) must reach the log line, the verdict reason and the
// binding's last_reason without the token or the URL's path.
func TestVendorReasonsCarryNoTokenOrURL(t *testing.T) {
	credDir := t.TempDir()
	creds, err := vendorsim.LoadOrGenerateCredentials(credDir)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := vendorsim.New(vendorsim.Options{Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := sim.WriteServiceAccountFile(credDir); err != nil {
		t.Fatal(err)
	}
	dead := "https://" + closedPort(t)
	doc := strings.ReplaceAll(sim.ConfigYAML(credDir), sim.URL(), dead)
	if err := sim.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	provs, err := config.ParseProviders(doc)
	if err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t, t.TempDir())
	cfg.Simulator.Enabled = false
	cfg.Apps = []config.App{{ID: daemon.DemoAppID, APIKeys: []string{vndAPIKey}, ClientTokenSecret: vndSecret, Providers: provs}}
	h, logs := startLoggedDaemon(t, cfg)
	h.vndUseApp()

	tokens := map[push.Provider]string{
		push.APNs:   strings.Repeat("ab12", 16),
		push.Xiaomi: "xiaomi-device-token-0123456789abcdef",
	}
	for p, tok := range tokens {
		h.bind("alice", "phone-"+string(p), p, tok)
	}
	h.send("bob", "alice", "hi", pushCfg{"title": "Bob", "content": "hi"})

	reasons := map[string]string{}
	testwait.Until(t, waitTimeout, func() error {
		for _, d := range h.devices("alice") {
			r, _ := d["last_reason"].(string)
			if !strings.Contains(r, "NetworkError") {
				return fmt.Errorf("device %v has no network error verdict yet", d)
			}
			reasons[d["provider"].(string)] = r
		}
		if len(reasons) != len(tokens) {
			return fmt.Errorf("verdicts of %v, want %d providers", reasons, len(tokens))
		}
		return nil
	})
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "push verdict") {
			lines = append(lines, l)
		}
	}
	if len(lines) < len(tokens) {
		t.Fatalf("want a push verdict log line per provider, got %q", lines)
	}
	for p, r := range reasons {
		if !strings.Contains(r, dead) {
			t.Errorf("%s: reason %q does not name the unreachable host %s", p, r, dead)
		}
	}
	for _, text := range append(lines, fmt.Sprint(reasons)) {
		for p, tok := range tokens {
			if strings.Contains(text, tok) {
				t.Errorf("%s's token in %q", p, text)
			}
		}
		if strings.Contains(strings.ReplaceAll(text, dead+"/…", dead), dead+"/") {
			t.Errorf("a URL path in %q", text)
		}
	}
}

// TestFCMKeyFileTokenURIMustBeHTTPS: FCM's token endpoint comes from the key
// file, not the config; a plain-http one is refused at start (the fetch
// carries an assertion signed with the key), unless the simulator is on.
func TestFCMKeyFileTokenURIMustBeHTTPS(t *testing.T) {
	creds, err := vendorsim.GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	sa := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(sa, creds.ServiceAccountJSON("http://127.0.0.1:1/token"), 0o600); err != nil {
		t.Fatal(err)
	}
	provs, err := config.ParseProviders("providers:\n  fcm:\n    service_account_file: " + sa + "\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, sim := range []bool{false, true} {
		cfg := testConfig(t, t.TempDir())
		cfg.Simulator.Enabled = sim
		cfg.Apps = []config.App{{ID: daemon.DemoAppID, APIKeys: []string{vndAPIKey}, ClientTokenSecret: vndSecret, Providers: provs}}
		d := daemon.New(cfg, daemon.Options{})
		err := d.Start(t.Context())
		_ = d.Shutdown(t.Context())
		switch {
		case !sim && (err == nil || !strings.Contains(err.Error(), "token_uri") || !strings.Contains(err.Error(), "https")):
			t.Errorf("simulator off: start %v, want a token_uri must be https error", err)
		case sim && err != nil:
			t.Errorf("simulator on: start %v", err)
		}
	}
}
