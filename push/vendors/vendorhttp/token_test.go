package vendorhttp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
)

// fakeAuth hands out "tok-1", "tok-2", … valid for an hour on clk; fail, when
// set, makes a fetch fail instead; block, when set, holds each fetch until closed.
type fakeAuth struct {
	clk   *vendortest.Clock
	calls atomic.Int32

	mu    sync.Mutex
	fail  error
	keep  time.Duration // the KeepUntil handed out, after the fetch; 0: none
	block chan struct{}
}

func (a *fakeAuth) fetch(ctx context.Context) (Credential, error) {
	n := a.calls.Add(1)
	a.mu.Lock()
	fail, keep, block := a.fail, a.keep, a.block
	a.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return Credential{}, ctx.Err()
		}
	}
	if fail != nil {
		return Credential{}, fail
	}
	now := a.clk.Now()
	c := Credential{Token: fmt.Sprintf("tok-%d", n), RenewAt: now.Add(time.Hour)}
	if keep > 0 {
		c.KeepUntil = now.Add(keep)
	}
	return c, nil
}

func (a *fakeAuth) set(f func(a *fakeAuth)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func newCache(timeout time.Duration) (*TokenCache, *fakeAuth) {
	a := &fakeAuth{clk: vendortest.NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))}
	return NewTokenCache(timeout, a.clk.Now, a.fetch), a
}

// get is Get that must succeed with want.
func get(t *testing.T, c *TokenCache, want string) {
	t.Helper()
	got, err := c.Get(context.Background())
	if err != nil || got != want {
		t.Fatalf("Get = %q, %v; want %q", got, err, want)
	}
}

func TestTokenCacheSingleFlight(t *testing.T) { synctest.Test(t, testTokenCacheSingleFlight) }

func testTokenCacheSingleFlight(t *testing.T) {
	c, a := newCache(10 * time.Second)
	release := make(chan struct{})
	a.block = release

	const callers = 64
	var wg sync.WaitGroup
	got := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = c.Get(context.Background()) })
	}
	// Every caller is waiting on the one fetch before it answers.
	synctest.Wait()
	close(release)
	wg.Wait()
	for i := range callers {
		if got[i] != "tok-1" || errs[i] != nil {
			t.Fatalf("caller %d got %q, %v; want tok-1", i, got[i], errs[i])
		}
	}
	if n := a.calls.Load(); n != 1 {
		t.Errorf("%d fetches for %d concurrent callers, want 1", n, callers)
	}
	// Cached now: no more fetches.
	get(t, c, "tok-1")
	if n := a.calls.Load(); n != 1 {
		t.Errorf("%d fetches after a cached Get, want 1", n)
	}
}

