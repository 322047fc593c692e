package apns

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/http2"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// pingInterval is how long a connection may be silent before an HTTP/2 ping
// checks it, so a connection dropped by a middlebox is found before a push
// waits on it (apns2 uses the same 15 s).
const pingInterval = 15 * time.Second

// capture records one request's headers and its answer. apns2's Response has
// neither the request as sent nor the answer's headers (Retry-After) or raw
// body (the Exchange), so capturingTransport fills this in on the way.
type capture struct {
	request *http.Request
	status  int
	header  http.Header
	body    []byte
}

type captureKey struct{}

// withCapture makes the request made with ctx record itself into c.
func withCapture(ctx context.Context, c *capture) context.Context {
	return context.WithValue(ctx, captureKey{}, c)
}

// capturingTransport is the HTTP/2 transport under both apns2.Clients. It fills
// the capture found in a request's context; requests without one pass through.
type capturingTransport struct {
	next *http2.Transport
}

// newTransport builds the shared HTTP/2 transport: roots nil means the system
// roots; cert is the client certificate of certificate auth, or nil.
func newTransport(roots *x509.CertPool, cert *tls.Certificate) *capturingTransport {
	conf := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	return &capturingTransport{next: &http2.Transport{
		TLSClientConfig: conf,
		ReadIdleTimeout: pingInterval,
		PingTimeout:     pingInterval,
	}}
}

// RoundTrip sends req and, when its context carries a capture, records the
// request and the answer, handing on a body that can be read again.
func (t *capturingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(captureKey{}).(*capture)
	if c == nil {
		return t.next.RoundTrip(req)
	}
	c.request = req
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := vendorhttp.ReadBody(resp) // real answers are a few dozen bytes
	if err != nil {
		return nil, err
	}
	c.status, c.header, c.body = resp.StatusCode, resp.Header, body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// CloseIdleConnections closes the connections no request is using.
func (t *capturingTransport) CloseIdleConnections() {
	t.next.CloseIdleConnections()
}

// exchangeHeaders lists the headers req was sent with, lower-cased as on the
// HTTP/2 wire, the JWT masked.
func exchangeHeaders(req *http.Request) map[string]string {
	h := make(map[string]string, len(req.Header))
	for k, vs := range req.Header {
		h[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	if auth, ok := h["authorization"]; ok {
		scheme, secret, _ := strings.Cut(auth, " ")
		h["authorization"] = scheme + " " + push.MaskSecret(secret)
	}
	return h
}
