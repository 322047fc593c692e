package vendorsim

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushd-im/pushd/push"
)

func fcmSpec() vendorSpec {
	return vendorSpec{
		provider:   push.FCM,
		authPath:   fcmTokenPath,
		newHandler: newFCMHandler,
		config:     fcmConfig,
	}
}

// FCM HTTP v1 and Google OAuth facts (docs/vendors.md, FCM). UNCONFIRMED ones are marked.
const (
	fcmTokenPath    = "/token"
	fcmProjectsPath = "/v1/projects/"
	fcmSendSuffix   = "/messages:send"
	fcmGrantType    = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// fcmAccessTokenTTL is the life of an issued access token (expires_in).
	fcmAccessTokenTTL = time.Hour
	// fcmMaxAssertionLife: an assertion's exp may be at most this after its iat.
	fcmMaxAssertionLife = time.Hour
	// fcmMaxPayload is the message payload limit, fcmMaxTopicPayload the limit for
	// topic messages. What counts (data keys and values, the notification blocks)
	// follows the ErrorCode reference; the exact accounting is UNCONFIRMED.
	fcmMaxPayload      = 4096
	fcmMaxTopicPayload = 2048
	// fcmMaxTTL is the longest android.ttl FCM takes (4 weeks).
	fcmMaxTTL = 28 * 24 * time.Hour
	// fcmMaxToken caps a registration token's length (simulator's bound).
	fcmMaxToken = 4096
)

// The OAuth scopes that allow sending (either one).
var fcmScopes = []string{
	"https://www.googleapis.com/auth/firebase.messaging",
	"https://www.googleapis.com/auth/cloud-platform",
}

// fcmReservedDataKeys may not be data keys; keys starting with fcmReservedDataPrefixes
// neither. The list follows the legacy FCM docs: UNCONFIRMED for v1.
var (
	fcmReservedDataKeys     = []string{"from", "message_type"}
	fcmReservedDataPrefixes = []string{"google", "gcm"}
)

// The google.rpc status names and detail types of FCM error bodies.
const (
	fcmInvalidArgument   = "INVALID_ARGUMENT"
	fcmUnauthenticated   = "UNAUTHENTICATED"
	fcmPermissionDenied  = "PERMISSION_DENIED"
	fcmNotFound          = "NOT_FOUND"
	fcmResourceExhausted = "RESOURCE_EXHAUSTED"
	fcmUnavailable       = "UNAVAILABLE"
	fcmInternal          = "INTERNAL"

	fcmErrorType      = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	fcmBadRequestType = "type.googleapis.com/google.rpc.BadRequest"

	fcmUnauthenticatedMessage = "Request had invalid authentication credentials. Expected OAuth 2 access token, " +
		"login cookie or other valid authentication credential. " +
		"See https://developers.google.com/identity/sign-in/web/devconsole-project."
)

// fcmFaultShape is how FCM answers a status: the google.rpc status, the FcmError
// errorCode ("" = no FcmError detail) and the message.
type fcmFaultShape struct {
	rpcStatus string
	errorCode string
	message   string
}

// fcmFaultShapes maps a Fault's status to FCM's answer; Fault.Reason replaces the errorCode.
var fcmFaultShapes = map[int]fcmFaultShape{
	http.StatusBadRequest:          {fcmInvalidArgument, "INVALID_ARGUMENT", "Request contains an invalid argument."},
	http.StatusUnauthorized:        {fcmUnauthenticated, "", fcmUnauthenticatedMessage},
	http.StatusForbidden:           {fcmPermissionDenied, "SENDER_ID_MISMATCH", "SenderId mismatch"},
	http.StatusNotFound:            {fcmNotFound, "UNREGISTERED", "Requested entity was not found."},
	http.StatusTooManyRequests:     {fcmResourceExhausted, "QUOTA_EXCEEDED", "Quota exceeded for the device, topic or project."},
	http.StatusInternalServerError: {fcmInternal, "INTERNAL", "Internal error encountered."},
	http.StatusServiceUnavailable:  {fcmUnavailable, "UNAVAILABLE", "The service is currently unavailable."},
}

// fcmVendor checks FCM v1 requests and Google OAuth grants against the service account.
type fcmVendor struct {
	env         *vendorEnv
	projectID   string
	clientEmail string
	keyID       string
	pub         *rsa.PublicKey
}

