package daemon_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
)

// TestSimulatorAdminOnlyWhenOnAndSaidAtStart: the simulator's admin API (which
// can answer 410 for every token) exists only with simulator.enabled, listens
// on loopback by default, and the daemon says so at start; without the
// simulator neither the API port nor any other serves /sim/.
func TestSimulatorAdminOnlyWhenOnAndSaidAtStart(t *testing.T) {
	on, onLogs := startLoggedDaemon(t, testConfig(t, t.TempDir()))
	sim := on.d.Simulator()
	if sim == nil {
		t.Fatal("simulator.enabled: no simulator")
	}
	u, err := url.Parse(sim.URL())
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		t.Errorf("simulator listens on %s, want loopback", u.Host)
	}
	var said string
	for _, l := range strings.Split(onLogs.String(), "\n") {
		if strings.Contains(l, "vendor simulator on") {
			said = l
		}
	}
	if !strings.Contains(said, "level=WARN") || !strings.Contains(said, sim.URL()+"/sim/") || !strings.Contains(said, "loopback") {
		t.Errorf("start log does not say the simulator and its admin API are on: %q", said)
	}
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := insecure.Get(sim.URL() + "/sim/faults")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /sim/faults from loopback: %d", resp.StatusCode)
	}

	cfg := testConfig(t, t.TempDir())
	cfg.Simulator.Enabled = false
	cfg.Apps = []config.App{{ID: daemon.DemoAppID, APIKeys: []string{vndAPIKey}, ClientTokenSecret: vndSecret}}
	off, offLogs := startLoggedDaemon(t, cfg)
	if off.d.Simulator() != nil {
		t.Fatal("simulator off, yet one runs")
	}
	if strings.Contains(offLogs.String(), "simulator") {
		t.Errorf("simulator off, yet the log speaks of one: %s", offLogs.String())
	}
	if st, _ := off.call("GET", "/sim/faults", "", nil); st != http.StatusNotFound {
		t.Errorf("GET /sim/faults on the API port: %d, want 404", st)
	}
}
