package apns

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// answer is the key of the verdict table: an HTTP status and an APNs reason.
// An empty reason stands for any reason not listed with that status.
type answer struct {
	status int
	reason string
}

// verdicts is the one table from an APNs answer to a push.Verdict, after
// docs/vendors.md, APNs. Answers not in it fall back to their status class in verdictFor:
// 5xx is Retry, anything else BadRequest.
var verdicts = map[answer]push.Verdict{
	{200, ""}: push.Delivered,

	// A dead token. A sandbox token sent to production gives BadDeviceToken too:
	// a binding with apns_env auto tries the other environment first (Client.Send).
	{400, "BadDeviceToken"}: push.TokenInvalid,
	// Configuration errors (wrong bundle, VoIP/non-VoIP mix-up): the token may be fine.
	{400, "DeviceTokenNotForTopic"}: push.BadRequest,
	{400, "TopicDisallowed"}:        push.BadRequest,
	{400, "BadTopic"}:               push.BadRequest,
	{400, "MissingTopic"}:           push.BadRequest,
	// Request bugs (BadCollapseId, BadExpirationDate, BadPriority, BadMessageId,
	// PayloadEmpty, DuplicateHeaders, MissingDeviceToken, ...).
	{400, ""}: push.BadRequest,

	// The provider JWT must be signed anew. ExpiredProviderToken and
	// MissingProviderToken are UNCONFIRMED literals.
	{403, "ExpiredProviderToken"}: push.AuthExpired,
	{403, "InvalidProviderToken"}: push.AuthExpired,
	{403, "MissingProviderToken"}: push.AuthExpired,
	// BadCertificate, BadCertificateEnvironment, Forbidden: configuration errors.
	{403, ""}: push.BadRequest,

	{405, ""}: push.BadRequest, // MethodNotAllowed: a bug
	// Unregistered (and ExpiredToken, UNCONFIRMED): the token is no longer
	// active for the topic; Apple uses 410 for nothing else.
	{410, ""}: push.TokenInvalid,
	{413, ""}: push.BadRequest, // PayloadTooLarge: resending will not shrink it

	// TooManyRequests (to one device token) and TooManyProviderTokenUpdates:
	// back off, reusing the current JWT.
	{429, ""}: push.Retry,

	// InternalServerError, ServiceUnavailable, Shutdown.
	{500, ""}: push.Retry,
	{503, ""}: push.Retry,
}

// verdictFor looks an answer up in verdicts.
func verdictFor(status int, reason string) push.Verdict {
	if v, ok := verdicts[answer{status, reason}]; ok {
		return v
	}
	if v, ok := verdicts[answer{status, ""}]; ok {
		return v
	}
	switch {
	case status >= 200 && status < 300:
		return push.Delivered
	case status >= 500:
		return push.Retry
	default:
		return push.BadRequest
	}
}

// errorBody is the JSON APNs answers with on an error.
type errorBody struct {
	Reason string `json:"reason"`
	// Timestamp is the last time the token was valid, in ms since the epoch
	// (410 only). Raw, so that a malformed one does not lose the reason.
	Timestamp json.RawMessage `json:"timestamp"`
}

// parseResponse reduces an APNs answer (status, headers, body) to a Result.
// A body that is not APNs JSON (a proxy's HTML page) leaves the reason empty
// and the status decides. now is the clock for an HTTP-date Retry-After.
func parseResponse(status int, header http.Header, body []byte, now time.Time) push.Result {
	var eb errorBody
	if len(body) > 0 {
		_ = json.Unmarshal(body, &eb) // a body that is not JSON: the status decides
	}
	r := push.Result{
		Verdict: verdictFor(status, eb.Reason),
		Status:  status,
		Reason:  eb.Reason,
	}
	if r.Verdict == push.TokenInvalid {
		r.InvalidSince = millis(eb.Timestamp)
	}
	r.RetryAfter = vendorhttp.RetryAfter(header.Get("Retry-After"), now)
	return r
}

// millis reads a timestamp in ms since the epoch, as a JSON number or string;
// anything else, or a non-positive value, is the zero time.
func millis(raw json.RawMessage) time.Time {
	s := strings.Trim(string(raw), `"`)
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || !(f >= 1 && f <= 1<<53) { // !(...) also catches NaN
			return time.Time{}
		}
		ms = int64(f)
	}
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
