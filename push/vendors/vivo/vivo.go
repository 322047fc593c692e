// Package vivo sends pushes through vivo Push's server API: POST
// {endpoint}/message/send for one regId, and for 2 to 1000 regIds with one
// payload the two-step POST /message/saveListPayload then /message/pushToList.
// Every call carries an authToken header that POST /message/auth hands out for
// an md5 sign over the app's id, key, a millisecond timestamp and its secret.
//
// A Client keeps one connection pool and one cached authToken for all its
// Sends; it is safe for concurrent use. The token is fetched once however many
// Sends wait for it, reused for tokenRefreshInterval (vivo tokens live 24 h and
// vivo asks for a new one every 1–2 h), dropped by Refresh and when vivo
// answers 10000 for it.
//
// Every vivo answer is reduced to a push.Verdict in one table (verdicts in
// response.go), so a code vivo documents differently is one line to fix. The
// mapping of push.Notification fields to vivo's is in message.go.
package vivo

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// ErrInvalidOptions is wrapped by every error New reports about Options.
var ErrInvalidOptions = errors.New("vivo: invalid options")

// The defaults of Options.
const (
	DefaultEndpoint       = "https://api-push.vivo.com.cn"
	DefaultTimeout        = vendorhttp.DefaultTimeout
	DefaultClassification = 1
)

// tokenRefreshInterval is how long an authToken is reused before a Send fetches
// a new one. vivo's tokens are valid for tokenLife; vivo advises a new one
// every 1–2 h. When fetching a new one fails, the old one is used while it is
// younger than tokenLife less tokenRefreshInterval.
const (
	tokenRefreshInterval = time.Hour
	tokenLife            = 24 * time.Hour
)

// The API paths below Endpoint.
const (
	authPath            = "/message/auth"
	sendPath            = "/message/send"
	saveListPayloadPath = "/message/saveListPayload"
	pushToListPath      = "/message/pushToList"
)

// maxListTargets is the most regIds one pushToList takes.
const maxListTargets = 1000

// Options configures a Client.
type Options struct {
	// AppID is the numeric app id from the vivo developer console. Required.
	AppID int
	// AppKey and AppSecret are the app's key and secret. Required.
	AppKey    string
	AppSecret string
	// Endpoint is the API base URL. Default https://api-push.vivo.com.cn.
	Endpoint string
	// AuthEndpoint is the full URL of the auth call. Default Endpoint + "/message/auth".
	AuthEndpoint string
	// Classification is sent when a Notification has none: 0 operations
	// message (capped per day), 1 system message (what IM uses). Default 1.
	Classification *int
	// Category is the message category sent when a Notification has none (for
	// example "IM"). Default "" (none sent).
	Category string
	// CAFile is a PEM file of extra CAs to trust besides the system roots (the
	// simulator's). Empty: the system roots only.
	CAFile string
	// Timeout bounds one request, connecting included, and one auth fetch. Default DefaultTimeout (15s).
	Timeout time.Duration
	// Now is the clock for sign timestamps, token age and TTLs. Default time.Now.
	Now func() time.Time
}

// Client sends notifications to vivo. It implements push.Sender.
type Client struct {
	appID          int
	appKey         string
	appSecret      string
	authURL        string
	sendURL        string
	saveURL        string
	pushURL        string
	classification int
	category       string
	timeout        time.Duration
	now            func() time.Time
	http           *http.Client
	tokens         *vendorhttp.TokenCache
}

// New checks o, reporting every problem at once, and returns a Client. It does
// not connect: the first Send fetches the authToken.
func New(o Options) (*Client, error) {
	p := vendorhttp.Problems{Invalid: ErrInvalidOptions}
	if o.AppID <= 0 {
		p.Add("AppID must be vivo's numeric app id, more than 0, got %d", o.AppID)
	}
	appKey, appSecret := strings.TrimSpace(o.AppKey), strings.TrimSpace(o.AppSecret)
	if appKey == "" {
		p.Add("AppKey is required")
	}
	if appSecret == "" {
		p.Add("AppSecret is required")
	}
	endpoint := p.Endpoint("Endpoint", o.Endpoint, DefaultEndpoint)
	authURL := endpoint + authPath
	if o.AuthEndpoint != "" {
		p.HTTPS("AuthEndpoint", o.AuthEndpoint, DefaultEndpoint+authPath)
		authURL = o.AuthEndpoint // as given, not trimmed
	}
	classification := DefaultClassification
	if o.Classification != nil {
		classification = *o.Classification
		if classification != 0 && classification != 1 {
			p.Add("Classification must be 0 (operations) or 1 (system), got %d", classification)
		}
	}
	roots := p.Roots(o.CAFile)
	timeout := p.Timeout(o.Timeout, DefaultTimeout)
	if err := p.Err(); err != nil {
		return nil, err
	}
	now := vendorhttp.Clock(o.Now)
	c := &Client{
		appID:          o.AppID,
		appKey:         appKey,
		appSecret:      appSecret,
		authURL:        authURL,
		sendURL:        endpoint + sendPath,
		saveURL:        endpoint + saveListPayloadPath,
		pushURL:        endpoint + pushToListPath,
		classification: classification,
		category:       o.Category,
		timeout:        timeout,
		now:            now,
		http:           vendorhttp.NewClient(roots, timeout),
	}
	c.tokens = vendorhttp.NewTokenCache(timeout, now, c.fetchToken)
	return c, nil
}

