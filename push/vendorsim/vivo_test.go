package vendorsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

// vivoAuthBody is an auth body signed as vivo asks, with edit applied to the
// fields before marshalling (the sign is computed first).
func vivoAuthBody(c *Credentials, now time.Time, edit func(m map[string]any)) []byte {
	ts := now.UnixMilli()
	m := map[string]any{
		"appId":     c.Vivo.AppID,
		"appKey":    c.Vivo.AppKey,
		"timestamp": ts,
		"sign":      md5Hex(strconv.Itoa(c.Vivo.AppID) + c.Vivo.AppKey + strconv.FormatInt(ts, 10) + c.Vivo.AppSecret),
	}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(m)
	return b
}

var vivoJSON = http.Header{"Content-Type": {"application/json"}}

func vivoAuth(t *testing.T, hc *http.Client, s *Sim, body []byte) reply {
	t.Helper()
	return do(t, hc, http.MethodPost, s.AuthEndpoint(push.Vivo), vivoJSON, body)
}

// vivoToken runs the auth call and returns the authToken.
func vivoToken(t *testing.T, hc *http.Client, s *Sim, now time.Time) string {
	t.Helper()
	r := vivoAuth(t, hc, s, vivoAuthBody(s.Credentials(), now, nil))
	checkVivo(t, r, 0)
	tok, _ := jsonField(t, r.body, "authToken").(string)
	if tok == "" || jsonField(t, r.body, "desc") != "请求成功" {
		t.Fatalf("auth answer %s", r.body)
	}
	return tok
}

// vivoPost posts body (a map, marshalled) to a vivo path with the authToken header.
func vivoPost(t *testing.T, hc *http.Client, s *Sim, token, path string, body any) reply {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	h := vivoJSON.Clone()
	if token != "" {
		h.Set("authToken", token)
	}
	return do(t, hc, http.MethodPost, s.Endpoint(push.Vivo)+path, h, b)
}

// vivoMessage is a valid /message/send body for regID, with edit applied.
func vivoMessage(c *Credentials, regID string, edit func(m map[string]any)) map[string]any {
	m := map[string]any{
		"appId": c.Vivo.AppID, "regId": regID, "notifyType": 4, "title": "Ada", "content": "hello",
		"timeToLive": 3600, "skipType": 1, "networkType": -1, "classification": 1, "category": "IM",
		"clientCustomMap": map[string]string{"payload": "p", "message_id": "m1"},
		"requestId":       "req-" + randomHex(8),
	}
	if regID == "" {
		delete(m, "regId")
	}
	if edit != nil {
		edit(m)
	}
	return m
}

// checkVivo checks a vivo business answer: HTTP 200 on the wire, result code.
func checkVivo(t *testing.T, r reply, code int) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d %s, want vivo's 200", r.status, r.body)
	}
	if got := jsonField(t, r.body, "result"); got != float64(code) {
		t.Fatalf("result %v (%s), want %d", got, r.body, code)
	}
}

func vivoRegIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return out
}

