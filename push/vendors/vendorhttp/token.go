package vendorhttp

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pushd-im/pushd/push"
)

// Credential is a token a vendor's auth call handed out, and how long to use it.
type Credential struct {
	Token string
	// RenewAt is when the cache stops handing Token out and fetches a new one.
	RenewAt time.Time
	// KeepUntil is how long Token may still stand in when fetching its
	// successor fails. The zero time: never past RenewAt.
	KeepUntil time.Time
}

// TokenCache holds one client's current token. The first Get that finds no
// usable token starts one fetch, which every concurrent Get waits on. The
// fetch runs on its own, bounded by the cache's timeout and not by any
// caller's context, so a caller that gives up does not spoil it for the
// others: it still ends and fills the cache. A TokenCache is safe for
// concurrent use.
type TokenCache struct {
	fetch   func(context.Context) (Credential, error)
	timeout time.Duration
	now     func() time.Time

	mu     sync.Mutex
	cur    Credential
	flight *flight // the fetch under way, nil when none
}

// flight is one fetch; token and err are set before done is closed.
type flight struct {
	done  chan struct{}
	token string
	err   error
}

// NewTokenCache returns an empty cache whose tokens come from fetch, each
// fetch bounded by timeout, and whose RenewAt and KeepUntil are judged by now
// (nil: time.Now).
func NewTokenCache(timeout time.Duration, now func() time.Time, fetch func(context.Context) (Credential, error)) *TokenCache {
	return &TokenCache{fetch: fetch, timeout: timeout, now: Clock(now)}
}

// errEmptyToken is a fetch that reported success but handed out no token.
var errEmptyToken = errors.New("the fetch gave no token")

// Get returns a usable token: the cached one before its RenewAt, else the
// outcome of a fetch (starting one when none is under way). When the fetch
// fails, the cached token is still returned before its KeepUntil. When ctx
// ends first, Get returns ctx.Err() and the fetch goes on.
func (c *TokenCache) Get(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.cur.Token != "" && c.now().Before(c.cur.RenewAt) {
		tok := c.cur.Token
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
		if f.err == nil {
			return f.token, nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.cur.Token != "" && !c.cur.KeepUntil.IsZero() && c.now().Before(c.cur.KeepUntil) {
			return c.cur.Token, nil
		}
		return "", f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// run makes one fetch and publishes its outcome to the cache and f.
func (c *TokenCache) run(f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cred, err := c.fetch(ctx)
	if err == nil && cred.Token == "" {
		err = errEmptyToken
	}
	c.mu.Lock()
	if err == nil {
		c.cur = cred
	}
	c.flight = nil
	c.mu.Unlock()
	f.token, f.err = cred.Token, err
	close(f.done)
}

// Refresh forgets the cached token, so that the next Get fetches a new one.
// A fetch under way is not stopped; its token is cached when it ends.
func (c *TokenCache) Refresh() {
	c.mu.Lock()
	c.cur = Credential{}
	c.mu.Unlock()
}

// Drop forgets used if it is still the cached token, after the vendor refused
// it. A token that replaced it meanwhile is kept.
func (c *TokenCache) Drop(used string) {
	c.mu.Lock()
	if used != "" && c.cur.Token == used {
		c.cur = Credential{}
	}
	c.mu.Unlock()
}

// Failure is a fetch that failed with the Result a Send reports for it: the
// verdict, status, reason and exchange of the refused auth call.
type Failure struct {
	Result push.Result
}

func (f *Failure) Error() string { return f.Result.Reason }

// GetResult is Get for a Send: it returns the token, or else the Result to
// report. That is a Failure's own Result; any other failure (the network,
// the caller's context) is Retry, its reason prefix followed by the error.
func (c *TokenCache) GetResult(ctx context.Context, prefix string) (string, *push.Result) {
	tok, err := c.Get(ctx)
	if err == nil {
		return tok, nil
	}
	var f *Failure
	if errors.As(err, &f) {
		r := f.Result
		return "", &r
	}
	return "", &push.Result{Verdict: push.Retry, Reason: prefix + err.Error()}
}
