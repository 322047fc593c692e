package vendorsim

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pushd-im/pushd/push"
)

func oppoSpec() vendorSpec {
	return vendorSpec{
		provider:   push.OPPO,
		authPath:   oppoAuthPath,
		newHandler: newOPPOHandler,
		config:     oppoConfig,
	}
}

// OPPO Push (OPUSH) server API v1 facts (docs/vendors.md, OPPO). UNCONFIRMED ones are marked.
const (
	oppoAuthPath      = "/server/v1/auth"
	oppoUnicastPath   = "/server/v1/message/notification/unicast"
	oppoSavePath      = "/server/v1/message/notification/save_message_content"
	oppoBroadcastPath = "/server/v1/message/notification/broadcast"

	// oppoAuthTokenTTL is the life of an auth_token.
	oppoAuthTokenTTL = 24 * time.Hour
	// oppoTimestampWindow is how far an auth timestamp may be from the clock
	// (the simulator's bound; OPPO does not document one).
	oppoTimestampWindow = 10 * time.Minute

	// Field limits, in characters (OPPO counts a Chinese character or an emoji
	// as one). The title limit is 50 in newer docs, 32 in older ones.
	oppoMaxTitle    = 50
	oppoMaxSubTitle = 10
	// oppoMaxActionParameters is action_parameters' limit ("4K characters").
	oppoMaxActionParameters = 4096
	// oppoMaxOfflineTTL is the longest off_line_ttl, in seconds (3 days).
	oppoMaxOfflineTTL = 3 * 24 * 60 * 60
	// oppoMaxTargets is the most regIds one broadcast takes.
	oppoMaxTargets = 1000

	// oppoSavedMessageTTL is how long a saved message can be broadcast
	// (UNCONFIRMED: simulator's bound), oppoMaxSavedMessages how many are kept.
	oppoSavedMessageTTL  = 24 * time.Hour
	oppoMaxSavedMessages = 100000

	// oppoTargetRegID is target_type 2 (registration_id); 1 (all devices), 5
	// (alias) and 6 (tags) are not simulated.
	oppoTargetRegID = 2
)

// oppoContentLimits is content's limit per style (1 standard, 2 long text, 3 big picture).
var oppoContentLimits = map[int]int{1: 200, 2: 128, 3: 50}

// oppoClickActions are the click_action_type values, with the field each needs.
var oppoClickActions = map[int]string{0: "", 1: "click_action_activity", 2: "click_action_url", 4: "click_action_activity", 5: "click_action_url"}

// oppoCategories are the category values of OPPO's new classification; the
// first six are "communication and service" messages, which OPPO does not
// count against the daily quota. The list is UNCONFIRMED.
var (
	oppoServiceCategories = []string{"IM", "ACCOUNT", "DEVICE_REMINDER", "ORDER", "TODO", "SUBSCRIPTION"}
	oppoContentCategories = []string{"NEWS", "CONTENT", "MARKETING", "SOCIAL"}
)

// oppoNotifyLevels are the notify_level values (UNCONFIRMED): 1 notification
// bar, 2 bar and lock screen, 16 bar, lock screen, banner, vibration and ringtone.
var oppoNotifyLevels = []int{1, 2, 16}

// The OPPO return codes the simulator answers.
const (
	oppoCodeSuccess           = 0
	oppoCodeFlowControl       = -2
	oppoCodeUnavailable       = -1
	oppoCodeInvalidAuthToken  = 11
	oppoCodeMethodNotAllowed  = 12
	oppoCodeInvalidAppKey     = 14
	oppoCodeMissingAppKey     = 15
	oppoCodeInvalidSignature  = 16
	oppoCodeMissingSignature  = 17
	oppoCodeMissingTimestamp  = 18
	oppoCodeInvalidTimestamp  = 19
	oppoCodeInvalidMethod     = 20
	oppoCodeMissingAuthToken  = 29
	oppoCodeAPIPermission     = 30
	oppoCodeDataNotExist      = 31
	oppoCodeDailyLimit        = 33
	oppoCodeMissingArguments  = 40
	oppoCodeInvalidArguments  = 41
	oppoCodeCategory          = 67
	oppoCodeInvalidRegID      = 10000 // UNCONFIRMED: see oppoCodes
	oppoCodeUnsubscribedRegID = 10001 // UNCONFIRMED
	oppoCodeRepeatedRegID     = 10004 // UNCONFIRMED
)