func TestVivoAuthAndSend(t *testing.T) {
	clock := newFakeClock()
	s := startSim(t, Options{Now: clock.Now})
	hc := client(t, s, true)
	c := s.Credentials()
	tok := vivoToken(t, hc, s, clock.Now())

	r := vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-1", nil))
	checkVivo(t, r, 0)
	if id, _ := jsonField(t, r.body, "taskId").(string); id == "" {
		t.Fatalf("no taskId: %s", r.body)
	}
	rec := lastRecord(t, s, push.Vivo)
	if rec.Path != "/message/send" || rec.Token != "reg-1" || rec.Status != 200 || rec.Headers["authtoken"] != tok ||
		s.Count(push.Vivo) != 1 || len(s.Delivered(push.Vivo, "reg-1")) != 1 {
		t.Fatalf("record %+v, count %d", rec, s.Count(push.Vivo))
	}

	// A missing, unknown or expired authToken is 10000, on the wire with HTTP 200;
	// the record says so and is no delivery.
	checkVivo(t, vivoPost(t, hc, s, "", "/message/send", vivoMessage(c, "reg-1", nil)), vivoAuthFailed)
	checkVivo(t, vivoPost(t, hc, s, "sim.vivo.forged", "/message/send", vivoMessage(c, "reg-1", nil)), vivoAuthFailed)
	if rec := lastRecord(t, s, push.Vivo); rec.Status != http.StatusOK || rec.Accepted || rec.Reason != "10000" || rec.Delivered("") {
		t.Fatalf("10000 record %+v", rec)
	}
	clock.Advance(vivoAuthTokenTTL - time.Minute)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-1", nil)), 0)
	clock.Advance(2 * time.Minute)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-1", nil)), vivoAuthFailed)
	tok = vivoToken(t, hc, s, clock.Now())
	s.ExpireAccessTokens()
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-1", nil)), vivoAuthFailed)
	if s.Count(push.Vivo) != 2 {
		t.Fatalf("Count = %d, want the two accepted sends", s.Count(push.Vivo))
	}

	// The body's appId must be the token's app.
	tok = vivoToken(t, hc, s, clock.Now())
	for _, appID := range []any{c.Vivo.AppID + 1, nil, "x"} {
		m := vivoMessage(c, "reg-1", func(m map[string]any) { m["appId"] = appID })
		if appID == nil {
			delete(m, "appId")
		}
		checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", m), vivoAppIDMismatch)
	}
	// A numeric string is an integer to vivo.
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-1", func(m map[string]any) {
		m["appId"], m["networkType"] = strconv.Itoa(c.Vivo.AppID), "1"
	})), 0)

	// Method and content type.
	if r := do(t, hc, http.MethodGet, s.Endpoint(push.Vivo)+"/message/send", http.Header{"authToken": {tok}}, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET send: %d", r.status)
	}
	b, _ := json.Marshal(vivoMessage(c, "reg-1", nil))
	r = do(t, hc, http.MethodPost, s.Endpoint(push.Vivo)+"/message/send", http.Header{"authToken": {tok}, "Content-Type": {"text/plain"}}, b)
	if r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain send: %d", r.status)
	}
	if r := do(t, hc, http.MethodGet, s.Endpoint(push.Vivo)+"/nope", nil, nil); r.status != http.StatusNotFound || !strings.Contains(string(r.body), "/nope") {
		t.Errorf("unknown path: %d %s", r.status, r.body)
	}
}

