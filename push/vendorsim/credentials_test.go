package vendorsim

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCredentialsSaveLoadRoundTrip(t *testing.T) {
	c := testCreds(t)
	dir := filepath.Join(t.TempDir(), "creds")
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, back) {
		t.Fatalf("loaded credentials differ:\n%+v\n%+v", c, back)
	}

	private := map[string]bool{
		FileCAKey: true, FileServerKey: true, FileAPNsKey: true, FileAPNsClientKey: true, FileFCMKey: true, FileSecrets: true,
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 9 {
		t.Fatalf("dir holds %d files, want 9", len(entries))
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o644)
		if private[e.Name()] {
			want = 0o600
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", e.Name(), info.Mode().Perm(), want)
		}
	}
}

func TestLoadOrGenerateCredentials(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrGenerateCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, err := LoadOrGenerateCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if first.APNs.TeamID != second.APNs.TeamID || !bytes.Equal(first.CACertPEM, second.CACertPEM) {
		t.Fatal("second call generated new credentials instead of loading")
	}

	// A broken directory is an error, and is left alone.
	if err := os.WriteFile(filepath.Join(dir, FileAPNsKey), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrGenerateCredentials(dir); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("broken dir: %v, want ErrBadCredentials", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, FileAPNsKey)); string(b) != "garbage" {
		t.Fatal("broken dir was overwritten")
	}
}

func TestGeneratedCredentialsShape(t *testing.T) {
	c := testCreds(t)
	if len(c.APNs.TeamID) != 10 || len(c.APNs.KeyID) != 10 || c.APNs.BundleID != "im.pushd.demo" {
		t.Fatalf("apns ids %+v", c.APNs)
	}
	if c.FCM.ProjectID != "pushd-demo" || c.HMS.ClientID == "" || c.HMS.ClientSecret == "" ||
		c.Xiaomi.AppSecret == "" || c.Xiaomi.PackageName == "" || c.OPPO.AppKey == "" || c.OPPO.MasterSecret == "" ||
		c.Vivo.AppID == 0 || c.Vivo.AppKey == "" || c.Vivo.AppSecret == "" {
		t.Fatalf("reserved vendor secrets missing: %+v %+v %+v %+v", c.HMS, c.Xiaomi, c.OPPO, c.Vivo)
	}
	if block, _ := pem.Decode(c.APNs.KeyPEM); block == nil || block.Type != "PRIVATE KEY" {
		t.Fatal("apns key is not a PKCS#8 PEM")
	}

	pool, err := c.CAPool()
	if err != nil {
		t.Fatal(err)
	}
	server := parseCert(t, c.ServerCertPEM)
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := server.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	client := parseCert(t, c.APNs.ClientCertPEM)
	if _, err := client.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("apns client certificate: %v", err)
	}
	if client.Subject.CommonName != "Apple Push Services: im.pushd.demo" || apnsCertBundle(client) != "im.pushd.demo" {
		t.Fatalf("apns client certificate subject %v", client.Subject)
	}

	var sa map[string]string
	if err := json.Unmarshal(c.ServiceAccountJSON("https://127.0.0.1:1/fcm/token"), &sa); err != nil {
		t.Fatal(err)
	}
	if sa["type"] != "service_account" || sa["project_id"] != "pushd-demo" || sa["client_email"] != c.FCM.ClientEmail ||
		sa["private_key_id"] != c.FCM.PrivateKeyID || sa["private_key"] != string(c.FCM.PrivateKeyPEM) ||
		sa["token_uri"] != "https://127.0.0.1:1/fcm/token" {
		t.Fatalf("service account %v", sa)
	}
}

func parseCert(t *testing.T, pemBytes []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestDeriveIsStableAndDistinct: an id derived from the CA key is the same
// for the same credentials (a saved directory gives it again) and differs by
// label and by credentials.
func TestDeriveIsStableAndDistinct(t *testing.T) {
	a, err := GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	x := a.derive("client_id", "0123456789", 40)
	if len(x) != 40 || strings.Trim(x, "0123456789") != "" {
		t.Fatalf("derive gave %q", x)
	}
	if x != a.derive("client_id", "0123456789", 40) || x == a.derive("client_secret", "0123456789", 40) || x == b.derive("client_id", "0123456789", 40) {
		t.Fatal("derive is not stable per credentials and label, or not distinct across them")
	}
}
