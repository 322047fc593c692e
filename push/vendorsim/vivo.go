package vendorsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pushd-im/pushd/push"
)

func vivoSpec() vendorSpec {
	return vendorSpec{
		provider:   push.Vivo,
		authPath:   vivoAuthPath,
		newHandler: newVivoHandler,
		config:     vivoConfig,
	}
}

// vivo Push facts (docs/vendors.md, vivo). UNCONFIRMED ones are marked.
const (
	vivoAuthPath            = "/message/auth"
	vivoSendPath            = "/message/send"
	vivoSaveListPayloadPath = "/message/saveListPayload"
	vivoPushToListPath      = "/message/pushToList"

	// vivoAuthTokenTTL is the life of an authToken.
	vivoAuthTokenTTL = 24 * time.Hour
	// vivoAuthWindow is how far an auth timestamp may be from the server clock.
	vivoAuthWindow = 10 * time.Minute
	// vivoMaxTitle and vivoMaxContent are the widths of title and content, a
	// CJK character counting 2 and anything else (an emoji too) 1.
	vivoMaxTitle   = 40
	vivoMaxContent = 100
	// vivoMinTTL and vivoMaxTTL bound timeToLive in seconds. The minimum is 60 in
	// one doc version and 900 in another: UNCONFIRMED, 60 kept.
	vivoMinTTL = 60
	vivoMaxTTL = 7 * 24 * 3600
	// vivoMaxCustomPairs and vivoMaxCustomChars limit clientCustomMap: pairs, and
	// characters of all keys and values together.
	vivoMaxCustomPairs = 10
	vivoMaxCustomChars = 1024
	// vivoMinListTargets and vivoMaxListTargets bound pushToList's regIds.
	vivoMinListTargets = 2
	vivoMaxListTargets = 1000
	// vivoRequestIDMemory is how long a requestId counts as used, and
	// vivoTaskTTL how long a saveListPayload taskId can be pushed to: both UNCONFIRMED.
	vivoRequestIDMemory = 24 * time.Hour
	vivoTaskTTL         = 24 * time.Hour
	// vivoInvalidStatus is invalidUser.status for a regId vivo cannot deliver to
	// (the value the doc example shows; its meaning is UNCONFIRMED).
	vivoInvalidStatus = 1
)

// The vivo result codes the simulator answers with. docs/vendors.md documents 0,
// 10000 (UNCONFIRMED against the official table), 10070, 10072 (UNCONFIRMED),
// 10094, 10200, 10201, 10252 and 10302. Every other number below is the
// simulator's own choice for a check the docs describe without naming its code:
// UNCONFIRMED, kept in this one block and in vivoCodes so each is a one-line fix.
//
// vivo answers every result code with HTTP 200, and so does the simulator; only
// result 0 is an accepted push.
const (
	vivoOK                = 0
	vivoAuthFailed        = 10000
	vivoQuotaExceeded     = 10070
	vivoTooFast           = 10072
	vivoAppIDMismatch     = 10094
	vivoListQuotaExceeded = 10252
	vivoInvalidRegID      = 10302

	vivoAuthAppIDEmpty  = 10200
	vivoAuthAppKeyEmpty = 10201
	// UNCONFIRMED from here on.
	vivoAuthTimestampEmpty = 10202
	vivoAuthSignEmpty      = 10203
	vivoAuthTimestampBad   = 10204
	vivoAuthAppIDUnknown   = 10205
	vivoAuthAppKeyBad      = 10206
	vivoAuthSignBad        = 10207

	vivoTargetEmpty       = 10050
	vivoListTargetsBad    = 10051
	vivoTaskIDBad         = 10052
	vivoRequestIDEmpty    = 10053
	vivoTitleBad          = 10054
	vivoContentBad        = 10055
	vivoTTLBad            = 10056
	vivoNotifyTypeBad     = 10057
	vivoSkipTypeBad       = 10058
	vivoCustomMapBad      = 10059
	vivoClassificationBad = 10060
	vivoNetworkTypeBad    = 10061
	vivoRequestIDReused   = 10062
	vivoBodyBad           = 10063
	vivoPushModeBad       = 10064
)