func TestVivoAuthChecks(t *testing.T) {
	clock := newFakeClock()
	s := startSim(t, Options{Now: clock.Now})
	hc := client(t, s, false)
	c := s.Credentials()
	now := clock.Now()
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	cases := []struct {
		name string
		edit func(m map[string]any)
		code int
	}{
		{"no appId", func(m map[string]any) { delete(m, "appId") }, vivoAuthAppIDEmpty},
		{"no appKey", func(m map[string]any) { delete(m, "appKey") }, vivoAuthAppKeyEmpty},
		{"no timestamp", func(m map[string]any) { delete(m, "timestamp") }, vivoAuthTimestampEmpty},
		{"no sign", func(m map[string]any) { m["sign"] = "" }, vivoAuthSignEmpty},
		{"unknown appId", func(m map[string]any) { m["appId"] = c.Vivo.AppID + 1 }, vivoAuthAppIDUnknown},
		{"appId not a number", func(m map[string]any) { m["appId"] = true }, vivoAuthAppIDUnknown},
		{"wrong appKey", func(m map[string]any) { m["appKey"] = "other" }, vivoAuthAppKeyBad},
		{"appKey not a string", func(m map[string]any) { m["appKey"] = 5 }, vivoAuthAppKeyBad},
		{"timestamp 11 min old", func(m map[string]any) { m["timestamp"] = now.Add(-11 * time.Minute).UnixMilli() }, vivoAuthTimestampBad},
		{"timestamp 11 min ahead", func(m map[string]any) { m["timestamp"] = now.Add(11 * time.Minute).UnixMilli() }, vivoAuthTimestampBad},
		{"timestamp in seconds", func(m map[string]any) { m["timestamp"] = now.Unix() }, vivoAuthTimestampBad},
		{"sign with another secret", func(m map[string]any) {
			m["sign"] = md5Hex(strconv.Itoa(c.Vivo.AppID) + c.Vivo.AppKey + ts + "wrong")
		}, vivoAuthSignBad},
		{"upper-case sign", func(m map[string]any) { m["sign"] = strings.ToUpper(m["sign"].(string)) }, vivoAuthSignBad},
		{"sign over another timestamp", func(m map[string]any) { m["timestamp"] = now.UnixMilli() + 1 }, vivoAuthSignBad},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := vivoAuth(t, hc, s, vivoAuthBody(c, now, tc.edit))
			checkVivo(t, r, tc.code)
			if jsonField(t, r.body, "authToken") != nil {
				t.Errorf("a refused auth call got a token: %s", r.body)
			}
		})
	}
	// Within the window, and with the values sent as strings, the sign over
	// exactly those values passes.
	clock.Advance(9 * time.Minute)
	vivoToken(t, hc, s, now)
	vivoToken(t, hc, s, now.Add(18*time.Minute))
	r := vivoAuth(t, hc, s, vivoAuthBody(c, now, func(m map[string]any) {
		m["appId"], m["timestamp"] = strconv.Itoa(c.Vivo.AppID), ts
	}))
	checkVivo(t, r, 0)
	checkVivo(t, vivoAuth(t, hc, s, []byte(`[1,2]`)), vivoBodyBad)
	if r := do(t, hc, http.MethodPost, s.AuthEndpoint(push.Vivo), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		[]byte("appId=1")); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("form auth: %d", r.status)
	}
	if n := len(s.Records(push.Vivo)); n != 0 {
		t.Errorf("%d records for auth calls, want none", n)
	}
}

