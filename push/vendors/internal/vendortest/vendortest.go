// Package vendortest is the scaffolding the vendor clients' tests share: a
// settable clock, an HTTP/2 TLS server on loopback with a CA file that trusts
// it, and the vendor simulator run on loopback. Only _test.go files import it.
package vendortest

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push/vendorsim"
)

// Clock is a settable clock for Options.Now (and the simulator's), safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads start until it is advanced.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TLSServer serves h over HTTP/2 and TLS on loopback until t ends, and returns
// the server with the path of a CA file that trusts it (for Options.CAFile).
// configure, when given, edits the server before it starts. The server does
// not log: refused handshakes are expected.
func TLSServer(t testing.TB, h http.Handler, configure ...func(*httptest.Server)) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	for _, c := range configure {
		c(srv)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, WriteCAFile(t, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

// WriteCAFile writes PEM certificates to a ca.pem of its own, removed when t
// ends, and returns its path.
func WriteCAFile(t testing.TB, certs []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, certs, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// simCredentials are generated once per test binary: making RSA keys under
// -race is slow.
var simCredentials = sync.OnceValues(vendorsim.GenerateCredentials)

// SimCredentials returns the simulator credentials of this test binary. They
// are shared: copy them before changing any.
func SimCredentials(t testing.TB) *vendorsim.Credentials {
	t.Helper()
	creds, err := simCredentials()
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// StartSim runs the vendor simulator on loopback with creds and the clock now
// until t ends, and returns it with the path of a CA file that trusts it.
func StartSim(t testing.TB, creds *vendorsim.Credentials, now func() time.Time) (*vendorsim.Sim, string) {
	t.Helper()
	s, err := vendorsim.New(vendorsim.Options{Credentials: creds, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, WriteCAFile(t, creds.CACertPEM)
}

// NewClient makes a vendor client with newClient from o after the edits (nil
// ones skipped), failing t when it refuses them, and closes it when t ends.
func NewClient[O any, C interface{ Close() }](t testing.TB, newClient func(O) (C, error), o O, edits ...func(*O)) C {
	t.Helper()
	for _, edit := range edits {
		if edit != nil {
			edit(&o)
		}
	}
	c, err := newClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
