package vendorsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pushd-im/pushd/push"
)

func init() {
	registerVendor(vendorSpec{
		provider:   push.Vivo,
		authPath:   vivoAuthPath,
		newHandler: newVivoHandler,
		config:     vivoConfig,
	})
}

// vivo Push facts (docs/vendors.md §6). UNCONFIRMED ones are marked.
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

// vivoChinaTime is the zone of vivo's quota day.
var vivoChinaTime = time.FixedZone("CST", 8*3600)

// The vivo result codes the simulator answers with. vendors.md documents 0,
// 10000 (UNCONFIRMED against the official table), 10070, 10072 (UNCONFIRMED),
// 10094, 10200, 10201, 10252 and 10302. Every other number below is the
// simulator's own choice for a check the docs describe without naming its code:
// UNCONFIRMED, kept in this one block and in vivoCodes so each is a one-line fix.
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

// vivoCode is how the simulator answers one result code: vivo's desc, and the
// HTTP status kept in the Record. vivo answers every business result with HTTP
// 200; the Record gets a status that says what happened instead, so that
// Record.Delivered and Sim.Count see only real deliveries (see vivoWireWriter).
type vivoCode struct {
	desc   string
	record int
}

var vivoCodes = map[int]vivoCode{
	vivoOK:                {"请求成功", http.StatusOK},
	vivoAuthFailed:        {"权限认证失败", http.StatusUnauthorized}, // desc UNCONFIRMED
	vivoQuotaExceeded:     {"发送总量超出限制", http.StatusTooManyRequests},
	vivoTooFast:           {"请求频率过高", http.StatusTooManyRequests},  // desc UNCONFIRMED
	vivoAppIDMismatch:     {"appId与鉴权信息不一致", http.StatusForbidden}, // desc UNCONFIRMED
	vivoListQuotaExceeded: {"批量发送消息体超出限制", http.StatusTooManyRequests},
	vivoInvalidRegID:      {"regId不合法", http.StatusGone},
	vivoAuthAppIDEmpty:    {"appId 不能为空", http.StatusBadRequest},
	vivoAuthAppKeyEmpty:   {"appKey 不能为空", http.StatusBadRequest},

	vivoAuthTimestampEmpty: {"timestamp 不能为空", http.StatusBadRequest},
	vivoAuthSignEmpty:      {"sign 不能为空", http.StatusBadRequest},
	vivoAuthTimestampBad:   {"timestamp 不合法", http.StatusBadRequest},
	vivoAuthAppIDUnknown:   {"appId 不合法", http.StatusBadRequest},
	vivoAuthAppKeyBad:      {"appKey 不合法", http.StatusBadRequest},
	vivoAuthSignBad:        {"sign 不合法", http.StatusBadRequest},
	vivoTargetEmpty:        {"regId和alias不能都为空", http.StatusBadRequest},
	vivoListTargetsBad:     {"regIds个数不合法", http.StatusBadRequest},
	vivoTaskIDBad:          {"taskId不合法", http.StatusBadRequest},
	vivoRequestIDEmpty:     {"requestId不能为空", http.StatusBadRequest},
	vivoTitleBad:           {"title不合法", http.StatusBadRequest},
	vivoContentBad:         {"content不合法", http.StatusBadRequest},
	vivoTTLBad:             {"timeToLive不合法", http.StatusBadRequest},
	vivoNotifyTypeBad:      {"notifyType不合法", http.StatusBadRequest},
	vivoSkipTypeBad:        {"skipType不合法", http.StatusBadRequest},
	vivoCustomMapBad:       {"clientCustomMap不合法", http.StatusBadRequest},
	vivoClassificationBad:  {"classification不合法", http.StatusBadRequest},
	vivoNetworkTypeBad:     {"networkType不合法", http.StatusBadRequest},
	vivoRequestIDReused:    {"requestId重复", http.StatusBadRequest},
	vivoBodyBad:            {"请求体不合法", http.StatusBadRequest},
	vivoPushModeBad:        {"pushMode不合法", http.StatusBadRequest},
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

// vivoWireStatusHeader carries, from an answer to vivoWireWriter, the HTTP
// status to put on the wire when it differs from the Record's. It never leaves
// the simulator.
const vivoWireStatusHeader = "X-Vendorsim-Vivo-Wire-Status"

// vivoQuotaKey is the context key of SetVivoDailyQuota's in-process request.
type vivoQuotaKey struct{}

// vivoVendor checks vivo requests against the app in VivoCredentials. It keeps
// the app's used requestIds, its saved list payloads and its daily quota.
type vivoVendor struct {
	env       *vendorEnv
	appID     int
	appKey    string
	appSecret string

	mu         sync.Mutex
	requestIDs map[string]time.Time // requestId → when it was used
	pruned     time.Time
	tasks      map[string]vivoTask
	quota      int    // operations messages per China day; 0 = unlimited
	quotaDay   string // the China date used counts for
	used       int
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
	mux.Handle(vivoAuthPath, vivoWire(http.HandlerFunc(v.handleAuth)))
	for path, serve := range map[string]func(*http.Request, []byte, []string) answer{
		vivoSendPath:            v.serveSend,
		vivoSaveListPayloadPath: v.serveSaveListPayload,
		vivoPushToListPath:      v.servePushToList,
	} {
		mux.Handle(path, vivoWire(env.sendHandler(sendRoute{
			targets: v.targets,
			admit:   v.admit,
			fault:   v.fault,
			serve:   serve,
		})))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, jsonAnswer(http.StatusNotFound, "", map[string]any{"status": 404, "error": "Not Found", "path": r.URL.Path}))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, ok := r.Context().Value(vivoQuotaKey{}).(int); ok {
			v.setQuota(n)
			return
		}
		mux.ServeHTTP(w, r)
	}), nil
}

