package vendorsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
)

func hmsSpec() vendorSpec {
	return vendorSpec{
		provider:   push.HMS,
		authPath:   hmsTokenPath,
		newHandler: newHMSHandler,
		config:     hmsConfig,
	}
}

// Huawei Push Kit facts (docs/vendors.md, Huawei). UNCONFIRMED ones are marked.
const (
	hmsTokenPath  = "/oauth2/v3/token"
	hmsSendPrefix = "/v1/"
	hmsSendSuffix = "/messages:send"
	// hmsAccessTokenTTL is the fixed life of an access token (expires_in).
	hmsAccessTokenTTL = time.Hour
	// hmsMaxTokens is the most tokens one request may carry (80300010).
	hmsMaxTokens = 1000
	// hmsMaxBody is the body limit without the token array (80300008). What
	// Huawei leaves out when it measures is UNCONFIRMED: the Sim counts the
	// compact JSON body minus the compact token array.
	hmsMaxBody = 4096
	// hmsMaxTTL is the longest android.ttl, 15 days.
	hmsMaxTTL = 1296000 * time.Second
)

// Huawei's answer codes (strings on the wire) with the msg the Sim sends. The
// msg texts follow Huawei's error-code pages; the 80200003 and 80100013 texts
// are UNCONFIRMED.
const (
	hmsCodeSuccess      = "80000000"
	hmsCodePartial      = "80100000"
	hmsCodeParam        = "80100001"
	hmsCodeStructure    = "80100003"
	hmsCodeCollapseKey  = "80100013"
	hmsCodeAuth         = "80200001"
	hmsCodeTokenExpired = "80200003"
	hmsCodeNoPermission = "80300002"
	hmsCodeAllInvalid   = "80300007"
	hmsCodeTooLarge     = "80300008"
	hmsCodeTokenCount   = "80300010"
	hmsCodeInternal     = "81000001"
)

var hmsMessages = map[string]string{
	hmsCodeSuccess:      "Success",
	hmsCodeParam:        "Check Parameter Error.",
	hmsCodeStructure:    "Illegal payload",
	hmsCodeCollapseKey:  "Illegal collapse_key.",
	hmsCodeAuth:         "Authentication Error.",
	hmsCodeTokenExpired: "Request access token expired.",
	hmsCodeNoPermission: "No permission to send message to these tmIDs.",
	hmsCodeAllInvalid:   "All the tokens are invalid.",
	hmsCodeTooLarge:     "Push message size is too long.",
	hmsCodeTokenCount:   fmt.Sprintf("token count should within 1 and %d.", hmsMaxTokens),
	hmsCodeInternal:     "Inner Error.",
}

// hmsDailyQuota is how the Sim answers a send over the app's daily quota
// (SetDailyQuota). UNCONFIRMED: Huawei documents no per-app daily-quota
// code. Its service and communication messages are not capped, and its only
// documented answer to sending too much is HTTP 503 flow control, so that is
// what the Sim answers, with no business code. The Retry-After up to the next
// midnight China time is the Sim's own hint, so that a client waits for the
// quota day instead of hammering. Marketing and unclassified messages count.
var hmsDailyQuota = struct {
	status int
	msg    string
}{http.StatusServiceUnavailable, "Flow control: the app's daily push quota is used up."}

// hmsCategories are the android.category values (docs/vendors.md, Huawei).
// hmsUncappedCategories are the service and communication ones, which the
// daily quota does not count.
var (
	hmsCategories = []string{
		"IM", "VOIP", "SUBSCRIPTION", "TRAVEL", "HEALTH", "WORK", "ACCOUNT", "EXPRESS",
		"FINANCE", "DEVICE_REMINDER", "MAIL", "PLAY_VOICE", "MARKETING",
	}
	hmsUncappedCategories = slices.DeleteFunc(slices.Clone(hmsCategories), func(c string) bool { return c == "MARKETING" })
)

// hmsImportances are android.notification.importance's values (docs/vendors.md,
// Huawei; Huawei's older Go demo also takes HIGH, which the Sim refuses).
var hmsImportances = []string{"LOW", "NORMAL"}

