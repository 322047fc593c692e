package oppo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/pushd-im/pushd/push"
)

// The auth_token's life: OPPO keeps one valid for 24 hours; the client uses it
// until an hour before that, so a send never races its expiry.
const (
	tokenLife    = 24 * time.Hour
	refreshEarly = time.Hour
)

// sign is OPPO's auth signature: lower-case hex SHA-256 of app_key, the
// timestamp string as sent, and the master secret.
func sign(appKey, timestamp, masterSecret string) string {
	sum := sha256.Sum256([]byte(appKey + timestamp + masterSecret))
	return hex.EncodeToString(sum[:])
}

// authFailure is a failed auth call, already reduced to the Result a Send
// reports (verdict, status, reason and the auth exchange).
type authFailure struct {
	result push.Result
}

func (e *authFailure) Error() string { return "oppo auth: " + e.result.Reason }

// tokenCache holds the current auth_token and makes sure concurrent Sends that
// find none share one fetch. fetch runs in a goroutine of its own, bounded by
// the HTTP client's timeout, so a Send whose context ends stops waiting while
// the fetch still fills the cache for the others.
type tokenCache struct {
	fetch func() (string, error)
	now   func() time.Time

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	flight    *flight // the fetch under way, nil when none
}

// flight is one fetch; token and err are set before done is closed.
type flight struct {
	done  chan struct{}
	token string
	err   error
}

// get returns the cached token, or waits for a fetch (starting one if none is
// under way).
func (c *tokenCache) get(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.token != "" && c.now().Before(c.refreshAt) {
		tok := c.token
		c.mu.Unlock()
		return tok, nil
	}
	f := c.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flight = f
		go c.run(f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *tokenCache) run(f *flight) {
	started := c.now()
	tok, err := c.fetch()
	c.mu.Lock()
	if err == nil {
		c.token, c.refreshAt = tok, started.Add(tokenLife-refreshEarly)
	}
	c.flight = nil
	c.mu.Unlock()
	f.token, f.err = tok, err
	close(f.done)
}

// drop forgets the cached token.
func (c *tokenCache) drop() {
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
}

// fetchToken calls the auth API and returns the new auth_token, or an
// *authFailure carrying the verdict.
func (c *Client) fetchToken() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	timestamp := strconv.FormatInt(c.now().UnixMilli(), 10)
	signature := sign(c.appKey, timestamp, c.masterSecret)
	form := url.Values{"app_key": {c.appKey}, "timestamp": {timestamp}, "sign": {signature}}
	r, a := c.post(ctx, c.authURL, form, map[string]string{"sign": push.MaskSecret(signature)})
	if r.Verdict != push.Delivered {
		if r.Verdict == push.AuthExpired || r.Verdict == push.TokenInvalid {
			// Not meaningful for the auth call itself: a refusal to fix by hand.
			r.Verdict = push.BadRequest
		}
		r.Reason = "AuthError: " + r.Reason
		return "", &authFailure{result: r}
	}
	var data struct {
		AuthToken string `json:"auth_token"`
	}
	if json.Unmarshal(a.data, &data) != nil || data.AuthToken == "" {
		r.Verdict, r.Reason = push.Retry, "AuthError: the answer has no data.auth_token"
		return "", &authFailure{result: r}
	}
	return data.AuthToken, nil
}

// authToken returns the auth_token for a send, or the Result to report when
// there is none.
func (c *Client) authToken(ctx context.Context) (string, *push.Result) {
	tok, err := c.tokens.get(ctx)
	if err == nil {
		return tok, nil
	}
	var af *authFailure
	if errors.As(err, &af) {
		r := af.result
		return "", &r
	}
	return "", &push.Result{Verdict: push.Retry, Reason: "AuthError: " + err.Error()}
}
