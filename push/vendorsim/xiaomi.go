package vendorsim

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pushd-im/pushd/push"
)

func xiaomiSpec() vendorSpec {
	return vendorSpec{
		provider:   push.Xiaomi,
		newHandler: newXiaomiHandler,
		config:     xiaomiConfig,
	}
}

// XiaomiPrivateChannelID is the extra.channel_id the simulated MiPush app has
// had approved as its private (IM) channel. Messages on it are not counted
// against the daily quota; messages without it (or on another channel) are
// public and counted (docs/vendors.md, Xiaomi). Real channel ids are assigned by Xiaomi.
const XiaomiPrivateChannelID = "pushd-im"

// MiPush facts (docs/vendors.md, Xiaomi). UNCONFIRMED ones are marked.
const (
	xiaomiSendPath   = "/v3/message/regid"
	xiaomiSendPathV2 = "/v2/message/regid"
	// xiaomiMaxRegIDs is the most registration ids one request may carry. UNCONFIRMED (widely quoted).
	xiaomiMaxRegIDs = 1000
	// xiaomiMaxTitle and xiaomiMaxDescription: title < 50, description < 128
	// characters (a CJK or Latin character counts 1).
	xiaomiMaxTitle       = 49
	xiaomiMaxDescription = 127
	// xiaomiMaxPayload is the payload limit in bytes. UNCONFIRMED.
	xiaomiMaxPayload = 4096
	// xiaomiMaxTTL is the longest time_to_live (milliseconds on the wire): 2 weeks.
	xiaomiMaxTTL = 14 * 24 * time.Hour
)

// The MiPush codes the Sim answers. Only 0, 20301, 21305 and 200001 have a
// source (docs/vendors.md, Xiaomi); the rest are UNCONFIRMED and kept here so that each is
// a one-line fix.
const (
	xiaomiCodeOK = 0
	// xiaomiCodeInvalidRegIDs: every registration id of the request is illegal.
	xiaomiCodeInvalidRegIDs = 20301
	// xiaomiCodeAuthFailed: the Authorization key is wrong. UNCONFIRMED.
	xiaomiCodeAuthFailed = 21301
	// xiaomiCodeMissingParameter: a required parameter is missing or blank.
	xiaomiCodeMissingParameter = 21305
	// xiaomiCodeInvalidParameter: a parameter has a bad value (type, range,
	// length, too many regids). UNCONFIRMED: Xiaomi's code for this is unknown.
	xiaomiCodeInvalidParameter = 21306
	// xiaomiCodePackageMismatch: restricted_package_name is not the app's
	// package. UNCONFIRMED: Xiaomi's code for this is unknown.
	xiaomiCodePackageMismatch = 22022
	// xiaomiCodeDailyQuota: the app's public messages for today are used up.
	xiaomiCodeDailyQuota = 200001
	// xiaomiCodeBusy and xiaomiCodeThrottled are two of the codes clients retry
	// (10002, 10003); which means what is UNCONFIRMED. Faults use them.
	xiaomiCodeBusy      = 10002
	xiaomiCodeThrottled = 10003
)

// xiaomiErrorShape is how the Sim words a MiPush error: reason (English) and
// description (Chinese) as MiPush sends them. MiPush answers its business
// errors with HTTP 200 and the code in the body, and so does the Sim; the
// answer is not accepted, so the Record is no delivery.
type xiaomiErrorShape struct {
	reason      string
	description string
}

// xiaomiErrors maps each code to its shape. The wording is UNCONFIRMED except
// 21305's description (gomipush:errors.go).
var xiaomiErrors = map[int]xiaomiErrorShape{
	xiaomiCodeInvalidRegIDs:    {"No valid targets!", "非法的regId"},
	xiaomiCodeAuthFailed:       {"Invalid application secret!", "认证失败"},
	xiaomiCodeMissingParameter: {"Missing required parameter", "缺少必要的参数"},
	xiaomiCodeInvalidParameter: {"Invalid parameter", "参数值非法"},
	xiaomiCodePackageMismatch:  {"Invalid restricted_package_name", "包名与应用不匹配"},
	xiaomiCodeDailyQuota:       {"Daily push quota exceeded", "超过当日推送总量限制"},
	xiaomiCodeBusy:             {"Server busy, try again later", "服务繁忙"},
	xiaomiCodeThrottled:        {"Too many requests", "请求过于频繁"},
}

// xiaomiFaultCodes is the code an injected fault answers with when its Reason
// names none, by the fault's HTTP status. Others: 5xx busy, else invalid parameter.
var xiaomiFaultCodes = map[int]int{
	http.StatusUnauthorized:    xiaomiCodeAuthFailed,
	http.StatusForbidden:       xiaomiCodeAuthFailed,
	http.StatusTooManyRequests: xiaomiCodeThrottled,
}

