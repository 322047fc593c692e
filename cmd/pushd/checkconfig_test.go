package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pushd check-config opens the cluster's key and certificate files as a start would: a node
// certificate of another CA is reported with the key at fault, a matching set is ok.
func TestCheckConfigOpensTheClusterFiles(t *testing.T) {
	dir := t.TempDir()
	writePKI(t, filepath.Join(dir, "a"), "cluster CA")
	writePKI(t, filepath.Join(dir, "b"), "another CA")
	own := nodeCert(t, filepath.Join(dir, "a"), "node-1")
	foreign := nodeCert(t, filepath.Join(dir, "b"), "node-1")
	// The foreign certificate with the cluster's CA.
	foreign = strings.Replace(foreign, filepath.Join(dir, "b", "ca.pem"), filepath.Join(dir, "a", "ca.pem"), 1)
	for _, c := range []struct {
		security, want string
		code           int
	}{{own, "ok", 0}, {foreign, "cluster.tls", 1}} {
		body := "cluster: {name: node-1, bind: \"127.0.0.1:0\", remote: \"127.0.0.1:0\", " + c.security + "}\n" +
			"apps: [{id: demo, api_keys: [check-config-key-0123456789], client_token_secret: check-config-secret-0123}]\n"
		wantCheckConfig(t, body, c.code, c.want)
	}
}

// pushd check-config loads the API's certificate and key: a key of another
// certificate is reported naming tls.cert_file, a matching pair is ok.
func TestCheckConfigLoadsTheAPICertificate(t *testing.T) {
	dir := t.TempDir()
	writePKI(t, filepath.Join(dir, "a"), "API CA")
	nodeCert(t, filepath.Join(dir, "a"), "api-one") // writes api-one.pem and api-one-key.pem
	nodeCert(t, filepath.Join(dir, "a"), "api-two")
	certOne, keyOne := filepath.Join(dir, "a", "api-one.pem"), filepath.Join(dir, "a", "api-one-key.pem")
	keyTwo := filepath.Join(dir, "a", "api-two-key.pem")
	for _, c := range []struct {
		cert, key, want string
		code            int
	}{{certOne, keyOne, "ok", 0}, {certOne, keyTwo, "tls.cert_file", 1}} {
		body := "tls: {cert_file: " + c.cert + ", key_file: " + c.key + "}\n" +
			"apps: [{id: demo, api_keys: [check-config-key-0123456789], client_token_secret: check-config-secret-0123}]\n"
		wantCheckConfig(t, body, c.code, c.want)
	}
}

// wantCheckConfig runs pushd check-config on a config of body and wants its exit
// code and a line of its output containing want.
func wantCheckConfig(t *testing.T, body string, code int, want string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "pushd.yaml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	got := run([]string{"check-config", "--config", cfg}, &out, &errb)
	if got != code || !strings.Contains(out.String()+errb.String(), want) {
		t.Errorf("check-config: %d %q %q, want %d and %q", got, out.String(), errb.String(), code, want)
	}
}
