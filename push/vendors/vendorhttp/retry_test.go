package vendorhttp

import (
	"net/http"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		v    string
		want time.Duration
	}{
		{"absent", "", 0},
		{"blank", "  ", 0},
		{"malformed", "soon", 0},
		{"fraction", "1.5", 0},
		{"exponent", "1e9", 0},
		{"negative", "-3", 0},
		{"zero", "0", 0},
		{"seconds", "12", 12 * time.Second},
		{"seconds with spaces", " 12 ", 12 * time.Second},
		{"seconds at the cap", "86400", MaxRetryAfter},
		{"seconds past the cap", "86401", MaxRetryAfter},
		{"seconds far past the cap", "99999999999", MaxRetryAfter},
		{"IMF date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"RFC 850 date", now.Add(time.Hour).Format(time.RFC850), time.Hour},
		{"ANSI C date", now.Add(2 * time.Minute).Format(time.ANSIC), 2 * time.Minute},
		{"date now", now.Format(http.TimeFormat), 0},
		{"date past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"date past the cap", now.Add(48 * time.Hour).Format(http.TimeFormat), MaxRetryAfter},
	}
	for _, tc := range cases {
		if got := RetryAfter(tc.v, now); got != tc.want {
			t.Errorf("%s: RetryAfter(%q) = %v, want %v", tc.name, tc.v, got, tc.want)
		}
	}
}

func TestStatusVerdict(t *testing.T) {
	cases := map[int]push.Verdict{
		200: push.BadRequest, // a caller that reads 2xx as success decides before this
		400: push.BadRequest,
		401: push.BadRequest,
		404: push.BadRequest,
		408: push.Retry,
		413: push.BadRequest,
		429: push.Retry,
		500: push.Retry,
		502: push.Retry,
		503: push.Retry,
		599: push.Retry,
	}
	for status, want := range cases {
		if got := StatusVerdict(status); got != want {
			t.Errorf("StatusVerdict(%d) = %s, want %s", status, got, want)
		}
		if got := Temporary(status); got != (want == push.Retry) {
			t.Errorf("Temporary(%d) = %v", status, got)
		}
	}
}
