package daemon_test

import (
	"net"
	"testing"

	"github.com/pushd-im/pushd/config"
)

// The built-in default is a lone node: it opens no port for peers, neither gossip (TCP and UDP)
// nor actor remoting, and still serves. The test proves it by binding those addresses itself while
// the daemon runs.
func TestLoneNodeOpensNoPeerPort(t *testing.T) {
	gossip, remote := freeAddr(t), freeAddr(t)
	h := startDaemon(t, func(c *config.Config) { c.Cluster.Bind, c.Cluster.Remote = gossip, remote })
	if g, r := h.d.GossipAddr(), h.d.RemoteAddr(); g != "" || r != "" {
		t.Fatalf("lone node reports gossip %q and remote %q, want neither", g, r)
	}
	for _, addr := range []string{gossip, remote} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is taken while a lone node runs: %v", addr, err)
		}
		ln.Close()
	}
	pc, err := net.ListenPacket("udp", gossip)
	if err != nil {
		t.Fatalf("udp %s is taken while a lone node runs: %v", gossip, err)
	}
	pc.Close()
	if st, out := h.call("GET", "/readyz", "", nil); st != 200 {
		t.Fatalf("readyz: %d %v", st, out)
	}
}

// freeAddr returns a loopback address no one listens on (TCP and UDP) right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