func newFCMHandler(env *vendorEnv) (http.Handler, error) {
	v := &fcmVendor{
		env:         env,
		projectID:   env.creds.FCM.ProjectID,
		clientEmail: env.creds.FCM.ClientEmail,
		keyID:       env.creds.FCM.PrivateKeyID,
		pub:         env.keys.fcmKey,
	}
	mux := http.NewServeMux()
	mux.HandleFunc(fcmTokenPath, v.handleToken)
	mux.Handle(fcmProjectsPath, env.sendHandler(sendRoute{
		targets: v.targets,
		admit:   v.admit,
		fault:   v.fault,
		serve:   v.serve,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, fcmError(http.StatusNotFound, fcmNotFound, "", "The requested URL "+r.URL.Path+" was not found on this server."))
	})
	return mux, nil
}

// --- OAuth token endpoint ---

// handleToken is Google's OAuth token endpoint for the jwt-bearer grant.
func (v *fcmVendor) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeAnswer(w, oauthError(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint takes POST."))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeAnswer(w, oauthError(http.StatusBadRequest, "invalid_request", "Malformed form body."))
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != fcmGrantType {
		writeAnswer(w, oauthError(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt))
		return
	}
	assertion := r.PostForm.Get("assertion")
	if assertion == "" {
		writeAnswer(w, oauthError(http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion"))
		return
	}
	if errCode, desc := v.checkAssertion(r, assertion); errCode != "" {
		v.env.log.Debug("vendorsim: fcm grant refused", "error", errCode, "description", desc)
		writeAnswer(w, oauthError(http.StatusBadRequest, errCode, desc))
		return
	}
	writeAnswer(w, v.env.oauthTokenAnswer(fcmAccessTokenTTL))
}

// checkAssertion verifies a service-account assertion and returns the OAuth error
// code and description, or "" when it is good.
func (v *fcmVendor) checkAssertion(r *http.Request, assertion string) (string, string) {
	tok, err := jwt.Parse(assertion, func(t *jwt.Token) (any, error) {
		if kid, ok := t.Header["kid"].(string); ok && kid != v.keyID {
			return nil, errors.New("unknown kid")
		}
		return v.pub, nil
	}, jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}), jwt.WithoutClaimsValidation())
	if err != nil {
		return "invalid_grant", "Invalid JWT Signature."
	}
	claims, ok := tok.Claims.(jwt.MapClaims)
	if !ok {
		return "invalid_grant", "Invalid JWT Signature."
	}
	if iss, err := claims.GetIssuer(); err != nil || iss != v.clientEmail {
		return "invalid_grant", "Invalid grant: account not found"
	}
	want := v.audiences(r)
	aud, err := claims.GetAudience()
	if err != nil || !anyIn(aud, want) {
		return "invalid_grant", "Invalid JWT: Failed audience check. The right audience is " + want[0]
	}
	iat, errIat := claims.GetIssuedAt()
	exp, errExp := claims.GetExpirationTime()
	now := v.env.now()
	if errIat != nil || errExp != nil || iat == nil || exp == nil ||
		iat.After(now) || !exp.After(now) || exp.Sub(iat.Time) > fcmMaxAssertionLife {
		return "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. " +
			"Check your iat and exp values in the JWT claim."
	}
	scope, _ := claims["scope"].(string)
	if !anyIn(strings.Fields(scope), fcmScopes) {
		return "invalid_scope", "Invalid OAuth scope or ID token audience provided."
	}
	return "", ""
}

// audiences are the aud values a grant may carry: the token URI the service
// account file was written with (AuthEndpoint), or the URL the request came to
// (a client that reached the Sim as localhost).
func (v *fcmVendor) audiences(r *http.Request) []string {
	out := []string{v.env.authEndpoint()}
	if r.Host != "" {
		out = append(out, "https://"+r.Host+"/"+string(push.FCM)+fcmTokenPath)
	}
	return out
}

func oauthError(status int, code, desc string) answer {
	return jsonAnswer(status, code, map[string]string{"error": code, "error_description": desc})
}

// --- send endpoint ---

// targets returns the message's token, or "/topics/<name>" for a topic message.
func (v *fcmVendor) targets(_ *http.Request, body []byte) []string {
	token, topic := fcmTargetFields(body)
	switch {
	case token != "":
		return []string{token}
	case topic != "":
		return []string{"/topics/" + strings.TrimPrefix(topic, "/topics/")}
	}
	return nil
}

// fcmTargetFields returns message.token and message.topic as json.Unmarshal
// into struct{Message struct{Token, Topic string}} reads them, both "" where
// it fails. It splits the body with the scanner serve uses (splitObject)
// instead of decoding it by reflection. encoding/json also matches keys
// case-insensitively, under Unicode folding: a body with a key that may match
// so without being spelt exactly "message", "token" or "topic" is left to
// json.Unmarshal.
func fcmTargetFields(body []byte) (token, topic string) {
	if !json.Valid(body) {
		return "", ""
	}
	top, ok := splitObject(string(body))
	if !ok { // null has no targets; any other non-object fails
		return "", ""
	}
	for _, m := range top {
		switch {
		case m.key == "message":
		case mayFoldTo(m.key, "message"):
			return unmarshalFCMTargetFields(body)
		default:
			continue // an unknown field, skipped
		}
		if m.value == "null" { // leaves what earlier members set
			continue
		}
		members, ok := splitObject(m.value)
		if !ok {
			return "", ""
		}
		for _, f := range members {
			var dst *string
			switch {
			case f.key == "token":
				dst = &token
			case f.key == "topic":
				dst = &topic
			case mayFoldTo(f.key, "token"), mayFoldTo(f.key, "topic"):
				return unmarshalFCMTargetFields(body)
			default:
				continue
			}
			if f.value == "null" {
				continue
			}
			if f.value[0] != '"' {
				return "", ""
			}
			*dst, _ = jsonString(f.value) // a valid JSON string always decodes
		}
	}
	return token, topic
}

// mayFoldTo reports whether encoding/json may match the key to the field name
// case-insensitively: key is name in other ASCII cases, or not ASCII (Unicode
// folding matches "K" to the Kelvin sign, "s" to "ſ").
func mayFoldTo(key, name string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	return strings.EqualFold(key, name)
}

// unmarshalFCMTargetFields is fcmTargetFields by json.Unmarshal.
func unmarshalFCMTargetFields(body []byte) (token, topic string) {
	var req struct {
		Message struct {
			Token string `json:"token"`
			Topic string `json:"topic"`
		} `json:"message"`
	}
	if json.Unmarshal(body, &req) != nil {
		return "", ""
	}
	return req.Message.Token, req.Message.Topic
}

// admit checks the path, method, access token and project.
func (v *fcmVendor) admit(r *http.Request) (answer, bool) {
	project := pathParam(r.URL.Path, fcmProjectsPath, fcmSendSuffix)
	if project == "" || r.Method != http.MethodPost {
		return fcmError(http.StatusNotFound, fcmNotFound, "", "The requested URL "+r.URL.Path+" was not found on this server."), false
	}
	if tok, ok := bearerToken(r); !ok || !v.env.accessTokenLive(tok) {
		a := fcmError(http.StatusUnauthorized, fcmUnauthenticated, "", fcmUnauthenticatedMessage)
		return a.withHeader("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`), false
	}
	if project != v.projectID {
		return fcmError(http.StatusForbidden, fcmPermissionDenied, "",
			"Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/"+
				project+"' (or it may not exist)."), false
	}
	return answer{}, true
}

// fault renders an injected fault as FCM would answer it.
func (v *fcmVendor) fault(_ *http.Request, _ []byte, hits []faultHit) answer {
	f := hits[0].Fault
	shape, ok := fcmFaultShapes[f.Status]
	if !ok {
		shape = fcmFaultShape{rpcStatus: "UNKNOWN", errorCode: "UNSPECIFIED_ERROR", message: http.StatusText(f.Status)}
	}
	if f.Reason != "" {
		shape.errorCode = f.Reason
	}
	return fcmError(f.Status, shape.rpcStatus, shape.errorCode, shape.message).withRetryAfter(f)
}

// serve validates the message against the v1 schema and FCM's rules and answers it.
func (v *fcmVendor) serve(_ *http.Request, body []byte, _ []string) answer {
	if !json.Valid(body) {
		return fcmBadRequest("", []fieldViolation{{Description: "Invalid JSON payload received. Unexpected token.\n" + snippet(body)}})
	}
	// Every key and value read from here on is a substring of text.
	text := string(body)
	req, violations := readObject("", text, fcmSendRequestSchema, nil)
	if len(violations) > 0 {
		return fcmBadRequest("", violations)
	}
	msg := req.object("message")
	if msg == nil {
		return fcmBadRequest("", []fieldViolation{{Field: "message", Description: "Message must be set."}})
	}

	// The schema made these strings or null; null (or absent) reads as "".
	token, _ := jsonString(msg.field("token"))
	topic, _ := jsonString(msg.field("topic"))
	condition, _ := jsonString(msg.field("condition"))
	var set []string
	for _, t := range []struct{ name, val string }{{"token", token}, {"topic", topic}, {"condition", condition}} {
		if t.val != "" {
			set = append(set, t.name)
		}
	}
	switch {
	case len(set) == 0:
		return fcmBadRequest("", []fieldViolation{{Field: "message", Description: "Recipient of the message is not set."}})
	case len(set) > 1:
		return fcmBadRequest("", []fieldViolation{{Field: "message",
			Description: "Invalid value at 'message' (oneof), oneof field 'target' is already set. Cannot set '" + set[len(set)-1] + "'"}})
	case token != "" && !validFCMToken(token):
		return fcmBadRequest("INVALID_ARGUMENT", []fieldViolation{{Field: "message.token",
			Description: "The registration token is not a valid FCM registration token"}})
	case topic != "" && !validFCMTopic(topic):
		return fcmBadRequest("INVALID_ARGUMENT", []fieldViolation{{Field: "message.topic", Description: "Invalid topic name " + strconv.Quote(topic)}})
	}

	android := msg.object("android")
	if vs := checkAndroid(android); len(vs) > 0 {
		return fcmBadRequest("INVALID_ARGUMENT", vs)
	}
	if vs := checkAPNsOverride(msg.object("apns")); len(vs) > 0 {
		return fcmBadRequest("INVALID_ARGUMENT", vs)
	}
	data := [2][]jsonMember{jsonMembers(msg.field("data")), jsonMembers(android.field("data"))}
	for i, field := range [2]string{"message.data", "message.android.data"} {
		for _, m := range data[i] {
			if reservedDataKey(m.key) {
				return fcmBadRequest("INVALID_ARGUMENT", []fieldViolation{{Field: field,
					Description: "Invalid data payload key: " + m.key}})
			}
		}
	}
	limit := fcmMaxPayload
	if topic != "" {
		limit = fcmMaxTopicPayload
	}
	if size := fcmPayloadSize(data, [2]string{msg.field("notification"), android.field("notification")}); size > limit {
		return fcmBadRequest("INVALID_ARGUMENT", []fieldViolation{{Field: "message",
			Description: fmt.Sprintf("Message is too big: %d bytes; the limit is %d.", size, limit)}})
	}

	// The schema made validate_only true, false or null.
	validateOnly := req.field("validate_only") == "true"
	id := "fake_message_id"
	if !validateOnly {
		id = fmt.Sprintf("0:%d%%%s", v.env.now().UnixMicro(), randomHex(8))
	}
	a := jsonAnswer(http.StatusOK, "", map[string]string{"name": "projects/" + v.projectID + "/messages/" + id})
	a.accepted, a.dryRun = true, validateOnly
	return a
}

// checkAPNsOverride applies Apple's background-push rules to the apns block
// (FCM hands it to APNs for an iOS device): a push type of background needs
// priority 5 and an aps of content-available alone. How FCM reports APNs's
// refusal is UNCONFIRMED; the simulator answers INVALID_ARGUMENT naming it.
func checkAPNsOverride(apns *fcmObject) []fieldViolation {
	var headers map[string]string
	if raw := apns.field("headers"); raw != "" && raw != "null" {
		_ = json.Unmarshal([]byte(raw), &headers) // the schema made it a string map
	}
	if headers["apns-push-type"] != "background" {
		return nil
	}
	payload := apns.field("payload")
	if payload == "" || payload == "null" {
		payload = "{}"
	}
	if reason := checkBackground(headers["apns-priority"], []byte(payload)); reason != "" {
		return []fieldViolation{{Field: "message.apns", Description: "APNs refuses the background push: " + reason}}
	}
	return nil
}

// checkAndroid checks the android block's priority and ttl values.
func checkAndroid(android *fcmObject) []fieldViolation {
	var vs []fieldViolation
	if raw := android.field("priority"); raw != "" && raw != "null" {
		p, ok := jsonString(raw)
		if !ok || (!strings.EqualFold(p, "NORMAL") && !strings.EqualFold(p, "HIGH")) {
			vs = append(vs, invalidValue("message.android.priority", "type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority", raw))
		}
	}
	if raw := android.field("ttl"); raw != "" && raw != "null" {
		ttl, ok := jsonString(raw)
		d, err := time.Duration(0), error(nil)
		if !ok || !durationRE.MatchString(ttl) {
			err = errors.New("bad duration")
		} else {
			d, err = time.ParseDuration(ttl)
		}
		switch {
		case err != nil:
			vs = append(vs, invalidValue("message.android.ttl", "type.googleapis.com/google.protobuf.Duration", raw))
		case d > fcmMaxTTL:
			vs = append(vs, fieldViolation{Field: "message.android.ttl", Description: "TTL must not exceed 4 weeks (2419200s)."})
		}
	}
	return vs
}

// durationRE is the protobuf JSON Duration form: seconds with up to 9 decimals and an "s".
var durationRE = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,9})?s$`)

// fcmTopicRE is the alphabet of topic names.
var fcmTopicRE = regexp.MustCompile(`^[a-zA-Z0-9\-_.~%]{1,900}$`)

// validFCMToken reports whether t is a registration token: 1 to fcmMaxToken bytes
// of the alphabet of tokens, base64url plus ':' and '.'.
func validFCMToken(t string) bool {
	if t == "" || len(t) > fcmMaxToken {
		return false
	}
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-', c == ':', c == '.':
		default:
			return false
		}
	}
	return true
}

func validFCMTopic(t string) bool {
	return fcmTopicRE.MatchString(strings.TrimPrefix(t, "/topics/"))
}

func reservedDataKey(k string) bool {
	for _, r := range fcmReservedDataKeys {
		if k == r {
			return true
		}
	}
	for _, p := range fcmReservedDataPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// fcmPayloadSize counts what FCM counts against the payload limit: the keys and
// values of the data maps and the notification blocks as sent, compacted (each
// the message's and android's).
func fcmPayloadSize(data [2][]jsonMember, notifications [2]string) int {
	size := 0
	for _, members := range data {
		for _, m := range members {
			s, _ := jsonString(m.value)
			size += len(m.key) + len(s)
		}
	}
	for _, raw := range notifications {
		if raw != "" && raw != "null" {
			size += compactLen(raw)
		}
	}
	return size
}

// --- FCM error bodies ---

type fieldViolation struct {
	Field       string `json:"field,omitempty"`
	Description string `json:"description"`
}

// fcmError builds {"error":{code, message, status, details}}; errorCode adds an
// FcmError detail, violations a BadRequest detail.
func fcmError(status int, rpcStatus, errorCode, message string, violations ...fieldViolation) answer {
	var details []any
	if len(violations) > 0 {
		details = append(details, map[string]any{"@type": fcmBadRequestType, "fieldViolations": violations})
	}
	if errorCode != "" {
		details = append(details, map[string]any{"@type": fcmErrorType, "errorCode": errorCode})
	}
	reason := errorCode
	if reason == "" {
		reason = rpcStatus
	}
	var body fcmErrorBody
	body.Error.Code, body.Error.Message, body.Error.Status, body.Error.Details = status, message, rpcStatus, details
	return jsonAnswer(status, reason, body)
}

// fcmErrorBody is Google's error envelope, fields in Google's order.
type fcmErrorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []any  `json:"details,omitempty"`
	} `json:"error"`
}

// fcmBadRequest is a 400 INVALID_ARGUMENT whose message joins the violations'
// descriptions, as Google's JSON parser reports them.
func fcmBadRequest(errorCode string, violations []fieldViolation) answer {
	msgs := make([]string, len(violations))
	for i, v := range violations {
		msgs[i] = v.Description
	}
	return fcmError(http.StatusBadRequest, fcmInvalidArgument, errorCode, strings.Join(msgs, "\n"), violations...)
}

// invalidValue reports the JSON value raw at field as not of type typ.
func invalidValue(field, typ, raw string) fieldViolation {
	return fieldViolation{Field: field, Description: fmt.Sprintf("Invalid value at '%s' (%s), %s", field, typ, snippet([]byte(raw)))}
}

// snippet is raw, compacted and cut to 100 bytes, for error messages.
func snippet(raw []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		buf.Reset()
		buf.Write(raw)
	}
	s := buf.String()
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

// fcmConfig renders the fcm entry of pushd's providers config.
func fcmConfig(c configContext) string {
	return fmt.Sprintf(`fcm:
  service_account_file: %q
  project_id: %q
  endpoint: %q
  ca_file: %q
`, filepath.Join(c.dir, FileFCMServiceAccount), c.creds.FCM.ProjectID, c.endpoint, c.caFile)
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w && h != "" {
				return true
			}
		}
	}
	return false
}