// vivoCodes is vivo's desc of each result code the simulator answers.
var vivoCodes = map[int]string{
	vivoOK:                "请求成功",
	vivoAuthFailed:        "权限认证失败", // desc UNCONFIRMED
	vivoQuotaExceeded:     "发送总量超出限制",
	vivoTooFast:           "请求频率过高",        // desc UNCONFIRMED
	vivoAppIDMismatch:     "appId与鉴权信息不一致", // desc UNCONFIRMED
	vivoListQuotaExceeded: "批量发送消息体超出限制",
	vivoInvalidRegID:      "regId不合法",
	vivoAuthAppIDEmpty:    "appId 不能为空",
	vivoAuthAppKeyEmpty:   "appKey 不能为空",

	vivoAuthTimestampEmpty: "timestamp 不能为空",
	vivoAuthSignEmpty:      "sign 不能为空",
	vivoAuthTimestampBad:   "timestamp 不合法",
	vivoAuthAppIDUnknown:   "appId 不合法",
	vivoAuthAppKeyBad:      "appKey 不合法",
	vivoAuthSignBad:        "sign 不合法",
	vivoTargetEmpty:        "regId和alias不能都为空",
	vivoListTargetsBad:     "regIds个数不合法",
	vivoTaskIDBad:          "taskId不合法",
	vivoRequestIDEmpty:     "requestId不能为空",
	vivoTitleBad:           "title不合法",
	vivoContentBad:         "content不合法",
	vivoTTLBad:             "timeToLive不合法",
	vivoNotifyTypeBad:      "notifyType不合法",
	vivoSkipTypeBad:        "skipType不合法",
	vivoCustomMapBad:       "clientCustomMap不合法",
	vivoClassificationBad:  "classification不合法",
	vivoNetworkTypeBad:     "networkType不合法",
	vivoRequestIDReused:    "requestId重复",
	vivoBodyBad:            "请求体不合法",
	vivoPushModeBad:        "pushMode不合法",
}

// vivoFaultCodes is the result code a Fault without a numeric Reason answers
// with, by its status. Statuses of 500 and up answer vivo's HTTP 500 shape instead.
var vivoFaultCodes = map[int]int{
	http.StatusBadRequest:      vivoBodyBad,
	http.StatusUnauthorized:    vivoAuthFailed,
	http.StatusForbidden:       vivoAppIDMismatch,
	http.StatusNotFound:        vivoInvalidRegID,
	http.StatusGone:            vivoInvalidRegID,
	http.StatusTooManyRequests: vivoTooFast,
}

// vivoServerError is the body vivo documents for its HTTP 500.
const vivoServerError = "Internet server error!"

// vivoVendor checks vivo requests against the app in VivoCredentials. It keeps
// the app's used requestIds and its saved list payloads; its daily quota is
// env.quota.
type vivoVendor struct {
	env       *vendorEnv
	appID     int
	appKey    string
	appSecret string

	mu         sync.Mutex
	requestIDs map[string]time.Time // requestId → when it was used
	pruned     time.Time
	tasks      map[string]vivoTask
}

// vivoTask is a saved list payload.
type vivoTask struct {
	classification int64
	expires        time.Time
}

func newVivoHandler(env *vendorEnv) (http.Handler, error) {
	v := &vivoVendor{
		env:        env,
		appID:      env.creds.Vivo.AppID,
		appKey:     env.creds.Vivo.AppKey,
		appSecret:  env.creds.Vivo.AppSecret,
		requestIDs: make(map[string]time.Time),
		tasks:      make(map[string]vivoTask),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(vivoAuthPath, v.handleAuth)
	for path, serve := range map[string]func(*http.Request, []byte, []string) answer{
		vivoSendPath:            v.serveSend,
		vivoSaveListPayloadPath: v.serveSaveListPayload,
		vivoPushToListPath:      v.servePushToList,
	} {
		mux.Handle(path, env.sendHandler(sendRoute{
			targets: v.targets,
			admit:   v.admit,
			fault:   v.fault,
			serve:   serve,
		}))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, jsonAnswer(http.StatusNotFound, "", map[string]any{"status": 404, "error": "Not Found", "path": r.URL.Path}))
	})
	return mux, nil
}

// --- answers ---