// Send pushes n to vivo and reduces the answer to a Result. One token (n.Token,
// or n.Tokens holding one) goes through /message/send; several through
// saveListPayload and pushToList, whose invalidUsers come back in
// Result.InvalidTokens (all of them invalid is TokenInvalid, some Delivered).
// It never returns an error: a network failure is a
// Retry verdict. A dry run fetches the authToken (so it shows whether the
// credentials work) but sends nothing; for a batch its Exchange is the
// saveListPayload request, the one that carries the notification.
func (c *Client) Send(ctx context.Context, n *push.Notification) push.Result {
	tokens, err := n.Targets(maxListTargets)
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	msg, err := c.message(n, c.now())
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	if len(tokens) == 1 {
		return c.sendOne(ctx, n, msg, tokens[0])
	}
	return c.sendList(ctx, n, msg, tokens)
}

// sendOne posts msg to one regId through /message/send.
func (c *Client) sendOne(ctx context.Context, n *push.Notification, msg message, regID string) push.Result {
	msg.RegID = regID
	r, _, _, done := c.postMessage(ctx, n, msg, c.sendURL)
	if done {
		return r
	}
	if r.Verdict == push.TokenInvalid && len(n.Tokens) > 0 {
		r.InvalidTokens = []string{regID}
	}
	return r
}

// sendList saves msg as a list payload and pushes it to regIDs.
func (c *Client) sendList(ctx context.Context, n *push.Notification, msg message, regIDs []string) push.Result {
	r, a, token, done := c.postMessage(ctx, n, msg, c.saveURL)
	if done {
		return r
	}
	switch {
	case r.Verdict == push.TokenInvalid:
		// No regId was named yet: an answer about one is vivo's mistake.
		r.Verdict = push.BadRequest
		return r
	case r.Verdict != push.Delivered:
		return r
	case a.TaskID == "":
		r.Verdict, r.Reason = push.Retry, "BadAnswer: saveListPayload gave no taskId"
		return r
	}

	body, err := json.Marshal(listRequest{AppID: c.appID, RegIDs: regIDs, TaskID: string(a.TaskID), RequestID: requestID(n.ID)})
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	r, a = c.post(ctx, c.pushURL, body, token, false, n.SkipExchange)
	c.afterAnswer(token, a)
	if r.Verdict == push.Delivered || r.Verdict == push.TokenInvalid {
		r.InvalidTokens = a.invalid(regIDs, r.Verdict == push.TokenInvalid)
		if r.Verdict == push.Delivered && len(r.InvalidTokens) == len(regIDs) {
			r.Verdict = push.TokenInvalid
		}
	}
	return r
}

// postMessage posts msg, with a fresh requestId for n, to u with the
// authToken: the first call of a Send. done is set when r is the Send's Result
// already: msg does not encode, no authToken came, or n is a dry run (r shows
// the request). Otherwise a and token are vivo's answer and the token used.
func (c *Client) postMessage(ctx context.Context, n *push.Notification, msg message, u string) (r push.Result, a answer, token string, done bool) {
	msg.RequestID = requestID(n.ID)
	body, err := json.Marshal(msg)
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}, answer{}, "", true
	}
	token, failure := c.tokens.GetResult(ctx, "AuthError: ")
	if failure != nil {
		return *failure, answer{}, "", true
	}
	r, a = c.post(ctx, u, body, token, n.DryRun, n.SkipExchange)
	if n.DryRun {
		return r, a, token, true
	}
	c.afterAnswer(token, a)
	return r, a, token, false
}

