// Package fcm sends pushes through Firebase Cloud Messaging's HTTP v1 API:
// one POST {endpoint}/v1/projects/{project}/messages:send per device token,
// authorised by an OAuth2 access token that a service account obtains with a
// signed JWT (golang.org/x/oauth2/google).
//
// A Client keeps one HTTP/2 connection pool and one cached access token for
// all its Sends; it is safe for concurrent use. The token endpoint is the
// service account's token_uri, so a simulator can stand in for Google by
// naming its own token endpoint in the account file.
//
// Every FCM answer is reduced to a push.Verdict in one table (verdicts in
// response.go), so an error code Google documents differently is one line to fix.
package fcm

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// ErrInvalidOptions is wrapped by every error New reports about Options.
var ErrInvalidOptions = errors.New("fcm: invalid options")

// The defaults of Options.
const (
	DefaultEndpoint = "https://fcm.googleapis.com"
	DefaultTimeout  = vendorhttp.DefaultTimeout
)

// Scope is the OAuth2 scope an access token needs to send FCM messages.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// Options configures a Client. Set ServiceAccountFile or ServiceAccountJSON.
type Options struct {
	// ServiceAccountFile is the path of the service account's JSON key file.
	ServiceAccountFile string
	// ServiceAccountJSON is the key file's content, an alternative to ServiceAccountFile.
	ServiceAccountJSON []byte
	// ProjectID is the Firebase project to send as. Default: the key file's project_id.
	ProjectID string
	// Endpoint is the FCM base URL. Default https://fcm.googleapis.com.
	Endpoint string
	// CAFile is a PEM file of extra CAs to trust besides the system roots, for
	// both the FCM endpoint and the token endpoint (the simulator's). Empty:
	// the system roots only.
	CAFile string
	// Timeout bounds one request, connecting included, and one token fetch. Default DefaultTimeout (15s).
	Timeout time.Duration
	// HTTPSOnly refuses a key file whose token_uri is not https: the token
	// fetch carries an assertion signed with the key. Default false.
	HTTPSOnly bool
}