func TestTokenCacheExpiry(t *testing.T) {
	c, a := newCache(10 * time.Second)
	get(t, c, "tok-1")
	a.clk.Advance(59 * time.Minute)
	get(t, c, "tok-1")
	a.clk.Advance(time.Minute) // RenewAt itself is past
	get(t, c, "tok-2")
	if n := a.calls.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

func TestTokenCacheRefreshAndDrop(t *testing.T) {
	c, _ := newCache(10 * time.Second)
	get(t, c, "tok-1")
	c.Refresh()
	get(t, c, "tok-2")

	// Drop forgets only the token it names, and only while it is cached.
	c.Drop("tok-1")
	get(t, c, "tok-2")
	c.Drop("")
	get(t, c, "tok-2")
	c.Drop("tok-2")
	get(t, c, "tok-3")
}

func TestTokenCacheFailureIsNotCached(t *testing.T) {
	c, a := newCache(10 * time.Second)
	refused := &Failure{Result: push.Result{Verdict: push.BadRequest, Reason: "AuthError: 16 Invalid Signature"}}
	a.fail = refused
	if _, err := c.Get(context.Background()); !errors.Is(err, refused) {
		t.Fatalf("Get error = %v, want the fetch's", err)
	}
	a.set(func(a *fakeAuth) { a.fail = nil })
	get(t, c, "tok-2")
	if n := a.calls.Load(); n != 2 {
		t.Errorf("%d fetches, want a new one after the failure", n)
	}

	// Without KeepUntil a failed renewal does not fall back on the old token.
	a.clk.Advance(2 * time.Hour)
	a.set(func(a *fakeAuth) { a.fail = errors.New("connection refused") })
	if tok, err := c.Get(context.Background()); err == nil {
		t.Errorf("Get = %q after a failed renewal, want the error", tok)
	}
}

func TestTokenCacheKeepUntil(t *testing.T) {
	c, a := newCache(10 * time.Second)
	a.keep = 23 * time.Hour
	get(t, c, "tok-1")

	a.set(func(a *fakeAuth) { a.fail = errors.New("auth endpoint down") })
	a.clk.Advance(2 * time.Hour)
	get(t, c, "tok-1") // renewal failed: the old token stands in
	if n := a.calls.Load(); n != 2 {
		t.Errorf("%d fetches, want the renewal tried", n)
	}
	a.clk.Advance(21 * time.Hour) // 23 h after the fetch
	if tok, err := c.Get(context.Background()); err == nil {
		t.Errorf("Get = %q past KeepUntil, want the fetch's error", tok)
	}

	// A token refused by the vendor never stands in.
	a.set(func(a *fakeAuth) { a.fail = nil })
	c.Refresh()
	tok, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a.set(func(a *fakeAuth) { a.fail = errors.New("auth endpoint down") })
	c.Drop(tok)
	if got, err := c.Get(context.Background()); err == nil {
		t.Errorf("Get = %q after Drop and a failed fetch, want the error", got)
	}
}

func TestTokenCacheCallerContextDoesNotCancelFetch(t *testing.T) {
	synctest.Test(t, testTokenCacheCallerContextDoesNotCancelFetch)
}

func testTokenCacheCallerContextDoesNotCancelFetch(t *testing.T) {
	c, a := newCache(10 * time.Second)
	release := make(chan struct{})
	a.block = release

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx)
		first <- err
	}()
	synctest.Wait() // the first caller waits on the fetch
	other := make(chan error, 1)
	go func() {
		tok, err := c.Get(context.Background())
		if err == nil && tok != "tok-1" {
			err = fmt.Errorf("got %q, want tok-1", tok)
		}
		other <- err
	}()
	synctest.Wait() // a second caller joined it; now the first gives up
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get error = %v, want the caller's context.Canceled", err)
	}
	close(release)
	if err := <-other; err != nil {
		t.Fatalf("the caller still waiting: %v", err)
	}
	// The fetch was not cancelled: it filled the cache.
	get(t, c, "tok-1")
	if n := a.calls.Load(); n != 1 {
		t.Errorf("%d fetches, want the first one to have completed for everyone", n)
	}
}

func TestTokenCacheFetchIsBoundedByTimeout(t *testing.T) {
	c, a := newCache(50 * time.Millisecond)
	a.block = make(chan struct{}) // never released: only the timeout ends the fetch
	start := time.Now()
	_, err := c.Get(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get error = %v, want the fetch's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the fetch took %v, past its 50ms timeout", d)
	}
}

func TestTokenCacheEmptyToken(t *testing.T) {
	c := NewTokenCache(time.Second, nil, func(context.Context) (Credential, error) {
		return Credential{RenewAt: time.Now().Add(time.Hour)}, nil
	})
	if tok, err := c.Get(context.Background()); err == nil {
		t.Errorf("Get = %q, nil for a fetch without a token", tok)
	}
}

func TestGetResult(t *testing.T) {
	refused := push.Result{Verdict: push.BadRequest, Status: 200, Reason: "AuthError: 10207 sign 不合法"}
	c, a := newCache(10 * time.Second)
	a.fail = fmt.Errorf("wrapped: %w", &Failure{Result: refused})
	tok, r := c.GetResult(context.Background(), "AuthError: ")
	if tok != "" || r == nil || r.Verdict != refused.Verdict || r.Reason != refused.Reason || r.Status != 200 {
		t.Errorf("GetResult after a Failure = %q, %+v; want %+v", tok, r, refused)
	}

	release := make(chan struct{})
	defer close(release)
	a.set(func(a *fakeAuth) { a.block = release })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	tok, r = c.GetResult(ctx, "AuthError: ")
	if tok != "" || r == nil || r.Verdict != push.Retry || r.Reason != "AuthError: context deadline exceeded" {
		t.Errorf("GetResult past the caller's deadline = %q, %+v", tok, r)
	}

	good, _ := newCache(10 * time.Second)
	if tok, r := good.GetResult(context.Background(), "AuthError: "); tok != "tok-1" || r != nil {
		t.Errorf("GetResult = %q, %+v; want tok-1", tok, r)
	}
}
