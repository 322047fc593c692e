package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pushd-im/pushd/cluster"
)

// clusterSecurityYAML gives the node called name a certificate of the test's cluster CA and the
// cluster's gossip key, made once per test in dir, and returns the cluster config keys naming them.
func clusterSecurityYAML(t *testing.T, dir, name string) string {
	t.Helper()
	pki := filepath.Join(dir, "cluster")
	if _, err := os.Stat(filepath.Join(pki, "ca.pem")); os.IsNotExist(err) {
		writePKI(t, pki, "test cluster CA")
	}
	return nodeCert(t, pki, name)
}

// writePKI writes a new CA (ca.pem, ca-key.pem) and gossip key (gossip.key) into dir.
func writePKI(t *testing.T, dir, caName string) {
	t.Helper()
	ca, err := cluster.NewCA(caName, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string][]byte{"ca.pem": ca.CertPEM(), "ca-key.pem": key, "gossip.key": cluster.NewGossipKey()} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// nodeCert issues name a certificate for 127.0.0.1 from the CA in dir and returns the YAML of the
// node's gossip_key_file and tls keys.
func nodeCert(t *testing.T, dir, name string) string {
	t.Helper()
	ca, err := cluster.LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := ca.WriteNode(dir, name, []string{"127.0.0.1", "localhost"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("gossip_key_file: %q, tls: {cert_file: %q, key_file: %q, ca_file: %q}",
		filepath.Join(dir, "gossip.key"), certFile, keyFile, filepath.Join(dir, "ca.pem"))
}
