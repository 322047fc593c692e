package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// codeRateLimited is the error code of a request over its sender's rate.
const codeRateLimited = "rate_limited"

// minLimiterSweep is the number of senders past which the limiter first drops the idle ones.
const minLimiterSweep = 1 << 16

// rateLimiter keeps a token bucket per sender (a user's client tokens, or an API key) on this
// node: each send takes a token, tokens come back at rate a second up to burst. Buckets that
// have filled up again are forgotten when the map grows, so idle senders cost nothing.
type rateLimiter struct {
	rate, burst float64

	mu        sync.Mutex
	buckets   map[string]*bucket
	nextSweep int
}

type bucket struct {
	tokens float64
	at     time.Time
}

// newRateLimiter limits each sender to rate a second with bursts of burst; a rate of 0 or less
// is no limit (nil). A burst below one second's worth is raised to it.
func newRateLimiter(rate, burst int) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	return &rateLimiter{rate: float64(rate), burst: float64(max(burst, rate)), buckets: map[string]*bucket{}, nextSweep: minLimiterSweep}
}

// take spends n tokens of key's bucket at now. When there are too few it spends none and
// returns how long until there are enough. n must not be over the burst (limit refuses that).
func (l *rateLimiter) take(key string, n int, now time.Time) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	need := float64(n)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.nextSweep {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.at = now
	}
	if b.tokens >= need {
		b.tokens -= need
		return true, 0
	}
	return false, time.Duration((need - b.tokens) / l.rate * float64(time.Second))
}

// sweep forgets the buckets that are full again: their senders have been idle long enough that
// a new bucket is the same. The next sweep waits until the map has doubled.
func (l *rateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	l.nextSweep = max(minLimiterSweep, 2*len(l.buckets))
}

// limit takes n sends from the caller's budget: its user's for a client, its API key's for a
// server. Over it, the answer is 429 rate_limited with Retry-After in whole seconds.
func (s *Server) limit(ctx *fasthttp.RequestCtx, c *caller, n int) *apiError {
	l := s.clientRate
	if c.server {
		l = s.serverRate
	}
	if l == nil {
		return nil // no limit: the common case for API keys
	}
	key := "u/" + c.app.ID + "/" + c.user
	if c.server {
		key = "k/" + string(c.keySum[:])
	}
	if float64(n) > l.burst {
		return &apiError{Status: http.StatusTooManyRequests, Code: codeRateLimited,
			Message: fmt.Sprintf("%d sends at once are more than the burst of %d allowed; send fewer at a time", n, int(l.burst))}
	}
	ok, wait := l.take(key, n, s.o.Now())
	if ok {
		return nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(secs))
	who := "this user's client tokens"
	if c.server {
		who = "this API key"
	}
	return &apiError{Status: http.StatusTooManyRequests, Code: codeRateLimited,
		Message: "over the send rate of " + who + " (" + strconv.Itoa(n) + " asked); retry after " + strconv.Itoa(secs) + "s"}
}
