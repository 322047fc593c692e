package vivo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// verdicts is the one table from a vivo result code to a push.Verdict, after
// docs/vendors.md, vivo. vivo answers its business results with HTTP 200 and the code
// in "result"; codes not in the table (10200, 10201 and the other parameter
// errors) are BadRequest.
var verdicts = map[int]push.Verdict{
	0: push.Delivered,
	// regId invalid or not deliverable: unbind it.
	10302: push.TokenInvalid,
	// The authToken is invalid or expired: refresh it and retry
	// (UNCONFIRMED against vivo's official table).
	10000: push.AuthExpired,
	// Daily caps: total sends, list payloads, broadcasts. Calling again the
	// same day lowers vivo's quota for the app.
	10070: push.QuotaExhausted,
	10252: push.QuotaExhausted,
	10254: push.QuotaExhausted,
	// Calls too fast: retry later (UNCONFIRMED).
	10072: push.Retry,
	// The body's appId is not the authToken's app: configuration.
	10094: push.BadRequest,
}

// verdictFor looks a result code up in verdicts.
func verdictFor(code int) push.Verdict {
	if v, ok := verdicts[code]; ok {
		return v
	}
	return push.BadRequest
}

// answer is a vivo answer body, reduced to what the client reads.
type answer struct {
	// Result is the result code; nil when the body is not vivo's JSON (or its
	// result is not a JSON integer).
	Result    *int            `json:"-"`
	RawResult json.RawMessage `json:"result"`
	Desc      string          `json:"desc"`
	TaskID    flexString      `json:"taskId"`
	AuthToken string          `json:"authToken"`
	User      *invalidUser    `json:"invalidUser"`
	Users     []invalidUser   `json:"invalidUsers"`
}

// invalidUser is a regId vivo reports as undeliverable.
type invalidUser struct {
	Status int        `json:"status"`
	UserID flexString `json:"userid"`
}

// flexString decodes a JSON string or number (vivo's ids come as either).
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = flexString(n)
	return nil
}

// parseAnswer reads a vivo answer body. A member of the wrong type is skipped;
// the others are still read.
func parseAnswer(body []byte) answer {
	var a answer
	_ = json.Unmarshal(body, &a)
	if n, err := strconv.Atoi(string(a.RawResult)); err == nil {
		a.Result = &n
	}
	return a
}

// invalid returns the regIds the answer reports as invalid, among regIDs and
// in their order. When all is set and the answer names none, all regIDs are.
func (a answer) invalid(regIDs []string, all bool) []string {
	named := make(map[string]bool, len(a.Users)+1)
	for _, u := range a.Users {
		named[string(u.UserID)] = true
	}
	if a.User != nil {
		named[string(a.User.UserID)] = true
	}
	var out []string
	for _, id := range regIDs {
		if named[id] || all && len(named) == 0 {
			out = append(out, id)
		}
	}
	return out
}

// parseResponse reduces a vivo answer (status, headers, body) to a Result and
// the parsed body. The result code decides; without one (vivo's HTTP 500
// page, a proxy's answer) the HTTP status does: 408, 429 and 5xx are Retry, a
// 2xx that is not vivo's JSON is Retry too (vivo may or may not have taken the
// push), anything else BadRequest. now is the clock for an HTTP-date Retry-After.
func parseResponse(status int, header http.Header, body []byte, now time.Time) (push.Result, answer) {
	r := push.Result{Status: status, RetryAfter: vendorhttp.RetryAfter(header.Get("Retry-After"), now)}
	a := parseAnswer(body)
	ok2xx := status >= 200 && status < 300
	switch {
	case a.Result != nil && (*a.Result != 0 || ok2xx):
		r.Verdict = verdictFor(*a.Result)
		if *a.Result != 0 {
			r.Reason = strconv.Itoa(*a.Result)
			if a.Desc != "" {
				r.Reason += " " + a.Desc
			}
		}
	case vendorhttp.Temporary(status):
		r.Verdict, r.Reason = push.Retry, "HTTP "+strconv.Itoa(status)
	case ok2xx:
		r.Verdict, r.Reason = push.Retry, "BadAnswer: not a vivo result"
	default:
		r.Verdict, r.Reason = push.BadRequest, "HTTP "+strconv.Itoa(status)
	}
	return r, a
}