func TestVivoMessageChecks(t *testing.T) {
	clock := newFakeClock()
	s := startSim(t, Options{Now: clock.Now})
	hc := client(t, s, false)
	c := s.Credentials()
	tok := vivoToken(t, hc, s, clock.Now())
	set := func(k string, v any) func(m map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(m map[string]any) { return func(m map[string]any) { delete(m, k) } }
	custom := func(pairs, valueLen int) map[string]string {
		m := map[string]string{}
		for i := range pairs {
			m[fmt.Sprint("k", i)] = strings.Repeat("v", valueLen)
		}
		return m
	}
	cases := []struct {
		name string
		edit func(m map[string]any)
		code int
	}{
		{"no requestId", del("requestId"), vivoRequestIDEmpty},
		{"requestId a number", set("requestId", 7), vivoRequestIDEmpty},
		{"no notifyType", del("notifyType"), vivoNotifyTypeBad},
		{"notifyType 5", set("notifyType", 5), vivoNotifyTypeBad},
		{"no title", del("title"), vivoTitleBad},
		{"blank title", set("title", " "), vivoTitleBad},
		{"title 41 wide", set("title", strings.Repeat("a", 41)), vivoTitleBad},
		{"title 21 CJK", set("title", strings.Repeat("标", 21)), vivoTitleBad},
		{"no content", del("content"), vivoContentBad},
		{"content 101 wide", set("content", strings.Repeat("a", 99)+"标"), vivoContentBad},
		{"timeToLive 59", set("timeToLive", 59), vivoTTLBad},
		{"timeToLive 7d+1", set("timeToLive", 7*24*3600+1), vivoTTLBad},
		{"timeToLive a fraction", set("timeToLive", 60.5), vivoTTLBad},
		{"no skipType", del("skipType"), vivoSkipTypeBad},
		{"skipType 2 without skipContent", set("skipType", 2), vivoSkipTypeBad},
		{"networkType 0", set("networkType", 0), vivoNetworkTypeBad},
		{"11 custom pairs", set("clientCustomMap", custom(11, 1)), vivoCustomMapBad},
		{"1025 custom characters", set("clientCustomMap", map[string]string{"k": strings.Repeat("数", 1024)}), vivoCustomMapBad},
		{"custom value a number", set("clientCustomMap", map[string]any{"k": 1}), vivoCustomMapBad},
		{"classification 2", set("classification", 2), vivoClassificationBad},
		{"pushMode 2", set("pushMode", 2), vivoPushModeBad},
		{"no regId nor alias", del("regId"), vivoTargetEmpty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-1", tc.edit)), tc.code)
			if rec := lastRecord(t, s, push.Vivo); rec.Status != http.StatusOK || rec.Accepted || rec.Reason != strconv.Itoa(tc.code) {
				t.Errorf("record %d %q", rec.Status, rec.Reason)
			}
		})
	}
	// At the limits it passes.
	for _, edit := range []func(m map[string]any){
		set("title", strings.Repeat("标", 20)), set("content", strings.Repeat("a", 98)+"标"),
		set("timeToLive", 60), set("timeToLive", 7*24*3600), del("timeToLive"),
		set("clientCustomMap", custom(10, 1)), set("clientCustomMap", map[string]string{"k": strings.Repeat("数", 1023)}),
		set("skipType", 2), del("classification"), set("pushMode", 1),
		func(m map[string]any) { delete(m, "regId"); m["alias"] = "user-1" },
		func(m map[string]any) { m["title"] = "标题😀"; m["skipType"], m["skipContent"] = 4, "page" },
	} {
		m := vivoMessage(c, "reg-1", edit)
		if m["skipType"] == 2 {
			m["skipContent"] = "https://example.com"
		}
		checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", m), 0)
	}
	if rec := lastRecord(t, s, push.Vivo); rec.Token != "reg-1" {
		t.Errorf("record token %q", rec.Token)
	}

	// A requestId is used once.
	m := vivoMessage(c, "reg-1", nil)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", m), 0)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", m), vivoRequestIDReused)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/saveListPayload", m), vivoRequestIDReused)
	clock.Advance(vivoRequestIDMemory + time.Hour)
	tok = vivoToken(t, hc, s, clock.Now())
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", m), 0)

	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", []byte(`{"title":`)), vivoBodyBad)
}

