// Package honor sends pushes through Honor Push (the push service of Honor
// phones since 2021, separate from Huawei's): POST
// {endpoint}/api/v1/{appId}/sendMessage with up to MaxTokens device tokens and
// one payload per request, authorised by an OAuth client-credentials access
// token from Honor's token endpoint (docs/vendors.md, Honor).
//
// A Client keeps one connection pool and one cached access token for all its
// Sends; it is safe for concurrent use. Every Honor answer is reduced to a
// push.Verdict in one table (verdicts in response.go).
package honor

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// Provider is Honor Push's name in configs, bindings and metrics.
const Provider push.Provider = "honor"

// ErrInvalidOptions is wrapped by every error New reports about Options.
var ErrInvalidOptions = errors.New("honor: invalid options")

// The defaults of Options.
const (
	DefaultEndpoint     = "https://push-api.cloud.honor.com"
	DefaultAuthEndpoint = "https://iam.developer.honor.com/auth/token"
	DefaultTimeout      = vendorhttp.DefaultTimeout
)

// MaxTokens is the most device tokens one sendMessage request carries.
// UNCONFIRMED: Honor's API mirrors Huawei's, whose limit is 1000.
const MaxTokens = 1000

// Options configures a Client.
type Options struct {
	// AppID is the app's id, part of the send URL. Required.
	AppID string
	// ClientID and ClientSecret are the app's OAuth client credentials. Required.
	ClientID, ClientSecret string
	// Endpoint is the send API's base URL. Default https://push-api.cloud.honor.com.
	Endpoint string
	// AuthEndpoint is the full token URL. Default https://iam.developer.honor.com/auth/token.
	AuthEndpoint string
	// Category is the push's class when a Notification has none ("IM": a
	// communication message, sent with importance NORMAL). Default "".
	Category string
	// BadgeClass is the app's launcher activity class, which Honor's icon
	// badge names (badge.badgeClass): with it a notification carrying a
	// Badge sets the icon's number (badge.setNum); without it no badge is
	// sent. Default "".
	BadgeClass string
	// CAFile is a PEM file of extra CAs to trust (the simulator's). Default: the system roots.
	CAFile string
	// Timeout bounds one request and one token fetch. Default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock access tokens and android.ttl are judged by. Default time.Now.
	Now func() time.Time
}

// Client sends notifications to Honor Push. It implements push.Sender.
type Client struct {
	sendURL  string
	category string
	badge    string
	http     *http.Client
	now      func() time.Time
	tokens   *vendorhttp.TokenCache
}

var _ push.Sender = (*Client)(nil)

// New checks o, reporting every problem at once, and returns a Client. It does
// not connect: the first Send fetches the access token.
func New(o Options) (*Client, error) {
	p := vendorhttp.Problems{Invalid: ErrInvalidOptions}
	if o.AppID == "" || strings.ContainsAny(o.AppID, "/?#% \t\r\n") {
		p.Add("AppID %q must be set and may not contain '/', '?', '#', '%%' or spaces", o.AppID)
	}
	if o.ClientID == "" || o.ClientSecret == "" {
		p.Add("ClientID and ClientSecret are required")
	}
	endpoint := p.Endpoint("Endpoint", o.Endpoint, DefaultEndpoint)
	authEndpoint := p.Endpoint("AuthEndpoint", o.AuthEndpoint, DefaultAuthEndpoint)
	roots := p.Roots(o.CAFile)
	timeout := p.Timeout(o.Timeout, DefaultTimeout)
	if err := p.Err(); err != nil {
		return nil, err
	}
	now := vendorhttp.Clock(o.Now)
	hc := vendorhttp.NewClient(roots, timeout)
	return &Client{
		sendURL:  endpoint + "/api/v1/" + url.PathEscape(o.AppID) + "/sendMessage",
		category: strings.ToUpper(strings.TrimSpace(o.Category)),
		badge:    strings.TrimSpace(o.BadgeClass),
		http:     hc,
		now:      now,
		tokens: vendorhttp.NewOAuthCache(&vendorhttp.ClientCredentials{
			URL: authEndpoint, ClientID: o.ClientID, ClientSecret: o.ClientSecret, HTTP: hc, Now: now,
		}, timeout),
	}, nil
}

// Send pushes n to Honor, to n.Token or every token of n.Tokens in one
// request, and reduces the answer to a Result. A network failure is a Retry
// verdict. A dry run fetches the access token but sends nothing.
func (c *Client) Send(ctx context.Context, n *push.Notification) push.Result {
	tokens, err := n.Targets(MaxTokens)
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	body, err := messageBody(n, tokens, c.category, c.badge, c.now())
	req := vendorhttp.Request{
		URL: c.sendURL,
		Headers: []vendorhttp.Header{
			{Name: "Content-Type", Value: "application/json"},
			// Honor asks for the sending time in milliseconds with every call.
			{Name: "timestamp", Value: strconv.FormatInt(c.now().UnixMilli(), 10)},
		},
		Body: body,
	}
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error(), Exchange: req.Exchange()}
	}
	return c.auth().SendWith(ctx, c.http, req, n, func(a vendorhttp.Answer) push.Result {
		return parseResponse(a.Status, a.Header, a.Body, tokens, c.now())
	})
}

func (c *Client) auth() vendorhttp.TokenAuth {
	return vendorhttp.TokenAuth{Get: c.tokens.Get, Drop: c.tokens.Drop,
		Fail: func(err error) push.Result { return vendorhttp.OAuthFailure(err, c.now()) }}
}

// Refresh drops the cached access token so that the next Send fetches a new one.
func (c *Client) Refresh() { c.tokens.Refresh() }

// Close closes the idle connections; Sends may still follow.
func (c *Client) Close() { c.http.CloseIdleConnections() }
