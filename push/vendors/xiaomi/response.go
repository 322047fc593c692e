package xiaomi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// The MiPush codes the client names (docs/vendors.md, Xiaomi).
const (
	codeOK = 0
	// codeInvalidRegIDs: every registration id of the request is illegal or invalid.
	codeInvalidRegIDs = 20301
	// codeAuthFailed: the AppSecret was refused. UNCONFIRMED.
	codeAuthFailed = 21301
	// codeMissingParameter: a required parameter is missing.
	codeMissingParameter = 21305
	// codeDailyQuota: the app's daily quota of public (non-private-channel) messages is used up.
	codeDailyQuota = 200001
)

// verdicts is the one table from a MiPush code to a push.Verdict, after
// docs/vendors.md, Xiaomi. Its semantics come from a production client, not from
// Xiaomi's own table, so they are partially UNCONFIRMED. Codes not in it are
// BadRequest (see verdictFor).
var verdicts = map[int]push.Verdict{
	codeOK: push.Delivered,
	// All registration ids illegal: unbind them. (data.bad_regids on a code 0
	// answer lists the dead ids of a partly delivered batch.)
	codeInvalidRegIDs: push.TokenInvalid,
	// Throttled or busy: try again later. The meaning of each is UNCONFIRMED.
	10002: push.Retry,
	10003: push.Retry,
	10027: push.Retry,
	10037: push.Retry,
	// The daily public-message quota: hold pushes until the next China day.
	codeDailyQuota: push.QuotaExhausted,
	// The static AppSecret was refused: a configuration error that no refresh
	// can fix, so not AuthExpired.
	codeAuthFailed:       push.BadRequest,
	codeMissingParameter: push.BadRequest,
}

// verdictFor looks a MiPush code up in verdicts; an unknown code is a request
// or configuration error.
func verdictFor(code int) push.Verdict {
	if v, ok := verdicts[code]; ok {
		return v
	}
	return push.BadRequest
}

// statusVerdict decides when the answer carries no MiPush code (a proxy's page,
// an empty body). A 2xx without a readable answer may or may not have been
// sent: retrying is safe, since a resend carries the same notify_id and
// replaces the notification rather than adding one.
func statusVerdict(status int) push.Verdict {
	if status >= 200 && status < 300 {
		return push.Retry
	}
	return vendorhttp.StatusVerdict(status)
}

// answer is what a MiPush answer body says, reduced to what the Result needs:
// {"result":"ok"|"error","code":N,"reason":…,"description":…,"info":…,
// "trace_id":…,"data":{"id":…,"bad_regids":"a,b"}}.
type answer struct {
	result  string
	code    int
	hasCode bool
	// text is the reason, else the description: why MiPush refused.
	text      string
	badRegIDs []string
}

// parseAnswer reads a MiPush answer body. Each field is decoded on its own, so
// one of an odd type does not hide the others; ok is false when the body is not
// a JSON object.
func parseAnswer(body []byte) (a answer, ok bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil || fields == nil {
		return answer{}, false
	}
	a.result = jsonString(fields["result"])
	a.code, a.hasCode = vendorhttp.JSONInt(fields["code"])
	a.text = jsonString(fields["reason"])
	if a.text == "" {
		a.text = jsonString(fields["description"])
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(fields["data"], &data) == nil {
		for k, raw := range data {
			// bad_regids as Xiaomi spells it; some clients' structs say bad_regIds.
			if strings.EqualFold(k, "bad_regids") {
				a.badRegIDs = append(a.badRegIDs, regIDList(raw)...)
			}
		}
	}
	return a, true
}

// parseResponse reduces a MiPush answer (status, headers, body) to a Result for
// a request to tokens. now is the clock for an HTTP-date Retry-After.
func parseResponse(status int, header http.Header, body []byte, tokens []string, now time.Time) push.Result {
	r := push.Result{Status: status, RetryAfter: vendorhttp.RetryAfter(header.Get("Retry-After"), now)}
	a, ok := parseAnswer(body)
	switch {
	case ok && a.hasCode:
		r.Verdict = verdictFor(a.code)
		if a.code != codeOK {
			r.Reason = strconv.Itoa(a.code)
			if a.text != "" {
				r.Reason += ": " + a.text
			}
		}
	case ok && strings.EqualFold(a.result, "ok") && status >= 200 && status < 300:
		r.Verdict = push.Delivered
	default:
		r.Verdict = statusVerdict(status)
		if status >= 200 && status < 300 {
			r.Reason = "UnreadableAnswer"
		}
	}

	switch r.Verdict {
	case push.Delivered:
		// Only ids of this request count: a stray id must not unbind anyone.
		r.InvalidTokens = intersect(a.badRegIDs, tokens)
		if len(r.InvalidTokens) > 0 && len(r.InvalidTokens) == len(intersect(tokens, tokens)) {
			r.Verdict = push.TokenInvalid
			r.Reason = "bad_regids"
		}
	case push.TokenInvalid:
		r.InvalidTokens = intersect(tokens, tokens)
	}
	return r
}

// regIDList reads bad_regids: a comma-separated string, or (leniently) a JSON
// array of strings.
func regIDList(raw json.RawMessage) []string {
	var list []string
	if s := jsonString(raw); s != "" {
		list = strings.Split(s, ",")
	} else if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	out := list[:0]
	for _, id := range list {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// intersect returns the distinct elements of list that are in of, in list's order.
func intersect(list, of []string) []string {
	in := make(map[string]bool, len(of))
	for _, s := range of {
		in[s] = true
	}
	var out []string
	for _, s := range list {
		if in[s] {
			out = append(out, s)
			delete(in, s)
		}
	}
	return out
}

// jsonString reads a JSON string; anything else is "".
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
