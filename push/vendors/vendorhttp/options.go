package vendorhttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Problems collects what is wrong with a client's Options, so that New can
// report every problem at once. Each problem wraps Invalid, the package's
// ErrInvalidOptions. The zero Problems (with Invalid set) is ready to use.
type Problems struct {
	Invalid error
	errs    []error
}

// Add records a problem: "<Invalid>: <format, args>".
func (p *Problems) Add(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%w: "+format, append([]any{p.Invalid}, args...)...))
}

// Append records err, a problem already worded (and wrapping Invalid).
func (p *Problems) Append(err error) {
	p.errs = append(p.errs, err)
}

// Err is every problem recorded, joined, or nil when there is none.
func (p *Problems) Err() error {
	return errors.Join(p.errs...)
}

// HTTPS checks that v is an https URL with a host, recording a problem that
// names field and the example when it is not.
func (p *Problems) HTTPS(field, v, example string) bool {
	u, err := url.Parse(v)
	return p.check(err == nil && u.Scheme == "https" && u.Host != "", field, v, example)
}

// Endpoint checks an endpoint option: empty is def; anything else must be an
// https URL with a host, and is returned without trailing slashes. A bad one
// is recorded as a problem, and def returned.
func (p *Problems) Endpoint(field, v, def string) string {
	if v == "" {
		return def
	}
	if !p.HTTPS(field, v, def) {
		return def
	}
	return strings.TrimRight(v, "/")
}

// PlainEndpoint is Endpoint refusing a query or a fragment as well, for an
// endpoint that paths are appended to.
func (p *Problems) PlainEndpoint(field, v, def string) string {
	if v == "" {
		return def
	}
	u, err := url.Parse(v)
	if !p.check(err == nil && u.Scheme == "https" && u.Host != "" && u.RawQuery == "" && u.Fragment == "", field, v, def) {
		return def
	}
	return strings.TrimRight(v, "/")
}

func (p *Problems) check(ok bool, field, v, example string) bool {
	if !ok {
		p.Add("%s must be an https URL such as %s, got %q", field, example, v)
	}
	return ok
}

// Roots is LoadRoots(caFile), recording a problem when the file cannot be used.
func (p *Problems) Roots(caFile string) *x509.CertPool {
	roots, err := LoadRoots(caFile)
	if err != nil {
		p.Add("CAFile %s: %v", caFile, err)
	}
	return roots
}

// Timeout checks a timeout option: negative is a problem, zero is def.
func (p *Problems) Timeout(t, def time.Duration) time.Duration {
	switch {
	case t < 0:
		p.Add("Timeout must not be negative, got %v", t)
	case t == 0:
		return def
	}
	return t
}

// Clock is now, or time.Now when now is nil.
func Clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// LoadRoots returns the system roots plus the certificates of caFile, or nil
// (the system roots) when caFile is empty.
func LoadRoots(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

// NewClient returns the HTTP client of a vendor API: TLS 1.2 at least,
// trusting roots (nil: the system roots only), HTTP/2 kept although the TLS
// config is our own, up to 16 idle connections kept per host, and timeout
// bounding each request, connecting included. One client serves a vendor's
// API and its token endpoint alike.
func NewClient(roots *x509.CertPool, timeout time.Duration) *http.Client {
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &http.Client{Transport: WithDeadline(transport, timeout)}
}

// WithDeadline bounds each request through next to timeout, body included,
// with a context deadline. http.Client.Timeout does the same with a
// goroutine and a select per request, which showed in every vendor call.
func WithDeadline(next http.RoundTripper, timeout time.Duration) http.RoundTripper {
	return deadlineTransport{next: next, timeout: timeout}
}

type deadlineTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if d, ok := req.Context().Deadline(); ok && time.Until(d) <= t.timeout {
		// The caller's deadline comes first (a vendor actor bounds every
		// call): no second timer and context a request.
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on to next.
func (t deadlineTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// cancelOnClose ends a request's deadline when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// RequestTimeout is the per-request bound of a client NewClient made (0 for
// another client).
func RequestTimeout(c *http.Client) time.Duration {
	if t, ok := c.Transport.(deadlineTransport); ok {
		return t.timeout
	}
	return c.Timeout
}
