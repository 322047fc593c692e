// Package apns sends pushes to Apple Push Notification service (APNs) over
// its HTTP/2 provider API, with token (.p8 key, ES256 JWT) or certificate
// (TLS client certificate) authentication. It is built on
// github.com/sideshow/apns2.
//
// A Client keeps one apns2.Client per APNs environment (production and
// development) over one shared, long-lived HTTP/2 connection pool, because
// Apple treats rapid connect and disconnect as abuse. A Client is safe for
// concurrent use: many Sends multiplex over the same connections.
//
// Every APNs answer is reduced to a push.Verdict in one table (verdicts in
// response.go), so a reason that Apple documents differently is one line to fix.
package apns

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/certificate"
	"github.com/sideshow/apns2/token"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// ErrInvalidOptions is wrapped by every error New reports about Options.
var ErrInvalidOptions = errors.New("apns: invalid options")

// The defaults of Options.
const (
	DefaultEndpointProduction  = apns2.HostProduction
	DefaultEndpointDevelopment = apns2.HostDevelopment
	DefaultTimeout             = vendorhttp.DefaultTimeout
)

// minJWTAge is the youngest a provider JWT may be when Refresh replaces it.
// Apple allows a new token at most once per 20 minutes and answers faster
// regeneration with 429 TooManyProviderTokenUpdates, which leaves the connection
// unusable for a while (docs/vendors.md, APNs). Refresh is called after every AuthExpired
// verdict, so without this floor a wrong key would make each push mint a JWT.
const minJWTAge = 20 * time.Minute

// Options configures a Client. Set either the token fields (TeamID, KeyID and
// KeyFile or KeyPEM) or CertFile, not both.
type Options struct {
	// TeamID is the Apple developer team id, the JWT's iss claim (token auth).
	TeamID string
	// KeyID is the 10-character id of the .p8 key, the JWT's kid header (token auth).
	KeyID string
	// KeyFile is the path of the .p8 signing key, a PKCS#8 EC P-256 PEM (token auth).
	KeyFile string
	// KeyPEM is the .p8 key itself, an alternative to KeyFile.
	KeyPEM []byte
	// CertFile is the client certificate for certificate auth: a .p12 or .pfx
	// file, or a PEM file holding the certificate and its private key.
	CertFile string
	// CertPassword decrypts CertFile (the .p12 password or the PEM key's passphrase).
	CertPassword string
	// BundleID is the topic used when a Notification carries no BundleID.
	BundleID string
	// EndpointProduction is the production base URL. Default https://api.push.apple.com.
	EndpointProduction string
	// EndpointDevelopment is the sandbox base URL. Default https://api.sandbox.push.apple.com.
	EndpointDevelopment string
	// CAFile is a PEM file of extra CAs to trust besides the system roots (the
	// simulator's). Empty: the system roots only.
	CAFile string
	// Timeout bounds one request, connecting included. Default DefaultTimeout (15s).
	Timeout time.Duration
}

// The values of Notification.APNsEnv (a binding's apns_env). Auto tries
// production, and the other environment once when that one answers
// BadDeviceToken: a development build's token is only good in the sandbox.
const (
	EnvProduction  = "production"
	EnvDevelopment = "development"
	EnvAuto        = "auto"
)

// Client sends notifications to APNs. It implements push.Sender.
type Client struct {
	bundleID    string
	token       *token.Token // nil with certificate auth
	production  *apns2.Client
	development *apns2.Client
	transport   *capturingTransport
	// sandbox remembers the auto tokens that only the sandbox took, so that
	// their later pushes go there first.
	sandbox sandboxTokens
}

// maxSandboxTokens bounds the auto tokens a Client remembers as sandbox ones.
// Past it the memory starts over: each forgotten token costs one extra
// request (production's BadDeviceToken) on its next push.
const maxSandboxTokens = 1 << 16

// sandboxTokens is the set of auto tokens last taken by the sandbox.
type sandboxTokens struct {
	mu     sync.Mutex
	tokens map[string]struct{}
}

func (s *sandboxTokens) has(t string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.tokens[t]
	return ok
}