// oppoCodes is the one table of the codes the simulator answers, with OPPO's
// English description. The words are the doc mirror's, except the business
// codes', which are the simulator's own. OPPO documents its business codes
// (10000–20000) only per API; 10000, 10001 and 10004 are the keys a
// production client reads from a broadcast answer's data (invalid,
// unsubscribed and repeated regIds), and a unicast to a dead regId is assumed
// to answer 10000 at the top level (UNCONFIRMED).
//
// OPPO answers every code in the body with HTTP 200 (the status of an error
// answer is UNCONFIRMED, so the client must read the code whatever it is), and
// so does the simulator; only code 0 is an accepted push.
var oppoCodes = map[int]string{
	oppoCodeSuccess:           "Success",
	oppoCodeFlowControl:       "Service in Flow Control",
	oppoCodeUnavailable:       "Service Currently Unavailable",
	oppoCodeInvalidAuthToken:  "Invalid AuthToken",
	oppoCodeMethodNotAllowed:  "Http Action Not Allowed",
	13:                        "App Call Limited",
	oppoCodeInvalidAppKey:     "Invalid App Key",
	oppoCodeMissingAppKey:     "Missing App Key",
	oppoCodeInvalidSignature:  "Invalid Signature",
	oppoCodeMissingSignature:  "Missing Signature",
	oppoCodeMissingTimestamp:  "Missing Timestamp",
	oppoCodeInvalidTimestamp:  "Invalid Timestamp",
	oppoCodeInvalidMethod:     "Invalid Method",
	27:                        "Access Denied",
	28:                        "App Disabled",
	oppoCodeMissingAuthToken:  "Missing Auth Token",
	oppoCodeAPIPermission:     "Api Permission Denied",
	oppoCodeDataNotExist:      "Data Not Exist",
	oppoCodeDailyLimit:        "The number of messages exceeds the daily limit",
	oppoCodeMissingArguments:  "Missing Required Arguments",
	oppoCodeInvalidArguments:  "Invalid Arguments",
	55:                        "App Call Frequency Limit",
	oppoCodeCategory:          "Category error/Private classify channel notify_level invalid",
	oppoCodeInvalidRegID:      "Invalid RegistrationId",
	oppoCodeUnsubscribedRegID: "RegistrationId Unsubscribed",
	oppoCodeRepeatedRegID:     "Repeated RegistrationId",
}

// oppoDeadRegIDCodes are the codes that call a regId dead (Record.InvalidTokens).
var oppoDeadRegIDCodes = []int{oppoCodeInvalidRegID, oppoCodeUnsubscribedRegID}

// oppoFaultCodes is the code a Fault answers with when it gives no Reason,
// by the Fault's status; other 4xx answer 41, other 5xx -1.
var oppoFaultCodes = map[int]int{
	http.StatusBadRequest:            oppoCodeInvalidArguments,
	http.StatusUnauthorized:          oppoCodeInvalidAuthToken,
	http.StatusForbidden:             oppoCodeAPIPermission,
	http.StatusNotFound:              oppoCodeInvalidRegID,
	http.StatusMethodNotAllowed:      oppoCodeMethodNotAllowed,
	http.StatusGone:                  oppoCodeInvalidRegID,
	http.StatusRequestEntityTooLarge: oppoCodeInvalidArguments,
	http.StatusTooManyRequests:       oppoCodeFlowControl,
	http.StatusInternalServerError:   oppoCodeUnavailable,
	http.StatusServiceUnavailable:    oppoCodeUnavailable,
}

// oppoVendor checks OPPO requests against the app in OPPOCredentials and keeps
// its saved (broadcast) messages.
type oppoVendor struct {
	env          *vendorEnv
	appKey       string
	masterSecret string

	mu       sync.Mutex
	saved    map[string]oppoSaved // message_id → saved message
	byAppMsg map[string]string    // app_message_id → message_id
}

// oppoSaved is a message saved by save_message_content.
type oppoSaved struct {
	notice oppoNotice
	at     time.Time
}

