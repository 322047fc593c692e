package cluster

import (
	"errors"
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{
		Name:       "node-1",
		Bind:       "127.0.0.1:0",
		RemoteAddr: "127.0.0.1:8091",
		APIAddr:    "127.0.0.1:8081",
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	cfg := validConfig()
	cfg.Bind = ""
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := n.cfg
	if s.Bind != DefaultBind || s.bindIP != "127.0.0.1" || s.bindPort != 7946 || s.advertise != 7946 || s.advertiseIP != "" {
		t.Errorf("bind defaults: Bind %q, ip %q, port %d, advertise %q:%d", s.Bind, s.bindIP, s.bindPort, s.advertiseIP, s.advertise)
	}
	if s.ProbeInterval != DefaultProbeInterval || s.SuspicionMult != DefaultSuspicionMult || s.Logger == nil {
		t.Errorf("defaults: ProbeInterval %v, SuspicionMult %d, Logger %v", s.ProbeInterval, s.SuspicionMult, s.Logger)
	}
	if want := (Member{ID: "node-1", RemoteAddr: "127.0.0.1:8091", APIAddr: "127.0.0.1:8081"}); n.Self() != want {
		t.Errorf("Self() = %v, want %v", n.Self(), want)
	}
	if got := n.Placement().Members(); len(got) != 1 || got[0] != n.Self() {
		t.Errorf("placement before Start = %v, want only this node", got)
	}
	if n.Ready() {
		t.Error("Ready() before Start")
	}
}

func TestNewReportsEveryInvalidField(t *testing.T) {
	cfg := Config{
		Name:          "node 1",
		Bind:          "localhost:7946",
		Advertise:     "10.0.0.1:0",
		Join:          []string{"10.0.0.2:7946", "10.0.0.3", ":7946"},
		RemoteAddr:    "",
		APIAddr:       "127.0.0.1:http",
		ProbeInterval: -1,
		SuspicionMult: -1,
	}
	_, err := New(cfg)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New: %v, want an error wrapping ErrInvalidConfig", err)
	}
	for _, field := range []string{"Name", "Bind", "Advertise", "Join[1]", "Join[2]", "RemoteAddr", "APIAddr", "ProbeInterval", "SuspicionMult"} {
		if !strings.Contains(err.Error(), "config "+field+":") {
			t.Errorf("error does not name %s:\n%v", field, err)
		}
	}
	if strings.Contains(err.Error(), "Join[0]") {
		t.Errorf("error blames the valid Join[0]:\n%v", err)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field == "" || ce.Problem == "" {
		t.Errorf("errors.As(*ConfigError) = %v", ce)
	}
}

func TestNewRejectsAdvertiseWithDynamicBindPort(t *testing.T) {
	cfg := validConfig()
	cfg.Advertise = "10.0.0.1:7946"
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "config Advertise:") {
		t.Fatalf("New with Bind port 0 and Advertise: %v, want an Advertise error", err)
	}
	cfg.Bind = "0.0.0.0:7946"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n.cfg.advertiseIP != "10.0.0.1" || n.cfg.advertise != 7946 {
		t.Errorf("advertise = %s:%d", n.cfg.advertiseIP, n.cfg.advertise)
	}
}

func TestNewRejectsOversizedMeta(t *testing.T) {
	cfg := validConfig()
	cfg.APIAddr = strings.Repeat("a", 500) + ".example:8081"
	_, err := New(cfg)
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "APIAddr") || !strings.Contains(err.Error(), "512") {
		t.Fatalf("New with a 500-byte APIAddr: %v, want a meta size error naming APIAddr", err)
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := Member{ID: "node-1", RemoteAddr: "10.0.0.1:8091", APIAddr: "[::1]:8081"}
	b, err := encodeMeta(m, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMeta("node-1", b)
	if err != nil || got != m {
		t.Fatalf("decodeMeta(encodeMeta(%v)) = %v, %v", m, got, err)
	}
	if _, err := decodeMeta("node-2", b); err == nil {
		t.Error("decodeMeta accepted a meta whose id is not the node's name")
	}
	// A newer node may add fields; older nodes must still read the ones they know.
	got, err = decodeMeta("node-1", []byte(`{"id":"node-1","remote":"r:1","api":"a:2","zone":"eu-1"}`))
	if err != nil || got != (Member{ID: "node-1", RemoteAddr: "r:1", APIAddr: "a:2"}) {
		t.Errorf("meta with an unknown field: %v, %v", got, err)
	}
}

// FuzzDecodeMeta feeds peer-supplied meta bytes to the decoder: it must not panic, and what it
// accepts must survive a round trip.
func FuzzDecodeMeta(f *testing.F) {
	f.Add("node-1", []byte(`{"id":"node-1","remote":"10.0.0.1:8091","api":"10.0.0.1:8081"}`))
	f.Add("n", []byte(`{"id":"n"`))
	f.Add("", []byte(`null`))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		m, err := decodeMeta(name, b)
		if err != nil {
			return
		}
		if m.ID != name {
			t.Fatalf("decoded id %q for node %q", m.ID, name)
		}
		again, err := encodeMeta(m, "")
		if err != nil {
			t.Fatal(err)
		}
		if m2, err := decodeMeta(name, again); err != nil || m2 != m {
			t.Fatalf("round trip of %v: %v, %v", m, m2, err)
		}
	})
}