// set records which environment took t: only sandbox tokens are kept,
// production being where auto starts.
func (s *sandboxTokens) set(t string, sandbox bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !sandbox {
		delete(s.tokens, t)
		return
	}
	if s.tokens == nil || len(s.tokens) >= maxSandboxTokens {
		s.tokens = map[string]struct{}{}
	}
	s.tokens[t] = struct{}{}
}

// New checks o, reporting every problem at once, loads the key or certificate
// and returns a Client. It does not connect: the first Send does.
func New(o Options) (*Client, error) {
	p := vendorhttp.Problems{Invalid: ErrInvalidOptions}

	tokenAuth := o.TeamID != "" || o.KeyID != "" || o.KeyFile != "" || len(o.KeyPEM) > 0
	certAuth := o.CertFile != ""
	c := &Client{bundleID: o.BundleID}
	var clientCert *tls.Certificate
	switch {
	case tokenAuth && certAuth:
		p.Add("CertFile is set together with TeamID/KeyID/KeyFile/KeyPEM; choose token or certificate auth")
	case !tokenAuth && !certAuth:
		p.Add("no credential: set TeamID, KeyID and KeyFile (or KeyPEM) for token auth, or CertFile for certificate auth")
	case tokenAuth:
		if o.TeamID == "" {
			p.Add("TeamID is required for token auth")
		}
		if o.KeyID == "" {
			p.Add("KeyID is required for token auth")
		}
		if key, err := loadKey(o); err != nil {
			p.Append(err)
		} else {
			c.token = &token.Token{AuthKey: key, KeyID: o.KeyID, TeamID: o.TeamID}
		}
	case certAuth:
		cert, err := loadCertificate(o.CertFile, o.CertPassword)
		if err != nil {
			p.Add("CertFile %s: %v", o.CertFile, err)
		} else {
			clientCert = &cert
		}
	}

	prod := p.Endpoint("EndpointProduction", o.EndpointProduction, DefaultEndpointProduction)
	dev := p.Endpoint("EndpointDevelopment", o.EndpointDevelopment, DefaultEndpointDevelopment)
	roots := p.Roots(o.CAFile)
	timeout := p.Timeout(o.Timeout, DefaultTimeout)
	if err := p.Err(); err != nil {
		return nil, err
	}

	c.transport = newTransport(roots, clientCert)
	httpClient := &http.Client{Transport: vendorhttp.WithDeadline(c.transport, timeout)}
	c.production = &apns2.Client{Host: prod, Token: c.token, HTTPClient: httpClient}
	c.development = &apns2.Client{Host: dev, Token: c.token, HTTPClient: httpClient}
	return c, nil
}

// loadKey reads the .p8 key from KeyFile or KeyPEM.
func loadKey(o Options) (*ecdsa.PrivateKey, error) {
	switch {
	case o.KeyFile != "" && len(o.KeyPEM) > 0:
		return nil, fmt.Errorf("%w: KeyFile and KeyPEM are both set; set one", ErrInvalidOptions)
	case o.KeyFile != "":
		key, err := token.AuthKeyFromFile(o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: KeyFile %s: %v", ErrInvalidOptions, o.KeyFile, err)
		}
		return key, nil
	case len(o.KeyPEM) > 0:
		key, err := token.AuthKeyFromBytes(o.KeyPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: KeyPEM: %v", ErrInvalidOptions, err)
		}
		return key, nil
	default:
		return nil, fmt.Errorf("%w: KeyFile or KeyPEM is required for token auth", ErrInvalidOptions)
	}
}

// loadCertificate reads a .p12/.pfx file, or otherwise a PEM file.
func loadCertificate(file, password string) (tls.Certificate, error) {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".p12", ".pfx":
		return certificate.FromP12File(file, password)
	default:
		return certificate.FromPemFile(file, password)
	}
}