// SetVivoDailyQuota caps the operations messages (classification 0) the
// simulated vivo app may send per day, counted per target regId and reset at
// midnight China time (UTC+8) on the Sim's clock; past it the send endpoints
// answer 10070. System messages (classification 1) are not capped, as on vivo.
// 0 (the default) means unlimited; setting it restarts the day's count.
func (s *Sim) SetVivoDailyQuota(n int) {
	// The quota lives in the vivo handler, which this Sim owns; an in-process
	// request carrying it in its context (which no network request can) reaches it.
	req := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/" + string(push.Vivo) + "/"}, Header: http.Header{}}
	s.handler.ServeHTTP(vivoDiscardResponse{}, req.WithContext(context.WithValue(context.Background(), vivoQuotaKey{}, max(n, 0))))
}

// vivoDiscardResponse is a ResponseWriter for in-process requests nobody reads.
type vivoDiscardResponse struct{}

func (vivoDiscardResponse) Header() http.Header         { return http.Header{} }
func (vivoDiscardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (vivoDiscardResponse) WriteHeader(int)             {}

func (v *vivoVendor) setQuota(n int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.quota, v.used, v.quotaDay = n, 0, ""
}

// chargeLocked takes n sends of today's quota and reports whether they fit;
// when they do not, nothing is taken.
func (v *vivoVendor) chargeLocked(now time.Time, n int) bool {
	v.rollDayLocked(now)
	if v.quota > 0 && v.used+n > v.quota {
		return false
	}
	v.used += n
	return true
}

// exhaustedLocked reports whether today's quota is used up.
func (v *vivoVendor) exhaustedLocked(now time.Time) bool {
	v.rollDayLocked(now)
	return v.quota > 0 && v.used >= v.quota
}

// rollDayLocked starts a new count when now is on another China day.
func (v *vivoVendor) rollDayLocked(now time.Time) {
	if day := now.In(vivoChinaTime).Format(time.DateOnly); day != v.quotaDay {
		v.quotaDay, v.used = day, 0
	}
}

// --- the wire status ---

// vivoWire makes h's business answers go out as vivo sends them, with HTTP 200,
// while the Record keeps the status the answer was built with.
func vivoWire(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(vivoWireWriter{w}, r)
	})
}

type vivoWireWriter struct{ http.ResponseWriter }