func newOPPOHandler(env *vendorEnv) (http.Handler, error) {
	v := &oppoVendor{
		env:          env,
		appKey:       env.creds.OPPO.AppKey,
		masterSecret: env.creds.OPPO.MasterSecret,
		saved:        make(map[string]oppoSaved),
		byAppMsg:     make(map[string]string),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(oppoAuthPath, v.handleAuth)
	mux.HandleFunc(oppoSavePath, v.handleSave)
	mux.Handle(oppoUnicastPath, env.sendHandler(sendRoute{
		targets: v.unicastTargets,
		admit:   v.admit,
		fault:   v.fault,
		serve:   v.serveUnicast,
	}))
	mux.Handle(oppoBroadcastPath, env.sendHandler(sendRoute{
		targets: v.broadcastTargets,
		admit:   v.admit,
		fault:   v.fault,
		serve: func(r *http.Request, _ []byte, _ []string) answer {
			return v.serveBroadcast(r, nil)
		},
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, oppoError(oppoCodeInvalidMethod, "no API at "+r.URL.Path))
	})
	return mux, nil
}

// --- answers ---

// oppoBody is OPPO's answer envelope.
type oppoBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// oppoAnswer answers code with data, with HTTP 200 (see oppoCodes); code 0
// accepts the push.
func oppoAnswer(code int, detail string, data any) answer {
	msg, ok := oppoCodes[code]
	if !ok {
		msg = "Error"
	}
	if detail != "" {
		msg += ": " + detail
	}
	reason := ""
	if code != oppoCodeSuccess {
		reason = strconv.Itoa(code)
	}
	a := jsonAnswer(http.StatusOK, reason, oppoBody{Code: code, Message: msg, Data: data})
	a.accepted = code == oppoCodeSuccess
	return a
}

// oppoError answers an error code; detail says what was wrong.
func oppoError(code int, detail string) answer {
	return oppoAnswer(code, detail, nil)
}

// --- auth ---

// handleAuth is POST /server/v1/auth: app_key, timestamp (ms) and sign =
// hex SHA-256(app_key + timestamp + master_secret) give a 24-hour auth_token.
func (v *oppoVendor) handleAuth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeAnswer(w, oppoError(oppoCodeMethodNotAllowed, "the auth API takes POST"))
		return
	}
	form, ok := readOPPOForm(w, r, 64<<10)
	if !ok {
		writeAnswer(w, oppoError(oppoCodeInvalidArguments, "the body is not a form"))
		return
	}
	if code, detail := v.checkSign(form); code != oppoCodeSuccess {
		v.env.log.Debug("vendorsim: oppo auth refused", "code", code, "detail", detail)
		writeAnswer(w, oppoError(code, detail))
		return
	}
	token, _ := v.env.issueAccessToken(oppoAuthTokenTTL)
	writeAnswer(w, oppoAnswer(oppoCodeSuccess, "", map[string]any{
		"auth_token":  token,
		"create_time": v.env.now().UnixMilli(),
	}))
}

// checkSign checks an auth form and returns the refusal code and why, or
// oppoCodeSuccess. The sign is checked over the timestamp string as sent.
func (v *oppoVendor) checkSign(form url.Values) (int, string) {
	appKey, timestamp, sig := form.Get("app_key"), form.Get("timestamp"), form.Get("sign")
	switch {
	case appKey == "":
		return oppoCodeMissingAppKey, ""
	case !secretEqual(appKey, v.appKey):
		return oppoCodeInvalidAppKey, ""
	case sig == "":
		return oppoCodeMissingSignature, ""
	case timestamp == "":
		return oppoCodeMissingTimestamp, ""
	}
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return oppoCodeInvalidTimestamp, "timestamp must be milliseconds since the epoch"
	}
	skew := v.env.now().Sub(time.UnixMilli(ms))
	if skew > oppoTimestampWindow || skew < -oppoTimestampWindow {
		return oppoCodeInvalidTimestamp, fmt.Sprintf("timestamp is %v away from the server clock", skew.Round(time.Second))
	}
	if !secretEqual(sig, sha256Hex(appKey+timestamp+v.masterSecret)) {
		return oppoCodeInvalidSignature, ""
	}
	return oppoCodeSuccess, ""
}

// readOPPOForm reads a form-encoded POST body of at most limit bytes. A body
// of another content type reads as an empty form, as a form parser sees it.
func readOPPOForm(w http.ResponseWriter, r *http.Request, limit int64) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		return nil, false
	}
	return r.PostForm, true
}

// authToken is the auth_token of a request: the form field, as the doc says,
// or a header of that name, which several clients send instead and which
// appears to work too (UNCONFIRMED).
func authToken(r *http.Request, form url.Values) string {
	if t := form.Get("auth_token"); t != "" {
		return t
	}
	return r.Header.Get("auth_token")
}

