package vendorhttp

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
)

var errInvalid = errors.New("acme: invalid options")

func mustRoots(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	roots, err := LoadRoots(caFile)
	if err != nil {
		t.Fatal(err)
	}
	return roots
}

func TestCAFileTrust(t *testing.T) {
	srv, ca := vendortest.TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	get := func(client *http.Client) push.Result {
		var a Answer
		return Do(context.Background(), client, Request{Method: http.MethodGet, URL: srv.URL}, keep(&a))
	}

	// The system roots alone do not know the test CA.
	if r := get(NewClient(nil, 5*time.Second)); r.Verdict != push.Retry || !strings.Contains(r.Reason, "certificate") {
		t.Errorf("untrusted server: %+v, want a certificate NetworkError", r)
	}
	// With the CA file it is trusted.
	if r := get(NewClient(mustRoots(t, ca), 5*time.Second)); r.Verdict != push.Delivered || r.Status != 200 {
		t.Errorf("trusted server: %+v", r)
	}
}

func TestLoadRoots(t *testing.T) {
	if roots, err := LoadRoots(""); roots != nil || err != nil {
		t.Errorf("LoadRoots(\"\") = %v, %v; want the system roots (nil)", roots, err)
	}
	if _, err := LoadRoots(filepath.Join(t.TempDir(), "none.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	junk := vendortest.WriteCAFile(t, []byte("not a certificate"))
	if _, err := LoadRoots(junk); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("file without PEM: %v", err)
	}
}

func TestProblems(t *testing.T) {
	p := Problems{Invalid: errInvalid}
	if p.Err() != nil {
		t.Fatalf("no problems: Err = %v", p.Err())
	}
	cases := []struct {
		got, want string
	}{
		{p.Endpoint("Endpoint", "", "https://def.example"), "https://def.example"},
		{p.Endpoint("Endpoint", "https://sim.test:8443//", "https://def.example"), "https://sim.test:8443"},
		{p.Endpoint("Endpoint", "https://sim.test/base?x=1", "https://def.example"), "https://sim.test/base?x=1"},
		{p.PlainEndpoint("Endpoint", "https://sim.test/base/", "https://def.example"), "https://sim.test/base"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("endpoint = %q, want %q", tc.got, tc.want)
		}
	}
	if d := p.Timeout(0, 30*time.Second); d != 30*time.Second {
		t.Errorf("Timeout(0) = %v, want the default", d)
	}
	if d := p.Timeout(time.Second, 30*time.Second); d != time.Second {
		t.Errorf("Timeout(1s) = %v", d)
	}
	if p.Roots("") != nil || !p.HTTPS("AuthEndpoint", "https://auth.test/", "https://def.example/auth") {
		t.Error("good options were refused")
	}
	if err := p.Err(); err != nil {
		t.Fatalf("good options: %v", err)
	}

	// Every bad option is one problem, naming its field, each wrapping Invalid.
	if got := p.Endpoint("Endpoint", "http://plain.test", "https://def.example"); got != "https://def.example" {
		t.Errorf("a bad endpoint gave %q, want the default", got)
	}
	p.PlainEndpoint("AuthEndpoint", "https://auth.test/?x=1", "https://def.example/auth")
	p.PlainEndpoint("BaseEndpoint", "https://auth.test/#frag", "https://def.example")
	p.HTTPS("OtherEndpoint", "ftp://x", "https://def.example/other")
	p.Roots(filepath.Join(t.TempDir(), "none.pem"))
	p.Timeout(-time.Second, 30*time.Second)
	p.Add("Category %q is not known", "X")
	p.Append(errors.Join(errInvalid, errors.New("KeyFile: unreadable")))
	err := p.Err()
	if !errors.Is(err, errInvalid) {
		t.Fatalf("Err = %v, does not wrap Invalid", err)
	}
	lines := strings.Split(err.Error(), "\n")
	wants := []string{
		`acme: invalid options: Endpoint must be an https URL such as https://def.example, got "http://plain.test"`,
		`acme: invalid options: AuthEndpoint must be an https URL such as https://def.example/auth, got "https://auth.test/?x=1"`,
		`acme: invalid options: BaseEndpoint must be an https URL`,
		`acme: invalid options: OtherEndpoint must be an https URL such as https://def.example/other, got "ftp://x"`,
		`acme: invalid options: CAFile `,
		`acme: invalid options: Timeout must not be negative, got -1s`,
		`acme: invalid options: Category "X" is not known`,
		`acme: invalid options`,
	}
	if len(lines) < len(wants) {
		t.Fatalf("Err = %q, want %d problems", err, len(wants))
	}
	for i, want := range wants {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("problem %d = %q, want %q…", i, lines[i], want)
		}
	}
}

func TestClock(t *testing.T) {
	if got := Clock(nil)(); time.Since(got) > time.Minute || time.Since(got) < 0 {
		t.Errorf("Clock(nil)() = %v, want now", got)
	}
	fixed := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := Clock(func() time.Time { return fixed })(); !got.Equal(fixed) {
		t.Errorf("Clock(f)() = %v, want f's %v", got, fixed)
	}
}

// TestClientTimeoutBoundsEachRequest: a NewClient request to a server that
// does not answer fails after the timeout, body included; an answered one
// reads its whole body.
func TestClientTimeoutBoundsEachRequest(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			<-release
			return
		}
		if r.URL.Path == "/slow-body" {
			w.Write([]byte("first"))
			w.(http.Flusher).Flush()
			<-release
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	defer close(release)
	c := NewClient(nil, 200*time.Millisecond)
	if RequestTimeout(c) != 200*time.Millisecond {
		t.Fatalf("RequestTimeout = %v", RequestTimeout(c))
	}
	resp, err := c.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := ReadBody(resp); err != nil || string(b) != "ok" {
		t.Fatalf("body %q, %v", b, err)
	}
	if _, err := c.Get(srv.URL + "/stall"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled request: %v, want a deadline error", err)
	}
	resp, err = c.Get(srv.URL + "/slow-body")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBody(resp); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled body: %v, want a deadline error", err)
	}
	if _, ok := c.Transport.(interface{ CloseIdleConnections() }); !ok {
		t.Fatal("the transport hides CloseIdleConnections from http.Client")
	}
	// A caller's deadline later than the timeout does not lift the bound; an
	// earlier one is kept (the transport then adds none of its own).
	for _, d := range []time.Duration{time.Hour, 50 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/stall", nil)
		_, err := c.Do(req)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stalled request with a %v deadline: %v, want a deadline error", d, err)
		}
	}
}