func (w vivoWireWriter) WriteHeader(status int) {
	if s := w.Header().Get(vivoWireStatusHeader); s != "" {
		w.Header().Del(vivoWireStatusHeader)
		if n, err := strconv.Atoi(s); err == nil {
			status = n
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

// vivoResult is vivo's answer {"result":code,"desc":…} plus extra fields, on the
// wire with HTTP 200 and in the Record with the code's status.
func vivoResult(code int, extra map[string]any) answer {
	c, ok := vivoCodes[code]
	if !ok {
		c = vivoCode{desc: "未知错误", record: http.StatusBadRequest}
	}
	return vivoResultAs(code, c.desc, c.record, extra)
}

func vivoResultAs(code int, desc string, record int, extra map[string]any) answer {
	body := map[string]any{"result": code, "desc": desc}
	for k, val := range extra {
		body[k] = val
	}
	reason := ""
	if code != vivoOK {
		reason = strconv.Itoa(code)
	}
	a := jsonAnswer(record, reason, body)
	if record != http.StatusOK {
		a = a.withHeader(vivoWireStatusHeader, strconv.Itoa(http.StatusOK))
	}
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
	f, ok := vivoObject(body.Bytes())
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
func (v *vivoVendor) checkAuth(f map[string]json.RawMessage) int {
	appID, hasAppID, appIDOK := vivoIntText(f, "appId")
	appKey, hasAppKey, appKeyOK := vivoString(f, "appKey")
	ts, hasTS, tsOK := vivoIntText(f, "timestamp")
	sign, hasSign, signOK := vivoString(f, "sign")
	switch {
	case !hasAppID:
		return vivoAuthAppIDEmpty
	case !hasAppKey || appKeyOK && strings.TrimSpace(appKey) == "":
		return vivoAuthAppKeyEmpty
	case !hasTS:
		return vivoAuthTimestampEmpty
	case !hasSign || signOK && sign == "":
		return vivoAuthSignEmpty
	case !appIDOK || appID != strconv.Itoa(v.appID):
		return vivoAuthAppIDUnknown
	case !appKeyOK || !secretEqual(strings.TrimSpace(appKey), v.appKey):
		return vivoAuthAppKeyBad
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if !tsOK || err != nil {
		return vivoAuthTimestampBad
	}
	if d := v.env.now().Sub(time.UnixMilli(ms)); d > vivoAuthWindow || d < -vivoAuthWindow {
		return vivoAuthTimestampBad
	}
	// Lower-case hex only, as the doc asks: an upper-case sign is refused.
	if !signOK || !secretEqual(sign, md5Hex(appID+strings.TrimSpace(appKey)+ts+v.appSecret)) {
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
	f, ok := vivoObject(body)
	if !ok {
		return nil
	}
	switch r.URL.Path {
	case vivoSendPath:
		if s, _, _ := vivoString(f, "regId"); s != "" {
			return []string{s}
		}
		if s, _, _ := vivoString(f, "alias"); s != "" {
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
// code to answer (else vivoFaultCodes picks one by status); 10302 for targets of
// a pushToList answers result 0 with them in invalidUsers, as vivo reports dead
// regIds in a list; statuses of 500 and up are vivo's HTTP 500 page.
func (v *vivoVendor) fault(r *http.Request, hits []faultHit) answer {
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
		a = vivoResultAs(code, desc, f.Status, map[string]any{
			"invalidUser": map[string]any{"status": vivoInvalidStatus, "userid": hits[0].Tokens[0]}})
		a.invalidTokens = hits[0].Tokens[:1]
	default:
		a = vivoResultAs(code, desc, f.Status, nil)
	}
	if ra := f.retryAfterSeconds(); ra != "" {
		a = a.withHeader("Retry-After", ra)
	}
	return a
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
	desc := vivoCodes[code].desc
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
	f, ok := vivoObject(body)
	if !ok {
		return vivoResult(vivoBodyBad, nil)
	}
	if code := v.checkApp(f); code != vivoOK {
		return vivoResult(code, nil)
	}
	requestID, code := vivoRequestID(f)
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
	if v.invalid(targets[0]) {
		a := vivoResult(vivoInvalidRegID, map[string]any{
			"invalidUser": map[string]any{"status": vivoInvalidStatus, "userid": targets[0]}})
		a.invalidTokens = targets[:1]
		return a
	}
	if classification == 0 && !v.chargeLocked(now, 1) {
		return vivoResult(vivoQuotaExceeded, nil)
	}
	return vivoResult(vivoOK, map[string]any{"taskId": vivoTaskID()})
}

// serveSaveListPayload is POST /message/saveListPayload: it keeps a list
// payload and answers its taskId.
func (v *vivoVendor) serveSaveListPayload(_ *http.Request, body []byte, _ []string) answer {
	f, ok := vivoObject(body)
	if !ok {
		return vivoResult(vivoBodyBad, nil)
	}
	if code := v.checkApp(f); code != vivoOK {
		return vivoResult(code, nil)
	}
	requestID, code := vivoRequestID(f)
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
	if classification == 0 && v.exhaustedLocked(now) {
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
	f, ok := vivoObject(body)
	if !ok {
		return vivoResult(vivoBodyBad, nil)
	}
	if code := v.checkApp(f); code != vivoOK {
		return vivoResult(code, nil)
	}
	requestID, code := vivoRequestID(f)
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
	taskID, hasTask, taskOK := vivoIntText(f, "taskId")
	if !taskOK {
		taskID, hasTask, taskOK = vivoString(f, "taskId")
	}

	now := v.env.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	task, known := v.tasks[taskID]
	if !hasTask || !taskOK || !known || !now.Before(task.expires) {
		return vivoResult(vivoTaskIDBad, nil)
	}
	if !v.useRequestIDLocked(requestID, now) {
		return vivoResult(vivoRequestIDReused, nil)
	}
	var dead []string
	for _, t := range targets {
		if v.invalid(t) {
			dead = append(dead, t)
		}
	}
	if task.classification == 0 && !v.chargeLocked(now, len(targets)-len(dead)) {
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

// invalid reports whether vivo calls regId undeliverable: in the simulator, a
// regId starting with "invalid-".
func (v *vivoVendor) invalid(regID string) bool {
	return strings.HasPrefix(regID, "invalid-")
}

// checkApp checks the body's appId against the app the authToken was issued to
// (there is one app, the credentials').
func (v *vivoVendor) checkApp(f map[string]json.RawMessage) int {
	if id, _, ok := vivoIntText(f, "appId"); !ok || id != strconv.Itoa(v.appID) {
		return vivoAppIDMismatch
	}
	return vivoOK
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

// vivoRequestID returns the body's requestId, or the code refusing it.
func vivoRequestID(f map[string]json.RawMessage) (string, int) {
	id, _, ok := vivoString(f, "requestId")
	if !ok || strings.TrimSpace(id) == "" {
		return "", vivoRequestIDEmpty
	}
	return id, vivoOK
}

// checkVivoContent checks the notification fields shared by send and
// saveListPayload and returns the classification (0 when absent).
func checkVivoContent(f map[string]json.RawMessage) (int64, int) {
	inRange := func(k string, required bool, allowed ...int64) bool {
		n, present, ok := vivoInt(f, k)
		if !present {
			return !required
		}
		for _, a := range allowed {
			if ok && n == a {
				return true
			}
		}
		return false
	}
	if !inRange("notifyType", true, 1, 2, 3, 4) {
		return 0, vivoNotifyTypeBad
	}
	if s, _, ok := vivoString(f, "title"); !ok || strings.TrimSpace(s) == "" || vivoTextWidth(s) > vivoMaxTitle {
		return 0, vivoTitleBad
	}
	if s, _, ok := vivoString(f, "content"); !ok || strings.TrimSpace(s) == "" || vivoTextWidth(s) > vivoMaxContent {
		return 0, vivoContentBad
	}
	if ttl, present, ok := vivoInt(f, "timeToLive"); present && (!ok || ttl < vivoMinTTL || ttl > vivoMaxTTL) {
		return 0, vivoTTLBad
	}
	if !inRange("skipType", true, 1, 2, 3, 4) {
		return 0, vivoSkipTypeBad
	}
	if skip, _, _ := vivoInt(f, "skipType"); skip != 1 {
		if s, _, ok := vivoString(f, "skipContent"); !ok || s == "" {
			return 0, vivoSkipTypeBad
		}
	}
	if !inRange("networkType", false, -1, 1) {
		return 0, vivoNetworkTypeBad
	}
	if !checkVivoCustomMap(f["clientCustomMap"]) {
		return 0, vivoCustomMapBad
	}
	if !inRange("classification", false, 0, 1) {
		return 0, vivoClassificationBad
	}
	if !inRange("pushMode", false, 0, 1) {
		return 0, vivoPushModeBad
	}
	if _, present, ok := vivoString(f, "category"); present && !ok {
		return 0, vivoClassificationBad
	}
	classification, _, _ := vivoInt(f, "classification")
	return classification, vivoOK
}

// checkVivoCustomMap checks clientCustomMap: absent, or an object of at most 10
// string pairs of at most 1024 characters in all.
func checkVivoCustomMap(raw json.RawMessage) bool {
	if vivoAbsent(raw) {
		return true
	}
	var m map[string]string
	if json.Unmarshal(raw, &m) != nil || len(m) > vivoMaxCustomPairs {
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

// --- JSON fields ---

// vivoObject decodes a JSON object body into its raw members.
func vivoObject(body []byte) (map[string]json.RawMessage, bool) {
	var f map[string]json.RawMessage
	if json.Unmarshal(body, &f) != nil || f == nil {
		return nil, false
	}
	return f, true
}

func vivoAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// vivoString reads a string member: present is false when it is absent or
// null, ok false when it is not a string.
func vivoString(f map[string]json.RawMessage, k string) (s string, present, ok bool) {
	raw := f[k]
	if vivoAbsent(raw) {
		return "", false, false
	}
	ok = json.Unmarshal(raw, &s) == nil
	return s, true, ok
}

// vivoIntText reads an integer member as the text sent: a JSON integer, or a
// string holding one (vivo's Java side coerces those, and its own doc example
// sends "networkType":"1").
func vivoIntText(f map[string]json.RawMessage, k string) (text string, present, ok bool) {
	raw := f[k]
	if vivoAbsent(raw) {
		return "", false, false
	}
	text = string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			return "", true, false
		}
	}
	if _, err := strconv.ParseInt(text, 10, 64); err != nil {
		return "", true, false
	}
	return text, true, true
}

// vivoInt is vivoIntText's value.
func vivoInt(f map[string]json.RawMessage, k string) (n int64, present, ok bool) {
	text, present, ok := vivoIntText(f, k)
	if ok {
		n, _ = strconv.ParseInt(text, 10, 64)
	}
	return n, present, ok
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