// xiaomiVendor checks MiPush requests against the app's secret and package.
type xiaomiVendor struct {
	env         *vendorEnv
	secret      string
	packageName string
}

func newXiaomiHandler(env *vendorEnv) (http.Handler, error) {
	v := &xiaomiVendor{
		env:         env,
		secret:      env.creds.Xiaomi.AppSecret,
		packageName: env.creds.Xiaomi.PackageName,
	}
	send := env.sendHandler(sendRoute{
		targets: v.targets,
		admit:   v.admit,
		fault:   v.fault,
		serve:   v.serve,
	})
	mux := http.NewServeMux()
	mux.Handle(xiaomiSendPath, send)
	mux.Handle(xiaomiSendPathV2, send)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, jsonAnswer(http.StatusNotFound, "", map[string]any{
			"result": "error", "reason": "Not Found: " + r.URL.Path, "description": "接口不存在",
		}))
	})
	return mux, nil
}

// --- daily quota ---

// --- send endpoint ---

// targets returns the registration ids of the form.
func (v *xiaomiVendor) targets(_ *http.Request, body []byte) []string {
	form, _ := url.ParseQuery(string(body)) // the parts that parse
	return xiaomiRegIDs(form.Get("registration_id"))
}

// xiaomiRegIDs splits a comma-separated registration_id, dropping blanks.
func xiaomiRegIDs(s string) []string {
	return splitList(s, ",")
}

// admit checks the method and the Authorization key.
func (v *xiaomiVendor) admit(r *http.Request) (answer, bool) {
	if r.Method != http.MethodPost {
		a := jsonAnswer(http.StatusMethodNotAllowed, "", map[string]any{
			"result": "error", "reason": "Method Not Allowed", "description": "请使用POST",
		})
		return a.withHeader("Allow", http.MethodPost), false
	}
	key, ok := strings.CutPrefix(strings.TrimSpace(r.Header.Get("Authorization")), "key=")
	if !ok || !secretEqual(key, v.secret) {
		return xiaomiError(xiaomiCodeAuthFailed, ""), false
	}
	return answer{}, true
}

// fault renders injected faults. Faults naming ids with code 20301 kill those
// ids only: the request is served as a partial success (or, when every id is
// dead, as 20301). Any other fault answers with its HTTP status and a MiPush
// error body.
func (v *xiaomiVendor) fault(r *http.Request, body []byte, hits []faultHit) answer {
	var dead []string
	var other *Fault
	for i := range hits {
		if hits[i].Fault.Reason == strconv.Itoa(xiaomiCodeInvalidRegIDs) {
			dead = append(dead, hits[i].Tokens...)
		} else if other == nil {
			other = &hits[i].Fault
		}
	}
	if other == nil {
		return v.respond(r, body, dead)
	}
	code, err := strconv.Atoi(other.Reason)
	if err != nil {
		var ok bool
		if code, ok = xiaomiFaultCodes[other.Status]; !ok {
			code = xiaomiCodeInvalidParameter
			if other.Status >= 500 {
				code = xiaomiCodeBusy
			}
		}
	}
	a := xiaomiError(code, "")
	a.status = other.Status // a fault's status goes on the wire
	return a.withRetryAfter(*other)
}

// serve checks and answers a send request.
func (v *xiaomiVendor) serve(r *http.Request, body []byte, _ []string) answer {
	return v.respond(r, body, nil)
}

// respond checks the form as MiPush does and answers it; dead lists ids that
// faults killed.
func (v *xiaomiVendor) respond(r *http.Request, body []byte, dead []string) answer {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return xiaomiError(xiaomiCodeMissingParameter, "registration_id (the body must be application/x-www-form-urlencoded)")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return xiaomiError(xiaomiCodeInvalidParameter, "the form body does not parse: "+err.Error())
	}
	ids := xiaomiRegIDs(form.Get("registration_id"))
	if a, ok := v.checkForm(form, ids); !ok {
		return a
	}

	var bad, good []string
	for _, id := range ids {
		if deadToken(id) || slices.Contains(dead, id) {
			bad = append(bad, id)
		} else {
			good = append(good, id)
		}
	}
	if len(good) == 0 {
		a := xiaomiError(xiaomiCodeInvalidRegIDs, "")
		a.invalidTokens = bad
		return a
	}
	if form.Get("extra.channel_id") != XiaomiPrivateChannelID && !v.env.quota.take(v.env.now(), len(good)) {
		return xiaomiError(xiaomiCodeDailyQuota, "")
	}

	data := map[string]string{"id": "slm" + strings.ToLower(randomID(19))}
	if len(bad) > 0 {
		data["bad_regids"] = strings.Join(bad, ",")
	}
	a := jsonAnswer(http.StatusOK, "", map[string]any{
		"result":      "ok",
		"code":        xiaomiCodeOK,
		"description": "成功",
		"info":        fmt.Sprintf("Received push messages for %d REGID", len(ids)),
		"trace_id":    xiaomiTraceID(),
		"data":        data,
	})
	a.accepted, a.invalidTokens = true, bad
	return a
}

