package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pushd-im/pushd/cluster"
)

// clusterCerts makes what the nodes of a cluster need to trust each other: a CA (kept in --dir,
// reused when it is there already), a certificate and key per node, and the gossip key.
func clusterCerts(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cluster-certs", flag.ContinueOnError)
	dir := fs.String("dir", "./pushd-cluster", "where the CA, the node certificates and the gossip key go")
	nodes := fs.String("nodes", "node-1,node-2,node-3", "comma-separated node names, one certificate each")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "comma-separated IPs and DNS names every certificate names (the nodes' remote addresses' hosts)")
	validFor := fs.Duration("valid-for", 365*24*time.Hour, "certificate lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	names, hostList := splitList(*nodes), splitList(*hosts)
	if len(names) == 0 {
		return errors.New("--nodes names no node")
	}
	if len(hostList) == 0 {
		return errors.New("--hosts names no host")
	}
	if *validFor <= 0 {
		return errors.New("--valid-for must be positive")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	caFile, caKeyFile := filepath.Join(*dir, "ca.pem"), filepath.Join(*dir, "ca-key.pem")
	ca, err := cluster.LoadCA(caFile, caKeyFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if ca, err = cluster.NewCA("pushd cluster CA", 10*(*validFor)); err != nil {
			return err
		}
		key, err := ca.KeyPEM()
		if err != nil {
			return err
		}
		if err := writeNew(caFile, ca.CertPEM()); err != nil {
			return err
		}
		if err := writeNew(caKeyFile, key); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new CA: %s (its key %s issues more node certificates; keep it off the nodes)\n", caFile, caKeyFile)
	case err != nil:
		return err
	default:
		fmt.Fprintf(stdout, "CA: %s (reused)\n", caFile)
	}
	gossip := filepath.Join(*dir, "gossip.key")
	if err := writeNew(gossip, cluster.NewGossipKey()); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	for _, name := range names {
		certFile, keyFile, err := ca.WriteNode(*dir, name, hostList, *validFor)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s:\n  cluster:\n    name: %s\n    gossip_key_file: %s\n    tls: {cert_file: %s, key_file: %s, ca_file: %s}\n",
			name, name, gossip, certFile, keyFile, caFile)
	}
	return nil
}

// writeNew writes a file that must not exist yet, readable by its owner only.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
