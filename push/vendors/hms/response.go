package hms

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// The Huawei answer codes this client treats specially.
const (
	codeSuccess        = "80000000"
	codePartialSuccess = "80100000"
	codeAllInvalid     = "80300007"
)

// verdicts is the one table from a Huawei answer code (a string) to a
// push.Verdict, after docs/vendors.md, Huawei. Codes not in it fall back to the
// HTTP status in verdictFor: 401 AuthExpired, 408/429/5xx Retry (503 is
// Huawei's flow control), anything else BadRequest.
//
// No code maps to QuotaExhausted: Huawei documents no per-app daily-quota code
// (service and communication messages are not capped, and its answer to
// sending too much is HTTP 503 flow control). Should one turn up, it belongs
// here as push.QuotaExhausted.
var verdicts = map[string]push.Verdict{
	codeSuccess: push.Delivered,
	// Some tokens were delivered; msg lists the illegal ones (see parseResponse).
	codePartialSuccess: push.Delivered,
	// Every token is invalid. A wrong client id or package gives the same code
	// for every token, so a batch of more than one is not unbound (see parseResponse).
	codeAllInvalid: push.TokenInvalid,
	// The access token was missing, belongs to another app, or expired.
	"80200001": push.AuthExpired,
	"80200003": push.AuthExpired,
	// A service-account JWT expired (this client uses OAuth, but a new credential fixes it either way).
	"80200005": push.AuthExpired,
	// Request and configuration errors: drop and alert.
	"80100001": push.BadRequest, // parameter error
	"80100003": push.BadRequest, // illegal message structure
	"80100004": push.BadRequest, // ttl / expiry already past
	"80100013": push.BadRequest, // bad collapse_key
	"80100016": push.BadRequest, // sensitive content
	"80300002": push.BadRequest, // the app may not push (push service off, wrong project)
	"80300008": push.BadRequest, // body over 4096 bytes
	"80300010": push.BadRequest, // token count not within 1–1000
	"80300011": push.BadRequest, // no permission for high-priority notifications
	"80600003": push.BadRequest, // Huawei's OAuth check failed: bad client id or secret
	// Internal error or network inside Huawei: retry with backoff.
	"81000001": push.Retry,
}

// verdictFor looks code up in verdicts, falling back to the HTTP status.
func verdictFor(status int, code string) push.Verdict {
	if v, ok := verdicts[code]; ok {
		return v
	}
	if status == http.StatusUnauthorized {
		return push.AuthExpired
	}
	return vendorhttp.StatusVerdict(status)
}

// guardReason is the Reason of an "every token invalid" answer to a batch of
// more than one token, which is not believed: a wrong app id or package looks
// the same, and unbinding on it would wipe every binding of the app.
const guardReason = codeAllInvalid + " for the whole batch: check client_id/package before unbinding"

// answer is a Huawei answer body, reduced to what the verdict needs.
type answer struct {
	code string
	// msg is the msg field: text, or for 80100000 the JSON of the counts.
	msg string
	// illegalTokens is msg's illegal_tokens on a partial success.
	illegalTokens []string
}

// partialResult is the JSON that msg holds on 80100000.
type partialResult struct {
	Success       int      `json:"success"`
	Failure       int      `json:"failure"`
	IllegalTokens []string `json:"illegal_tokens"`
}

// parseAnswer reads {"code":"…","msg":"…","requestId":"…"}. The code is a
// string; a number is taken too. msg on 80100000 is a JSON string holding
// {"success","failure","illegal_tokens"}; an object there is read as well. A
// body that is not Huawei's JSON gives the zero answer and the HTTP status decides.
func parseAnswer(body []byte) answer {
	var raw struct {
		Code json.RawMessage `json:"code"`
		Msg  json.RawMessage `json:"msg"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return answer{}
	}
	a := answer{code: scalar(raw.Code), msg: scalar(raw.Msg)}
	var pr partialResult
	switch {
	case len(raw.Msg) > 0 && raw.Msg[0] == '{':
		_ = json.Unmarshal(raw.Msg, &pr)
		a.msg = string(raw.Msg)
	case strings.HasPrefix(strings.TrimSpace(a.msg), "{"):
		_ = json.Unmarshal([]byte(a.msg), &pr)
	}
	a.illegalTokens = pr.IllegalTokens
	return a
}

// scalar renders a JSON string or number as text; anything else is "".
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// parseResponse reduces a Huawei answer (status, headers, body) to a Result.
// sent are the tokens the request carried: only those are ever reported
// invalid. now is the clock for an HTTP-date Retry-After.
func parseResponse(status int, header http.Header, body []byte, sent []string, now time.Time) push.Result {
	a := parseAnswer(body)
	r := push.Result{
		Status:     status,
		Verdict:    verdictFor(status, a.code),
		Reason:     a.code,
		RetryAfter: vendorhttp.RetryAfter(header.Get("Retry-After"), now),
	}
	if r.Reason == "" {
		r.Reason = "HTTP " + strconv.Itoa(status)
		if a.msg != "" {
			r.Reason += ": " + truncate(a.msg, 200)
		}
	}
	switch a.code {
	case codePartialSuccess:
		var dead []string
		for _, t := range a.illegalTokens {
			if slices.Contains(sent, t) && !slices.Contains(dead, t) {
				dead = append(dead, t)
			}
		}
		switch {
		case len(dead) == 0:
		case len(dead) < len(sent):
			r.InvalidTokens = dead
		case len(sent) == 1:
			r.Verdict = push.TokenInvalid
		default:
			r.Verdict, r.Reason = push.BadRequest, codePartialSuccess+" with every token illegal: check client_id/package before unbinding"
		}
	case codeAllInvalid:
		if len(sent) > 1 {
			r.Verdict, r.Reason = push.BadRequest, guardReason
		}
	}
	return r
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
