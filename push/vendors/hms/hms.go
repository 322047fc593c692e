// Package hms sends pushes through Huawei Push Kit (HMS Core, Android and
// HarmonyOS 3–4 devices): POST {endpoint}/v1/{clientId}/messages:send with up
// to 1000 device tokens and one payload per request, authorised by an OAuth
// client-credentials access token from Huawei's token endpoint.
//
// A Client keeps one connection pool and one cached access token for all its
// Sends; it is safe for concurrent use. Concurrent Sends that find no valid
// token share one fetch. The token endpoint is configuration (AuthEndpoint), so
// a simulator can stand in for Huawei.
//
// Every Huawei answer is reduced to a push.Verdict in one table (verdicts in
// response.go), so a code Huawei documents differently is one line to fix.
package hms

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// ErrInvalidOptions is wrapped by every error New reports about Options.
var ErrInvalidOptions = errors.New("hms: invalid options")

// The defaults of Options.
const (
	DefaultEndpoint     = "https://push-api.cloud.huawei.com"
	DefaultAuthEndpoint = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"
	DefaultTimeout      = vendorhttp.DefaultTimeout
)

// MaxTokens is the most device tokens one messages:send request may carry
// (docs/vendors.md, Huawei; more is answered with 80300010).
const MaxTokens = 1000

// Options configures a Client.
type Options struct {
	// ClientID is the app's OAuth 2.0 client id (the AppId). Required.
	ClientID string
	// ClientSecret is the app's OAuth 2.0 client secret. Required.
	ClientSecret string
	// Endpoint is the Push Kit base URL. Default https://push-api.cloud.huawei.com.
	Endpoint string
	// AuthEndpoint is the full OAuth token URL.
	// Default https://oauth-login.cloud.huawei.com/oauth2/v3/token.
	AuthEndpoint string
	// Category is the android.category sent when a Notification has none: the
	// self-classification Huawei approved for the app, "IM" for an IM app (IM,
	// VOIP, SUBSCRIPTION, TRAVEL, HEALTH, WORK, ACCOUNT, EXPRESS, FINANCE,
	// DEVICE_REMINDER, MAIL, PLAY_VOICE or MARKETING). Default "": no category,
	// Huawei classifies the message itself.
	Category string
	// BadgeClass is the app's launcher activity class (e.g.
	// "im.pushd.demo.MainActivity"), which Huawei's badge names: with it a
	// notification carrying a Badge sets the icon's badge (set_num);
	// without it no badge is sent. Default "".
	BadgeClass string
	// CAFile is a PEM file of extra CAs to trust besides the system roots, for
	// both endpoints (the simulator's). Empty: the system roots only.
	CAFile string
	// Timeout bounds one request, connecting included, and one token fetch. Default DefaultTimeout (15s).
	Timeout time.Duration
	// Now is the clock that access-token expiry and android.ttl are judged by.
	// Default time.Now.
	Now func() time.Time
}

// Client sends notifications to Huawei Push Kit. It implements push.Sender.
type Client struct {
	clientID string
	sendURL  string
	category string
	badge    string
	http     *http.Client
	now      func() time.Time
	authURL  string
	tokens   *vendorhttp.TokenCache
}

// New checks o, reporting every problem at once, and returns a Client. It does
// not connect: the first Send fetches the access token.
func New(o Options) (*Client, error) {
	p := vendorhttp.Problems{Invalid: ErrInvalidOptions}
	if strings.TrimSpace(o.ClientID) == "" {
		p.Add("ClientID is required")
	} else if strings.ContainsAny(o.ClientID, "/?#% \t\r\n") {
		p.Add("ClientID %q may not contain '/', '?', '#', '%%' or spaces", o.ClientID)
	}
	if o.ClientSecret == "" {
		p.Add("ClientSecret is required")
	}
	endpoint := p.Endpoint("Endpoint", o.Endpoint, DefaultEndpoint)
	authEndpoint := p.Endpoint("AuthEndpoint", o.AuthEndpoint, DefaultAuthEndpoint)
	category := strings.ToUpper(strings.TrimSpace(o.Category))
	if category != "" && !validCategory(category) {
		p.Add("Category %q is not one of %s", o.Category, strings.Join(categories, ", "))
	}
	roots := p.Roots(o.CAFile)
	timeout := p.Timeout(o.Timeout, DefaultTimeout)
	if err := p.Err(); err != nil {
		return nil, err
	}
	now := vendorhttp.Clock(o.Now)

	// One client for Push Kit and the token endpoint; TLS 1.2 at least, as
	// Huawei requires.
	httpClient := vendorhttp.NewClient(roots, timeout)
	tokens := vendorhttp.NewOAuthCache(&vendorhttp.ClientCredentials{
		URL: authEndpoint, ClientID: o.ClientID, ClientSecret: o.ClientSecret, HTTP: httpClient, Now: now,
	}, timeout)
	return &Client{
		clientID: o.ClientID,
		authURL:  authEndpoint,
		sendURL:  endpoint + "/v1/" + url.PathEscape(o.ClientID) + "/messages:send",
		category: category,
		badge:    strings.TrimSpace(o.BadgeClass),
		http:     httpClient,
		now:      now,
		tokens:   tokens,
	}, nil
}

// Send pushes n to Huawei, to n.Token or to every token of n.Tokens in one
// request, and reduces the answer to a Result. It never returns an error: a
// network failure is a Retry verdict. A dry run fetches the access token (so it
// shows whether the credential works) but sends nothing.
func (c *Client) Send(ctx context.Context, n *push.Notification) push.Result {
	tokens, err := n.Targets(MaxTokens)
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	body, err := messageBody(n, tokens, c.category, c.badge, c.now())
	req := vendorhttp.Request{
		URL:     c.sendURL,
		Headers: []vendorhttp.Header{{Name: "Content-Type", Value: contentType}},
		Body:    body,
	}
	if err != nil {
		ex := req.Exchange()
		if body == nil {
			ex = nil
		}
		return push.Result{Verdict: push.BadRequest, Reason: err.Error(), Exchange: ex}
	}
	return c.auth().SendWith(ctx, c.http, req, n, func(a vendorhttp.Answer) push.Result {
		return parseResponse(a.Status, a.Header, a.Body, tokens, c.now())
	})
}

func (c *Client) auth() vendorhttp.TokenAuth {
	return vendorhttp.TokenAuth{Get: c.tokens.Get, Drop: c.tokens.Drop,
		Fail: func(err error) push.Result { return vendorhttp.OAuthFailure(err, c.now()) }}
}

// contentType is what Huawei's send API takes.
const contentType = "application/json;charset=UTF-8"

// Refresh drops the cached access token so that the next Send fetches a new
// one, after Huawei answered 80200003 or 80200001 for the current one.
func (c *Client) Refresh() {
	c.tokens.Refresh()
}

// Close closes the idle connections. Sends may still follow; they reconnect.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

var _ push.Sender = (*Client)(nil)