// serviceAccount holds the key file fields New checks before handing the file
// to oauth2/google, so that a bad file fails at start with the field named.
type serviceAccount struct {
	Type        string `json:"type"`
	ProjectID   string `json:"project_id"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// Client sends notifications to FCM. It implements push.Sender.
type Client struct {
	sendURL string
	http    *http.Client
	// newTokens makes a fresh caching token source; Refresh swaps it in to drop the cached token.
	newTokens func() (oauth2.TokenSource, error)

	mu     sync.Mutex
	tokens oauth2.TokenSource
	// cached is the last token tokens gave; while it is valid, a send takes
	// it without a goroutine to bound a fetch by ctx.
	cached *oauth2.Token
}

// New checks o, reporting every problem at once, and returns a Client. It does
// not connect: the first Send fetches the access token.
func New(o Options) (*Client, error) {
	p := vendorhttp.Problems{Invalid: ErrInvalidOptions}

	keyJSON := o.ServiceAccountJSON
	field := "ServiceAccountJSON"
	switch {
	case o.ServiceAccountFile != "" && len(o.ServiceAccountJSON) > 0:
		p.Add("ServiceAccountFile and ServiceAccountJSON are both set; set one")
		keyJSON = nil
	case o.ServiceAccountFile != "":
		field = "ServiceAccountFile " + o.ServiceAccountFile
		b, err := os.ReadFile(o.ServiceAccountFile)
		if err != nil {
			p.Add("ServiceAccountFile: %v", err)
		}
		keyJSON = b
	case len(o.ServiceAccountJSON) == 0:
		p.Add("ServiceAccountFile or ServiceAccountJSON is required")
	}
	projectID := o.ProjectID
	if len(keyJSON) > 0 {
		var sa serviceAccount
		if err := json.Unmarshal(keyJSON, &sa); err != nil {
			p.Add("%s is not JSON: %v", field, err)
		} else {
			for _, problem := range checkServiceAccount(sa, o.HTTPSOnly) {
				p.Add("%s: %s", field, problem)
			}
			if projectID == "" {
				projectID = sa.ProjectID
			}
		}
	}
	if projectID == "" && len(keyJSON) > 0 {
		p.Add("ProjectID is empty and the service account has no project_id")
	}

	endpoint := p.Endpoint("Endpoint", o.Endpoint, DefaultEndpoint)
	roots := p.Roots(o.CAFile)
	timeout := p.Timeout(o.Timeout, DefaultTimeout)
	if err := p.Err(); err != nil {
		return nil, err
	}

	// One client for FCM and the token endpoint: each host gets one
	// long-lived HTTP/2 connection that concurrent Sends multiplex over.
	httpClient := vendorhttp.NewClient(roots, timeout)
	// The token fetch gets its client through the context: that is how
	// oauth2 lets the fetch trust CAFile.
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, httpClient)
	newTokens := func() (oauth2.TokenSource, error) {
		// The source returned caches the token until shortly before it expires
		// (an oauth2.ReuseTokenSource inside) and honours the key's token_uri.
		creds, err := google.CredentialsFromJSONWithTypeAndParams(tokenCtx, keyJSON, google.ServiceAccount,
			google.CredentialsParams{Scopes: []string{Scope}})
		if err != nil {
			return nil, err
		}
		return creds.TokenSource, nil
	}
	tokens, err := newTokens()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidOptions, field, err)
	}
	return &Client{
		sendURL:   endpoint + "/v1/projects/" + url.PathEscape(projectID) + "/messages:send",
		http:      httpClient,
		newTokens: newTokens,
		tokens:    tokens,
	}, nil
}

// checkServiceAccount lists what is wrong with a key file, naming its fields.
func checkServiceAccount(sa serviceAccount, httpsOnly bool) []string {
	var problems []string
	if sa.Type != string(google.ServiceAccount) {
		problems = append(problems, fmt.Sprintf("type is %q, want %q", sa.Type, google.ServiceAccount))
	}
	if sa.ClientEmail == "" {
		problems = append(problems, "client_email is empty")
	}
	if err := checkRSAKey(sa.PrivateKey); err != nil {
		problems = append(problems, "private_key: "+err.Error())
	}
	if sa.TokenURI != "" {
		if u, err := url.Parse(sa.TokenURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("token_uri %q is not an http(s) URL", sa.TokenURI))
		} else if httpsOnly && u.Scheme != "https" {
			problems = append(problems, fmt.Sprintf("token_uri %q must be https (plain http only with simulator.enabled: true)", sa.TokenURI))
		}
	}
	return problems
}

// checkRSAKey checks that key is a PEM RSA private key in PKCS#8 or PKCS#1, as
// oauth2 will parse it on the first token fetch.
func checkRSAKey(key string) error {
	block, _ := pem.Decode([]byte(key))
	if block == nil {
		return errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if _, ok := k.(*rsa.PrivateKey); !ok {
			return errors.New("not an RSA key")
		}
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		return errors.New("not a PKCS#8 or PKCS#1 RSA key")
	}
	return nil
}

// Send pushes n to FCM and reduces the answer to a Result. It never returns
// an error: a network failure is a Retry verdict. A dry run fetches the access
// token (so it shows whether the credential works) but sends nothing.
func (c *Client) Send(ctx context.Context, n *push.Notification) push.Result {
	body, err := messageBody(n, time.Now())
	if err != nil {
		return push.Result{Verdict: push.BadRequest, Reason: err.Error()}
	}
	req := vendorhttp.Request{
		URL:     c.sendURL,
		Headers: []vendorhttp.Header{{Name: "Content-Type", Value: "application/json; charset=utf-8"}},
		Body:    body,
	}
	auth := vendorhttp.TokenAuth{Get: c.accessToken, Fail: tokenFailure}
	return auth.SendWith(ctx, c.http, req, n, func(a vendorhttp.Answer) push.Result {
		return parseResponse(a.Status, a.Header, a.Body, time.Now())
	})
}

// accessToken returns the cached access token, fetching one when there is none
// or it is about to expire. oauth2 fetches with the context the source was made
// with, so the wait is bounded here by ctx; an abandoned fetch still ends
// within Options.Timeout and leaves its token in the cache.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	tokens, cached := c.tokens, c.cached
	c.mu.Unlock()
	if cached.Valid() {
		return cached.AccessToken, nil
	}

	type fetched struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan fetched, 1)
	go func() {
		tok, err := tokens.Token()
		done <- fetched{tok, err}
	}()
	select {
	case f := <-done:
		if f.err != nil {
			return "", f.err
		}
		if f.tok.AccessToken == "" {
			return "", errors.New("the token endpoint answered without an access_token")
		}
		c.mu.Lock()
		if c.tokens == tokens { // not refreshed meanwhile
			c.cached = f.tok
		}
		c.mu.Unlock()
		return f.tok.AccessToken, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// tokenFailure reduces a failed token fetch to a Result: the token endpoint
// refusing the service account (4xx) is a configuration error, anything else
// (5xx, 429, 408, network, ctx) is temporary.
func tokenFailure(err error) push.Result {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		status := re.Response.StatusCode
		code := re.ErrorCode
		if code == "" {
			// The JWT flow leaves the RFC 6749 error unparsed.
			var body struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal(re.Body, &body)
			code = body.Error
		}
		reason := "OAuthTokenError"
		if code != "" {
			reason += ": " + code
		}
		return push.Result{Verdict: vendorhttp.StatusVerdict(status), Reason: reason, RetryAfter: vendorhttp.RetryAfter(re.Response.Header.Get("Retry-After"), time.Now())}
	}
	return push.Result{Verdict: push.Retry, Reason: "OAuthTokenError: " + err.Error()}
}

// Refresh drops the cached access token so that the next Send fetches a new
// one, after FCM answered 401 for the current one.
func (c *Client) Refresh() {
	tokens, err := c.newTokens()
	if err != nil {
		// Not reachable: New built a source from the same key file.
		return
	}
	c.mu.Lock()
	c.tokens, c.cached = tokens, nil
	c.mu.Unlock()
}

// Close closes the idle connections. Sends may still follow; they reconnect.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

var _ push.Sender = (*Client)(nil)