// afterAnswer drops the authToken vivo just refused, so that the next Send
// fetches a new one even before the dispatcher calls Refresh.
func (c *Client) afterAnswer(token string, a answer) {
	if a.Result != nil && verdictFor(*a.Result) == push.AuthExpired {
		c.tokens.Drop(token)
	}
}

// jsonHeader is how every vivo call is encoded.
var jsonHeader = vendorhttp.Header{Name: "Content-Type", Value: "application/json; charset=utf-8"}

// post sends body to u with the authToken header and reduces the answer. With
// dryRun it only returns the Exchange it would have sent; with noRecord the
// Result has no Exchange.
func (c *Client) post(ctx context.Context, u string, body []byte, token string, dryRun, noRecord bool) (push.Result, answer) {
	req := vendorhttp.Request{
		URL:      u,
		Headers:  []vendorhttp.Header{jsonHeader, {Name: "authToken", Secret: token}},
		Body:     body,
		NoRecord: noRecord,
	}
	if dryRun {
		return push.Result{Exchange: req.Exchange()}, answer{}
	}
	return c.do(ctx, req)
}

// do makes one call and reduces its answer; the Result carries the exchange.
func (c *Client) do(ctx context.Context, req vendorhttp.Request) (r push.Result, a answer) {
	r = vendorhttp.Do(ctx, c.http, req, func(x vendorhttp.Answer) (res push.Result) {
		res, a = parseResponse(x.Status, x.Header, x.Body, c.now())
		return res
	})
	return r, a
}

// --- auth ---

// authRequest is the body of /message/auth.
type authRequest struct {
	AppID     int    `json:"appId"`
	AppKey    string `json:"appKey"`
	Timestamp int64  `json:"timestamp"`
	Sign      string `json:"sign"`
}

// fetchToken makes the auth call. A token is reused for tokenRefreshInterval
// from when it was asked for; when fetching its successor fails, it stands in
// while younger than tokenLife less tokenRefreshInterval.
func (c *Client) fetchToken(ctx context.Context) (vendorhttp.Credential, error) {
	asked := c.now()
	token, failure := c.requestToken(ctx, asked)
	if token == "" {
		return vendorhttp.Credential{}, &vendorhttp.Failure{Result: failure}
	}
	return vendorhttp.Credential{
		Token:     token,
		RenewAt:   asked.Add(tokenRefreshInterval),
		KeepUntil: asked.Add(tokenLife - tokenRefreshInterval),
	}, nil
}

// requestToken makes the auth call. A refused sign is a configuration error
// (BadRequest); a network failure, 5xx or rate limit is Retry. The failure's
// Exchange is the auth call with the key and sign masked.
func (c *Client) requestToken(ctx context.Context, now time.Time) (string, push.Result) {
	ts := now.UnixMilli()
	sign := authSign(c.appID, c.appKey, ts, c.appSecret)
	body, err := json.Marshal(authRequest{AppID: c.appID, AppKey: c.appKey, Timestamp: ts, Sign: sign})
	if err != nil {
		return "", push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	masked, _ := json.Marshal(authRequest{AppID: c.appID, AppKey: push.MaskSecret(c.appKey), Timestamp: ts, Sign: push.MaskSecret(sign)})
	r, a := c.do(ctx, vendorhttp.Request{URL: c.authURL, Headers: []vendorhttp.Header{jsonHeader}, Body: body, Shown: masked})
	if r.Verdict == push.Delivered && a.AuthToken != "" {
		return a.AuthToken, push.Result{}
	}
	if r.Verdict == push.Delivered {
		r.Verdict, r.Reason = push.Retry, "BadAnswer: no authToken"
	}
	if r.Verdict != push.Retry && r.Verdict != push.QuotaExhausted {
		// A refused auth call will not pass by refreshing: the credentials are wrong.
		r.Verdict = push.BadRequest
	}
	r.Reason = "AuthError: " + r.Reason
	return "", r
}

// authSign is vivo's sign: the lower-case hex MD5 of appId, appKey, the
// millisecond timestamp and appSecret, concatenated.
func authSign(appID int, appKey string, ts int64, appSecret string) string {
	sum := md5.Sum([]byte(strconv.Itoa(appID) + appKey + strconv.FormatInt(ts, 10) + appSecret))
	return hex.EncodeToString(sum[:])
}

// Refresh drops the cached authToken so that the next Send fetches a new one,
// after vivo answered 10000 for the current one.
func (c *Client) Refresh() {
	c.tokens.Refresh()
}

// Close closes the idle connections. Sends may still follow; they reconnect.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

var _ push.Sender = (*Client)(nil)
