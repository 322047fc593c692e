package daemon_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/pushd-im/pushd/cluster"
	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
)

// apiCerts issues API certificates for 127.0.0.1 from one test CA.
type apiCerts struct {
	t    *testing.T
	ca   *cluster.CA
	pool *x509.CertPool
}

func newAPICerts(t *testing.T) *apiCerts {
	t.Helper()
	ca, err := cluster.NewCA("pushd test API CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	return &apiCerts{t: t, ca: ca, pool: pool}
}

// write issues a certificate named name and writes it and its key to the files.
func (c *apiCerts) write(name, certFile, keyFile string) {
	c.t.Helper()
	cert, key, err := c.ca.Issue(name, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	// Written beside and renamed, as a certificate renewal tool does.
	for _, f := range []struct {
		path string
		b    []byte
	}{{certFile, cert}, {keyFile, key}} {
		if err := os.WriteFile(f.path+".new", f.b, 0o600); err != nil {
			c.t.Fatal(err)
		}
		if err := os.Rename(f.path+".new", f.path); err != nil {
			c.t.Fatal(err)
		}
	}
}

// served is the name of the certificate a new TLS connection to addr gets.
func (c *apiCerts) served(addr string) (string, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: c.pool})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

// TestAPIOverTLSReloadsItsCertificate: with tls.cert_file and key_file the API
// and the WebSocket are served over TLS (a verifying client, https and wss;
// plain HTTP gets no answer); ReloadTLS serves a replaced certificate to new
// connections, keeping the listener and the connections open; a bad new
// certificate is refused and the last good one kept.
func TestAPIOverTLSReloadsItsCertificate(t *testing.T) {
	certs := newAPICerts(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "api.pem"), filepath.Join(dir, "api-key.pem")
	certs.write("api-one", certFile, keyFile)
	h := startDaemon(t, func(c *config.Config) { c.TLS = config.APITLS{CertFile: certFile, KeyFile: keyFile} })
	addr := h.d.APIAddr()
	if got := h.d.APIURL(); got != "https://"+addr {
		t.Errorf("APIURL %q, want https", got)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.pool}}, Timeout: waitTimeout}
	h.base = "https://" + addr
	send := func(body string) {
		t.Helper()
		req, err := h.newRequest("POST", "/v1/messages", "key", map[string]any{"from": "bob", "to": "alice", "conversation_type": 0, "type": 1, "body": body})
		if err != nil {
			t.Fatal(err)
		}
		if st, out, err := do(client, req); err != nil || st != http.StatusOK {
			t.Fatalf("send over https: %d %v %v", st, out, err)
		}
	}
	send("over tls")
	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: certs.pool}, HandshakeTimeout: waitTimeout}
	ws, _, err := dialer.Dial("wss://"+addr+"/v1/connect?device_id=phone", http.Header{"Authorization": {"Bearer " + h.token("alice")}})
	if err != nil {
		t.Fatalf("wss connect: %v", err)
	}
	defer ws.Close()
	c := &wsClient{t: t, ws: ws}
	c.message("inbox", 1)
	if resp, err := (&http.Client{Timeout: waitTimeout}).Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP is answered on a TLS listener")
		}
	}

	certs.write("api-two", certFile, keyFile)
	if name, err := certs.served(addr); err != nil || name != "api-one" {
		t.Fatalf("before the reload: %q %v, want api-one", name, err)
	}
	if err := h.d.ReloadTLS(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if name, err := certs.served(addr); err != nil || name != "api-two" {
		t.Fatalf("after the reload: %q %v, want api-two", name, err)
	}
	// The long connection opened before the reload is still served.
	send("after reload")
	if m := c.message("inbox", 2); m["body"] != "after reload" {
		t.Errorf("old connection after the reload got %v", m)
	}

	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nnot a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = h.d.ReloadTLS()
	if err == nil || !strings.Contains(err.Error(), "tls.cert_file") {
		t.Fatalf("reload of a bad certificate: %v, want an error naming tls.cert_file", err)
	}
	if name, err := certs.served(addr); err != nil || name != "api-two" {
		t.Fatalf("after a failed reload: %q %v, want api-two still", name, err)
	}
}

// TestAPITLSNeedsBothFiles: one of tls.cert_file and tls.key_file alone is a
// config error naming the other; a certificate that does not load fails the
// start.
func TestAPITLSNeedsBothFiles(t *testing.T) {
	cfg := config.Default()
	cfg.TLS.CertFile = "/api.pem"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "tls.key_file: required with tls.cert_file") {
		t.Errorf("cert_file alone: %v", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig(t, t.TempDir())
	cfg.TLS = config.APITLS{CertFile: bad, KeyFile: bad}
	d := daemon.New(cfg, daemon.Options{})
	defer d.Shutdown(t.Context())
	if err := d.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "tls.cert_file") {
		t.Errorf("start with a bad certificate: %v, want an error naming tls.cert_file", err)
	}
}
