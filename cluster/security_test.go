package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/internal/testwait"
)

func TestLoneNodeOpensNoPort(t *testing.T) {
	cfg := testConfig("node-1")
	cfg.Bind = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.RemoteAddr, cfg.Lone = "", true
	n := startNode(t, cfg)
	if !n.Ready() || n.GossipAddr() != "" || n.Placement().Len() != 1 {
		t.Fatalf("lone node: ready %v, gossip %q, %d members", n.Ready(), n.GossipAddr(), n.Placement().Len())
	}
	ln, err := net.Listen("tcp", cfg.Bind)
	if err != nil {
		t.Fatalf("the lone node holds its gossip address: %v", err)
	}
	ln.Close()

	cfg.Join = []string{"127.0.0.1:1"}
	cfg.BootstrapExpect = 2
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "Join") || !strings.Contains(err.Error(), "BootstrapExpect") {
		t.Fatalf("a lone node with peers: %v", err)
	}
}

func TestGossipKeyMismatchCannotJoin(t *testing.T) {
	keyA, keyB := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	c1 := testConfig("node-1")
	c1.GossipKey = keyA
	n1 := startNode(t, c1)

	c2 := testConfig("node-2", n1.GossipAddr())
	c2.GossipKey = keyB
	n2, err := New(c2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := n2.Start(ctx); !errors.Is(err, ErrJoin) {
		t.Fatalf("join with another gossip key: %v, want ErrJoin", err)
	}
	if got := memberIDs(n1.Placement()); len(got) != 1 {
		t.Fatalf("node-1 placed %v", got)
	}

	c3 := testConfig("node-3", n1.GossipAddr())
	c3.GossipKey = keyA
	n3 := startNode(t, c3)
	waitMembers(t, []*Node{n1, n3}, "node-1", "node-3")
}

func TestClusterIDMismatchIsRefused(t *testing.T) {
	c1 := testConfig("node-1")
	c1.ClusterID = "blue"
	n1 := startNode(t, c1)
	c2 := testConfig("node-2", n1.GossipAddr())
	c2.ClusterID = "green"
	n2, err := New(c2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = n2.Start(ctx)
	if !errors.Is(err, ErrClusterMismatch) || ctx.Err() != nil || !strings.Contains(err.Error(), `"blue"`) {
		t.Fatalf("join of another cluster: %v, want ErrClusterMismatch at once", err)
	}
	if got := memberIDs(n1.Placement()); len(got) != 1 {
		t.Fatalf("node-1 placed %v", got)
	}
}

// A member is placed only once VerifyPeer passes for it; a node that can verify no peer fails
// its start.
func TestVerifyPeerGatesPlacement(t *testing.T) {
	verify := func(ctx context.Context, m Member) error {
		if m.ID == "node-3" {
			return errors.New("bad certificate")
		}
		return nil
	}
	distrust := func(ctx context.Context, m Member) error { return errors.New("unknown authority") }

	c1 := testConfig("node-1")
	c1.VerifyPeer = verify
	n1 := startNode(t, c1)
	c2 := testConfig("node-2", n1.GossipAddr())
	c2.VerifyPeer = verify
	n2 := startNode(t, c2)
	waitMembers(t, []*Node{n1, n2}, "node-1", "node-2")

	c3 := testConfig("node-3", n1.GossipAddr())
	c3.VerifyPeer = distrust
	n3, err := New(c3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = n3.Start(ctx)
	if !errors.Is(err, ErrPeerRefused) || ctx.Err() != nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("start of a node that trusts no peer: %v, want ErrPeerRefused", err)
	}
	for _, n := range []*Node{n1, n2} {
		if got := memberIDs(n.Placement()); len(got) != 2 {
			t.Fatalf("%s placed %v", n.Self().ID, got)
		}
	}
}

func TestBootstrapExpectWaitsForTheNodes(t *testing.T) {
	c1 := testConfig("node-1")
	c1.BootstrapExpect = 2
	n1, err := New(c1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, n1) })
	started := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		started <- n1.Start(ctx)
	}()
	var addr string
	testwait.Until(t, waitTimeout, func() error {
		if addr = n1.GossipAddr(); addr == "" {
			return errors.New("node-1 not listening yet")
		}
		return nil
	})
	if n1.Ready() {
		t.Fatal("node-1 is ready with 1 of 2 expected nodes")
	}
	startNode(t, testConfig("node-2", addr))
	if err := <-started; err != nil || !n1.Ready() {
		t.Fatalf("node-1 with its second node: %v, ready %v", err, n1.Ready())
	}
}

func TestLoadTLSAndVerifyPeer(t *testing.T) {
	dir := t.TempDir()
	ca := writeCA(t, dir, "ca")
	other := writeCA(t, dir, "other")
	a := loadNode(t, dir, ca, "a", "ca")
	b := loadNode(t, dir, ca, "b", "ca")
	stranger := loadNode(t, dir, other, "stranger", "other")

	// A certificate of another CA does not load against the cluster's.
	if _, err := LoadTLS(filepath.Join(dir, "stranger.pem"), filepath.Join(dir, "stranger-key.pem"), filepath.Join(dir, "ca.pem")); err == nil ||
		!strings.Contains(err.Error(), "is not a node certificate of ca_file's CA") {
		t.Fatalf("foreign certificate: %v", err)
	}
	// A key that is not the certificate's.
	if _, err := LoadTLS(filepath.Join(dir, "a.pem"), filepath.Join(dir, "b-key.pem"), filepath.Join(dir, "ca.pem")); err == nil ||
		!strings.Contains(err.Error(), "key_file") {
		t.Fatalf("mismatched key: %v", err)
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", a.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Write([]byte("hello"))
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.VerifyPeer(ctx, ln.Addr().String()); err != nil {
		t.Fatalf("a node of the same CA: %v", err)
	}
	if err := stranger.VerifyPeer(ctx, ln.Addr().String()); !errors.Is(err, ErrPeerRefused) {
		t.Fatalf("a node of another CA: %v, want ErrPeerRefused", err)
	}
	if a.CAFingerprint() != b.CAFingerprint() || a.CAFingerprint() == stranger.CAFingerprint() {
		t.Fatal("CA fingerprints do not follow the CA")
	}
}

func TestParseGossipKey(t *testing.T) {
	if k, err := ParseGossipKey(NewGossipKey()); err != nil || len(k) != 32 {
		t.Fatalf("a new key: %d bytes, %v", len(k), err)
	}
	if k, err := ParseGossipKey([]byte("  MDEyMzQ1Njc4OWFiY2RlZg==\n")); err != nil || string(k) != "0123456789abcdef" {
		t.Fatalf("a 16-byte key with spaces: %q, %v", k, err)
	}
	for _, bad := range []string{"", "not base64!", "MDEyMzQ1Njc4OQ=="} {
		if _, err := ParseGossipKey([]byte(bad)); err == nil {
			t.Errorf("ParseGossipKey(%q) accepted it", bad)
		}
	}
}

func writeCA(t *testing.T, dir, name string) *CA {
	t.Helper()
	ca, err := NewCA(name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

func loadNode(t *testing.T, dir string, ca *CA, name, caName string) *TLS {
	t.Helper()
	certFile, keyFile, err := ca.WriteNode(dir, name, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := LoadTLS(certFile, keyFile, filepath.Join(dir, caName+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	return tl
}