// checkForm checks required fields, the package, field types, lengths and the
// batch size; ids are the form's registration ids.
func (v *xiaomiVendor) checkForm(form url.Values, ids []string) (answer, bool) {
	blank := func(name string) bool { return strings.TrimFunc(form.Get(name), unicode.IsSpace) == "" }
	if len(ids) == 0 {
		return xiaomiError(xiaomiCodeMissingParameter, "registration_id"), false
	}
	if blank("restricted_package_name") {
		return xiaomiError(xiaomiCodeMissingParameter, "restricted_package_name"), false
	}
	passThrough := form.Get("pass_through")
	switch passThrough {
	case "", "0":
		// A notification: its title and description are shown, so required.
		for _, name := range []string{"title", "description"} {
			if blank(name) {
				return xiaomiError(xiaomiCodeMissingParameter, name), false
			}
		}
	case "1":
	default:
		return xiaomiError(xiaomiCodeInvalidParameter, "pass_through must be 0 or 1, got "+strconv.Quote(passThrough)), false
	}
	if pkg := form.Get("restricted_package_name"); pkg != v.packageName {
		return xiaomiError(xiaomiCodePackageMismatch, strconv.Quote(pkg)+" is not this app's package"), false
	}
	if n := len(ids); n > xiaomiMaxRegIDs {
		return xiaomiError(xiaomiCodeInvalidParameter, fmt.Sprintf("registration_id lists %d ids, at most %d are allowed", n, xiaomiMaxRegIDs)), false
	}
	if n := utf8.RuneCountInString(form.Get("title")); n > xiaomiMaxTitle {
		return xiaomiError(xiaomiCodeInvalidParameter, fmt.Sprintf("title is %d characters, it must be shorter than %d", n, xiaomiMaxTitle+1)), false
	}
	if n := utf8.RuneCountInString(form.Get("description")); n > xiaomiMaxDescription {
		return xiaomiError(xiaomiCodeInvalidParameter, fmt.Sprintf("description is %d characters, it must be shorter than %d", n, xiaomiMaxDescription+1)), false
	}
	if n := len(form.Get("payload")); n > xiaomiMaxPayload {
		return xiaomiError(xiaomiCodeInvalidParameter, fmt.Sprintf("payload is %d bytes, at most %d are allowed", n, xiaomiMaxPayload)), false
	}
	for _, f := range []struct {
		name     string
		min, max int64
	}{
		{"time_to_live", 1, xiaomiMaxTTL.Milliseconds()},
		{"notify_type", -1, 7},
		{"notify_id", 0, math.MaxInt32},
		{"extra.badge", 0, math.MaxInt32},
	} {
		if _, ok := form[f.name]; !ok {
			continue
		}
		n, err := strconv.ParseInt(form.Get(f.name), 10, 64)
		if err != nil || n < f.min || n > f.max {
			return xiaomiError(xiaomiCodeInvalidParameter,
				fmt.Sprintf("%s must be an integer from %d to %d, got %q", f.name, f.min, f.max, form.Get(f.name))), false
		}
	}
	return answer{}, true
}

// xiaomiError builds MiPush's error answer: HTTP 200 with the body
// {"result":"error","code","reason","description","trace_id"}; detail, when
// set, names what is wrong (the missing parameter) in both reason and
// description.
func xiaomiError(code int, detail string) answer {
	shape, ok := xiaomiErrors[code]
	if !ok {
		shape = xiaomiErrorShape{"Error", "错误"}
	}
	reason, description := shape.reason, shape.description
	if detail != "" {
		reason += ": " + detail
		description += ": " + detail
	}
	return jsonAnswer(http.StatusOK, strconv.Itoa(code), map[string]any{
		"result":      "error",
		"code":        code,
		"reason":      reason,
		"description": description,
		"trace_id":    xiaomiTraceID(),
	})
}

// xiaomiTraceID is a trace id shaped like MiPush's ("Xcm" and 19 characters).
func xiaomiTraceID() string {
	return "Xcm" + strings.ToLower(randomID(19))
}

// xiaomiConfig renders the xiaomi entry of pushd's providers config.
func xiaomiConfig(c configContext) string {
	return fmt.Sprintf(`xiaomi:
  app_secret: %q
  package_name: %q
  endpoint: %q
  channel_id: %q
  ca_file: %q
`, c.creds.Xiaomi.AppSecret, c.creds.Xiaomi.PackageName, c.endpoint, XiaomiPrivateChannelID, c.caFile)
}
