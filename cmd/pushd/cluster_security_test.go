package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/pushd-im/pushd/cluster"
)

// A cluster lets in only nodes with its gossip key, a certificate of its CA and its cluster id:
// each stranger fails at start with an error that names the setting at fault, and the cluster
// never places it. The actor port refuses every gRPC client but a node of the cluster.
func TestStrangersAreRefused(t *testing.T) {
	s, simDir := startSim(t)
	n1 := startProc(t, nodeConfig(t, s, simDir, "node-1", t.TempDir(), nil))
	pki := filepath.Join(simDir, "cluster")
	own, err := cluster.LoadTLS(filepath.Join(pki, "node-1.pem"), filepath.Join(pki, "node-1-key.pem"), filepath.Join(pki, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}

	// Another CA, with its own gossip key.
	other := filepath.Join(t.TempDir(), "other")
	writePKI(t, other, "another CA")
	otherSecurity := nodeCert(t, other, "stranger")
	ownGossip := fmt.Sprintf("gossip_key_file: %q", filepath.Join(pki, "gossip.key"))
	otherGossip := fmt.Sprintf("gossip_key_file: %q", filepath.Join(other, "gossip.key"))

	for _, tc := range []struct {
		name, security, want string
	}{
		{"another gossip key", strings.Replace(clusterSecurityYAML(t, simDir, "stranger-key"), ownGossip, otherGossip, 1),
			"cluster.gossip_key_file"},
		// The cluster id is set to the cluster's own, so that the certificate is what is refused.
		{"a certificate of another CA", strings.Replace(otherSecurity, otherGossip, ownGossip, 1) +
			fmt.Sprintf(", cluster_id: %q", own.CAFingerprint()), "cluster.tls.ca_file"},
		{"another cluster id", clusterSecurityYAML(t, simDir, "stranger-id") + `, cluster_id: "other-cluster"`,
			"cluster.cluster_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nodeConfigWith(t, s, simDir, "stranger", t.TempDir(), []string{n1.gossip},
				tc.security+", join_timeout: 4s")
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			cmd := exec.CommandContext(ctx, pushdBin, "serve", "--config", cfg)
			cmd.Env = append(os.Environ(), "PUSHD_CONFIG=")
			// While the stranger tries, node-1 must never place it.
			most := make(chan int)
			stop := make(chan struct{})
			go func() {
				m := 0
				for {
					m = max(m, clusterMembers(n1.api))
					select {
					case <-stop:
						most <- m
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
			}()
			out, err := cmd.CombinedOutput()
			close(stop)
			if m := <-most; m != 1 {
				t.Errorf("node-1 placed %d members while the stranger tried", m)
			}
			if err == nil || ctx.Err() != nil {
				t.Fatalf("the stranger started (or hung): %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("the stranger's error does not name %s:\n%s", tc.want, out)
			}
			waitMembers(t, n1.api, 1)
		})
	}

	t.Run("gRPC clients on the actor port", func(t *testing.T) {
		otherTLS, err := cluster.LoadTLS(filepath.Join(other, "stranger.pem"), filepath.Join(other, "stranger-key.pem"), filepath.Join(pki, "ca.pem"))
		if err == nil {
			t.Fatal("a certificate of another CA loaded against the cluster's CA")
		}
		otherTLS, err = cluster.LoadTLS(filepath.Join(other, "stranger.pem"), filepath.Join(other, "stranger-key.pem"), filepath.Join(other, "ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		noCert := own.ClientConfig()
		noCert.Certificates = nil
		strangerCert := otherTLS.ClientConfig()
		strangerCert.RootCAs = own.ClientConfig().RootCAs // it trusts the cluster, the cluster does not trust it
		for _, c := range []struct {
			name  string
			creds credentials.TransportCredentials
			ok    bool
		}{
			{"plain gRPC", insecure.NewCredentials(), false},
			{"TLS without a client certificate", credentials.NewTLS(noCert), false},
			{"a client certificate of another CA", credentials.NewTLS(strangerCert), false},
			{"a node of the cluster", credentials.NewTLS(own.ClientConfig()), true},
		} {
			// A client let in reaches the server, which refuses the unary call itself; one
			// refused never gets past the transport.
			err := listProcesses(n1.remote, c.creds)
			switch code := status.Code(err); {
			case c.ok && code != codes.Unimplemented:
				t.Errorf("%s: %v, want the server's Unimplemented", c.name, err)
			case !c.ok && code != codes.Unavailable:
				t.Errorf("%s: %v, want the transport's Unavailable", c.name, err)
			}
		}
	})
}

// clusterMembers is the node's pushd_cluster_members gauge (0 when it cannot be read).
func clusterMembers(api string) int {
	resp, err := http.Get("http://" + api + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var n int
	for _, l := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(l, "pushd_cluster_members %d", &n); err == nil {
			return n
		}
	}
	return 0
}

// listProcesses calls the protoactor remote's ListProcesses at addr with creds.
func listProcesses(addr string, creds credentials.TransportCredentials) error {
	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = remote.NewRemotingClient(conn).ListProcesses(ctx, &remote.ListProcessesRequest{Pattern: "router"}, grpc.WaitForReady(false))
	return err
}
