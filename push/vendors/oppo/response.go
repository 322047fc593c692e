package oppo

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

// The OPPO return codes the client acts on (docs/vendors.md, OPPO, the doc mirror's
// "调用地址，公共参数和返回码" table).
const (
	codeSuccess          = 0
	codeFlowControl      = -2
	codeUnavailable      = -1
	codeInvalidAuthToken = 11
	codeDailyLimit       = 33
)

// Invalid registration id codes. OPPO documents its per-API business codes
// (10000–20000) only on each API's page; docs/vendors.md marks the one for a dead
// regId UNCONFIRMED. 10000 (invalid regId) and 10001 (unsubscribed regId) are
// the keys a production client reads from a broadcast answer's data, beside
// 10004 (a target repeated in the request, which is not a dead token); the same
// 10000 is assumed as the top-level code of a unicast to a dead regId
// (UNCONFIRMED). The simulator uses the same numbers (vendorsim/oppo.go).
const (
	codeInvalidRegID      = 10000
	codeUnsubscribedRegID = 10001
	codeRepeatedRegID     = 10004
)

// invalidRegIDCodes are the codes that mean "this regId is dead: unbind it".
var invalidRegIDCodes = []int{codeInvalidRegID, codeUnsubscribedRegID}

// verdicts is the one table from an OPPO return code to a push.Verdict, after
// docs/vendors.md, OPPO. Codes not in it fall back in verdictFor: a business code
// (10000–20000) or any other code is BadRequest.
var verdicts = map[int]push.Verdict{
	codeSuccess: push.Delivered,

	// Flow control, service unavailable, call count and call frequency limits:
	// back off and try again.
	codeFlowControl: push.Retry,
	codeUnavailable: push.Retry,
	13:              push.Retry, // App Call Limited
	55:              push.Retry, // App Call Frequency Limit

	// The auth_token is unknown or past its 24 hours: fetch a new one.
	codeInvalidAuthToken: push.AuthExpired,

	// Public-channel messages over the daily limit: hold until the next OPPO day.
	codeDailyLimit: push.QuotaExhausted,

	// Configuration and clock errors: the wrong app_key, master_secret or clock,
	// a disabled app or one without API push permission.
	12: push.BadRequest, // Http Action Not Allowed
	14: push.BadRequest, // Invalid App Key
	15: push.BadRequest, // Missing App Key
	16: push.BadRequest, // Invalid Signature
	17: push.BadRequest, // Missing Signature
	18: push.BadRequest, // Missing Timestamp
	19: push.BadRequest, // Invalid Timestamp
	26: push.BadRequest, // IP Black List
	27: push.BadRequest, // Access Denied
	28: push.BadRequest, // App Disabled
	29: push.BadRequest, // Missing Auth Token: a client bug
	30: push.BadRequest, // Api Permission Denied
	// Request bugs: missing or invalid arguments, the saved message is gone,
	// a wrong category or notify_level.
	31: push.BadRequest, // Data Not Exist
	40: push.BadRequest, // Missing Required Arguments
	41: push.BadRequest, // Invalid Arguments
	67: push.BadRequest, // Category error / notify_level invalid

	codeInvalidRegID:      push.TokenInvalid,
	codeUnsubscribedRegID: push.TokenInvalid,
}

// verdictFor looks a return code up in verdicts.
func verdictFor(code int) push.Verdict {
	if v, ok := verdicts[code]; ok {
		return v
	}
	return push.BadRequest
}

// answer is OPPO's JSON envelope, {"code":0,"message":"Success","data":{…}}.
// data is kept raw: its shape depends on the API.
type answer struct {
	code    int
	message string
	data    json.RawMessage
}

// parseAnswer reads an OPPO answer body. ok is false when the body is not
// OPPO's envelope (no integer code).
func parseAnswer(body []byte) (a answer, ok bool) {
	var env struct {
		Code    json.RawMessage `json:"code"`
		Message json.RawMessage `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &env) != nil {
		return answer{}, false
	}
	code, ok := vendorhttp.JSONInt(env.Code)
	if !ok {
		return answer{}, false
	}
	var msg string
	if json.Unmarshal(env.Message, &msg) != nil {
		msg = string(bytes.Trim(env.Message, `"`))
	}
	return answer{code: code, message: msg, data: env.Data}, true
}

// reason is what Result.Reason says for an answer: the code and OPPO's words.
func (a answer) reason() string {
	return strings.TrimSpace(strconv.Itoa(a.code) + " " + a.message)
}

// parseResponse reduces an OPPO answer (status, headers, body) to a Result.
// now is the clock for an HTTP-date Retry-After. OPPO puts its verdict in the
// body's code; the HTTP status decides only when the body is not OPPO's JSON.
func parseResponse(status int, header http.Header, body []byte, now time.Time) (push.Result, answer) {
	r := push.Result{Status: status, RetryAfter: vendorhttp.RetryAfter(header.Get("Retry-After"), now)}
	a, ok := parseAnswer(body)
	if !ok {
		r.Reason = "UnreadableAnswer: HTTP " + strconv.Itoa(status)
		switch {
		// An unreadable 2xx may have been accepted; a resend is deduplicated by
		// app_message_id, so trying again is the safe side.
		case status >= 200 && status < 300, vendorhttp.Temporary(status):
			r.Verdict = push.Retry
		default:
			r.Verdict = push.BadRequest
		}
		return r, a
	}
	r.Verdict = verdictFor(a.code)
	if a.code != codeSuccess {
		r.Reason = a.reason()
	}
	return r, a
}

// deadRegIDs returns the targets a broadcast answer's data lists under an
// invalid-regId code, in the order of targets. The data holds message_id and
// task_id beside one key per failure code, each listing regIds (docs/vendors.md, OPPO:
// the shape is UNCONFIRMED; a list is read as a JSON array of strings, or a
// string of ';' or ',' separated ids).
func deadRegIDs(data json.RawMessage, targets []string) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	dead := map[string]bool{}
	for k, raw := range m {
		code, err := strconv.Atoi(k)
		if err != nil || !slices.Contains(invalidRegIDCodes, code) {
			continue
		}
		for _, id := range regIDList(raw) {
			dead[id] = true
		}
	}
	var out []string
	for _, t := range targets {
		if dead[t] {
			out = append(out, t)
			delete(dead, t) // a target repeated in the request is reported once
		}
	}
	return out
}

// regIDList reads a list of regIds: a JSON array of strings or a separated string.
func regIDList(raw json.RawMessage) []string {
	var ids []string
	if json.Unmarshal(raw, &ids) == nil {
		return ids
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' })
}

// messageID reads data.message_id (save_message_content, broadcast) or
// data.messageId (unicast).
func messageID(data json.RawMessage) string {
	var d struct {
		MessageID        string `json:"message_id"`
		UnicastMessageID string `json:"messageId"`
	}
	if json.Unmarshal(data, &d) != nil {
		return ""
	}
	if d.MessageID != "" {
		return d.MessageID
	}
	return d.UnicastMessageID
}
