package vendorsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
)

// sharedCreds generates credentials once per test binary: RSA key generation is
// slow under -race, and nothing a test does changes them.
var sharedCreds = sync.OnceValues(GenerateCredentials)

func testCreds(t testing.TB) *Credentials {
	t.Helper()
	c, err := sharedCreds()
	if err != nil {
		t.Fatalf("GenerateCredentials: %v", err)
	}
	return c
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// startSim starts a Sim on a loopback port with the shared credentials and shuts
// it down when the test ends.
func startSim(t *testing.T, o Options) *Sim {
	t.Helper()
	if o.Credentials == nil {
		o.Credentials = testCreds(t)
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// client returns an HTTP client that trusts the Sim's CA and speaks HTTP/2 only
// (or HTTP/1.1 only when http1 is set), presenting certs when given.
func client(t *testing.T, s *Sim, http1 bool, certs ...tls.Certificate) *http.Client {
	t.Helper()
	return clientFor(t, s.Credentials(), http1, certs...)
}

// clientFor is client for a simulator known only by its credentials.
func clientFor(t *testing.T, creds *Credentials, http1 bool, certs ...tls.Certificate) *http.Client {
	t.Helper()
	conf, err := creds.ClientTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	conf.Certificates = certs
	tr := &http.Transport{TLSClientConfig: conf, Protocols: new(http.Protocols)}
	if http1 {
		tr.Protocols.SetHTTP1(true)
	} else {
		tr.Protocols.SetHTTP2(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// reply is a response read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
	proto  int
}

func do(t *testing.T, c *http.Client, method, url string, header http.Header, body []byte) reply {
	t.Helper()
	r, err := doCtx(context.Background(), c, method, url, header, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

func doCtx(ctx context.Context, c *http.Client, method, url string, header http.Header, body []byte) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b, proto: resp.ProtoMajor}, nil
}

// jsonField decodes a reply body and returns the value at a dotted path.
func jsonField(t *testing.T, body []byte, path string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func lastRecord(t *testing.T, s *Sim, p push.Provider) Record {
	t.Helper()
	recs := s.Records(p)
	if len(recs) == 0 {
		t.Fatalf("no %s records", p)
	}
	return recs[len(recs)-1]
}

func TestLifecycle(t *testing.T) {
	s, err := New(Options{Credentials: testCreds(t)})
	if err != nil {
		t.Fatal(err)
	}
	if s.URL() != "" || s.Endpoint(push.APNs) != "" {
		t.Fatalf("URL before Start = %q, Endpoint = %q; want empty", s.URL(), s.Endpoint(push.APNs))
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL = %q", s.URL())
	}
	if got, want := s.Endpoint(push.APNs), s.URL()+"/apns"; got != want {
		t.Fatalf("Endpoint(apns) = %q, want %q", got, want)
	}
	if got := s.AuthEndpoint(push.APNs); got != "" {
		t.Fatalf("AuthEndpoint(apns) = %q, want empty", got)
	}
	if got, want := s.AuthEndpoint(push.FCM), s.URL()+"/fcm/token"; got != want {
		t.Fatalf("AuthEndpoint(fcm) = %q, want %q", got, want)
	}
	if got := s.Endpoint("nope"); got != "" {
		t.Fatalf("Endpoint(nope) = %q", got)
	}

	c := client(t, s, false)
	r := do(t, c, http.MethodGet, s.URL()+"/sim/records", nil, nil)
	if r.status != http.StatusOK || r.proto != 2 {
		t.Fatalf("GET /sim/records = %d over HTTP/%d", r.status, r.proto)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Shutdown = %v, want ErrClosed", err)
	}
	c.CloseIdleConnections()
	if _, err := doCtx(ctx, c, http.MethodGet, s.Endpoint(push.APNs)+"/x", nil, nil); err == nil {
		t.Fatal("request after Shutdown succeeded")
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	s, err := New(Options{Credentials: testCreds(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(context.Background(), func([]Record) bool { return false }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Shutdown = %v, want ErrClosed", err)
	}
}

func TestNewRejectsBadCredentials(t *testing.T) {
	c := *testCreds(t)
	c.APNs.KeyPEM = []byte("not a key")
	c.FCM.ProjectID = ""
	_, err := New(Options{Credentials: &c})
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("New = %v, want ErrBadCredentials", err)
	}
	for _, want := range []string{"apns key", "fcm.project_id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestEveryVendorIsMounted checks what listing a vendor in vendorSpecs promises:
// each vendor of the registry once, in its order, with a handler; its prefix reaches
// its own handler, faults for it are accepted, its daily quota is reachable, and
// Run's config lists it.
func TestEveryVendorIsMounted(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	yaml := s.ConfigYAML(t.TempDir())
	specs := vendorSpecs()
	var listed []push.Provider
	for i, spec := range specs {
		p := spec.provider
		listed = append(listed, p)
		if _, ok := vendors.Lookup(p); !ok || spec.newHandler == nil {
			t.Fatalf("spec %d: provider %q, handler %v", i, p, spec.newHandler != nil)
		}
		if got, ok := vendorSpecFor(p); !ok || got.provider != p {
			t.Errorf("%s: vendorSpecFor = %q, %v", p, got.provider, ok)
		}
		if s.vendors[p] == nil || s.vendors[p].quota == nil || s.vendors[p].provider != p {
			t.Errorf("%s: the Sim keeps no environment for it", p)
		}
		r := do(t, hc, http.MethodGet, s.Endpoint(p)+"/", nil, nil)
		if r.status == http.StatusNotFound && string(r.body) == "404 page not found\n" {
			t.Errorf("%s: %s/ is not mounted", p, s.Endpoint(p))
		}
		if err := s.SetFault(Fault{Provider: p, Status: 503, Times: 1}); err != nil {
			t.Errorf("%s: SetFault: %v", p, err)
		}
		if spec.config != nil && !strings.Contains(yaml, "\n  "+string(p)+":\n") {
			t.Errorf("%s: config snippet lacks it:\n%s", p, yaml)
		}
	}
	if got := s.Providers(); !slices.Equal(got, listed) || !slices.Equal(listed, vendors.Providers()) {
		t.Fatalf("Providers = %v, listed %v, want the registry's %v", got, listed, vendors.Providers())
	}
	if _, ok := vendorSpecFor("nokia"); ok || s.Endpoint("nokia") != "" || s.SetFault(Fault{Provider: "nokia", Status: 503}) == nil {
		t.Fatal("an unknown provider is taken for a simulated one")
	}
}
