package vendorsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

// oppoReply is an OPPO answer: the wire status and the body's envelope.
type oppoReply struct {
	status  int
	header  http.Header
	code    int
	message string
	data    map[string]json.RawMessage
	body    []byte
}

func oppoPost(t *testing.T, hc *http.Client, s *Sim, path string, form url.Values, header http.Header) oppoReply {
	t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for k, v := range header {
		h[k] = v
	}
	r := do(t, hc, http.MethodPost, s.Endpoint(push.OPPO)+path, h, []byte(form.Encode()))
	var env struct {
		Code    *int                       `json:"code"`
		Message string                     `json:"message"`
		Data    map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.Code == nil {
		t.Fatalf("%s: answer %d %q is not OPPO's envelope (%v)", path, r.status, r.body, err)
	}
	return oppoReply{status: r.status, header: r.header, code: *env.Code, message: env.Message, data: env.Data, body: r.body}
}

// oppoAuthForm is a correctly signed auth form at now.
func oppoAuthForm(c *Credentials, now time.Time) url.Values {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	return url.Values{"app_key": {c.OPPO.AppKey}, "timestamp": {ts}, "sign": {sha256Hex(c.OPPO.AppKey + ts + c.OPPO.MasterSecret)}}
}

// oppoAuthToken runs the auth call and returns the auth_token.
func oppoAuthToken(t *testing.T, hc *http.Client, s *Sim, now time.Time) string {
	t.Helper()
	r := oppoPost(t, hc, s, oppoAuthPath, oppoAuthForm(s.Credentials(), now), nil)
	var tok string
	if r.code != 0 || json.Unmarshal(r.data["auth_token"], &tok) != nil || tok == "" {
		t.Fatalf("auth: %d %s", r.status, r.body)
	}
	return tok
}

// oppoNotification is a valid unicast notification, edited by edit.
func oppoNotification(edit func(m map[string]any)) map[string]any {
	m := map[string]any{
		"title": "Ada", "content": "hello", "click_action_type": 0, "off_line": true, "off_line_ttl": 3600,
		"category": "IM", "notify_level": 2, "action_parameters": `{"payload":"x"}`,
	}
	if edit != nil {
		edit(m)
	}
	return m
}

func oppoUnicastForm(t *testing.T, token, target string, n map[string]any) url.Values {
	t.Helper()
	msg, err := json.Marshal(map[string]any{"target_type": 2, "target_value": target, "notification": n})
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"auth_token": {token}, "message": {string(msg)}}
}

// oppoSave saves the notification's fields and returns the message_id.
func oppoSave(t *testing.T, hc *http.Client, s *Sim, token string, fields url.Values) string {
	t.Helper()
	f := url.Values{"auth_token": {token}, "title": {"Ada"}, "content": {"hello"}, "category": {"IM"}}
	for k, v := range fields {
		f[k] = v
	}
	r := oppoPost(t, hc, s, oppoSavePath, f, nil)
	var id string
	if r.code != 0 || json.Unmarshal(r.data["message_id"], &id) != nil || id == "" {
		t.Fatalf("save_message_content: %s", r.body)
	}
	return id
}