// checkAuthToken returns the refusal for a request's auth_token, or ok.
func (v *oppoVendor) checkAuthToken(r *http.Request, form url.Values) (answer, bool) {
	tok := authToken(r, form)
	switch {
	case tok == "":
		return oppoError(oppoCodeMissingAuthToken, ""), false
	case !v.env.accessTokenLive(tok):
		return oppoError(oppoCodeInvalidAuthToken, "unknown or expired auth_token"), false
	}
	return answer{}, true
}

// --- save_message_content ---

// handleSave is POST save_message_content: the notification's fields as form
// parameters are kept for a later broadcast, under a message_id. The same
// app_message_id saves once and answers the same message_id.
func (v *oppoVendor) handleSave(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeAnswer(w, oppoError(oppoCodeMethodNotAllowed, "save_message_content takes POST"))
		return
	}
	form, ok := readOPPOForm(w, r, maxSendBody)
	if !ok {
		writeAnswer(w, oppoError(oppoCodeInvalidArguments, "the body is not a form of at most 1 MiB"))
		return
	}
	if a, ok := v.checkAuthToken(r, form); !ok {
		writeAnswer(w, a)
		return
	}
	n, code, detail := parseOPPONotice(oppoFormFields(form))
	if code != oppoCodeSuccess {
		writeAnswer(w, oppoError(code, detail))
		return
	}
	writeAnswer(w, oppoAnswer(oppoCodeSuccess, "", map[string]string{"message_id": v.save(n)}))
}

// save keeps n and returns its message_id.
func (v *oppoVendor) save(n oppoNotice) string {
	now := v.env.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if id, ok := v.byAppMsg[n.appMessageID]; ok && n.appMessageID != "" {
		if s, ok := v.saved[id]; ok && now.Sub(s.at) < oppoSavedMessageTTL {
			return id
		}
	}
	if len(v.saved) >= oppoMaxSavedMessages {
		v.pruneLocked(now)
	}
	id := randomHex(12)
	v.saved[id] = oppoSaved{notice: n, at: now}
	if n.appMessageID != "" {
		v.byAppMsg[n.appMessageID] = id
	}
	return id
}

// pruneLocked drops expired saved messages, and the oldest ones past the cap.
func (v *oppoVendor) pruneLocked(now time.Time) {
	for id, s := range v.saved {
		if now.Sub(s.at) >= oppoSavedMessageTTL {
			delete(v.saved, id)
		}
	}
	for id := range v.saved {
		if len(v.saved) < oppoMaxSavedMessages {
			break
		}
		delete(v.saved, id)
	}
	for am, id := range v.byAppMsg {
		if _, ok := v.saved[id]; !ok {
			delete(v.byAppMsg, am)
		}
	}
}

// savedMessage returns a saved message that has not expired.
func (v *oppoVendor) savedMessage(id string) (oppoNotice, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.saved[id]
	if !ok || v.env.now().Sub(s.at) >= oppoSavedMessageTTL {
		return oppoNotice{}, false
	}
	return s.notice, true
}

// --- send endpoints (unicast, broadcast) ---

// sendForm parses a send request's form once and keeps it on r as ParseForm
// would (the body has been read already), for admit, fault and serve.
func sendForm(r *http.Request, body []byte) url.Values {
	if r.PostForm != nil {
		return r.PostForm
	}
	form := url.Values{}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		form, _ = url.ParseQuery(string(body)) // the parts that parse
	}
	r.PostForm = form
	return form
}

// unicastTargets returns the message's target_value.
func (v *oppoVendor) unicastTargets(r *http.Request, body []byte) []string {
	var msg struct {
		TargetValue string `json:"target_value"`
	}
	if json.Unmarshal([]byte(sendForm(r, body).Get("message")), &msg) != nil || msg.TargetValue == "" {
		return nil
	}
	return []string{msg.TargetValue}
}

// broadcastTargets returns the regIds of target_value, each once.
func (v *oppoVendor) broadcastTargets(r *http.Request, body []byte) []string {
	return oppoRegIDs(sendForm(r, body).Get("target_value"))
}

