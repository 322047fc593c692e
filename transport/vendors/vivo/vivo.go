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
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pushd-im/pushd/push"
)

// ErrInvalidOptions is wrapped by every error New reports about Options.
var ErrInvalidOptions = errors.New("vivo: invalid options")

// The defaults of Options.
const (
	DefaultEndpoint       = "https://api-push.vivo.com.cn"
	DefaultTimeout        = 30 * time.Second
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

// maxAnswer is the most of a vivo answer body kept.
const maxAnswer = 64 << 10

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
	// Timeout bounds one request, connecting included, and one auth fetch. Default 30s.
	Timeout time.Duration
	// Now is the clock for sign timestamps, token age and TTLs. Default time.Now.
	Now func() time.Time
}

// Client sends notifications to vivo. It implements push.Sender and push.Batcher.
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

	mu       sync.Mutex
	token    string
	tokenAt  time.Time   // when the cached token was asked for, on now
	fetching *tokenFetch // the fetch in flight, if any
}

// tokenFetch is one auth call that any number of Sends wait for.
type tokenFetch struct {
	done    chan struct{}
	token   string
	failure push.Result // when token is ""
}

// New checks o, reporting every problem at once, and returns a Client. It does
// not connect: the first Send fetches the authToken.
func New(o Options) (*Client, error) {
	var problems []error
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if o.AppID <= 0 {
		bad("AppID must be vivo's numeric app id, more than 0, got %d", o.AppID)
	}
	appKey, appSecret := strings.TrimSpace(o.AppKey), strings.TrimSpace(o.AppSecret)
	if appKey == "" {
		bad("AppKey is required")
	}
	if appSecret == "" {
		bad("AppSecret is required")
	}
	endpoint := DefaultEndpoint
	if o.Endpoint != "" {
		if !httpsURL(o.Endpoint) {
			bad("Endpoint must be an https URL such as %s, got %q", DefaultEndpoint, o.Endpoint)
		}
		endpoint = strings.TrimRight(o.Endpoint, "/")
	}
	authURL := endpoint + authPath
	if o.AuthEndpoint != "" {
		if !httpsURL(o.AuthEndpoint) {
			bad("AuthEndpoint must be an https URL such as %s, got %q", DefaultEndpoint+authPath, o.AuthEndpoint)
		}
		authURL = o.AuthEndpoint
	}
	classification := DefaultClassification
	if o.Classification != nil {
		classification = *o.Classification
		if classification != 0 && classification != 1 {
			bad("Classification must be 0 (operations) or 1 (system), got %d", classification)
		}
	}
	roots, err := rootsWith(o.CAFile)
	if err != nil {
		bad("CAFile %s: %v", o.CAFile, err)
	}
	timeout := o.Timeout
	switch {
	case timeout < 0:
		bad("Timeout must not be negative, got %v", timeout)
	case timeout == 0:
		timeout = DefaultTimeout
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &Client{
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
		http:           &http.Client{Transport: transport, Timeout: timeout},
	}, nil
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

// rootsWith returns the system roots plus the certificates of caFile, or nil
// (the system roots) when caFile is empty.
func rootsWith(caFile string) (*x509.CertPool, error) {
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

// MaxBatch is the most tokens one Send may carry in Notification.Tokens: the
// regIds of one pushToList.
func (c *Client) MaxBatch() int { return maxListTargets }

// Send pushes n to vivo and reduces the answer to a Result. One token (n.Token,
// or n.Tokens holding one) goes through /message/send; several through
// saveListPayload and pushToList, whose invalidUsers come back in
// Result.InvalidTokens (all of them invalid is TokenInvalid, some Delivered).
// It never returns an error: a network failure is a
// Retry verdict. A dry run fetches the authToken (so it shows whether the
// credentials work) but sends nothing; for a batch its Exchange is the
// saveListPayload request, the one that carries the notification.
func (c *Client) Send(ctx context.Context, n *push.Notification) push.Result {
	tokens, err := targets(n)
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
	msg.RequestID = requestID(n.ID)
	body, err := json.Marshal(msg)
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	token, failure := c.authToken(ctx)
	if failure != nil {
		return *failure
	}
	r, a := c.post(ctx, c.sendURL, body, token, n.DryRun)
	if n.DryRun {
		return r
	}
	c.afterAnswer(token, a)
	if r.Verdict == push.TokenInvalid && len(n.Tokens) > 0 {
		r.InvalidTokens = []string{regID}
	}
	return r
}

// sendList saves msg as a list payload and pushes it to regIDs.
func (c *Client) sendList(ctx context.Context, n *push.Notification, msg message, regIDs []string) push.Result {
	msg.RequestID = requestID(n.ID)
	body, err := json.Marshal(msg)
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	token, failure := c.authToken(ctx)
	if failure != nil {
		return *failure
	}
	r, a := c.post(ctx, c.saveURL, body, token, n.DryRun)
	if n.DryRun {
		return r
	}
	c.afterAnswer(token, a)
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

	body, err = json.Marshal(listRequest{AppID: c.appID, RegIDs: regIDs, TaskID: string(a.TaskID), RequestID: requestID(n.ID)})
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	r, a = c.post(ctx, c.pushURL, body, token, false)
	c.afterAnswer(token, a)
	if r.Verdict == push.Delivered || r.Verdict == push.TokenInvalid {
		r.InvalidTokens = a.invalid(regIDs, r.Verdict == push.TokenInvalid)
		if r.Verdict == push.Delivered && len(r.InvalidTokens) == len(regIDs) {
			r.Verdict = push.TokenInvalid
		}
	}
	return r
}

// afterAnswer drops the authToken vivo just refused, so that the next Send
// fetches a new one even before the dispatcher calls Refresh.
func (c *Client) afterAnswer(token string, a answer) {
	if a.Result != nil && verdictFor(*a.Result) == push.AuthExpired {
		c.mu.Lock()
		if c.token == token {
			c.token = ""
		}
		c.mu.Unlock()
	}
}

// post sends body to u with the authToken header and reduces the answer. With
// dryRun it only returns the Exchange it would have sent.
func (c *Client) post(ctx context.Context, u string, body []byte, token string, dryRun bool) (push.Result, answer) {
	ex := &push.Exchange{
		Method: http.MethodPost,
		URL:    u,
		Headers: map[string]string{
			"content-type": "application/json; charset=utf-8",
			"authtoken":    push.MaskSecret(token),
		},
		Body: string(body),
	}
	if dryRun {
		return push.Result{Exchange: ex}, answer{}
	}
	return c.do(ctx, u, body, token, ex)
}

// do makes one POST and reduces its answer; ex gets the status and answer.
func (c *Client) do(ctx context.Context, u string, body []byte, token string, ex *push.Exchange) (push.Result, answer) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error(), Exchange: ex}, answer{}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if token != "" {
		req.Header.Set("authToken", token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return push.Result{Verdict: push.Retry, Reason: "NetworkError: " + err.Error(), Exchange: ex}, answer{}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	ex.Status, ex.Answer = resp.StatusCode, string(raw)
	if err != nil {
		return push.Result{Verdict: push.Retry, Status: resp.StatusCode, Reason: "NetworkError: " + err.Error(), Exchange: ex}, answer{}
	}
	r, a := parseResponse(resp.StatusCode, resp.Header, raw, c.now())
	r.Exchange = ex
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

// authToken returns the cached authToken, or waits for the one fetch in flight
// (starting it when there is none). The fetch is not tied to ctx, so a Send
// that gives up does not fail the others waiting; it ends within Options.Timeout.
func (c *Client) authToken(ctx context.Context) (string, *push.Result) {
	c.mu.Lock()
	if c.token != "" && c.now().Sub(c.tokenAt) < tokenRefreshInterval {
		token := c.token
		c.mu.Unlock()
		return token, nil
	}
	f := c.fetching
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		c.fetching = f
		go c.fetch(f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		if f.token != "" {
			return f.token, nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.token != "" && c.now().Sub(c.tokenAt) < tokenLife-tokenRefreshInterval {
			return c.token, nil
		}
		r := f.failure
		return "", &r
	case <-ctx.Done():
		return "", &push.Result{Verdict: push.Retry, Reason: "AuthError: " + ctx.Err().Error()}
	}
}

// fetch runs f and caches its token.
func (c *Client) fetch(f *tokenFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	asked := c.now()
	token, failure := c.requestToken(ctx, asked)
	c.mu.Lock()
	if c.fetching == f {
		c.fetching = nil
		if token != "" {
			c.token, c.tokenAt = token, asked
		}
	}
	c.mu.Unlock()
	f.token, f.failure = token, failure
	close(f.done)
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
	ex := &push.Exchange{
		Method:  http.MethodPost,
		URL:     c.authURL,
		Headers: map[string]string{"content-type": "application/json; charset=utf-8"},
		Body:    string(masked),
	}
	r, a := c.do(ctx, c.authURL, body, "", ex)
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
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
}

// Close closes the idle connections. Sends may still follow; they reconnect.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

var (
	_ push.Sender  = (*Client)(nil)
	_ push.Batcher = (*Client)(nil)
)
