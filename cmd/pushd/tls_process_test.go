package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushd-im/pushd/cluster"
	"github.com/pushd-im/pushd/internal/testwait"
)

// TestProcessReloadsAPICertificateOnSIGHUP runs pushd serve with tls.cert_file
// and key_file: a verifying client reaches the API over https; after the files
// are replaced and the process gets SIGHUP, new connections get the new
// certificate from the same listener; a bad certificate and another SIGHUP
// leave the last good one served, with an error in the log, and the process
// up.
func TestProcessReloadsAPICertificateOnSIGHUP(t *testing.T) {
	ca, err := cluster.NewCA("pushd test API CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "api.pem"), filepath.Join(dir, "api-key.pem")
	write := func(cert, key []byte) {
		t.Helper()
		for _, f := range []struct {
			path string
			b    []byte
		}{{certFile, cert}, {keyFile, key}} {
			if err := os.WriteFile(f.path+".new", f.b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(f.path+".new", f.path); err != nil {
				t.Fatal(err)
			}
		}
	}
	issue := func(name string) {
		t.Helper()
		cert, key, err := ca.Issue(name, []string{"127.0.0.1"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		write(cert, key)
	}
	issue("api-one")
	cfg := filepath.Join(dir, "pushd.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
log_level: info
tls: {cert_file: %s, key_file: %s}
cluster: {bind: "127.0.0.1:0", remote: "127.0.0.1:0"}
apps:
  - id: demo
    api_keys: [%s]
    client_token_secret: %s
`, filepath.Join(dir, "data"), certFile, keyFile, testAPIKey, testSecret)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, cfg)
	served := func() (string, error) {
		conn, err := tls.Dial("tcp", p.api, &tls.Config{RootCAs: pool})
		if err != nil {
			return "", err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: waitFor}
	resp, err := client.Get("https://" + p.api + "/healthz")
	if err != nil {
		t.Fatalf("https healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("https healthz: %d", resp.StatusCode)
	}
	if name, err := served(); err != nil || name != "api-one" {
		t.Fatalf("served %q %v, want api-one", name, err)
	}
	// A device on wss: pushd connect, trusting the test CA.
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	dev := exec.Command(pushdBin, "connect", "--addr", "https://"+p.api, "--user", "bob", "--device", "phone", "--token", clientToken(t, "bob"))
	dev.Env = append(os.Environ(), "SSL_CERT_FILE="+caFile, "PUSHD_CONFIG=")
	frames := &lockedWriter{w: &bytes.Buffer{}}
	dev.Stdout, dev.Stderr = frames, frames
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Process.Kill(); _ = dev.Wait() })
	sendBob := func(body string) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1, "body": body})
		req, _ := http.NewRequest("POST", "https://"+p.api+"/v1/messages", bytes.NewReader(b))
		req.Header.Set("X-API-Key", testAPIKey)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("send over https: %d", resp.StatusCode)
		}
	}
	received := func(body string) {
		t.Helper()
		testwait.Until(t, waitFor, func() error {
			if !strings.Contains(frames.String(), body) {
				return fmt.Errorf("pushd connect over wss has not printed %q: %s", body, frames.String())
			}
			return nil
		})
	}
	sendBob("before the reload")
	received("before the reload")

	issue("api-two")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, waitFor, func() error {
		if name, err := served(); err != nil || name != "api-two" {
			return fmt.Errorf("served %q %v, want api-two after SIGHUP", name, err)
		}
		return nil
	})
	// The connection made before the reload is still served.
	sendBob("after the reload")
	received("after the reload")

	write([]byte("-----BEGIN CERTIFICATE-----\nnot a certificate\n"), []byte("nor a key"))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, waitFor, func() error {
		if !strings.Contains(p.stderr.String(), "API certificate not reloaded") {
			return errors.New("no error logged for the bad certificate")
		}
		return nil
	})
	select {
	case <-p.exited:
		t.Fatal("pushd exited after SIGHUP with a bad certificate")
	default:
	}
	if name, err := served(); err != nil || name != "api-two" {
		t.Fatalf("after the bad reload: %q %v, want api-two still", name, err)
	}
}