func TestOPPOAuth(t *testing.T) {
	clk := newFakeClock()
	s := startSim(t, Options{Now: clk.Now})
	hc := client(t, s, true)
	c := s.Credentials()
	now := clk.Now()

	r := oppoPost(t, hc, s, oppoAuthPath, oppoAuthForm(c, now), nil)
	if r.status != 200 || r.code != 0 || r.message != "Success" {
		t.Fatalf("good auth: %d %s", r.status, r.body)
	}
	var created int64
	if json.Unmarshal(r.data["create_time"], &created) != nil || created != now.UnixMilli() {
		t.Errorf("create_time = %s, want %d", r.data["create_time"], now.UnixMilli())
	}

	with := func(k, v string) url.Values {
		f := oppoAuthForm(c, now)
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	padded := "0" + ts // the sign covers the string as sent
	cases := []struct {
		name string
		form url.Values
		code int
	}{
		{"missing app_key", with("app_key", ""), 15},
		{"unknown app_key", with("app_key", "nope"), 14},
		{"wrong secret", with("sign", sha256Hex(c.OPPO.AppKey+ts+"wrong")), 16},
		{"upper-case sign", with("sign", strings.ToUpper(sha256Hex(c.OPPO.AppKey+ts+c.OPPO.MasterSecret))), 16},
		{"missing sign", with("sign", ""), 17},
		{"missing timestamp", with("timestamp", ""), 18},
		{"seconds not milliseconds", with("timestamp", strconv.FormatInt(now.Unix(), 10)), 19},
		{"not a number", with("timestamp", "soon"), 19},
		{"11 minutes slow", oppoAuthForm(c, now.Add(-11*time.Minute)), 19},
		{"11 minutes fast", oppoAuthForm(c, now.Add(11*time.Minute)), 19},
		{"sign over another string", url.Values{"app_key": {c.OPPO.AppKey}, "timestamp": {padded},
			"sign": {sha256Hex(c.OPPO.AppKey + ts + c.OPPO.MasterSecret)}}, 16},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := oppoPost(t, hc, s, oppoAuthPath, tc.form, nil)
			if r.code != tc.code || r.status != 200 {
				t.Errorf("answer %d %s, want code %d with HTTP 200", r.status, r.body, tc.code)
			}
			if _, ok := r.data["auth_token"]; ok {
				t.Error("a refused auth carries an auth_token")
			}
		})
	}
	// 9 minutes off is inside the window, and a padded timestamp signed as sent is fine.
	for _, f := range []url.Values{oppoAuthForm(c, now.Add(-9*time.Minute)), {
		"app_key": {c.OPPO.AppKey}, "timestamp": {padded}, "sign": {sha256Hex(c.OPPO.AppKey + padded + c.OPPO.MasterSecret)},
	}} {
		if r := oppoPost(t, hc, s, oppoAuthPath, f, nil); r.code != 0 {
			t.Errorf("auth %v: %s", f, r.body)
		}
	}
	if r := do(t, hc, http.MethodGet, s.AuthEndpoint(push.OPPO), nil, nil); !strings.Contains(string(r.body), `"code":12`) {
		t.Errorf("GET auth: %d %s", r.status, r.body)
	}
	if got := s.AuthEndpoint(push.OPPO); got != s.Endpoint(push.OPPO)+"/server/v1/auth" {
		t.Errorf("AuthEndpoint = %q", got)
	}
}