// Send pushes n to APNs and reduces the answer to a Result. It never returns
// an error: a network failure is a Retry verdict.
//
// With APNsEnv auto it sends to the environment that last took the token
// (production at first) and, when that one answers BadDeviceToken, once to the
// other: the token is invalid only when both refuse it. The Result is the last
// request's; its Exchange shows which host took the push.
func (c *Client) Send(ctx context.Context, n *push.Notification) push.Result {
	if n.APNsEnv != EnvAuto {
		api, err := c.environment(n.APNsEnv)
		if err != nil {
			return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
		}
		return c.send(ctx, api, n)
	}
	sandbox := c.sandbox.has(n.Token)
	r := c.send(ctx, c.host(sandbox), n)
	if r.Status != http.StatusBadRequest || r.Reason != apns2.ReasonBadDeviceToken || n.DryRun {
		if r.Verdict == push.Delivered {
			c.sandbox.set(n.Token, sandbox)
		}
		return r
	}
	sandbox = !sandbox
	r = c.send(ctx, c.host(sandbox), n)
	if r.Verdict == push.Delivered {
		c.sandbox.set(n.Token, sandbox)
	}
	return r
}

// host is the sandbox's apns2.Client or production's.
func (c *Client) host(sandbox bool) *apns2.Client {
	if sandbox {
		return c.development
	}
	return c.production
}

// send pushes n to one environment.
func (c *Client) send(ctx context.Context, api *apns2.Client, n *push.Notification) push.Result {
	note, err := c.notification(n)
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	body := note.Payload.([]byte)
	exchange := func(headers map[string]string) *push.Exchange {
		return &push.Exchange{Method: http.MethodPost, URL: api.Host + "/3/device/" + note.DeviceToken, Headers: headers, Body: string(body)}
	}
	if limit := payloadLimit(note); len(body) > limit {
		return push.Result{
			Verdict:  push.BadRequest,
			Reason:   apns2.ReasonPayloadTooLarge,
			Exchange: exchange(requestHeaders(note, c.bearer())),
		}
	}
	if n.DryRun {
		return push.Result{Exchange: exchange(requestHeaders(note, c.bearer()))}
	}

	// The capture is made for every push: apns2's Response lacks what the
	// verdict needs (Retry-After, the raw body). The Exchange only when asked.
	seen := &capture{}
	_, err = api.PushWithContext(withCapture(ctx, seen), note)
	var ex *push.Exchange
	switch {
	case n.SkipExchange:
	case seen.request != nil:
		ex = exchange(exchangeHeaders(seen.request))
	default:
		ex = exchange(requestHeaders(note, c.bearer()))
	}
	if seen.status == 0 {
		// No answer came back: the connection or the context failed. (A decode
		// error with a status in hand is not this case: the status decides.)
		return push.Result{Verdict: push.Retry, Reason: networkReason(err), Exchange: ex}
	}
	if ex != nil {
		ex.Status = seen.status
		ex.Answer = string(seen.body)
	}
	r := parseResponse(seen.status, seen.header, seen.body, time.Now())
	r.Exchange = ex
	return r
}

// networkReason names a failure that got no APNs answer.
func networkReason(err error) string {
	if err == nil {
		return "NoResponse"
	}
	return "NetworkError: " + err.Error()
}

// environment picks the apns2.Client for a Notification's APNsEnv other than
// auto; empty means production.
func (c *Client) environment(env string) (*apns2.Client, error) {
	switch env {
	case "", EnvProduction:
		return c.production, nil
	case EnvDevelopment:
		return c.development, nil
	default:
		return nil, fmt.Errorf("BadEnvironment: APNsEnv %q is not production, development or auto", env)
	}
}

// bearer is the JWT the next request carries, or "" with certificate auth.
func (c *Client) bearer() string {
	if c.token == nil {
		return ""
	}
	return c.token.GenerateIfExpired()
}

// Refresh makes the next Send sign a new provider JWT, unless the current one
// is younger than Apple's 20-minute floor (see minJWTAge): then it is kept,
// since a new one would only earn 429 TooManyProviderTokenUpdates. With
// certificate auth there is nothing to refresh.
func (c *Client) Refresh() {
	if c.token == nil {
		return
	}
	c.token.Lock()
	defer c.token.Unlock()
	if c.token.Bearer != "" && time.Since(time.Unix(c.token.IssuedAt, 0)) < minJWTAge {
		return
	}
	c.token.IssuedAt = 0
	c.token.Bearer = ""
}

// Close closes the idle connections. Sends may still follow; they reconnect.
func (c *Client) Close() {
	c.transport.CloseIdleConnections()
}

var _ push.Sender = (*Client)(nil)
