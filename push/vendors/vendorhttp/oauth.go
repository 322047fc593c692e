package vendorhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
)

// defaultTokenLife is the access-token lifetime assumed when the token endpoint
// gives no expires_in; Huawei's and Honor's are 3600 s (docs/vendors.md).
const defaultTokenLife = time.Hour

// refreshEarly is how long before its expiry a cached token is replaced, so a
// token is never sent in its last minutes (clock skew, slow requests). For
// short-lived tokens it is half the lifetime instead.
const refreshEarly = 5 * time.Minute

// ClientCredentials is an OAuth 2.0 client-credentials grant (RFC 6749 4.4)
// as Huawei and Honor take it: a form POST of grant_type, client_id and
// client_secret answered with access_token and expires_in. Give its Fetch to
// NewTokenCache.
type ClientCredentials struct {
	URL          string
	ClientID     string
	ClientSecret string
	HTTP         *http.Client
	Now          func() time.Time
}

// NewOAuthCache is the single-flight token cache of the grant c.
func NewOAuthCache(c *ClientCredentials, timeout time.Duration) *TokenCache {
	return NewTokenCache(timeout, c.Now, c.Fetch)
}

// Fetch asks for an access token and has it replaced refreshEarly before its
// expiry (half its life when that is short), measured from its arrival.
func (c *ClientCredentials) Fetch(ctx context.Context) (Credential, error) {
	token, life, err := c.request(ctx)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Token: token, RenewAt: c.Now().Add(life - min(refreshEarly, life/2))}, nil
}

// tokenAnswer is the token endpoint's JSON: the access token on success, and
// the error fields otherwise. Huawei's error and sub_error are numbers
// ({"error":1101,"sub_error":12304,"error_description":"invalid client_secret"});
// a standard OAuth server sends a string error; both are read.
type tokenAnswer struct {
	AccessToken      string          `json:"access_token"`
	ExpiresIn        json.Number     `json:"expires_in"`
	TokenType        string          `json:"token_type"`
	Error            json.RawMessage `json:"error"`
	SubError         json.RawMessage `json:"sub_error"`
	ErrorDescription string          `json:"error_description"`
}

// tokenError is a token endpoint that answered but gave no token.
type tokenError struct {
	status     int
	reason     string
	retryAfter string
}

func (e *tokenError) Error() string {
	return fmt.Sprintf("token endpoint answered %d: %s", e.status, e.reason)
}

// request asks the token endpoint for an access token with the client
// credentials grant, the secret URL-encoded in the form body.
func (c *ClientCredentials) request(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.ClientID},
		"client_secret": {c.ClientSecret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return "", 0, err
	}
	body, err := ReadBody(resp)
	if err != nil {
		return "", 0, err
	}
	var a tokenAnswer
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	jsonErr := dec.Decode(&a)
	if resp.StatusCode != http.StatusOK || jsonErr != nil || a.AccessToken == "" {
		return "", 0, &tokenError{status: resp.StatusCode, reason: a.reason(), retryAfter: resp.Header.Get("Retry-After")}
	}
	life := defaultTokenLife
	if secs, err := a.ExpiresIn.Int64(); err == nil && secs > 0 {
		life = time.Duration(secs) * time.Second
	}
	return a.AccessToken, life, nil
}

// reason renders the token endpoint's error fields as "1101/12304 invalid client_secret".
func (a tokenAnswer) reason() string {
	code := strings.Trim(string(a.Error), `"`)
	if sub := strings.Trim(string(a.SubError), `"`); sub != "" {
		code += "/" + sub
	}
	parts := []string{}
	if code != "" {
		parts = append(parts, code)
	}
	if a.ErrorDescription != "" {
		parts = append(parts, a.ErrorDescription)
	}
	if len(parts) == 0 {
		return "no access_token in the answer"
	}
	return strings.Join(parts, " ")
}

// OAuthFailure reduces a failed token fetch to a Result: the token endpoint
// refusing the client (4xx, or 200 without a token) is a configuration error;
// 408, 429, 5xx, the network and ctx are temporary.
func OAuthFailure(err error, now time.Time) push.Result {
	var te *tokenError
	if errors.As(err, &te) {
		return push.Result{Verdict: StatusVerdict(te.status), Reason: "OAuthTokenError: " + te.reason, RetryAfter: RetryAfter(te.retryAfter, now)}
	}
	return push.Result{Verdict: push.Retry, Reason: "OAuthTokenError: " + err.Error()}
}

// TokenAuth is how a vendor that takes "Authorization: Bearer <token>" gets
// its token, and SendWith is the send every such client makes with it.
type TokenAuth struct {
	// Get returns the cached token, fetching one when needed.
	Get func(context.Context) (string, error)
	// Fail reduces a failed Get to the push's Result.
	Fail func(error) push.Result
	// Drop forgets a token the vendor refused (nil: nothing to forget).
	Drop func(used string)
}

// SendWith sends req for n with a bearer token: a failed token fetch is
// a.Fail's Result with req's record, a dry run stops with the record,
// anything else is sent and its answer reduced. A token the vendor answers
// AuthExpired for is dropped now, so the next Send fetches a new one even
// without a Refresh (a token another Send already replaced it with stays).
func (a TokenAuth) SendWith(ctx context.Context, client *http.Client, req Request, n *push.Notification, reduce func(Answer) push.Result) push.Result {
	access, err := a.Get(ctx)
	if err != nil {
		r := a.Fail(err)
		r.Exchange = req.Exchange()
		return r
	}
	req.Headers = append(req.Headers, Bearer(access))
	if n.DryRun {
		return push.Result{Exchange: req.Exchange()}
	}
	req.NoRecord = n.SkipExchange
	r := Do(ctx, client, req, reduce)
	if r.Verdict == push.AuthExpired && a.Drop != nil {
		a.Drop(access)
	}
	return r
}
