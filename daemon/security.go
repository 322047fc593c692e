package daemon

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"

	"github.com/pushd-im/pushd/cluster"
	"github.com/pushd-im/pushd/config"
)

// clusterSecurity is what a node with peers needs to talk to them: the gossip key, its mutual-TLS
// material and the cluster id it gossips. A lone node has none (nil) and opens no port for peers.
type clusterSecurity struct {
	gossipKey []byte
	tls       *cluster.TLS
	clusterID string
}

// CheckClusterFiles opens what a node with peers needs from the files its config names (the
// gossip key, its certificate and key, the cluster CA) and checks that they belong together, as
// a start would; nil for a lone node. pushd check-config calls it.
func CheckClusterFiles(c config.Cluster) error {
	_, err := loadClusterSecurity(c)
	return err
}

// loadClusterSecurity reads the gossip key and TLS files of a node with peers, failing with the
// config key at fault; it returns nil for a lone node.
func loadClusterSecurity(c config.Cluster) (*clusterSecurity, error) {
	if !c.Peered() {
		return nil, nil
	}
	t, err := cluster.LoadTLS(c.TLS.CertFile, c.TLS.KeyFile, c.TLS.CAFile)
	if err != nil {
		return nil, fmt.Errorf("daemon: cluster.tls: %w", err)
	}
	text, err := os.ReadFile(c.GossipKeyFile)
	if err != nil {
		return nil, fmt.Errorf("daemon: cluster.gossip_key_file: %w", err)
	}
	key, err := cluster.ParseGossipKey(text)
	if err != nil {
		return nil, fmt.Errorf("daemon: cluster.gossip_key_file %s: %w", c.GossipKeyFile, err)
	}
	id := c.ClusterID
	if id == "" {
		id = t.CAFingerprint()
	}
	return &clusterSecurity{gossipKey: key, tls: t, clusterID: id}, nil
}

func (s *clusterSecurity) serverTLS() *tls.Config {
	if s == nil {
		return nil
	}
	return s.tls.ServerConfig()
}

func (s *clusterSecurity) clientTLS() *tls.Config {
	if s == nil {
		return nil
	}
	return s.tls.ClientConfig()
}

// startError adds to a failed cluster start the likely misconfiguration behind it.
func startError(err error) error {
	switch {
	case errors.Is(err, cluster.ErrPeerRefused):
		return fmt.Errorf("daemon: %w; check that cluster.tls.ca_file is the cluster's CA and that cert_file is signed by it and names this node's remote address", err)
	case errors.Is(err, cluster.ErrClusterMismatch):
		return fmt.Errorf("daemon: %w; check cluster.cluster_id (by default the fingerprint of cluster.tls.ca_file)", err)
	case errors.Is(err, cluster.ErrJoin):
		return fmt.Errorf("daemon: %w; check that the nodes in cluster.join are up and that cluster.gossip_key_file holds the cluster's key (a node with another key is not answered)", err)
	}
	return err
}
