package daemon_test

import (
	"net"
	"testing"

	"github.com/pushd-im/pushd/config"
)

// The built-in default is a lone node: it opens no port for peers, neither gossip (TCP and UDP)
// nor actor remoting, and still serves. The test holds those addresses itself, TCP and UDP,
// while the daemon starts on them: a node that bound any of them would fail to start.
func TestLoneNodeOpensNoPeerPort(t *testing.T) {
	gossip, _ := holdAddr(t)
	remote, _ := holdAddr(t)
	h := startDaemon(t, func(c *config.Config) {
		c.Cluster.Bind, c.Cluster.Remote = gossip.Addr().String(), remote.Addr().String()
	})
	if g, r := h.d.GossipAddr(), h.d.RemoteAddr(); g != "" || r != "" {
		t.Fatalf("lone node reports gossip %q and remote %q, want neither", g, r)
	}
	if st, out := h.call("GET", "/readyz", "", nil); st != 200 {
		t.Fatalf("readyz: %d %v", st, out)
	}
}

// holdAddr listens on a loopback port, TCP and UDP, until the test ends.
func holdAddr(t *testing.T) (net.Listener, net.PacketConn) {
	t.Helper()
	for range 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err != nil {
			ln.Close() // the UDP port is someone else's: try another
			continue
		}
		t.Cleanup(func() { ln.Close(); pc.Close() })
		return ln, pc
	}
	t.Fatal("no loopback port free for both TCP and UDP")
	return nil, nil
}
