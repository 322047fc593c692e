// Package xiaomi sends pushes through Xiaomi MiPush's server API: one
// form-encoded POST {endpoint}/v3/message/regid per notification, carrying one
// registration id or up to MaxBatch of them with the same payload, authorised by
// the app's static secret in an "Authorization: key=<AppSecret>" header.
//
// MiPush has no token exchange, so there is nothing to cache or refresh: Refresh
// is a no-op and no answer maps to push.AuthExpired (a refused key is a
// configuration error, push.BadRequest).
//
// A Client keeps one connection pool for all its Sends and is safe for
// concurrent use. Every MiPush answer is reduced to a push.Verdict in one table
// (verdicts in response.go), so a code Xiaomi documents differently is one line
// to fix.
package xiaomi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// ErrInvalidOptions is wrapped by every error New reports about Options.
var ErrInvalidOptions = errors.New("xiaomi: invalid options")

// The defaults of Options.
const (
	DefaultEndpoint = "https://api.xmpush.xiaomi.com"
	DefaultTimeout  = vendorhttp.DefaultTimeout
)

// SendPath is the path of the send-to-registration-ids API below the endpoint.
const SendPath = "/v3/message/regid"

// MaxBatch is the most registration ids one request carries. Widely quoted,
// but UNCONFIRMED by Xiaomi's own documentation (docs/vendors.md, Xiaomi).
const MaxBatch = 1000

// contentType is what MiPush takes: a form, not JSON.
const contentType = "application/x-www-form-urlencoded;charset=UTF-8"

// Options configures a Client.
type Options struct {
	// AppSecret is the app's MiPush secret, sent as "Authorization: key=<AppSecret>". Required.
	AppSecret string
	// PackageName is the Android package, sent as restricted_package_name. Required.
	PackageName string
	// Endpoint is the MiPush base URL. Default https://api.xmpush.xiaomi.com.
	Endpoint string
	// ChannelID is the Xiaomi-approved channel id (the private, IM channel)
	// sent as extra.channel_id when a Notification names none. Private
	// messages are not counted against the daily quota. Default "": none.
	ChannelID string
	// CAFile is a PEM file of extra CAs to trust besides the system roots (the
	// simulator's). Empty: the system roots only.
	CAFile string
	// Timeout bounds one request, connecting included. Default DefaultTimeout (15s).
	Timeout time.Duration
	// Now is the clock that turns Expiration into time_to_live. Default time.Now.
	Now func() time.Time
}

// Client sends notifications to MiPush. It implements push.Sender.
type Client struct {
	secret      string
	packageName string
	channelID   string
	sendURL     string
	now         func() time.Time
	http        *http.Client
}

// New checks o, reporting every problem at once, and returns a Client. It does
// not connect: the first Send does.
func New(o Options) (*Client, error) {
	p := vendorhttp.Problems{Invalid: ErrInvalidOptions}
	switch {
	case o.AppSecret == "":
		p.Add("AppSecret is required")
	case strings.TrimSpace(o.AppSecret) != o.AppSecret || strings.ContainsAny(o.AppSecret, "\r\n"):
		p.Add("AppSecret has surrounding spaces or a line break")
	}
	if o.PackageName == "" {
		p.Add("PackageName is required")
	} else if !validPackageName(o.PackageName) {
		p.Add("PackageName %q is not an Android package name such as com.example.chat", o.PackageName)
	}
	endpoint := p.Endpoint("Endpoint", o.Endpoint, DefaultEndpoint)
	roots := p.Roots(o.CAFile)
	timeout := p.Timeout(o.Timeout, DefaultTimeout)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &Client{
		secret:      o.AppSecret,
		packageName: o.PackageName,
		channelID:   o.ChannelID,
		sendURL:     endpoint + SendPath,
		now:         vendorhttp.Clock(o.Now),
		http:        vendorhttp.NewClient(roots, timeout),
	}, nil
}

// validPackageName reports whether s looks like an Android application id:
// two or more dot-separated segments of letters, digits and underscores, each
// starting with a letter.
func validPackageName(s string) bool {
	segments := strings.Split(s, ".")
	if len(segments) < 2 {
		return false
	}
	for _, seg := range segments {
		if seg == "" {
			return false
		}
		for i, r := range seg {
			letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_')) {
				return false
			}
		}
	}
	return true
}

// Send pushes n (to n.Token, or to every id of n.Tokens in one request) and
// reduces MiPush's answer to a Result. It never returns an error: a network
// failure is a Retry verdict. A dry run builds the request and sends nothing.
func (c *Client) Send(ctx context.Context, n *push.Notification) push.Result {
	tokens, form, err := c.buildForm(n, c.now())
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	req := vendorhttp.Request{
		URL: c.sendURL,
		Headers: []vendorhttp.Header{
			{Name: "Authorization", Value: "key=", Secret: c.secret},
			{Name: "Content-Type", Value: contentType},
		},
		Body: []byte(form.Encode()),
	}
	if n.DryRun {
		return push.Result{Exchange: req.Exchange()}
	}
	req.NoRecord = n.SkipExchange
	return vendorhttp.Do(ctx, c.http, req, func(a vendorhttp.Answer) push.Result {
		return parseResponse(a.Status, a.Header, a.Body, tokens, c.now())
	})
}

// Refresh does nothing: MiPush authenticates every request with the static
// AppSecret, so there is no credential to renew.
func (c *Client) Refresh() {}

// Close closes the idle connections. Sends may still follow; they reconnect.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

var _ push.Sender = (*Client)(nil)