// vivoResult is vivo's answer {"result":code,"desc":…} plus extra fields, with
// HTTP 200; result 0 accepts the push.
func vivoResult(code int, extra map[string]any) answer {
	desc, ok := vivoCodes[code]
	if !ok {
		desc = "未知错误"
	}
	return vivoResultAs(code, desc, extra)
}

// vivoResultAs is vivoResult with desc in place of the code's.
func vivoResultAs(code int, desc string, extra map[string]any) answer {
	body := map[string]any{"result": code, "desc": desc}
	for k, val := range extra {
		body[k] = val
	}
	reason := ""
	if code != vivoOK {
		reason = strconv.Itoa(code)
	}
	a := jsonAnswer(http.StatusOK, reason, body)
	a.accepted = code == vivoOK
	return a
}

// --- auth ---

// handleAuth is POST /message/auth: it checks the md5 sign over the values as
// sent and the timestamp, and issues an authToken valid for 24 hours.
func (v *vivoVendor) handleAuth(w http.ResponseWriter, r *http.Request) {
	if a, ok := vivoAdmitRequest(r); !ok {
		writeAnswer(w, a)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		writeAnswer(w, vivoResult(vivoBodyBad, nil))
		return
	}
	f, ok := decodeJSONObject(body.Bytes())
	if !ok {
		writeAnswer(w, vivoResult(vivoBodyBad, nil))
		return
	}
	code := v.checkAuth(f)
	if code != vivoOK {
		v.env.log.Debug("vendorsim: vivo auth refused", "result", code)
		writeAnswer(w, vivoResult(code, nil))
		return
	}
	token, _ := v.env.issueAccessToken(vivoAuthTokenTTL)
	writeAnswer(w, vivoResult(vivoOK, map[string]any{"authToken": token}))
}

