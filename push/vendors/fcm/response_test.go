package fcm

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

func TestParseError(t *testing.T) {
	cases := []struct {
		name string
		body string
		want fcmError
	}{
		{"FcmError wins over status", `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`,
			fcmError{code: "UNREGISTERED", message: "Requested entity was not found."}},
		{"status without details", `{"error":{"code":401,"message":"m","status":"UNAUTHENTICATED"}}`,
			fcmError{code: "UNAUTHENTICATED", message: "m"}},
		{"field violations", `{"error":{"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token"},{"field":"message.data"}]}]}}`,
			fcmError{code: "INVALID_ARGUMENT", fields: []string{"message.token", "message.data"}}},
		{"odd detail skipped", `{"error":{"status":"INTERNAL","details":["text",{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNAVAILABLE"}]}}`,
			fcmError{code: "UNAVAILABLE"}},
		{"quota failure ignored", `{"error":{"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"subject":"device"}]},{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"QUOTA_EXCEEDED"}]}}`,
			fcmError{code: "QUOTA_EXCEEDED"}},
		{"not JSON", `<html>`, fcmError{}},
		{"error as string", `{"error":"invalid"}`, fcmError{}},
	}
	for _, tc := range cases {
		if got := parseError([]byte(tc.body)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: parseError = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestVerdictFallbacks(t *testing.T) {
	cases := []struct {
		status int
		code   string
		want   push.Verdict
	}{
		{200, "UNREGISTERED", push.Delivered}, // a 2xx is a 2xx whatever the body says
		{401, "", push.AuthExpired},
		{401, "SOMETHING_NEW", push.AuthExpired},
		{408, "", push.Retry},
		{429, "", push.Retry},
		{500, "", push.Retry},
		{400, "", push.BadRequest},
		{413, "", push.BadRequest},
		{302, "", push.BadRequest},
	}
	for _, tc := range cases {
		if got := verdictFor(tc.status, fcmError{code: tc.code}); got != tc.want {
			t.Errorf("verdictFor(%d, %q) = %s, want %s", tc.status, tc.code, got, tc.want)
		}
	}
}

func TestTTL(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{time.Hour, "3600s"},
		{1500 * time.Millisecond, "2s"},
		{-time.Minute, "0s"},
		{60 * 24 * time.Hour, "2419200s"},
	}
	for _, tc := range cases {
		if got := vendorhttp.TTL(tc.d, maxTTL); got != tc.want {
			t.Errorf("vendorhttp.TTL(%v, maxTTL) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// FuzzParseFCMError feeds arbitrary FCM answers to the parser: it must not
// panic, must always reach a verdict, and must call a token dead only on an
// error code that can mean it.
func FuzzParseFCMError(f *testing.F) {
	f.Add(404, []byte(`{"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`))
	f.Add(400, []byte(`{"error":{"status":"INVALID_ARGUMENT","message":"The registration token is not a valid FCM registration token"}}`))
	f.Add(400, []byte(`{"error":{"details":[{"@type":"google.rpc.BadRequest","fieldViolations":[{"field":"message.token"}]}]}}`))
	f.Add(401, []byte(``))
	f.Add(503, []byte(`<html>`))
	f.Add(429, []byte(`{"error":{"details":[1,"x",null,{}]}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := parseError(body)
		r := parseResponse(status, http.Header{}, body, time.Now())
		switch r.Verdict {
		case push.Delivered, push.Retry, push.TokenInvalid, push.AuthExpired, push.BadRequest:
		default:
			t.Fatalf("verdict %q for status %d", r.Verdict, status)
		}
		if r.Status != status {
			t.Fatalf("status %d reported as %d", status, r.Status)
		}
		if r.Verdict == push.TokenInvalid {
			switch e.code {
			case "UNREGISTERED", "SENDER_ID_MISMATCH", "INVALID_ARGUMENT":
			default:
				t.Fatalf("token invalid on code %q", e.code)
			}
		}
	})
}
