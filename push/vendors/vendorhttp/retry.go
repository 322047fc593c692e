package vendorhttp

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
)

// MaxRetryAfter caps a vendor's Retry-After so a bogus header cannot park a
// push for years.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads a Retry-After header value, in seconds or as an HTTP date
// (judged by now), capped at MaxRetryAfter; absent, malformed or past is 0.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// Temporary reports whether an HTTP status asks to try again later: 408, 429
// or any 5xx.
func Temporary(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// StatusVerdict is what an HTTP status alone says, when no vendor answer
// decides: Retry when it is Temporary, BadRequest otherwise.
func StatusVerdict(status int) push.Verdict {
	if Temporary(status) {
		return push.Retry
	}
	return push.BadRequest
}