// oppoRegIDs splits a broadcast's ';'-separated target_value, dropping blanks
// and repeats.
func oppoRegIDs(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range splitList(s, ";") {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// admit checks the method and the auth_token.
func (v *oppoVendor) admit(r *http.Request) (answer, bool) {
	if r.Method != http.MethodPost {
		return oppoError(oppoCodeMethodNotAllowed, "push APIs take POST"), false
	}
	form := r.PostForm
	if form == nil {
		form = url.Values{}
	}
	return v.checkAuthToken(r, form)
}

// fault renders injected faults. Token faults that all name a dead-regId code
// on a broadcast make a partial success: those regIds are reported dead and
// the others are sent, as OPPO answers. Anything else answers the first
// fault's code: Fault.Reason when it is a number, else the status's usual code.
func (v *oppoVendor) fault(r *http.Request, _ []byte, hits []faultHit) answer {
	if r.URL.Path == oppoBroadcastPath && r.PostForm != nil {
		dead := map[string]int{}
		for _, h := range hits {
			code, ok := oppoFaultCode(h.Fault)
			if h.Fault.Token == "" || !ok || !slices.Contains(oppoDeadRegIDCodes, code) {
				dead = nil
				break
			}
			dead[h.Fault.Token] = code
		}
		if dead != nil {
			return v.serveBroadcast(r, dead)
		}
	}
	f := hits[0].Fault
	code, _ := oppoFaultCode(f)
	detail := ""
	if _, err := strconv.Atoi(f.Reason); err != nil && f.Reason != "" {
		detail = f.Reason
	}
	a := oppoError(code, detail).withRetryAfter(f)
	a.status = f.Status // a fault's status goes on the wire
	if slices.Contains(oppoDeadRegIDCodes, code) {
		for _, h := range hits {
			a.invalidTokens = append(a.invalidTokens, h.Tokens...)
		}
	}
	return a
}

// oppoFaultCode is the return code a fault answers with; ok reports whether
// its Reason named one.
func oppoFaultCode(f Fault) (int, bool) {
	if code, err := strconv.Atoi(strings.TrimSpace(f.Reason)); err == nil {
		return code, true
	}
	if code, ok := oppoFaultCodes[f.Status]; ok {
		return code, false
	}
	if f.Status >= 500 {
		return oppoCodeUnavailable, false
	}
	return oppoCodeInvalidArguments, false
}

// serveUnicast checks a unicast message and answers it.
func (v *oppoVendor) serveUnicast(r *http.Request, _ []byte, _ []string) answer {
	raw := r.PostForm.Get("message")
	if raw == "" {
		return oppoError(oppoCodeMissingArguments, "message is required")
	}
	msg, ok := decodeJSONObject([]byte(raw))
	if !ok {
		return oppoError(oppoCodeInvalidArguments, "message is not a JSON object")
	}
	targetType, ok, err := msg.looseInteger("target_type")
	switch {
	case err != nil:
		return oppoError(oppoCodeInvalidArguments, err.Error())
	case !ok:
		return oppoError(oppoCodeMissingArguments, "target_type is required")
	case targetType != oppoTargetRegID:
		return oppoError(oppoCodeInvalidArguments, fmt.Sprintf("target_type %d is not simulated; use 2 (registration_id)", targetType))
	}
	target, ok, err := msg.str("target_value")
	switch {
	case err != nil:
		return oppoError(oppoCodeInvalidArguments, err.Error())
	case !ok || target == "":
		return oppoError(oppoCodeMissingArguments, "target_value is required")
	case strings.ContainsAny(target, ";,"):
		return oppoError(oppoCodeInvalidArguments, "a unicast takes one target_value")
	}
	notification, ok, err := msg.object("notification")
	switch {
	case err != nil:
		return oppoError(oppoCodeInvalidArguments, "notification is not a JSON object")
	case !ok:
		return oppoError(oppoCodeMissingArguments, "notification is required")
	}
	n, code, detail := parseOPPONotice(notification)
	if code != oppoCodeSuccess {
		return oppoError(code, detail)
	}
	if deadToken(target) {
		a := oppoError(oppoCodeInvalidRegID, "")
		a.invalidTokens = []string{target}
		return a
	}
	if n.counted() && !v.env.quota.take(v.env.now(), 1) {
		return oppoError(oppoCodeDailyLimit, "")
	}
	return oppoAnswer(oppoCodeSuccess, "", map[string]string{"messageId": randomHex(12)})
}

// serveBroadcast sends a saved message to the regIds of target_value. dead
// names regIds to report dead with their code (from faults); regIds starting
// with "invalid-" (deadToken) are dead (10000) too.
func (v *oppoVendor) serveBroadcast(r *http.Request, dead map[string]int) answer {
	form := r.PostForm
	id := form.Get("message_id")
	if id == "" {
		return oppoError(oppoCodeMissingArguments, "message_id is required")
	}
	tt := form.Get("target_type")
	if tt == "" {
		return oppoError(oppoCodeMissingArguments, "target_type is required")
	}
	if n, err := strconv.Atoi(tt); err != nil || n != oppoTargetRegID {
		return oppoError(oppoCodeInvalidArguments, fmt.Sprintf("target_type %q is not simulated; use 2 (registration_id)", tt))
	}
	sent := splitList(form.Get("target_value"), ";") // repeats kept: they are answered as 10004
	switch {
	case len(sent) == 0:
		return oppoError(oppoCodeMissingArguments, "target_value is required")
	case len(sent) > oppoMaxTargets:
		return oppoError(oppoCodeInvalidArguments, fmt.Sprintf("target_value has %d regIds; the limit is %d", len(sent), oppoMaxTargets))
	}
	n, ok := v.savedMessage(id)
	if !ok {
		return oppoError(oppoCodeDataNotExist, "no saved message "+strconv.Quote(id))
	}

	failed := map[int][]string{}
	var invalid []string
	live := 0
	seen := map[string]bool{}
	for _, t := range sent {
		if seen[t] {
			failed[oppoCodeRepeatedRegID] = append(failed[oppoCodeRepeatedRegID], t)
			continue
		}
		seen[t] = true
		code, ok := dead[t]
		if !ok && deadToken(t) {
			code, ok = oppoCodeInvalidRegID, true
		}
		if ok {
			failed[code] = append(failed[code], t)
			invalid = append(invalid, t)
			continue
		}
		live++
	}
	if n.counted() && !v.env.quota.take(v.env.now(), live) {
		return oppoError(oppoCodeDailyLimit, "")
	}
	data := map[string]any{"message_id": id, "task_id": randomHex(12)}
	for code, ids := range failed {
		data[strconv.Itoa(code)] = ids
	}
	a := oppoAnswer(oppoCodeSuccess, "", data)
	a.invalidTokens = invalid
	return a
}

// --- notification checks ---

// oppoNotice is a notification-bar message as the simulator checks it.
type oppoNotice struct {
	category     string
	channelID    string
	appMessageID string
}

// counted reports whether the message counts against the daily quota: it does
// unless it is a communication-and-service category (IM, …) or goes to a
// channel_id (the old private channel; the simulator cannot tell an approved
// private channel from any other channel, so any channel_id counts as one).
func (n oppoNotice) counted() bool {
	return !slices.Contains(oppoServiceCategories, n.category) && n.channelID == ""
}

// oppoFields reads a message's fields, from JSON (unicast, jsonFields) or a
// form (save). Numbers and booleans are read loosely: OPPO's Java parser also
// takes strings holding them, and a form holds nothing else.
type oppoFields interface {
	str(name string) (string, bool, error)
	looseInteger(name string) (int, bool, error)
	looseBoolean(name string) (bool, bool, error)
}

// parseOPPONotice checks a notification's fields as OPPO does and returns the
// refusal code and why, or oppoCodeSuccess.
func parseOPPONotice(f oppoFields) (oppoNotice, int, string) {
	var n oppoNotice
	bad := func(code int, format string, args ...any) (oppoNotice, int, string) {
		return oppoNotice{}, code, fmt.Sprintf(format, args...)
	}
	strs := map[string]string{}
	for _, name := range []string{"title", "sub_title", "content", "click_action_activity", "click_action_url",
		"action_parameters", "channel_id", "category", "app_message_id"} {
		s, _, err := f.str(name)
		if err != nil {
			return bad(oppoCodeInvalidArguments, "%v", err)
		}
		strs[name] = s
	}
	ints := map[string]int{}
	present := map[string]bool{}
	for _, name := range []string{"style", "click_action_type", "off_line_ttl", "notify_level"} {
		i, ok, err := f.looseInteger(name)
		if err != nil {
			return bad(oppoCodeInvalidArguments, "%v", err)
		}
		ints[name], present[name] = i, ok
	}
	offLine, hasOffLine, err := f.looseBoolean("off_line")
	if err != nil {
		return bad(oppoCodeInvalidArguments, "%v", err)
	}

	if strs["title"] == "" {
		return bad(oppoCodeMissingArguments, "title is required")
	}
	if c := utf8.RuneCountInString(strs["title"]); c > oppoMaxTitle {
		return bad(oppoCodeInvalidArguments, "title has %d characters; the limit is %d", c, oppoMaxTitle)
	}
	if c := utf8.RuneCountInString(strs["sub_title"]); c > oppoMaxSubTitle {
		return bad(oppoCodeInvalidArguments, "sub_title has %d characters; the limit is %d", c, oppoMaxSubTitle)
	}
	style := 1
	if present["style"] {
		style = ints["style"]
	}
	limit, ok := oppoContentLimits[style]
	if !ok {
		return bad(oppoCodeInvalidArguments, "style must be 1, 2 or 3, got %d", style)
	}
	if strs["content"] == "" {
		return bad(oppoCodeMissingArguments, "content is required")
	}
	if c := utf8.RuneCountInString(strs["content"]); c > limit {
		return bad(oppoCodeInvalidArguments, "content has %d characters; the limit for style %d is %d", c, style, limit)
	}
	need, ok := oppoClickActions[ints["click_action_type"]]
	switch {
	case !ok:
		return bad(oppoCodeInvalidArguments, "click_action_type must be 0, 1, 2, 4 or 5, got %d", ints["click_action_type"])
	case need != "" && strs[need] == "":
		return bad(oppoCodeMissingArguments, "%s is required with click_action_type %d", need, ints["click_action_type"])
	}
	if ap := strs["action_parameters"]; ap != "" {
		if c := utf8.RuneCountInString(ap); c > oppoMaxActionParameters {
			return bad(oppoCodeInvalidArguments, "action_parameters has %d characters; the limit is %d", c, oppoMaxActionParameters)
		}
		var obj map[string]any
		if json.Unmarshal([]byte(ap), &obj) != nil || obj == nil {
			return bad(oppoCodeInvalidArguments, "action_parameters must be a JSON object")
		}
	}
	if !hasOffLine {
		offLine = true
	}
	if present["off_line_ttl"] && offLine {
		if ttl := ints["off_line_ttl"]; ttl < 1 || ttl > oppoMaxOfflineTTL {
			return bad(oppoCodeInvalidArguments, "off_line_ttl must be 1 to %d seconds, got %d", oppoMaxOfflineTTL, ttl)
		}
	}
	// Apps that opened OPUSH after 2025-11-20 must classify every message.
	switch cat := strs["category"]; {
	case cat == "":
		return bad(oppoCodeCategory, "category is required")
	case !slices.Contains(oppoServiceCategories, cat) && !slices.Contains(oppoContentCategories, cat):
		return bad(oppoCodeCategory, "unknown category %q", cat)
	}
	if present["notify_level"] && !slices.Contains(oppoNotifyLevels, ints["notify_level"]) {
		return bad(oppoCodeCategory, "notify_level must be one of %v, got %d", oppoNotifyLevels, ints["notify_level"])
	}
	n.category, n.channelID, n.appMessageID = strs["category"], strs["channel_id"], strs["app_message_id"]
	return n, oppoCodeSuccess, ""
}

// oppoFormFields reads fields of a form.
type oppoFormFields url.Values

func (f oppoFormFields) str(name string) (string, bool, error) {
	vs, ok := f[name]
	if !ok || len(vs) == 0 {
		return "", false, nil
	}
	return vs[0], true, nil
}

func (f oppoFormFields) looseInteger(name string) (int, bool, error) {
	s, ok, _ := f.str(name)
	if !ok || s == "" {
		return 0, false, nil
	}
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, true, fmt.Errorf("%s must be an integer", name)
	}
	return i, true, nil
}

func (f oppoFormFields) looseBoolean(name string) (bool, bool, error) {
	s, ok, _ := f.str(name)
	if !ok || s == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, true, fmt.Errorf("%s must be true or false", name)
	}
	return b, true, nil
}

// --- daily quota ---

// oppoConfig renders the oppo entry of pushd's providers config.
func oppoConfig(c configContext) string {
	return fmt.Sprintf(`oppo:
  app_key: %q
  master_secret: %q
  endpoint: %q
  category: "IM"
  ca_file: %q
`, c.creds.OPPO.AppKey, c.creds.OPPO.MasterSecret, c.endpoint, c.caFile)
}
