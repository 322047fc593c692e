// Package oppo sends pushes through OPPO Push (OPUSH / HeyTap) server API v1:
// a notification-bar message to one registration id with
// /server/v1/message/notification/unicast, and the same message to up to 1000
// registration ids with save_message_content followed by broadcast. Every
// call carries an auth_token that the app key and master secret obtain from
// /server/v1/auth (a SHA-256 sign over a millisecond timestamp).
//
// The batch path is the broadcast one, not unicast_batch: a broadcast carries
// the message once however many targets it has (unicast_batch repeats the
// whole message per target, up to 1000 × 4 KB of action_parameters), its
// 1000-target limit is documented, and it answers dead regIds per failure
// code. It costs a second request (saving the content) per batch.
//
// A Client keeps one connection pool and one cached auth_token for all its
// Sends; it is safe for concurrent use, and concurrent Sends that find no
// valid token share one auth call.
//
// Every OPPO return code is reduced to a push.Verdict in one table (verdicts in
// response.go), so a code OPPO documents differently is one line to fix.
package oppo

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// ErrInvalidOptions is wrapped by every error New reports about Options.
var ErrInvalidOptions = errors.New("oppo: invalid options")

// The defaults of Options.
const (
	DefaultEndpoint = "https://api.push.oppomobile.com"
	DefaultTimeout  = vendorhttp.DefaultTimeout
)

// The API paths below Endpoint.
const (
	AuthPath        = "/server/v1/auth"
	UnicastPath     = "/server/v1/message/notification/unicast"
	SaveMessagePath = "/server/v1/message/notification/save_message_content"
	BroadcastPath   = "/server/v1/message/notification/broadcast"
)

// formContentType is how every OPPO API call is encoded.
const formContentType = "application/x-www-form-urlencoded"

// Options configures a Client.
type Options struct {
	// AppKey is the app's AppKey from the OPPO push platform. Required.
	AppKey string
	// MasterSecret is the app's MasterSecret, which signs the auth call. Required.
	MasterSecret string
	// Endpoint is the API base URL. Default https://api.push.oppomobile.com
	// (overseas apps: https://api-intl.push.oppomobile.com).
	Endpoint string
	// AuthEndpoint is the URL of the auth call. Default Endpoint + "/server/v1/auth".
	AuthEndpoint string
	// ChannelID is the Android notification channel (the private "IM" channel
	// of OPPO's old classification) used when a Notification names none. Default "".
	ChannelID string
	// Category is the message category of OPPO's new classification ("IM",
	// "ACCOUNT", …) used when a Notification names none; apps that opened
	// OPUSH after 2025-11-20 must send one. Default "".
	Category string
	// NotifyLevel is the notify_level sent with a category: NotifyLevelBar,
	// NotifyLevelLockScreen or NotifyLevelBanner. Default DefaultNotifyLevel.
	NotifyLevel int
	// CAFile is a PEM file of extra CAs to trust besides the system roots (the
	// simulator's). Empty: the system roots only.
	CAFile string
	// Timeout bounds one request, connecting included. Default DefaultTimeout (15s).
	Timeout time.Duration
	// Now is the clock of auth timestamps, auth_token expiry and off_line_ttl.
	// Default time.Now.
	Now func() time.Time
}

// Client sends notifications to OPPO Push. It implements push.Sender.
type Client struct {
	appKey       string
	masterSecret string
	authURL      string
	unicastURL   string
	saveURL      string
	broadcastURL string
	defaults     defaults
	timeout      time.Duration
	now          func() time.Time
	http         *http.Client
	tokens       *vendorhttp.TokenCache
}

// New checks o, reporting every problem at once, and returns a Client. It does
// not connect: the first Send fetches the auth_token.
func New(o Options) (*Client, error) {
	p := vendorhttp.Problems{Invalid: ErrInvalidOptions}
	if strings.TrimSpace(o.AppKey) == "" {
		p.Add("AppKey is required")
	}
	if strings.TrimSpace(o.MasterSecret) == "" {
		p.Add("MasterSecret is required")
	}
	endpoint := p.PlainEndpoint("Endpoint", o.Endpoint, DefaultEndpoint)
	authURL := p.PlainEndpoint("AuthEndpoint", o.AuthEndpoint, endpoint+AuthPath)
	if o.Category != strings.TrimSpace(o.Category) {
		p.Add("Category %q has surrounding spaces", o.Category)
	}
	level := o.NotifyLevel
	switch {
	case level == 0:
		level = DefaultNotifyLevel
	case !slices.Contains(notifyLevels, level):
		p.Add("NotifyLevel must be one of %v, got %d", notifyLevels, level)
	}
	roots := p.Roots(o.CAFile)
	timeout := p.Timeout(o.Timeout, DefaultTimeout)
	if err := p.Err(); err != nil {
		return nil, err
	}
	now := vendorhttp.Clock(o.Now)

	c := &Client{
		appKey:       o.AppKey,
		masterSecret: o.MasterSecret,
		authURL:      authURL,
		unicastURL:   endpoint + UnicastPath,
		saveURL:      endpoint + SaveMessagePath,
		broadcastURL: endpoint + BroadcastPath,
		defaults:     defaults{channelID: o.ChannelID, category: o.Category, notifyLevel: level},
		timeout:      timeout,
		now:          now,
		http:         vendorhttp.NewClient(roots, timeout),
	}
	c.tokens = vendorhttp.NewTokenCache(timeout, now, c.fetchToken)
	return c, nil
}