// checkAuth returns the result code for an auth body: vivoOK when the sign is
// md5(appId + appKey + timestamp + appSecret) over the values as sent.
func (v *vivoVendor) checkAuth(f jsonFields) int {
	appID, hasAppID, appIDErr := f.integerText("appId")
	appKey, hasAppKey, appKeyErr := f.str("appKey")
	ts, hasTS, tsErr := f.integerText("timestamp")
	sign, hasSign, signErr := f.str("sign")
	switch {
	case !hasAppID:
		return vivoAuthAppIDEmpty
	case !hasAppKey || appKeyErr == nil && strings.TrimSpace(appKey) == "":
		return vivoAuthAppKeyEmpty
	case !hasTS:
		return vivoAuthTimestampEmpty
	case !hasSign || signErr == nil && sign == "":
		return vivoAuthSignEmpty
	case appIDErr != nil || appID != strconv.Itoa(v.appID):
		return vivoAuthAppIDUnknown
	case appKeyErr != nil || !secretEqual(strings.TrimSpace(appKey), v.appKey):
		return vivoAuthAppKeyBad
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if tsErr != nil || err != nil {
		return vivoAuthTimestampBad
	}
	if d := v.env.now().Sub(time.UnixMilli(ms)); d > vivoAuthWindow || d < -vivoAuthWindow {
		return vivoAuthTimestampBad
	}
	// Lower-case hex only, as the doc asks: an upper-case sign is refused.
	if signErr != nil || !secretEqual(sign, md5Hex(appID+strings.TrimSpace(appKey)+ts+v.appSecret)) {
		return vivoAuthSignBad
	}
	return vivoOK
}

// vivoAdmitRequest checks the method and the JSON content type every vivo
// endpoint takes. vivo's answers to these are UNCONFIRMED: plain HTTP errors.
func vivoAdmitRequest(r *http.Request) (answer, bool) {
	if r.Method != http.MethodPost {
		return answer{status: http.StatusMethodNotAllowed, reason: "MethodNotAllowed",
			header: http.Header{"Allow": {http.MethodPost}}}, false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return answer{status: http.StatusUnsupportedMediaType, reason: "UnsupportedMediaType"}, false
	}
	return answer{}, true
}

// --- send endpoints ---

// targets returns the regId of a single send (or its alias), or the regIds of
// a pushToList; saveListPayload targets nobody.
func (v *vivoVendor) targets(r *http.Request, body []byte) []string {
	f, ok := decodeJSONObject(body)
	if !ok {
		return nil
	}
	switch r.URL.Path {
	case vivoSendPath:
		if s, _, _ := f.str("regId"); s != "" {
			return []string{s}
		}
		if s, _, _ := f.str("alias"); s != "" {
			return []string{s}
		}
	case vivoPushToListPath:
		var ids []string
		if json.Unmarshal(f["regIds"], &ids) == nil {
			return ids
		}
	}
	return nil
}

// admit checks the method, the content type and the authToken header.
func (v *vivoVendor) admit(r *http.Request) (answer, bool) {
	if a, ok := vivoAdmitRequest(r); !ok {
		return a, false
	}
	if tok := strings.TrimSpace(r.Header.Get("authToken")); tok == "" || !v.env.accessTokenLive(tok) {
		return vivoResult(vivoAuthFailed, nil), false
	}
	return answer{}, true
}

// fault renders injected faults. A Reason that is a number is the vivo result
// code to answer (else vivoFaultCodes picks one by status), with HTTP 200 as
// vivo answers every code; 10302 for targets of a pushToList answers result 0
// with them in invalidUsers, as vivo reports dead regIds in a list; statuses of
// 500 and up are vivo's HTTP 500 page, with the fault's status.
func (v *vivoVendor) fault(r *http.Request, _ []byte, hits []faultHit) answer {
	f := hits[0].Fault
	var a answer
	switch code, desc := vivoFaultCode(f); {
	case f.Status >= 500:
		reason := f.Reason
		if reason == "" {
			reason = "InternalServerError"
		}
		a = answer{status: f.Status, reason: reason, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
			body: []byte(vivoServerError)}
	case code == vivoInvalidRegID && r.URL.Path == vivoPushToListPath && vivoAllInvalidRegID(hits):
		var dead []string
		for _, h := range hits {
			dead = append(dead, h.Tokens...)
		}
		a = vivoResult(vivoOK, map[string]any{"invalidUsers": vivoInvalidUsers(dead)})
		a.invalidTokens = dead
	case code == vivoInvalidRegID && len(hits[0].Tokens) > 0:
		a = vivoResultAs(code, desc, map[string]any{
			"invalidUser": map[string]any{"status": vivoInvalidStatus, "userid": hits[0].Tokens[0]}})
		a.invalidTokens = hits[0].Tokens[:1]
	default:
		a = vivoResultAs(code, desc, nil)
	}
	return a.withRetryAfter(f)
}

// vivoFaultCode is the result code and desc a fault answers with.
func vivoFaultCode(f Fault) (int, string) {
	code, err := strconv.Atoi(f.Reason)
	if err != nil {
		code = vivoFaultCodes[f.Status]
		if code == 0 {
			code = vivoBodyBad
		}
	}
	desc := vivoCodes[code]
	if err != nil && f.Reason != "" {
		desc = f.Reason
	} else if desc == "" {
		desc = "未知错误"
	}
	return code, desc
}

func vivoAllInvalidRegID(hits []faultHit) bool {
	for _, h := range hits {
		if code, _ := vivoFaultCode(h.Fault); code != vivoInvalidRegID || h.Fault.Status >= 500 {
			return false
		}
	}
	return true
}

func vivoInvalidUsers(tokens []string) []map[string]any {
	out := make([]map[string]any, len(tokens))
	for i, t := range tokens {
		out[i] = map[string]any{"status": vivoInvalidStatus, "userid": t}
	}
	return out
}

// serveSend is POST /message/send: one notification to one regId (or alias).
func (v *vivoVendor) serveSend(_ *http.Request, body []byte, targets []string) answer {
	f, requestID, code := v.parseSend(body)
	if code != vivoOK {
		return vivoResult(code, nil)
	}
	if len(targets) == 0 {
		return vivoResult(vivoTargetEmpty, nil)
	}
	classification, code := checkVivoContent(f)
	if code != vivoOK {
		return vivoResult(code, nil)
	}

	now := v.env.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.useRequestIDLocked(requestID, now) {
		return vivoResult(vivoRequestIDReused, nil)
	}
	if deadToken(targets[0]) {
		a := vivoResult(vivoInvalidRegID, map[string]any{
			"invalidUser": map[string]any{"status": vivoInvalidStatus, "userid": targets[0]}})
		a.invalidTokens = targets[:1]
		return a
	}
	if classification == 0 && !v.env.quota.take(now, 1) {
		return vivoResult(vivoQuotaExceeded, nil)
	}
	return vivoResult(vivoOK, map[string]any{"taskId": vivoTaskID()})
}

// serveSaveListPayload is POST /message/saveListPayload: it keeps a list
// payload and answers its taskId.
func (v *vivoVendor) serveSaveListPayload(_ *http.Request, body []byte, _ []string) answer {
	f, requestID, code := v.parseSend(body)
	if code != vivoOK {
		return vivoResult(code, nil)
	}
	classification, code := checkVivoContent(f)
	if code != vivoOK {
		return vivoResult(code, nil)
	}

	now := v.env.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.useRequestIDLocked(requestID, now) {
		return vivoResult(vivoRequestIDReused, nil)
	}
	// After 10070 vivo asks not to save list payloads that day either.
	if classification == 0 && v.env.quota.exhausted(now) {
		return vivoResult(vivoQuotaExceeded, nil)
	}
	for id, t := range v.tasks {
		if !now.Before(t.expires) {
			delete(v.tasks, id)
		}
	}
	taskID := vivoTaskID()
	v.tasks[taskID] = vivoTask{classification: classification, expires: now.Add(vivoTaskTTL)}
	return vivoResult(vivoOK, map[string]any{"taskId": taskID})
}

// servePushToList is POST /message/pushToList: the saved payload to 2..1000
// regIds. Dead regIds come back in invalidUsers; the rest are delivered.
func (v *vivoVendor) servePushToList(_ *http.Request, body []byte, targets []string) answer {
	f, requestID, code := v.parseSend(body)
	if code != vivoOK {
		return vivoResult(code, nil)
	}
	var ids []any
	if json.Unmarshal(f["regIds"], &ids) != nil || len(ids) < vivoMinListTargets || len(ids) > vivoMaxListTargets ||
		len(targets) != len(ids) {
		return vivoResult(vivoListTargetsBad, nil)
	}
	for _, t := range targets {
		if strings.TrimSpace(t) == "" {
			return vivoResult(vivoListTargetsBad, nil)
		}
	}
	// A taskId may come as the number vivo answered or as a string.
	taskID, hasTask, err := f.integerText("taskId")
	if err != nil {
		taskID, hasTask, err = f.str("taskId")
	}

	now := v.env.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	task, known := v.tasks[taskID]
	if !hasTask || err != nil || !known || !now.Before(task.expires) {
		return vivoResult(vivoTaskIDBad, nil)
	}
	if !v.useRequestIDLocked(requestID, now) {
		return vivoResult(vivoRequestIDReused, nil)
	}
	var dead []string
	for _, t := range targets {
		if deadToken(t) {
			dead = append(dead, t)
		}
	}
	if task.classification == 0 && !v.env.quota.take(now, len(targets)-len(dead)) {
		return vivoResult(vivoQuotaExceeded, nil)
	}
	extra := map[string]any{"taskId": taskID}
	if len(dead) > 0 {
		extra["invalidUsers"] = vivoInvalidUsers(dead)
	}
	a := vivoResult(vivoOK, extra)
	a.invalidTokens = dead
	return a
}

// vivoTaskID is a fresh taskId: 18 digits, as vivo's look, never starting with 0
// so that the number and the string name the same task.
func vivoTaskID() string {
	return strconv.FormatUint(1e17+randomUint(9e17), 10)
}

// parseSend decodes a send endpoint's JSON body and checks what each of them
// checks first: its appId against the app the authToken was issued to (there is
// one app, the credentials'), and its requestId. It returns the body's members
// and the requestId, or the code refusing the body.
func (v *vivoVendor) parseSend(body []byte) (jsonFields, string, int) {
	f, ok := decodeJSONObject(body)
	if !ok {
		return nil, "", vivoBodyBad
	}
	if id, _, err := f.integerText("appId"); err != nil || id != strconv.Itoa(v.appID) {
		return nil, "", vivoAppIDMismatch
	}
	requestID, _, err := f.str("requestId")
	if err != nil || strings.TrimSpace(requestID) == "" {
		return nil, "", vivoRequestIDEmpty
	}
	return f, requestID, vivoOK
}

// useRequestIDLocked records requestID as used and reports whether it was new.
func (v *vivoVendor) useRequestIDLocked(requestID string, now time.Time) bool {
	if now.Sub(v.pruned) > time.Hour {
		for id, at := range v.requestIDs {
			if now.Sub(at) >= vivoRequestIDMemory {
				delete(v.requestIDs, id)
			}
		}
		v.pruned = now
	}
	if at, ok := v.requestIDs[requestID]; ok && now.Sub(at) < vivoRequestIDMemory {
		return false
	}
	v.requestIDs[requestID] = now
	return true
}

// checkVivoContent checks the notification fields shared by send and
// saveListPayload and returns the classification (0 when absent).
func checkVivoContent(f jsonFields) (int64, int) {
	inRange := func(k string, required bool, allowed ...int64) bool {
		n, set, err := f.integerTextValue(k)
		if !set {
			return !required
		}
		for _, a := range allowed {
			if err == nil && n == a {
				return true
			}
		}
		return false
	}
	if !inRange("notifyType", true, 1, 2, 3, 4) {
		return 0, vivoNotifyTypeBad
	}
	if s, set, err := f.str("title"); !set || err != nil || strings.TrimSpace(s) == "" || vivoTextWidth(s) > vivoMaxTitle {
		return 0, vivoTitleBad
	}
	if s, set, err := f.str("content"); !set || err != nil || strings.TrimSpace(s) == "" || vivoTextWidth(s) > vivoMaxContent {
		return 0, vivoContentBad
	}
	if ttl, set, err := f.integerTextValue("timeToLive"); set && (err != nil || ttl < vivoMinTTL || ttl > vivoMaxTTL) {
		return 0, vivoTTLBad
	}
	if !inRange("skipType", true, 1, 2, 3, 4) {
		return 0, vivoSkipTypeBad
	}
	if skip, _, _ := f.integerTextValue("skipType"); skip != 1 {
		if s, set, err := f.str("skipContent"); !set || err != nil || s == "" {
			return 0, vivoSkipTypeBad
		}
	}
	if !inRange("networkType", false, -1, 1) {
		return 0, vivoNetworkTypeBad
	}
	if !checkVivoCustomMap(f, "clientCustomMap") {
		return 0, vivoCustomMapBad
	}
	if !inRange("classification", false, 0, 1) {
		return 0, vivoClassificationBad
	}
	if !inRange("pushMode", false, 0, 1) {
		return 0, vivoPushModeBad
	}
	if _, _, err := f.str("category"); err != nil {
		return 0, vivoClassificationBad
	}
	classification, _, _ := f.integerTextValue("classification")
	return classification, vivoOK
}

// checkVivoCustomMap checks member name (clientCustomMap): absent, or an
// object of at most 10 string pairs of at most 1024 characters in all.
func checkVivoCustomMap(f jsonFields, name string) bool {
	if !f.set(name) {
		return true
	}
	var m map[string]string
	if json.Unmarshal(f[name], &m) != nil || len(m) > vivoMaxCustomPairs {
		return false
	}
	chars := 0
	for k, val := range m {
		chars += utf8.RuneCountInString(k) + utf8.RuneCountInString(val)
	}
	return chars <= vivoMaxCustomChars
}

// vivoTextWidth is the length of s as vivo counts title and content: a CJK
// character is 2, anything else (an emoji too) 1. Which scripts count double
// beyond Han is UNCONFIRMED.
func vivoTextWidth(s string) int {
	w := 0
	for _, r := range s {
		w++
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
			r >= 0x3000 && r <= 0x303f || r >= 0xff00 && r <= 0xffef {
			w++
		}
	}
	return w
}

// vivoConfig renders the vivo entry of pushd's providers config.
func vivoConfig(c configContext) string {
	return fmt.Sprintf(`vivo:
  app_id: %d
  app_key: %q
  app_secret: %q
  endpoint: %q
  classification: 1
  category: "IM"
  ca_file: %q
`, c.creds.Vivo.AppID, c.creds.Vivo.AppKey, c.creds.Vivo.AppSecret, c.endpoint, c.caFile)
}