func TestOPPOUnicast(t *testing.T) {
	clk := newFakeClock()
	s := startSim(t, Options{Now: clk.Now})
	hc := client(t, s, false)
	tok := oppoAuthToken(t, hc, s, clk.Now())

	r := oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_reg1", oppoNotification(nil)), nil)
	var id string
	if r.status != 200 || r.code != 0 || json.Unmarshal(r.data["messageId"], &id) != nil || id == "" {
		t.Fatalf("unicast: %d %s", r.status, r.body)
	}
	rec := lastRecord(t, s, push.OPPO)
	if rec.Token != "CN_reg1" || !slices.Equal(rec.Tokens, []string{"CN_reg1"}) || rec.Status != 200 || !rec.Delivered("CN_reg1") ||
		rec.Path != oppoUnicastPath {
		t.Errorf("record = %+v", rec)
	}

	// The auth_token as a header works too.
	form := oppoUnicastForm(t, "", "CN_reg1", oppoNotification(nil))
	form.Del("auth_token")
	if r := oppoPost(t, hc, s, oppoUnicastPath, form, http.Header{"auth_token": {tok}}); r.code != 0 {
		t.Errorf("auth_token header: %s", r.body)
	}
	if r := oppoPost(t, hc, s, oppoUnicastPath, form, nil); r.code != 29 {
		t.Errorf("no auth_token: %s, want code 29", r.body)
	}
	if r := oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, "sim.oppo.forged", "CN_reg1", oppoNotification(nil)), nil); r.code != 11 {
		t.Errorf("unknown auth_token: %s, want code 11", r.body)
	}
	recs := s.Records(push.OPPO)
	if last := recs[len(recs)-1]; last.Status != 200 || last.Accepted || last.Reason != "11" || last.Delivered("") {
		t.Errorf("refused record = %+v, want a non-delivery with reason 11", last)
	}

	long := func(n int, s string) string { return strings.Repeat(s, n) }
	cases := []struct {
		name string
		edit func(m map[string]any)
		code int
	}{
		{"no title", func(m map[string]any) { delete(m, "title") }, 40},
		{"title of 51", func(m map[string]any) { m["title"] = long(51, "a") }, 41},
		{"title a number", func(m map[string]any) { m["title"] = 7 }, 41},
		{"no content", func(m map[string]any) { m["content"] = "" }, 40},
		{"content of 201", func(m map[string]any) { m["content"] = long(201, "字") }, 41},
		{"long text style content of 129", func(m map[string]any) { m["style"] = 2; m["content"] = long(129, "a") }, 41},
		{"style 4", func(m map[string]any) { m["style"] = 4 }, 41},
		{"click type 3", func(m map[string]any) { m["click_action_type"] = 3 }, 41},
		{"URL click without url", func(m map[string]any) { m["click_action_type"] = 2 }, 40},
		{"action_parameters of 4097", func(m map[string]any) { m["action_parameters"] = `{"p":"` + long(4089, "a") + `"}` }, 41},
		{"action_parameters not an object", func(m map[string]any) { m["action_parameters"] = `[1]` }, 41},
		{"ttl over 3 days", func(m map[string]any) { m["off_line_ttl"] = 3*24*3600 + 1 }, 41},
		{"ttl 0", func(m map[string]any) { m["off_line_ttl"] = 0 }, 41},
		{"ttl a word", func(m map[string]any) { m["off_line_ttl"] = "long" }, 41},
		{"no category", func(m map[string]any) { delete(m, "category") }, 67},
		{"unknown category", func(m map[string]any) { m["category"] = "CHAT" }, 67},
		{"notify_level 3", func(m map[string]any) { m["notify_level"] = 3 }, 67},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_reg1", oppoNotification(tc.edit)), nil)
			if r.code != tc.code || r.status != 200 {
				t.Errorf("answer %d %s, want code %d with HTTP 200", r.status, r.body, tc.code)
			}
		})
	}
	// At the limits, counted in characters; numbers as strings are taken.
	okCases := []func(m map[string]any){
		func(m map[string]any) { m["title"] = long(50, "字"); m["content"] = long(200, "😀") },
		func(m map[string]any) { m["action_parameters"] = `{"p":"` + long(4088, "a") + `"}` },
		func(m map[string]any) { m["off_line_ttl"] = "259200"; m["click_action_type"] = "0" },
		func(m map[string]any) { m["off_line"] = false; m["off_line_ttl"] = 0 },
		func(m map[string]any) {
			delete(m, "notify_level")
			delete(m, "action_parameters")
			m["category"] = "MARKETING"
		},
	}
	for i, edit := range okCases {
		if r := oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_reg1", oppoNotification(edit)), nil); r.code != 0 {
			t.Errorf("ok case %d: %s", i, r.body)
		}
	}

	bad := []struct {
		name string
		form url.Values
		code int
	}{
		{"no message", url.Values{"auth_token": {tok}}, 40},
		{"message not JSON", url.Values{"auth_token": {tok}, "message": {"{"}}, 41},
		{"alias target", url.Values{"auth_token": {tok}, "message": {`{"target_type":5,"target_value":"a","notification":{}}`}}, 41},
		{"no target", url.Values{"auth_token": {tok}, "message": {`{"target_type":2,"notification":{}}`}}, 40},
		{"two targets", url.Values{"auth_token": {tok}, "message": {`{"target_type":2,"target_value":"a;b","notification":{}}`}}, 41},
		{"no notification", url.Values{"auth_token": {tok}, "message": {`{"target_type":2,"target_value":"a"}`}}, 40},
	}
	for _, tc := range bad {
		if r := oppoPost(t, hc, s, oppoUnicastPath, tc.form, nil); r.code != tc.code {
			t.Errorf("%s: %s, want code %d", tc.name, r.body, tc.code)
		}
	}

	// A dead regId.
	r = oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "invalid-reg", oppoNotification(nil)), nil)
	if r.code != oppoCodeInvalidRegID || r.status != 200 {
		t.Errorf("dead regId: %d %s", r.status, r.body)
	}
	if rec := lastRecord(t, s, push.OPPO); !slices.Equal(rec.InvalidTokens, []string{"invalid-reg"}) || rec.Delivered("") {
		t.Errorf("dead regId record = %+v", rec)
	}

	// The auth_token lives 24 hours on the Sim's clock.
	clk.Advance(24*time.Hour - time.Second)
	if r := oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_reg1", oppoNotification(nil)), nil); r.code != 0 {
		t.Errorf("token at 23:59:59: %s", r.body)
	}
	clk.Advance(time.Second)
	if r := oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_reg1", oppoNotification(nil)), nil); r.code != 11 {
		t.Errorf("token at 24h: %s, want code 11", r.body)
	}
	tok = oppoAuthToken(t, hc, s, clk.Now())
	s.ExpireAccessTokens()
	if r := oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_reg1", oppoNotification(nil)), nil); r.code != 11 {
		t.Errorf("expired by ExpireAccessTokens: %s, want code 11", r.body)
	}
}

