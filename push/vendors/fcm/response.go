package fcm

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// rule is what an FCM error code means to the dispatcher. aboutToken, when set,
// is the verdict instead if the error is about message.token.
type rule struct {
	verdict    push.Verdict
	aboutToken push.Verdict
}

// verdicts is the one table from an FCM error code to a push.Verdict, after
// docs/vendors.md, FCM. The code is the FcmError detail's errorCode, or error.status
// when the answer has no FcmError detail. Codes not in it fall back to the HTTP
// status in verdictFor: 401 AuthExpired, 408/429/5xx Retry, anything else BadRequest.
var verdicts = map[string]rule{
	"UNREGISTERED": {verdict: push.TokenInvalid},
	// A payload bug, unless it is the token FCM calls invalid.
	"INVALID_ARGUMENT": {verdict: push.BadRequest, aboutToken: push.TokenInvalid},
	// The token belongs to another Firebase project: unusable with this credential.
	"SENDER_ID_MISMATCH": {verdict: push.TokenInvalid},
	// Per-minute quotas (project, device, topic): try again shortly. Not
	// QuotaExhausted, which holds pushes until the next vendor day.
	"QUOTA_EXCEEDED":     {verdict: push.Retry},
	"RESOURCE_EXHAUSTED": {verdict: push.Retry},
	"UNAVAILABLE":        {verdict: push.Retry},
	"INTERNAL":           {verdict: push.Retry},
	// The APNs or web-push credential in the Firebase console is wrong; a new
	// OAuth token will not fix it. APNS_AUTH_ERROR is its old name.
	"THIRD_PARTY_AUTH_ERROR": {verdict: push.BadRequest},
	"APNS_AUTH_ERROR":        {verdict: push.BadRequest},
	// 401 without an FcmError detail: our access token expired or was revoked.
	"UNAUTHENTICATED": {verdict: push.AuthExpired},
	// Without an FcmError detail these are about the project or the service
	// account (FCM API disabled, missing role, wrong project id), not the token.
	"PERMISSION_DENIED": {verdict: push.BadRequest},
	"NOT_FOUND":         {verdict: push.BadRequest},
}

// invalidTokenMessage is how FCM words an INVALID_ARGUMENT about the token.
const invalidTokenMessage = "not a valid fcm registration token"

// verdictFor looks an answer up in verdicts.
func verdictFor(status int, e fcmError) push.Verdict {
	if status >= 200 && status < 300 {
		return push.Delivered
	}
	if r, ok := verdicts[e.code]; ok {
		if r.aboutToken != "" && e.aboutToken() {
			return r.aboutToken
		}
		return r.verdict
	}
	if status == http.StatusUnauthorized {
		return push.AuthExpired
	}
	return vendorhttp.StatusVerdict(status)
}

// fcmError is what an FCM error body says, reduced to what the verdict needs.
type fcmError struct {
	// code is the FcmError detail's errorCode, else error.status.
	code    string
	message string
	// fields lists the fields of the BadRequest detail's fieldViolations.
	fields []string
}

// aboutToken reports whether the error blames the registration token.
func (e fcmError) aboutToken() bool {
	for _, f := range e.fields {
		if f == "message.token" {
			return true
		}
	}
	return strings.Contains(strings.ToLower(e.message), invalidTokenMessage)
}

// errorBody is the google.rpc.Status JSON FCM answers errors with. Details are
// kept raw and decoded one by one, so one odd detail does not hide the others.
type errorBody struct {
	Error struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Status  string            `json:"status"`
		Details []json.RawMessage `json:"details"`
	} `json:"error"`
}

type errorDetail struct {
	Type            string `json:"@type"`
	ErrorCode       string `json:"errorCode"`
	FieldViolations []struct {
		Field string `json:"field"`
	} `json:"fieldViolations"`
}

// The @type suffixes of the details read.
const (
	fcmErrorType   = "google.firebase.fcm.v1.FcmError"
	badRequestType = "google.rpc.BadRequest"
)

// parseError reads an FCM error body. A body that is not FCM's JSON gives the
// zero fcmError, and the HTTP status decides.
func parseError(body []byte) fcmError {
	var eb errorBody
	// A type mismatch deep inside still leaves the fields decoded before it.
	_ = json.Unmarshal(body, &eb)
	e := fcmError{code: eb.Error.Status, message: eb.Error.Message}
	for _, raw := range eb.Error.Details {
		var d errorDetail
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		switch {
		case strings.HasSuffix(d.Type, fcmErrorType) && d.ErrorCode != "":
			e.code = d.ErrorCode
		case strings.HasSuffix(d.Type, badRequestType):
			for _, v := range d.FieldViolations {
				e.fields = append(e.fields, v.Field)
			}
		}
	}
	return e
}

// parseResponse reduces an FCM answer (status, headers, body) to a Result.
// now is the clock for an HTTP-date Retry-After.
func parseResponse(status int, header http.Header, body []byte, now time.Time) push.Result {
	r := push.Result{Status: status}
	if status >= 200 && status < 300 {
		r.Verdict = push.Delivered
		return r
	}
	e := parseError(body)
	r.Verdict = verdictFor(status, e)
	r.Reason = e.code
	r.RetryAfter = vendorhttp.RetryAfter(header.Get("Retry-After"), now)
	return r
}