// Send pushes n to OPPO and reduces the answer to a Result. n.Token (or a
// single n.Tokens entry) goes by unicast; several n.Tokens by one broadcast.
// It never returns an error: a network failure is a Retry verdict. A dry run
// fetches the auth_token (so it shows whether the credentials work) but sends
// nothing; for a batch it shows the save_message_content request that would
// come first.
func (c *Client) Send(ctx context.Context, n *push.Notification) push.Result {
	tokens, err := n.Targets(maxTargets)
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	if len(tokens) == 1 {
		return c.unicast(ctx, n, tokens[0])
	}
	return c.broadcast(ctx, n)
}

// unicast sends n to one regId.
func (c *Client) unicast(ctx context.Context, n *push.Notification, token string) push.Result {
	nt, err := buildNotification(n, c.defaults, c.now())
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	form, err := unicastForm(token, nt)
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	tok, failed := c.tokens.GetResult(ctx, "AuthError: ")
	if failed != nil {
		return *failed
	}
	form.Set("auth_token", tok)
	shown := map[string]string{"auth_token": push.MaskSecret(tok)}
	if n.DryRun {
		return push.Result{Exchange: formRequest(c.unicastURL, form, shown, false).Exchange()}
	}
	r, _ := c.post(ctx, c.unicastURL, form, shown, n.SkipExchange)
	if r.Verdict == push.TokenInvalid {
		r.InvalidTokens = []string{token}
	}
	return r
}

// broadcast saves n's content and broadcasts it to n.Tokens.
func (c *Client) broadcast(ctx context.Context, n *push.Notification) push.Result {
	if err := checkTokens(n.Tokens); err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	nt, err := buildNotification(n, c.defaults, c.now())
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	save := saveForm(nt)
	tok, failed := c.tokens.GetResult(ctx, "AuthError: ")
	if failed != nil {
		return *failed
	}
	save.Set("auth_token", tok)
	shown := map[string]string{"auth_token": push.MaskSecret(tok)}
	if n.DryRun {
		return push.Result{Exchange: formRequest(c.saveURL, save, shown, false).Exchange()}
	}

	r, a := c.post(ctx, c.saveURL, save, shown, n.SkipExchange)
	if r.Verdict == push.TokenInvalid {
		r.Verdict = push.BadRequest // no regId is in a saved message: a code out of place
	}
	if r.Verdict != push.Delivered {
		r.Reason = "SaveMessageContent: " + r.Reason
		return r
	}
	messageID := messageID(a.data)
	if messageID == "" {
		r.Verdict, r.Reason = push.Retry, "SaveMessageContent: the answer has no data.message_id"
		return r
	}

	bc := broadcastForm(messageID, n.Tokens)
	bc.Set("auth_token", tok)
	r, a = c.post(ctx, c.broadcastURL, bc, shown, n.SkipExchange)
	switch r.Verdict {
	case push.Delivered, push.TokenInvalid:
		// On success the data lists the dead regIds by code, and the rest were
		// taken. A top-level dead-regId code blames the targets it lists; when
		// it lists no or not all of them nothing tells which, and nothing was sent.
		r.InvalidTokens = deadRegIDs(a.data, n.Tokens)
		all := len(r.InvalidTokens) == len(unique(n.Tokens))
		switch {
		case all:
			r.Verdict = push.TokenInvalid
		case r.Verdict == push.TokenInvalid:
			r.Verdict = push.BadRequest
		}
	}
	return r
}

// unique returns tokens without repeats.
func unique(tokens []string) []string {
	seen := make(map[string]bool, len(tokens))
	out := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// formRequest is a form POST to u; shown replaces the secret values of form
// in the exchange record. With noRecord there is no record, and the masked
// copy of the form (as long as the form of a broadcast to 1,000 tokens) is
// not encoded at all.
func formRequest(u string, form url.Values, shown map[string]string, noRecord bool) vendorhttp.Request {
	req := vendorhttp.Request{
		URL:      u,
		Headers:  []vendorhttp.Header{{Name: "Content-Type", Value: formContentType}},
		Body:     []byte(form.Encode()),
		NoRecord: noRecord,
	}
	if !noRecord {
		masked := make(url.Values, len(form))
		for k, v := range form {
			masked[k] = v
		}
		for k, v := range shown {
			masked.Set(k, v)
		}
		req.Shown = []byte(masked.Encode())
	}
	return req
}

// post sends form to u and reduces OPPO's answer to a Result carrying the
// exchange (shown masks secrets in it), or none with noRecord.
func (c *Client) post(ctx context.Context, u string, form url.Values, shown map[string]string, noRecord bool) (r push.Result, a answer) {
	req := formRequest(u, form, shown, noRecord)
	r = vendorhttp.Do(ctx, c.http, req, func(x vendorhttp.Answer) (res push.Result) {
		res, a = parseResponse(x.Status, x.Header, x.Body, c.now())
		return res
	})
	return r, a
}

// Refresh drops the cached auth_token so that the next Send fetches a new one,
// after OPPO answered code 11 (invalid auth_token) for the current one.
func (c *Client) Refresh() {
	c.tokens.Refresh()
}

// Close closes the idle connections. Sends may still follow; they reconnect.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

var _ push.Sender = (*Client)(nil)