func TestVivoInvalidRegIDs(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	c := s.Credentials()
	tok := vivoToken(t, hc, s, time.Now())

	r := vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "invalid-1", nil))
	checkVivo(t, r, vivoInvalidRegID)
	if jsonField(t, r.body, "desc") != "regId不合法" || jsonField(t, r.body, "invalidUser.userid") != "invalid-1" ||
		jsonField(t, r.body, "invalidUser.status") != 1.0 {
		t.Fatalf("invalid regId answer %s", r.body)
	}
	if rec := lastRecord(t, s, push.Vivo); rec.Delivered("invalid-1") || !reflect.DeepEqual(rec.InvalidTokens, []string{"invalid-1"}) {
		t.Fatalf("record %+v", rec)
	}

	// A list: saveListPayload, then pushToList with some dead regIds.
	r = vivoPost(t, hc, s, tok, "/message/saveListPayload", vivoMessage(c, "", nil))
	checkVivo(t, r, 0)
	taskID, _ := jsonField(t, r.body, "taskId").(string)
	ids := append(vivoRegIDs("reg-", 998), "invalid-a", "invalid-b")
	r = vivoPost(t, hc, s, tok, "/message/pushToList", map[string]any{"appId": c.Vivo.AppID, "regIds": ids, "taskId": taskID, "requestId": "list-1"})
	checkVivo(t, r, 0)
	var body struct {
		TaskID       string `json:"taskId"`
		InvalidUsers []struct {
			Status int    `json:"status"`
			UserID string `json:"userid"`
		} `json:"invalidUsers"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.TaskID != taskID || len(body.InvalidUsers) != 2 ||
		body.InvalidUsers[0].UserID != "invalid-a" || body.InvalidUsers[1].Status != 1 {
		t.Fatalf("pushToList answer %s", r.body)
	}
	rec := lastRecord(t, s, push.Vivo)
	if rec.Path != "/message/pushToList" || len(rec.Tokens) != 1000 || !reflect.DeepEqual(rec.InvalidTokens, []string{"invalid-a", "invalid-b"}) ||
		!rec.Delivered("reg-00000") || rec.Delivered("invalid-a") {
		t.Fatalf("record %s %d tokens, invalid %v", rec.Path, len(rec.Tokens), rec.InvalidTokens)
	}
	if s.Count(push.Vivo) != 998 {
		t.Fatalf("Count = %d, want 998", s.Count(push.Vivo))
	}
	// The same task goes to another list; all well, no invalidUsers.
	r = vivoPost(t, hc, s, tok, "/message/pushToList", map[string]any{"appId": c.Vivo.AppID, "regIds": []string{"x", "y"}, "taskId": taskID, "requestId": "list-2"})
	checkVivo(t, r, 0)
	if jsonField(t, r.body, "invalidUsers") != nil {
		t.Errorf("invalidUsers without dead regIds: %s", r.body)
	}

	// pushToList's own checks.
	for _, tc := range []struct {
		name string
		body map[string]any
		code int
	}{
		{"one regId", map[string]any{"regIds": []string{"x"}}, vivoListTargetsBad},
		{"1001 regIds", map[string]any{"regIds": vivoRegIDs("r", 1001)}, vivoListTargetsBad},
		{"regIds not strings", map[string]any{"regIds": []any{"x", 2}}, vivoListTargetsBad},
		{"empty regId", map[string]any{"regIds": []string{"x", ""}}, vivoListTargetsBad},
		{"no regIds", map[string]any{"regIds": nil}, vivoListTargetsBad},
		{"unknown taskId", map[string]any{"taskId": "123"}, vivoTaskIDBad},
		{"no taskId", map[string]any{"taskId": nil}, vivoTaskIDBad},
		{"no requestId", map[string]any{"requestId": nil}, vivoRequestIDEmpty},
		{"other app", map[string]any{"appId": 1}, vivoAppIDMismatch},
	} {
		b := map[string]any{"appId": c.Vivo.AppID, "regIds": []string{"x", "y"}, "taskId": taskID, "requestId": "bad-" + tc.name}
		for k, v := range tc.body {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		r := vivoPost(t, hc, s, tok, "/message/pushToList", b)
		if got := jsonField(t, r.body, "result"); got != float64(tc.code) {
			t.Errorf("%s: result %v, want %d (%s)", tc.name, got, tc.code, r.body)
		}
	}
	// saveListPayload checks the content as send does.
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/saveListPayload", vivoMessage(c, "", func(m map[string]any) { m["title"] = "" })), vivoTitleBad)
	// A numeric taskId is the same task.
	n, _ := strconv.ParseInt(taskID, 10, 64)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/pushToList", map[string]any{"appId": c.Vivo.AppID, "regIds": []string{"x", "y"}, "taskId": n, "requestId": "list-3"}), 0)
}

func TestVivoDailyQuota(t *testing.T) {
	clock := newFakeClock()
	// 23:59:00 China time.
	clock.now = time.Date(2025, 6, 1, 15, 59, 0, 0, time.UTC)
	s := startSim(t, Options{Now: clock.Now})
	hc := client(t, s, false)
	c := s.Credentials()
	tok := vivoToken(t, hc, s, clock.Now())
	ops := func(regID string) map[string]any {
		return vivoMessage(c, regID, func(m map[string]any) { m["classification"] = 0 })
	}
	s.SetDailyQuota(push.Vivo, 3)
	for i := range 3 {
		checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", ops(fmt.Sprint("reg-", i))), 0)
	}
	// Absent classification is 0 too.
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-x", func(m map[string]any) { delete(m, "classification") })), vivoQuotaExceeded)
	if rec := lastRecord(t, s, push.Vivo); rec.Status != http.StatusOK || rec.Accepted || rec.Reason != "10070" || rec.Delivered("") {
		t.Fatalf("quota record %+v", rec)
	}
	// System messages are not capped; dead regIds are not counted.
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-9", nil)), 0)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", ops("invalid-1")), vivoInvalidRegID)
	// No list payloads of operations messages either, after 10070.
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/saveListPayload", ops("")), vivoQuotaExceeded)
	r := vivoPost(t, hc, s, tok, "/message/saveListPayload", vivoMessage(c, "", nil))
	checkVivo(t, r, 0)
	sysTask := jsonField(t, r.body, "taskId")
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/pushToList", map[string]any{"appId": c.Vivo.AppID, "regIds": vivoRegIDs("r", 50), "taskId": sysTask, "requestId": "sys-list"}), 0)

	// Midnight China time starts a new day.
	clock.Advance(time.Minute)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", ops("reg-new-day")), 0)
	// Setting the quota keeps today's count (reg-new-day): room for 5 more.
	s.SetDailyQuota(push.Vivo, 6)
	r = vivoPost(t, hc, s, tok, "/message/saveListPayload", ops(""))
	checkVivo(t, r, 0)
	opsTask := jsonField(t, r.body, "taskId")
	// A list needs room for all its live regIds: 1 + 6 > 6 is refused whole.
	list := func(ids []string) reply {
		return vivoPost(t, hc, s, tok, "/message/pushToList", map[string]any{"appId": c.Vivo.AppID, "regIds": ids, "taskId": opsTask, "requestId": fmt.Sprint("ops-", ids)})
	}
	checkVivo(t, list(vivoRegIDs("r", 6)), vivoQuotaExceeded)
	checkVivo(t, list(append(vivoRegIDs("r", 4), "invalid-z")), 0)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", ops("reg-a")), 0)
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", ops("reg-b")), vivoQuotaExceeded)

	clock.Advance(24 * time.Hour)
	tok = vivoToken(t, hc, s, clock.Now())
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", ops("reg-b")), 0)
	s.SetDailyQuota(push.Vivo, 0)
	for i := range 10 {
		checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", ops(fmt.Sprint("reg-u", i))), 0)
	}
}

func TestVivoFaults(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	c := s.Credentials()
	tok := vivoToken(t, hc, s, time.Now())

	// 5xx: vivo's HTTP 500 page.
	if err := s.SetFault(Fault{Provider: push.Vivo, Status: 503, RetryAfter: 2 * time.Second, Times: 1}); err != nil {
		t.Fatal(err)
	}
	r := vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-1", nil))
	if r.status != 503 || string(r.body) != vivoServerError || r.header.Get("Retry-After") != "2" {
		t.Fatalf("503 fault: %d %q %v", r.status, r.body, r.header)
	}
	// A business code: HTTP 200 (the fault's status only picks the code), the code in result.
	if err := s.SetFault(Fault{Provider: push.Vivo, Status: 429, Times: 1}); err != nil {
		t.Fatal(err)
	}
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-1", nil)), vivoTooFast)
	if rec := lastRecord(t, s, push.Vivo); rec.Status != http.StatusOK || rec.Accepted || rec.Reason != "10072" {
		t.Fatalf("429 record %+v", rec)
	}
	if err := s.SetFault(Fault{Provider: push.Vivo, Status: 400, Reason: "10070", Times: 1}); err != nil {
		t.Fatal(err)
	}
	checkVivo(t, vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-1", nil)), vivoQuotaExceeded)

	// 10302 for a token: the invalid-regId shape on a send…
	if err := s.SetFault(Fault{Provider: push.Vivo, Token: "reg-dead", Status: 410, Reason: "10302"}); err != nil {
		t.Fatal(err)
	}
	r = vivoPost(t, hc, s, tok, "/message/send", vivoMessage(c, "reg-dead", nil))
	checkVivo(t, r, vivoInvalidRegID)
	if jsonField(t, r.body, "invalidUser.userid") != "reg-dead" {
		t.Fatalf("invalid fault answer %s", r.body)
	}
	// …and result 0 with it in invalidUsers on a pushToList.
	r = vivoPost(t, hc, s, tok, "/message/saveListPayload", vivoMessage(c, "", nil))
	taskID := jsonField(t, r.body, "taskId")
	r = vivoPost(t, hc, s, tok, "/message/pushToList", map[string]any{"appId": c.Vivo.AppID, "regIds": []string{"reg-ok", "reg-dead"}, "taskId": taskID, "requestId": "f-list"})
	checkVivo(t, r, 0)
	if jsonField(t, r.body, "invalidUsers") == nil || !strings.Contains(string(r.body), `"userid":"reg-dead"`) {
		t.Fatalf("pushToList fault answer %s", r.body)
	}
	rec := lastRecord(t, s, push.Vivo)
	if rec.Status != 200 || !reflect.DeepEqual(rec.InvalidTokens, []string{"reg-dead"}) || !rec.Delivered("reg-ok") {
		t.Fatalf("pushToList fault record %+v", rec)
	}
	// Faults never answer an unauthenticated request.
	checkVivo(t, vivoPost(t, hc, s, "", "/message/send", vivoMessage(c, "reg-dead", nil)), vivoAuthFailed)
}

func TestVivoConfigSnippet(t *testing.T) {
	s := startSim(t, Options{})
	yaml := s.ConfigYAML(t.TempDir())
	c := s.Credentials()
	for _, want := range []string{
		"\n  vivo:\n", fmt.Sprintf("    app_id: %d\n", c.Vivo.AppID), fmt.Sprintf("    app_key: %q\n", c.Vivo.AppKey),
		fmt.Sprintf("    app_secret: %q\n", c.Vivo.AppSecret), fmt.Sprintf("    endpoint: %q\n", s.Endpoint(push.Vivo)),
		"    classification: 1\n", "    ca_file: ",
	} {
		if !strings.Contains(yaml, want) {
			t.Errorf("config snippet lacks %q:\n%s", want, yaml)
		}
	}
	if s.AuthEndpoint(push.Vivo) != s.Endpoint(push.Vivo)+"/message/auth" {
		t.Errorf("AuthEndpoint = %s", s.AuthEndpoint(push.Vivo))
	}
}

// FuzzVivoMessage feeds arbitrary bodies to the send checks: they must not
// panic, must answer a code the simulator knows, and must accept only a title
// and content within vivo's widths.
func FuzzVivoMessage(f *testing.F) {
	c := testCreds(f)
	good, _ := json.Marshal(vivoMessage(c, "reg-1", nil))
	f.Add(good)
	f.Add([]byte(`{"appId":"1","notifyType":"4","title":"标","content":"x","skipType":1,"clientCustomMap":{"a":null}}`))
	f.Add([]byte(`{"title":1e999,"timeToLive":-0}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, ok := decodeJSONObject(body)
		if !ok {
			return
		}
		_, code := checkVivoContent(fields)
		if _, known := vivoCodes[code]; !known {
			t.Fatalf("unknown code %d for %s", code, body)
		}
		if code == vivoOK {
			title, _, _ := fields.str("title")
			content, _, _ := fields.str("content")
			if vivoTextWidth(title) > vivoMaxTitle || vivoTextWidth(content) > vivoMaxContent || strings.TrimSpace(title) == "" {
				t.Fatalf("accepted %s", body)
			}
		}
	})
}
