package apns

import (
	"net/http"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

func TestParseResponseTimestamp(t *testing.T) {
	cases := []struct {
		body string
		want time.Time
	}{
		{`{"reason":"Unregistered","timestamp":1700000000123}`, time.UnixMilli(1700000000123)},
		{`{"reason":"Unregistered","timestamp":"1700000000123"}`, time.UnixMilli(1700000000123)},
		{`{"reason":"Unregistered","timestamp":1.7e12}`, time.UnixMilli(1.7e12)},
		{`{"reason":"Unregistered","timestamp":0}`, time.Time{}},
		{`{"reason":"Unregistered","timestamp":"yesterday"}`, time.Time{}},
		{`{"reason":"Unregistered"}`, time.Time{}},
	}
	for _, tc := range cases {
		r := parseResponse(410, http.Header{}, []byte(tc.body), time.Now())
		if r.Verdict != push.TokenInvalid || r.Reason != "Unregistered" || !r.InvalidSince.Equal(tc.want) {
			t.Errorf("%s: %+v, want token invalid since %v", tc.body, r, tc.want)
		}
	}
	// A timestamp on any other answer is not a token's death.
	if r := parseResponse(400, http.Header{}, []byte(`{"reason":"BadTopic","timestamp":1700000000123}`), time.Now()); !r.InvalidSince.IsZero() {
		t.Errorf("400 BadTopic: InvalidSince = %v, want zero", r.InvalidSince)
	}
}

func TestVerdictFallbacks(t *testing.T) {
	cases := []struct {
		status int
		reason string
		want   push.Verdict
	}{
		{200, "", push.Delivered},
		{400, "NewReason", push.BadRequest},
		{403, "BadDeviceToken", push.BadRequest}, // a reason counts only with its status
		{410, "SomethingElse", push.TokenInvalid},
		{429, "", push.Retry},
		{502, "", push.Retry},
		{504, "Whatever", push.Retry},
		{418, "", push.BadRequest},
		{302, "", push.BadRequest},
	}
	for _, tc := range cases {
		if got := verdictFor(tc.status, tc.reason); got != tc.want {
			t.Errorf("verdictFor(%d, %q) = %s, want %s", tc.status, tc.reason, got, tc.want)
		}
	}
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"123e4567-e89b-12d3-a456-426614174000": true,
		"123E4567-E89B-12D3-A456-426614174000": true,
		"123e4567e89b12d3a456426614174000":     false,
		"123e4567-e89b-12d3-a456-42661417400g": false,
		"outbox-17":                            false,
		"":                                     false,
	} {
		if got := isUUID(s); got != want {
			t.Errorf("isUUID(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzParseResponse feeds arbitrary APNs answers to the parser: it must not
// panic, must always reach a verdict, and must only date a dead token.
func FuzzParseResponse(f *testing.F) {
	f.Add(410, []byte(`{"reason":"Unregistered","timestamp":1700000000123}`), "")
	f.Add(429, []byte(`{"reason":"TooManyRequests"}`), "30")
	f.Add(503, []byte(`<html>`), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(200, []byte{}, "")
	f.Add(400, []byte(`{"reason":`), "")
	f.Add(410, []byte(`{"timestamp":"-9223372036854775808"}`), "")
	f.Fuzz(func(t *testing.T, status int, body []byte, retry string) {
		h := http.Header{}
		h.Set("Retry-After", retry)
		r := parseResponse(status, h, body, time.Now())
		switch r.Verdict {
		case push.Delivered, push.Retry, push.TokenInvalid, push.AuthExpired, push.BadRequest:
		default:
			t.Fatalf("verdict %q for status %d", r.Verdict, status)
		}
		if r.Status != status {
			t.Fatalf("status %d reported as %d", status, r.Status)
		}
		if !r.InvalidSince.IsZero() && r.Verdict != push.TokenInvalid {
			t.Fatalf("InvalidSince %v on a %s verdict", r.InvalidSince, r.Verdict)
		}
		if r.RetryAfter < 0 || r.RetryAfter > vendorhttp.MaxRetryAfter {
			t.Fatalf("RetryAfter %v out of range", r.RetryAfter)
		}
	})
}