// hmsTTLRE is android.ttl's form: seconds, optionally with decimals, and an "s".
var hmsTTLRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?s$`)

// hmsVendor checks Push Kit requests and OAuth client-credentials grants.
type hmsVendor struct {
	env          *vendorEnv
	clientID     string
	clientSecret string
}

func newHMSHandler(env *vendorEnv) (http.Handler, error) {
	v := &hmsVendor{
		env:          env,
		clientID:     env.creds.HMS.ClientID,
		clientSecret: env.creds.HMS.ClientSecret,
	}
	mux := http.NewServeMux()
	mux.HandleFunc(hmsTokenPath, v.handleToken)
	mux.Handle(hmsSendPrefix, env.sendHandler(sendRoute{
		targets: v.targets,
		admit:   v.admit,
		fault:   v.fault,
		serve:   v.serve,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, jsonAnswer(http.StatusNotFound, "NotFound", map[string]string{"msg": "Not Found: " + r.URL.Path}))
	})
	return mux, nil
}

// --- daily quota ---

// hmsCapped reports whether a message of category counts against the daily
// quota: marketing and unclassified ones do.
func hmsCapped(category string) bool {
	return !slices.Contains(hmsUncappedCategories, category)
}

// hmsQuotaExhausted is the answer to a send past the daily quota at now.
func hmsQuotaExhausted(now time.Time) answer {
	secs := int64(math.Ceil(untilNextQuotaDay(now).Seconds()))
	return hmsFlowControl(hmsDailyQuota.status, hmsDailyQuota.msg).withHeader("Retry-After", strconv.FormatInt(secs, 10))
}

// --- OAuth token endpoint ---

// hmsOAuthError is an error of Huawei's token endpoint. The invalid-secret
// answer follows a published example ({"sub_error":12304,"error_description":
// "invalid client_secret","error":1101}); its HTTP status (400) and the
// other answers are UNCONFIRMED.
type hmsOAuthError struct {
	Error       int    `json:"error"`
	SubError    int    `json:"sub_error,omitempty"`
	Description string `json:"error_description"`
}

var (
	hmsBadSecret    = hmsOAuthError{Error: 1101, SubError: 12304, Description: "invalid client_secret"}
	hmsBadClientID  = hmsOAuthError{Error: 1101, Description: "invalid client_id"}
	hmsBadGrantType = hmsOAuthError{Error: 1101, Description: "invalid grant_type"}
	hmsBadRequest   = hmsOAuthError{Error: 1101, Description: "invalid request"}
)

func hmsOAuthAnswer(status int, e hmsOAuthError) answer {
	return jsonAnswer(status, strconv.Itoa(e.Error), e)
}

// handleToken is the client-credentials grant: form fields grant_type,
// client_id and client_secret.
func (v *hmsVendor) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeAnswer(w, hmsOAuthAnswer(http.StatusMethodNotAllowed, hmsBadRequest))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeAnswer(w, hmsOAuthAnswer(http.StatusBadRequest, hmsBadRequest))
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		writeAnswer(w, hmsOAuthAnswer(http.StatusBadRequest, hmsBadGrantType))
	case !secretEqual(f.Get("client_id"), v.clientID):
		writeAnswer(w, hmsOAuthAnswer(http.StatusBadRequest, hmsBadClientID))
	case !secretEqual(f.Get("client_secret"), v.clientSecret):
		writeAnswer(w, hmsOAuthAnswer(http.StatusBadRequest, hmsBadSecret))
	default:
		writeAnswer(w, v.env.oauthTokenAnswer(hmsAccessTokenTTL))
	}
}

// --- send endpoint ---

// targets returns the message's tokens, or "/topics/<name>" or
// "condition:<expr>" for a topic or condition message.
func (v *hmsVendor) targets(_ *http.Request, body []byte) []string {
	var req struct {
		Message struct {
			Token     json.RawMessage `json:"token"`
			Topic     json.RawMessage `json:"topic"`
			Condition json.RawMessage `json:"condition"`
		} `json:"message"`
	}
	if json.Unmarshal(body, &req) != nil {
		return nil
	}
	var raw []json.RawMessage
	if json.Unmarshal(req.Message.Token, &raw) == nil && len(raw) > 0 {
		tokens := make([]string, 0, len(raw))
		for _, t := range raw {
			var s string
			if json.Unmarshal(t, &s) == nil {
				tokens = append(tokens, s)
			}
		}
		return tokens
	}
	var s string
	if json.Unmarshal(req.Message.Topic, &s) == nil && s != "" {
		return []string{"/topics/" + s}
	}
	if json.Unmarshal(req.Message.Condition, &s) == nil && s != "" {
		return []string{"condition:" + s}
	}
	return nil
}

// admit checks the path, method and access token: a missing token or one for
// another app is 80200001, an expired or unknown one 80200003.
func (v *hmsVendor) admit(r *http.Request) (answer, bool) {
	id := pathParam(r.URL.Path, hmsSendPrefix, hmsSendSuffix)
	if id == "" || r.Method != http.MethodPost {
		return jsonAnswer(http.StatusNotFound, "NotFound", map[string]string{"msg": "Not Found: " + r.URL.Path}), false
	}
	tok, ok := bearerToken(r)
	switch {
	case !ok:
		return hmsError(http.StatusUnauthorized, hmsCodeAuth, ""), false
	case !v.env.accessTokenLive(tok):
		return hmsError(http.StatusUnauthorized, hmsCodeTokenExpired, ""), false
	case id != v.clientID:
		// The token was issued to this Sim's app; the path names another.
		return hmsError(http.StatusUnauthorized, hmsCodeAuth, ""), false
	}
	return answer{}, true
}

// hmsFaultCodes is the code a fault with a status but no Reason answers with.
var hmsFaultCodes = map[int]string{
	http.StatusBadRequest:            hmsCodeParam,
	http.StatusUnauthorized:          hmsCodeTokenExpired,
	http.StatusForbidden:             hmsCodeNoPermission,
	http.StatusRequestEntityTooLarge: hmsCodeTooLarge,
	http.StatusInternalServerError:   hmsCodeInternal,
	http.StatusBadGateway:            hmsCodeInternal,
}

// invalidTokenFault reports whether h marks its tokens invalid: Reason 80300007,
// or a token fault with status 400 and no reason.
func invalidTokenFault(h faultHit) bool {
	f := h.Fault
	return f.Reason == hmsCodeAllInvalid || (f.Reason == "" && f.Status == http.StatusBadRequest && f.Token != "")
}

// fault renders injected faults. Faults that only mark tokens invalid do not
// replace the answer: the message is served with those tokens rejected, in
// Huawei's partial-success (80100000) or all-invalid (80300007) shape. Any
// other fault answers with its status and code.
func (v *hmsVendor) fault(_ *http.Request, body []byte, hits []faultHit) answer {
	var invalid []string
	var other *Fault
	for _, h := range hits {
		if invalidTokenFault(h) && len(h.Tokens) > 0 {
			invalid = append(invalid, h.Tokens...)
		} else if other == nil {
			other = &h.Fault
		}
	}
	if other == nil {
		return v.handle(body, invalid)
	}
	f := *other
	var a answer
	code := f.Reason
	switch {
	case code == "" && f.Status == http.StatusServiceUnavailable:
		a = hmsFlowControl(f.Status, "Flow control.")
	default:
		if code == "" {
			code = hmsFaultCodes[f.Status]
		}
		if code == "" {
			code = hmsCodeParam
			if f.Status >= 500 {
				code = hmsCodeInternal
			}
		}
		a = hmsError(f.Status, code, "")
	}
	return a.withRetryAfter(f)
}

// serve checks the message and answers it.
func (v *hmsVendor) serve(_ *http.Request, body []byte, _ []string) answer {
	return v.handle(body, nil)
}

// hmsReject is a refused message: the code and the msg detail.
type hmsReject struct {
	code, detail string
}

// handle validates body as Huawei does, treating the tokens of faultInvalid
// (and dead ones, see deadToken) as invalid, counts the daily quota and
// answers.
func (v *hmsVendor) handle(body []byte, faultInvalid []string) answer {
	msg, err := parseHMSRequest(body)
	if err != nil {
		return hmsError(http.StatusBadRequest, err.code, err.detail)
	}

	var invalid []string
	for _, t := range msg.tokens {
		if t == "" || deadToken(t) || slices.Contains(faultInvalid, t) {
			invalid = append(invalid, t)
		}
	}
	if len(msg.tokens) > 0 && len(invalid) == len(msg.tokens) {
		a := hmsError(http.StatusBadRequest, hmsCodeAllInvalid, "")
		a.invalidTokens = invalid
		return a
	}
	if msg.validateOnly {
		a := hmsOK(hmsCodeSuccess, hmsMessages[hmsCodeSuccess])
		a.dryRun = true
		return a
	}
	if hmsCapped(msg.category) {
		n := max(len(msg.tokens)-len(invalid), 1) // a topic or condition message counts once
		if now := v.env.now(); !v.env.quota.take(now, n) {
			return hmsQuotaExhausted(now)
		}
	}
	if len(invalid) > 0 {
		counts, _ := json.Marshal(map[string]any{
			"success":        len(msg.tokens) - len(invalid),
			"failure":        len(invalid),
			"illegal_tokens": invalid,
		})
		a := hmsOK(hmsCodePartial, string(counts))
		a.invalidTokens = invalid
		return a
	}
	return hmsOK(hmsCodeSuccess, hmsMessages[hmsCodeSuccess])
}

// hmsMessage is what the Sim needs of a valid send request.
type hmsMessage struct {
	tokens       []string
	category     string
	validateOnly bool
}

// parseHMSRequest checks a messages:send body: JSON types (80100003), values
// (80100001, 80100013), targets (80300010), size (80300008), and that a
// notification message has a title, a body and a click_action. Unknown fields
// are ignored, as Huawei does (a misspelt "message" shows up as 80300010).
func parseHMSRequest(body []byte) (hmsMessage, *hmsReject) {
	var out hmsMessage
	top, ok := decodeJSONObject(body)
	if !ok {
		return out, structure("the body must be a JSON object")
	}
	var err error
	if out.validateOnly, _, err = top.boolean("validate_only"); err != nil {
		return out, hmsTypeError(err)
	}
	m, _, err := top.object("message")
	if err != nil {
		return out, hmsTypeError(err)
	}

	tokenRaw := m["token"]
	var tokenCount int
	if m.set("token") {
		var raw []json.RawMessage
		if json.Unmarshal(tokenRaw, &raw) != nil {
			return out, structure("message.token must be an array of strings")
		}
		for i, t := range raw {
			var s string
			if json.Unmarshal(t, &s) != nil {
				return out, structure(fmt.Sprintf("message.token[%d] must be a string", i))
			}
			out.tokens = append(out.tokens, s)
		}
		tokenCount = len(raw)
	}
	topic, _, err := m.str("topic")
	if err != nil {
		return out, hmsTypeError(err)
	}
	condition, _, err := m.str("condition")
	if err != nil {
		return out, hmsTypeError(err)
	}
	kinds := 0
	for _, set := range []bool{tokenCount > 0, topic != "", condition != ""} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		return out, param("only one of message.token, message.topic and message.condition may be set")
	case kinds == 0 || tokenCount > hmsMaxTokens:
		return out, &hmsReject{code: hmsCodeTokenCount}
	}

	data, _, err := m.str("data")
	if err != nil {
		return out, hmsTypeError(err)
	}
	topNotification, _, err := m.object("notification")
	if err != nil {
		return out, hmsTypeError(err)
	}
	for _, f := range []string{"title", "body", "image"} {
		if _, _, err := topNotification.str(f); err != nil {
			return out, hmsTypeError(err)
		}
	}
	android, _, err := m.object("android")
	if err != nil {
		return out, hmsTypeError(err)
	}
	var reject *hmsReject
	if out.category, reject = checkHMSAndroid(android); reject != nil {
		return out, reject
	}
	an, _, err := android.object("notification")
	if err != nil {
		return out, hmsTypeError(err)
	}

	if topNotification != nil || an != nil {
		if reject := checkHMSNotification(topNotification, an); reject != nil {
			return out, reject
		}
		if data != "" {
			var obj map[string]json.RawMessage
			if json.Unmarshal([]byte(data), &obj) != nil {
				return out, param("message.data of a notification message must be a JSON object string")
			}
		}
	} else if data == "" {
		return out, structure("message has neither a notification nor data")
	}

	var compact, tokens bytes.Buffer
	_ = json.Compact(&compact, body)
	if m.set("token") {
		_ = json.Compact(&tokens, tokenRaw)
	}
	if compact.Len()-tokens.Len() > hmsMaxBody {
		return out, &hmsReject{code: hmsCodeTooLarge}
	}
	return out, nil
}

// checkHMSAndroid checks the android block's values and returns its category.
func checkHMSAndroid(a jsonFields) (string, *hmsReject) {
	if ck, set, err := a.integer("collapse_key"); err != nil {
		return "", hmsTypeError(err)
	} else if set && (ck < -1 || ck > 100) {
		return "", &hmsReject{code: hmsCodeCollapseKey, detail: "collapse_key must be in [-1, 100]"}
	}
	urgency, _, err := a.str("urgency")
	if err != nil {
		return "", hmsTypeError(err)
	}
	if urgency != "" && urgency != "HIGH" && urgency != "NORMAL" {
		return "", param("android.urgency must be HIGH or NORMAL")
	}
	category, _, err := a.str("category")
	if err != nil {
		return "", hmsTypeError(err)
	}
	if category != "" && !slices.Contains(hmsCategories, category) {
		return "", param("android.category " + strconv.Quote(category) + " is not a known category")
	}
	ttl, _, err := a.str("ttl")
	if err != nil {
		return "", hmsTypeError(err)
	}
	if ttl != "" {
		secs, perr := strconv.ParseFloat(strings.TrimSuffix(ttl, "s"), 64)
		if !hmsTTLRE.MatchString(ttl) || perr != nil {
			return "", param("android.ttl must be seconds such as \"86400s\"")
		}
		if secs > hmsMaxTTL.Seconds() {
			return "", param("android.ttl must be at most 1296000s")
		}
	}
	for _, f := range []string{"bi_tag", "data", "receipt_id"} {
		if _, _, err := a.str(f); err != nil {
			return "", hmsTypeError(err)
		}
	}
	return category, nil
}

// checkHMSNotification checks a notification message: title and body (in
// android.notification or message.notification), the android notification's
// field types and values, and its mandatory click_action.
func checkHMSNotification(top, an jsonFields) *hmsReject {
	for _, f := range []string{"title", "body"} {
		v, _, err := an.str(f)
		if err != nil {
			return hmsTypeError(err)
		}
		if v == "" {
			v, _, _ = top.str(f)
		}
		if v == "" {
			return param("a notification message needs " + f + " in android.notification or message.notification")
		}
	}
	for _, f := range []string{"channel_id", "sound", "icon", "tag", "group"} {
		if _, _, err := an.str(f); err != nil {
			return hmsTypeError(err)
		}
	}
	if _, _, err := an.boolean("default_sound"); err != nil {
		return hmsTypeError(err)
	}
	if _, _, err := an.integer("notify_id"); err != nil {
		return hmsTypeError(err)
	}
	importance, _, err := an.str("importance")
	if err != nil {
		return hmsTypeError(err)
	}
	if importance != "" && !slices.Contains(hmsImportances, importance) {
		return param("android.notification.importance must be LOW or NORMAL")
	}
	badge, _, err := an.object("badge")
	if err != nil {
		return hmsTypeError(err)
	}
	if badge != nil {
		add, addSet, err := badge.integer("add_num")
		if err != nil {
			return hmsTypeError(err)
		}
		set, setSet, err := badge.integer("set_num")
		if err != nil {
			return hmsTypeError(err)
		}
		class, _, err := badge.str("class")
		if err != nil {
			return hmsTypeError(err)
		}
		switch {
		case addSet && (add < 1 || add > 99), setSet && (set < 0 || set > 99):
			return param("badge.add_num must be in [1, 99] and badge.set_num in [0, 99]")
		case class == "":
			return param("badge.class is required")
		}
	}
	click, _, err := an.object("click_action")
	if err != nil {
		return hmsTypeError(err)
	}
	if click == nil {
		return structure("click_action is mandatory for notification messages")
	}
	typ, _, err := click.integer("type")
	if err != nil {
		return hmsTypeError(err)
	}
	fields := map[int]string{1: "intent", 2: "url", 4: "rich_resource"}
	switch typ {
	case 1:
		intent, _, _ := click.str("intent")
		action, _, _ := click.str("action")
		if intent == "" && action == "" {
			return param("click_action type 1 needs intent or action")
		}
	case 2, 4:
		if v, _, _ := click.str(fields[typ]); v == "" {
			return param("click_action type " + strconv.Itoa(typ) + " needs " + fields[typ])
		}
	case 3:
	default:
		return param("click_action.type must be 1, 2, 3 or 4")
	}
	return nil
}

// hmsTypeError is Huawei's refusal of a member of the wrong JSON type: the
// structure code, the reader's error as the detail.
func hmsTypeError(err error) *hmsReject { return structure(err.Error()) }

func structure(detail string) *hmsReject { return &hmsReject{code: hmsCodeStructure, detail: detail} }
func param(detail string) *hmsReject     { return &hmsReject{code: hmsCodeParam, detail: detail} }

// --- answers ---

// hmsBody is Huawei's answer: {"code":"…","msg":"…","requestId":"…"}.
type hmsBody struct {
	Code      string `json:"code,omitempty"`
	Msg       string `json:"msg"`
	RequestID string `json:"requestId"`
}

// hmsRequestID makes a requestId like Huawei's: digits, time first.
func hmsRequestID() string {
	return strconv.FormatInt(time.Now().UnixMilli(), 10) + randomDigits(10)
}

// hmsOK is an accepted message's answer (HTTP 200) with code and msg; the
// Record's reason is "" on full success and the code otherwise.
func hmsOK(code, msg string) answer {
	reason := code
	if code == hmsCodeSuccess {
		reason = ""
	}
	a := jsonAnswer(http.StatusOK, reason, hmsBody{Code: code, Msg: msg, RequestID: hmsRequestID()})
	a.accepted = true
	return a
}

// hmsError is an error answer with code's msg, detail appended.
func hmsError(status int, code, detail string) answer {
	msg := hmsMessages[code]
	switch {
	case msg == "":
		msg = detail
	case detail != "":
		msg = strings.TrimSuffix(msg, ".") + ", " + detail + "."
	}
	return jsonAnswer(status, code, hmsBody{Code: code, Msg: msg, RequestID: hmsRequestID()})
}

// hmsFlowControl is a flow-control answer (HTTP 503 at Huawei). Its body is
// UNCONFIRMED: Huawei's shape without a business code.
func hmsFlowControl(status int, msg string) answer {
	return jsonAnswer(status, "FlowControl", hmsBody{Msg: msg, RequestID: hmsRequestID()})
}

// hmsConfig renders the hms entry of pushd's providers config.
func hmsConfig(c configContext) string {
	return fmt.Sprintf(`hms:
  client_id: %q
  client_secret: %q
  endpoint: %q
  auth_endpoint: %q
  ca_file: %q
  category: IM  # service and communication categories are not counted by the simulated daily quota
  badge_class: im.pushd.demo.MainActivity  # the demo app's launcher activity: pushes set the icon's badge
`, c.creds.HMS.ClientID, c.creds.HMS.ClientSecret, c.endpoint, c.authEndpoint, c.caFile)
}