func TestOPPOBroadcast(t *testing.T) {
	clk := newFakeClock()
	s := startSim(t, Options{Now: clk.Now})
	hc := client(t, s, false)
	tok := oppoAuthToken(t, hc, s, clk.Now())

	id := oppoSave(t, hc, s, tok, url.Values{"app_message_id": {"m-1"}, "off_line_ttl": {"600"}, "notify_level": {"16"}})
	if again := oppoSave(t, hc, s, tok, url.Values{"app_message_id": {"m-1"}}); again != id {
		t.Errorf("the same app_message_id saved twice: %s, %s", id, again)
	}
	if other := oppoSave(t, hc, s, tok, nil); other == id {
		t.Error("two saves without app_message_id share a message_id")
	}

	// 1000 regIds: 997 live, 2 dead and one repeated.
	var targets []string
	for i := range 997 {
		targets = append(targets, fmt.Sprintf("CN_reg%04d", i))
	}
	targets = append(targets, "invalid-a", "invalid-b")
	form := url.Values{"auth_token": {tok}, "message_id": {id}, "target_type": {"2"},
		"target_value": {strings.Join(targets, ";") + ";CN_reg0001"}}
	s.Reset()
	r := oppoPost(t, hc, s, oppoBroadcastPath, form, nil)
	if r.status != 200 || r.code != 0 {
		t.Fatalf("broadcast: %d %s", r.status, r.body)
	}
	var dead, repeated []string
	var gotID, task string
	_ = json.Unmarshal(r.data["10000"], &dead)
	_ = json.Unmarshal(r.data["10004"], &repeated)
	_ = json.Unmarshal(r.data["message_id"], &gotID)
	_ = json.Unmarshal(r.data["task_id"], &task)
	if !slices.Equal(dead, []string{"invalid-a", "invalid-b"}) || !slices.Equal(repeated, []string{"CN_reg0001"}) || gotID != id || task == "" {
		t.Errorf("broadcast data = %s", r.body)
	}
	recs := s.Records(push.OPPO)
	if len(recs) != 1 {
		t.Fatalf("%d records for one broadcast", len(recs))
	}
	if rec := recs[0]; len(rec.Tokens) != 999 || !slices.Equal(rec.InvalidTokens, []string{"invalid-a", "invalid-b"}) ||
		!rec.Delivered("CN_reg0500") || rec.Delivered("invalid-a") || rec.Path != oppoBroadcastPath {
		t.Errorf("record: %d tokens, invalid %v, status %d", len(rec.Tokens), rec.InvalidTokens, rec.Status)
	}
	if n := s.Count(push.OPPO); n != 997 {
		t.Errorf("Count = %d, want 997", n)
	}

	with := func(k, v string) url.Values {
		f := url.Values{"auth_token": {tok}, "message_id": {id}, "target_type": {"2"}, "target_value": {"CN_a;CN_b"}}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	cases := []struct {
		name string
		form url.Values
		code int
	}{
		{"1001 targets", with("target_value", strings.Repeat("CN_x;", 1000)+"CN_y;CN_z"), 41},
		{"no targets", with("target_value", ";;"), 40},
		{"no message_id", with("message_id", ""), 40},
		{"unknown message_id", with("message_id", "nope"), 31},
		{"all devices", with("target_type", "1"), 41},
		{"no target_type", with("target_type", ""), 40},
		{"no auth_token", with("auth_token", ""), 29},
	}
	for _, tc := range cases {
		if r := oppoPost(t, hc, s, oppoBroadcastPath, tc.form, nil); r.code != tc.code {
			t.Errorf("%s: %s, want code %d", tc.name, r.body, tc.code)
		}
	}
	if n := s.Count(push.OPPO); n != 997 {
		t.Errorf("Count = %d after refused broadcasts, want 997", n)
	}

	// save_message_content checks the notification fields and the token.
	saves := []struct {
		name string
		form url.Values
		code int
	}{
		{"no category", url.Values{"auth_token": {tok}, "title": {"a"}, "content": {"b"}}, 67},
		{"no title", url.Values{"auth_token": {tok}, "content": {"b"}, "category": {"IM"}}, 40},
		{"bad ttl", url.Values{"auth_token": {tok}, "title": {"a"}, "content": {"b"}, "category": {"IM"}, "off_line_ttl": {"x"}}, 41},
		{"bad token", url.Values{"auth_token": {"x"}, "title": {"a"}, "content": {"b"}, "category": {"IM"}}, 11},
	}
	for _, tc := range saves {
		if r := oppoPost(t, hc, s, oppoSavePath, tc.form, nil); r.code != tc.code {
			t.Errorf("save %s: %s, want code %d", tc.name, r.body, tc.code)
		}
	}

	// A saved message can be broadcast for a day.
	clk.Advance(oppoSavedMessageTTL)
	tok = oppoAuthToken(t, hc, s, clk.Now())
	if r := oppoPost(t, hc, s, oppoBroadcastPath, with("auth_token", tok), nil); r.code != 31 {
		t.Errorf("broadcast of a day-old message: %s, want code 31", r.body)
	}
}

func TestOPPODailyQuota(t *testing.T) {
	clk := newFakeClock()
	// 23:00 in China.
	clk.now = time.Date(2026, 3, 1, 23, 0, 0, 0, chinaTime)
	s := startSim(t, Options{Now: clk.Now})
	hc := client(t, s, false)
	tok := oppoAuthToken(t, hc, s, clk.Now())
	s.SetDailyQuota(push.OPPO, 3)

	unicast := func(edit func(m map[string]any)) int {
		return oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_reg", oppoNotification(edit)), nil).code
	}
	marketing := func(m map[string]any) { m["category"] = "MARKETING"; delete(m, "notify_level") }
	for i := range 2 {
		if code := unicast(marketing); code != 0 {
			t.Fatalf("public message %d: code %d", i, code)
		}
	}
	// A broadcast to 2 would pass the limit: refused whole.
	pub := oppoSave(t, hc, s, tok, url.Values{"category": {"NEWS"}})
	bc := url.Values{"auth_token": {tok}, "message_id": {pub}, "target_type": {"2"}, "target_value": {"CN_a;CN_b"}}
	if r := oppoPost(t, hc, s, oppoBroadcastPath, bc, nil); r.code != oppoCodeDailyLimit {
		t.Errorf("broadcast past the limit: %s", r.body)
	}
	if code := unicast(marketing); code != 0 {
		t.Fatalf("third public message: code %d", code)
	}
	if code := unicast(marketing); code != oppoCodeDailyLimit {
		t.Errorf("fourth public message: code %d, want 33", code)
	}
	if rec := lastRecord(t, s, push.OPPO); rec.Reason != "33" || rec.Delivered("") {
		t.Errorf("quota record = %+v", rec)
	}
	// IM and private-channel messages are not counted.
	if code := unicast(nil); code != 0 {
		t.Errorf("IM message over the quota: code %d", code)
	}
	if code := unicast(func(m map[string]any) { marketing(m); m["channel_id"] = "private_im" }); code != 0 {
		t.Errorf("private channel message over the quota: code %d", code)
	}
	// The next China day starts at midnight.
	clk.Advance(59 * time.Minute)
	if code := unicast(marketing); code != oppoCodeDailyLimit {
		t.Errorf("at 23:59: code %d, want 33", code)
	}
	clk.Advance(time.Minute)
	if r := oppoPost(t, hc, s, oppoBroadcastPath, bc, nil); r.code != 0 {
		t.Errorf("broadcast on the next day: %s", r.body)
	}
	if code := unicast(marketing); code != 0 {
		t.Errorf("third message of the new day: code %d", code)
	}
	if code := unicast(marketing); code != oppoCodeDailyLimit {
		t.Errorf("fourth message of the new day: code %d", code)
	}
	s.SetDailyQuota(push.OPPO, 0)
	if code := unicast(marketing); code != 0 {
		t.Errorf("unlimited: code %d", code)
	}
}

func TestOPPOFaults(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	tok := oppoAuthToken(t, hc, s, time.Now())
	id := oppoSave(t, hc, s, tok, nil)

	// Token faults with a dead-regId code make a broadcast a partial success.
	for _, f := range []Fault{
		{Provider: push.OPPO, Token: "CN_b", Status: 400, Reason: "10000"},
		{Provider: push.OPPO, Token: "CN_c", Status: 400, Reason: "10001"},
	} {
		if err := s.SetFault(f); err != nil {
			t.Fatal(err)
		}
	}
	bc := url.Values{"auth_token": {tok}, "message_id": {id}, "target_type": {"2"}, "target_value": {"CN_a;CN_b;CN_c"}}
	r := oppoPost(t, hc, s, oppoBroadcastPath, bc, nil)
	var dead, unsub []string
	_ = json.Unmarshal(r.data["10000"], &dead)
	_ = json.Unmarshal(r.data["10001"], &unsub)
	if r.code != 0 || !slices.Equal(dead, []string{"CN_b"}) || !slices.Equal(unsub, []string{"CN_c"}) {
		t.Errorf("partial broadcast: %s", r.body)
	}
	if rec := lastRecord(t, s, push.OPPO); !slices.Equal(rec.InvalidTokens, []string{"CN_b", "CN_c"}) || !rec.Delivered("CN_a") {
		t.Errorf("partial record = %+v", rec)
	}
	// On a unicast the same fault is the call's code.
	r = oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_b", oppoNotification(nil)), nil)
	if r.code != 10000 || r.status != 400 {
		t.Errorf("unicast to a faulted regId: %d %s", r.status, r.body)
	}
	if rec := lastRecord(t, s, push.OPPO); !slices.Equal(rec.InvalidTokens, []string{"CN_b"}) {
		t.Errorf("unicast fault record = %+v", rec)
	}
	s.ClearFaults()

	// A provider-wide fault answers its status with OPPO's code for it.
	if err := s.SetFault(Fault{Provider: push.OPPO, Status: 503, RetryAfter: 3 * time.Second, Times: 1}); err != nil {
		t.Fatal(err)
	}
	r = oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_a", oppoNotification(nil)), nil)
	if r.code != -1 || r.status != 503 || r.header.Get("Retry-After") != "3" {
		t.Errorf("503 fault: %d %v %s", r.status, r.header, r.body)
	}
	if err := s.SetFault(Fault{Provider: push.OPPO, Status: 429, Reason: "33", Times: 1}); err != nil {
		t.Fatal(err)
	}
	if r := oppoPost(t, hc, s, oppoBroadcastPath, bc, nil); r.code != 33 || r.status != 429 {
		t.Errorf("quota fault on a broadcast: %d %s", r.status, r.body)
	}
	if r := oppoPost(t, hc, s, oppoUnicastPath, oppoUnicastForm(t, tok, "CN_a", oppoNotification(nil)), nil); r.code != 0 {
		t.Errorf("after the faults: %s", r.body)
	}
}

func TestOPPOConfig(t *testing.T) {
	s := startSim(t, Options{})
	yaml := s.ConfigYAML(t.TempDir())
	for _, want := range []string{
		"  oppo:\n",
		"    app_key: " + strconv.Quote(s.Credentials().OPPO.AppKey),
		"    master_secret: " + strconv.Quote(s.Credentials().OPPO.MasterSecret),
		"    endpoint: " + strconv.Quote(s.Endpoint(push.OPPO)),
		`    category: "IM"`,
		"    ca_file: ",
	} {
		if !strings.Contains(yaml, want) {
			t.Errorf("config lacks %q:\n%s", want, yaml)
		}
	}
}

// FuzzOPPONotice checks that a notification the simulator accepts always has
// the fields OPPO requires within their limits.
func FuzzOPPONotice(f *testing.F) {
	f.Add(`{"title":"a","content":"b","category":"IM"}`)
	f.Add(`{"title":"a","content":"b","category":"IM","notify_level":"16","off_line_ttl":"60"}`)
	f.Add(`{"title":1,"content":null,"category":"X","style":3,"click_action_type":2}`)
	f.Add(`{"title":"a","content":"b","category":"NEWS","action_parameters":"{\"k\":1}","off_line":"false","off_line_ttl":0}`)
	f.Fuzz(func(t *testing.T, body string) {
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &m) != nil {
			return
		}
		n, code, _ := parseOPPONotice(jsonFields(m))
		if code != oppoCodeSuccess {
			if _, ok := oppoCodes[code]; !ok {
				t.Fatalf("refused with unknown code %d", code)
			}
			return
		}
		var title, content string
		_ = json.Unmarshal(m["title"], &title)
		_ = json.Unmarshal(m["content"], &content)
		if !slices.Contains(oppoServiceCategories, n.category) && !slices.Contains(oppoContentCategories, n.category) {
			t.Fatalf("accepted category %q", n.category)
		}
		if len([]rune(title)) > oppoMaxTitle || content == "" {
			t.Fatalf("accepted title %q content %q", title, content)
		}
	})
}
