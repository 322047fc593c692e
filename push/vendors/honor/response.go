package honor

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// The Honor answer codes this client treats specially.
const (
	codeSuccess    = 200
	codeAllInvalid = 80300007
)

// verdicts is the one table from an Honor answer code to a push.Verdict
// (docs/vendors.md, Honor). 200 is confirmed; the others are Huawei's codes,
// which Honor's API mirrors: UNCONFIRMED each. A code not listed falls back
// to the HTTP status (401 AuthExpired, 408/429/5xx Retry, else BadRequest).
var verdicts = map[int]push.Verdict{
	codeSuccess:    push.Delivered,
	80000000:       push.Delivered,
	codeAllInvalid: push.TokenInvalid,
	80200001:       push.AuthExpired, // no or a foreign access token
	80200003:       push.AuthExpired, // access token expired
	80100000:       push.Delivered,   // partial success: data lists the dead tokens
	80100001:       push.BadRequest,  // parameter error
	80100003:       push.BadRequest,  // illegal message structure
	80300002:       push.BadRequest,  // the app may not push
	80300008:       push.BadRequest,  // body too large
	80300010:       push.BadRequest,  // token count not within 1–1000
	81000001:       push.Retry,       // internal error
}

// answer is Honor's {"code":…,"message":…,"data":{…}}; data lists the tokens
// Honor did not take (failTokens) and those it no longer knows
// (expireTokens). UNCONFIRMED: the field names.
type answer struct {
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
	Data    struct {
		FailTokens   []string `json:"failTokens"`
		ExpireTokens []string `json:"expireTokens"`
	} `json:"data"`
}

// parseResponse reduces one sendMessage answer for the tokens sent.
func parseResponse(status int, header http.Header, body []byte, sent []string, now time.Time) push.Result {
	var a answer
	code, ok := 0, false
	if json.Unmarshal(body, &a) == nil {
		code, ok = vendorhttp.JSONInt(a.Code)
	}
	r := push.Result{Status: status, RetryAfter: vendorhttp.RetryAfter(header.Get("Retry-After"), now)}
	if !ok {
		r.Verdict, r.Reason = vendorhttp.StatusVerdict(status), "HTTP "+strconv.Itoa(status)
		if status == http.StatusUnauthorized {
			r.Verdict = push.AuthExpired
		}
		return r
	}
	r.Reason = strconv.Itoa(code) + " " + a.Message
	v, known := verdicts[code]
	switch {
	case known:
		r.Verdict = v
	case status == http.StatusUnauthorized:
		r.Verdict = push.AuthExpired
	default:
		r.Verdict = vendorhttp.StatusVerdict(status)
	}
	switch {
	case r.Verdict == push.Delivered:
		r.InvalidTokens = append(a.Data.ExpireTokens, a.Data.FailTokens...)
		switch {
		case len(r.InvalidTokens) < len(sent):
		case len(sent) == 1:
			r.Verdict, r.InvalidTokens = push.TokenInvalid, nil
		default:
			// Every token of a batch refused looks like a wrong app id, not
			// dead phones: keep the bindings.
			r.Verdict, r.InvalidTokens = push.BadRequest, nil
			r.Reason += ": every token of the batch refused; check app_id before unbinding"
		}
	case r.Verdict == push.TokenInvalid && len(sent) > 1:
		r.Verdict = push.BadRequest
		r.Reason += ": every token of the batch invalid; check app_id before unbinding"
	}
	return r
}
