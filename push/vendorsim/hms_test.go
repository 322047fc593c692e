package vendorsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

// hmsGrant runs the client-credentials grant with the given id and secret.
func hmsGrant(t *testing.T, hc *http.Client, s *Sim, id, secret string) reply {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	return do(t, hc, http.MethodPost, s.AuthEndpoint(push.HMS), h, []byte(form.Encode()))
}

// hmsAccessToken returns a fresh access token for the Sim's HMS app.
func hmsAccessToken(t *testing.T, hc *http.Client, s *Sim) string {
	t.Helper()
	c := s.Credentials().HMS
	r := hmsGrant(t, hc, s, c.ClientID, c.ClientSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &tok) != nil || tok.AccessToken == "" || tok.ExpiresIn != 3600 || tok.TokenType != "Bearer" {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	return tok.AccessToken
}

func hmsSend(t *testing.T, hc *http.Client, s *Sim, accessToken, clientID, body string) reply {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json;charset=UTF-8"}}
	if accessToken != "" {
		h.Set("Authorization", "Bearer "+accessToken)
	}
	return do(t, hc, http.MethodPost, s.Endpoint(push.HMS)+"/v1/"+clientID+"/messages:send", h, []byte(body))
}

// hmsNotification is a notification message to tokens; android adds members to
// the android block (a JSON fragment ending in a comma, or "").
func hmsNotification(android string, tokens ...string) string {
	tj, _ := json.Marshal(tokens)
	return `{"validate_only":false,"message":{"token":` + string(tj) + `,"data":"{\"message_id\":\"m1\"}",` +
		`"android":{` + android + `"collapse_key":-1,"urgency":"HIGH","ttl":"86400s","notification":{"title":"Alice","body":"hi",` +
		`"channel_id":"im","default_sound":true,"notify_id":7,"importance":"NORMAL","click_action":{"type":3}}}}}`
}

// checkHMS checks a Huawei answer's status and code and returns its msg.
func checkHMS(t *testing.T, r reply, status int, code string) string {
	t.Helper()
	var b struct {
		Code      *string `json:"code"`
		Msg       string  `json:"msg"`
		RequestID string  `json:"requestId"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", r.status, r.body, err)
	}
	got := ""
	if b.Code != nil {
		got = *b.Code
	}
	if r.status != status || got != code || b.RequestID == "" {
		t.Fatalf("answer %d %s, want %d with code %q and a requestId", r.status, r.body, status, code)
	}
	return b.Msg
}

func hmsTokens(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d-IQAAAACy0kY", prefix, i)
	}
	return out
}

func TestHMSGrantAndSend(t *testing.T) {
	clock := newFakeClock()
	s := startSim(t, Options{Now: clock.Now})
	hc := client(t, s, false)
	id := s.Credentials().HMS.ClientID
	tok := hmsAccessToken(t, hc, s)

	r := hmsSend(t, hc, s, tok, id, hmsNotification("", "tok-1"))
	if msg := checkHMS(t, r, 200, "80000000"); msg != "Success" {
		t.Errorf("msg %q", msg)
	}
	rec := lastRecord(t, s, push.HMS)
	if rec.Path != "/v1/"+id+"/messages:send" || rec.Token != "tok-1" || len(rec.Tokens) != 1 || rec.Reason != "" || !rec.Delivered("tok-1") {
		t.Fatalf("record %+v", rec)
	}
	if s.Count(push.HMS) != 1 {
		t.Fatalf("Count = %d", s.Count(push.HMS))
	}

	// No token is 80200001; an unknown one 80200003; another app's path 80200001.
	checkHMS(t, hmsSend(t, hc, s, "", id, hmsNotification("", "tok-1")), 401, "80200001")
	checkHMS(t, hmsSend(t, hc, s, "not-issued", id, hmsNotification("", "tok-1")), 401, "80200003")
	checkHMS(t, hmsSend(t, hc, s, tok, "10000001", hmsNotification("", "tok-1")), 401, "80200001")

	// Access tokens expire on the Sim's clock, and all at once with ExpireAccessTokens.
	clock.Advance(59 * time.Minute)
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "tok-1")), 200, "80000000")
	clock.Advance(2 * time.Minute)
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "tok-1")), 401, "80200003")
	tok = hmsAccessToken(t, hc, s)
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "tok-1")), 200, "80000000")
	s.ExpireAccessTokens()
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "tok-1")), 401, "80200003")
	if rec := lastRecord(t, s, push.HMS); rec.Status != 401 || rec.Reason != "80200003" || rec.Token != "tok-1" {
		t.Fatalf("401 record %+v", rec)
	}

	// Unknown paths are 404.
	r = do(t, hc, http.MethodPost, s.Endpoint(push.HMS)+"/v2/x/messages:send", nil, nil)
	if r.status != 404 {
		t.Fatalf("v2 path: %d", r.status)
	}
}

func TestHMSGrantChecksClientCredentials(t *testing.T) {
	// A secret with characters that must be URL-encoded in the form.
	creds := *testCreds(t)
	creds.HMS.ClientSecret = "s3cr+t/=&% é"
	s := startSim(t, Options{Credentials: &creds})
	hc := client(t, s, false)
	hmsAccessToken(t, hc, s)

	cases := []struct {
		name, grantType, id, secret string
		wantError                   float64
		wantSub                     float64
		wantDesc                    string
	}{
		{"wrong secret", "client_credentials", creds.HMS.ClientID, "nope", 1101, 12304, "invalid client_secret"},
		{"secret not decoded", "client_credentials", creds.HMS.ClientID, url.QueryEscape(creds.HMS.ClientSecret), 1101, 12304, "invalid client_secret"},
		{"wrong client id", "client_credentials", "10000001", creds.HMS.ClientSecret, 1101, 0, "invalid client_id"},
		{"wrong grant type", "password", creds.HMS.ClientID, creds.HMS.ClientSecret, 1101, 0, "invalid grant_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {tc.grantType}, "client_id": {tc.id}, "client_secret": {tc.secret}}
			r := do(t, hc, http.MethodPost, s.AuthEndpoint(push.HMS), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
			if r.status != 400 || jsonField(t, r.body, "error") != tc.wantError || jsonField(t, r.body, "error_description") != tc.wantDesc {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if sub, _ := jsonField(t, r.body, "sub_error").(float64); sub != tc.wantSub {
				t.Fatalf("sub_error in %s, want %v", r.body, tc.wantSub)
			}
		})
	}
	if r := do(t, hc, http.MethodGet, s.AuthEndpoint(push.HMS), nil, nil); r.status != 405 {
		t.Fatalf("GET token endpoint: %d %s", r.status, r.body)
	}
}

func TestHMSMessageValidation(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	id := s.Credentials().HMS.ClientID
	tok := hmsAccessToken(t, hc, s)
	notification := func(n string) string {
		return `{"message":{"token":["t1"],"android":{"notification":` + n + `}}}`
	}
	big := strings.Repeat("x", 4100)

	cases := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"not JSON", `{"message":`, 400, "80100003"},
		{"array body", `[1]`, 400, "80100003"},
		{"misspelt message", `{"messager":{"token":["t1"],"data":"x"}}`, 400, "80300010"},
		{"no target", `{"message":{"data":"x"}}`, 400, "80300010"},
		{"empty token array", `{"message":{"token":[],"data":"x"}}`, 400, "80300010"},
		{"1001 tokens", func() string {
			b, _ := json.Marshal(hmsTokens("t", 1001))
			return `{"message":{"token":` + string(b) + `,"data":"x"}}`
		}(), 400, "80300010"},
		{"token not an array", `{"message":{"token":"t1","data":"x"}}`, 400, "80100003"},
		{"token entry not a string", `{"message":{"token":["t1",2],"data":"x"}}`, 400, "80100003"},
		{"token and topic", `{"message":{"token":["t1"],"topic":"news","data":"x"}}`, 400, "80100001"},
		{"data not a string", `{"message":{"token":["t1"],"data":{"a":"b"}}}`, 400, "80100003"},
		{"neither notification nor data", `{"message":{"token":["t1"],"android":{"urgency":"HIGH"}}}`, 400, "80100003"},
		{"validate_only not a bool", `{"validate_only":"no","message":{"token":["t1"],"data":"x"}}`, 400, "80100003"},
		{"bad urgency", `{"message":{"token":["t1"],"data":"x","android":{"urgency":"URGENT"}}}`, 400, "80100001"},
		{"bad category", `{"message":{"token":["t1"],"data":"x","android":{"category":"CHAT"}}}`, 400, "80100001"},
		{"ttl without s", `{"message":{"token":["t1"],"data":"x","android":{"ttl":"3600"}}}`, 400, "80100001"},
		{"ttl over 15 days", `{"message":{"token":["t1"],"data":"x","android":{"ttl":"1296001s"}}}`, 400, "80100001"},
		{"ttl a number", `{"message":{"token":["t1"],"data":"x","android":{"ttl":3600}}}`, 400, "80100003"},
		{"collapse_key out of range", `{"message":{"token":["t1"],"data":"x","android":{"collapse_key":101}}}`, 400, "80100013"},
		{"collapse_key a string", `{"message":{"token":["t1"],"data":"x","android":{"collapse_key":"-1"}}}`, 400, "80100003"},
		{"no click_action", notification(`{"title":"a","body":"b"}`), 400, "80100003"},
		{"click_action type 1 without intent", notification(`{"title":"a","body":"b","click_action":{"type":1}}`), 400, "80100001"},
		{"click_action type 2 without url", notification(`{"title":"a","body":"b","click_action":{"type":2}}`), 400, "80100001"},
		{"click_action type 9", notification(`{"title":"a","body":"b","click_action":{"type":9}}`), 400, "80100001"},
		{"no body", notification(`{"title":"a","click_action":{"type":3}}`), 400, "80100001"},
		{"bad importance", notification(`{"title":"a","body":"b","importance":"HIGH","click_action":{"type":3}}`), 400, "80100001"},
		{"badge without class", notification(`{"title":"a","body":"b","badge":{"add_num":1},"click_action":{"type":3}}`), 400, "80100001"},
		{"badge add_num 100", notification(`{"title":"a","body":"b","badge":{"add_num":100,"class":"a.Main"},"click_action":{"type":3}}`), 400, "80100001"},
		{"notify_id a string", notification(`{"title":"a","body":"b","notify_id":"7","click_action":{"type":3}}`), 400, "80100003"},
		{"notification data not JSON", `{"message":{"token":["t1"],"data":"plain","android":{"notification":{"title":"a","body":"b","click_action":{"type":3}}}}}`, 400, "80100001"},
		{"too large", `{"message":{"token":["t1"],"data":"` + big + `"}}`, 400, "80300008"},
		{"title in message.notification", `{"message":{"token":["t1"],"notification":{"title":"a","body":"b"},"android":{"notification":{"click_action":{"type":3}}}}}`, 200, "80000000"},
		{"click_action type 1 with action", notification(`{"title":"a","body":"b","click_action":{"type":1,"action":"open"}}`), 200, "80000000"},
		{"data message", `{"message":{"token":["t1"],"data":"plain text","android":{"urgency":"NORMAL","category":"VOIP","ttl":"0.5s"}}}`, 200, "80000000"},
		{"topic", `{"message":{"topic":"news","data":"x"}}`, 200, "80000000"},
		{"unknown fields ignored", `{"extra":1,"message":{"token":["t1"],"data":"x","android":{"fast_app_target":2}}}`, 200, "80000000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := hmsSend(t, hc, s, tok, id, tc.body)
			checkHMS(t, r, tc.status, tc.code)
			if rec := lastRecord(t, s, push.HMS); rec.Status != tc.status || (tc.status != 200 && rec.Reason != tc.code) {
				t.Errorf("record status %d reason %q", rec.Status, rec.Reason)
			}
		})
	}

	// A body just under the limit passes however many tokens it carries.
	tokens := hmsTokens("t", 1000)
	tj, _ := json.Marshal(tokens)
	filler := strings.Repeat("y", 4096-len(`{"message":{"token":,"data":""}}`))
	if r := hmsSend(t, hc, s, tok, id, `{"message":{"token":`+string(tj)+`,"data":"`+filler+`"}}`); r.status != 200 {
		t.Fatalf("4096-byte body with 1000 tokens: %d %s", r.status, r.body)
	}
	if r := hmsSend(t, hc, s, tok, id, `{"message":{"token":`+string(tj)+`,"data":"`+filler+`z"}}`); r.status != 400 {
		t.Fatalf("4097-byte body: %d %s", r.status, r.body)
	}
}

func TestHMSInvalidTokens(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	id := s.Credentials().HMS.ClientID
	tok := hmsAccessToken(t, hc, s)

	// A batch of 1000 with two invalid tokens: a partial success, in one record.
	tokens := hmsTokens("t", 1000)
	tokens[10], tokens[500] = "invalid-a", "invalid-b"
	r := hmsSend(t, hc, s, tok, id, hmsNotification("", tokens...))
	msg := checkHMS(t, r, 200, "80100000")
	var counts struct {
		Success       int      `json:"success"`
		Failure       int      `json:"failure"`
		IllegalTokens []string `json:"illegal_tokens"`
	}
	if err := json.Unmarshal([]byte(msg), &counts); err != nil || counts.Success != 998 || counts.Failure != 2 ||
		strings.Join(counts.IllegalTokens, ",") != "invalid-a,invalid-b" {
		t.Fatalf("msg %q (%v)", msg, err)
	}
	rec := lastRecord(t, s, push.HMS)
	if len(rec.Tokens) != 1000 || rec.Token != "" || strings.Join(rec.InvalidTokens, ",") != "invalid-a,invalid-b" ||
		rec.Reason != "80100000" || !rec.Delivered(tokens[0]) || rec.Delivered("invalid-a") {
		t.Fatalf("record: %d tokens, invalid %v, reason %q", len(rec.Tokens), rec.InvalidTokens, rec.Reason)
	}
	if s.Count(push.HMS) != 998 {
		t.Fatalf("Count = %d, want 998", s.Count(push.HMS))
	}

	// Every token invalid: 80300007, single or batch.
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "invalid-x")), 400, "80300007")
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "invalid-x", "invalid-y")), 400, "80300007")
	if rec := lastRecord(t, s, push.HMS); len(rec.InvalidTokens) != 2 || rec.Status != 400 {
		t.Fatalf("record %+v", rec)
	}

	// Faults naming tokens with 80300007 (or a bare 400) make them invalid.
	mustSetFault(t, s, Fault{Provider: push.HMS, Token: "t-dead", Reason: "80300007", Status: 400})
	mustSetFault(t, s, Fault{Provider: push.HMS, Token: "t-gone", Status: 400, Times: 1})
	r = hmsSend(t, hc, s, tok, id, hmsNotification("", "t-ok", "t-dead", "t-gone"))
	msg = checkHMS(t, r, 200, "80100000")
	if !strings.Contains(msg, `"illegal_tokens":["t-dead","t-gone"]`) {
		t.Fatalf("msg %s", msg)
	}
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "t-dead")), 400, "80300007")
	// The fault is still served as a message: a bad one is refused as usual.
	checkHMS(t, hmsSend(t, hc, s, tok, id, `{"message":{"token":["t-dead","t-ok"]}}`), 400, "80100003")
	s.ClearFaults()

	// Other faults answer in Huawei's shape.
	for _, tc := range []struct {
		f      Fault
		status int
		code   string
	}{
		{Fault{Provider: push.HMS, Status: 500}, 500, "81000001"},
		{Fault{Provider: push.HMS, Status: 401}, 401, "80200003"},
		{Fault{Provider: push.HMS, Status: 400}, 400, "80100001"},
		{Fault{Provider: push.HMS, Status: 400, Reason: "80300002"}, 400, "80300002"},
		{Fault{Provider: push.HMS, Status: 503, RetryAfter: 30 * time.Second}, 503, ""},
		{Fault{Provider: push.HMS, Token: "t-ok", Status: 502}, 502, "81000001"},
	} {
		mustSetFault(t, s, tc.f)
		r := hmsSend(t, hc, s, tok, id, hmsNotification("", "t-ok", "t-2"))
		checkHMS(t, r, tc.status, tc.code)
		if tc.f.RetryAfter != 0 && r.header.Get("Retry-After") != "30" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
		s.ClearFaults()
	}
}

func TestHMSDailyQuota(t *testing.T) {
	// 15:30 UTC is 23:30 in China: the quota day ends in 30 minutes.
	clock := &fakeClock{now: time.Date(2025, 6, 1, 15, 30, 0, 0, time.UTC)}
	s := startSim(t, Options{Now: clock.Now})
	hc := client(t, s, false)
	id := s.Credentials().HMS.ClientID
	tok := hmsAccessToken(t, hc, s)
	s.SetDailyQuota(push.HMS, 3)

	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "a", "b")), 200, "80000000")
	// IM and the other service categories are not counted.
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification(`"category":"IM",`, hmsTokens("im", 10)...)), 200, "80000000")
	// Two more do not fit; one does (an invalid token is not a message).
	r := hmsSend(t, hc, s, tok, id, hmsNotification(`"category":"MARKETING",`, "c", "d"))
	checkHMS(t, r, 503, "")
	if ra := r.header.Get("Retry-After"); ra != "1800" {
		t.Fatalf("Retry-After %q, want 1800 (until midnight China time)", ra)
	}
	if rec := lastRecord(t, s, push.HMS); rec.Status != 503 || rec.Reason != "FlowControl" {
		t.Fatalf("record %+v", rec)
	}
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification(`"category":"MARKETING",`, "c", "invalid-d")), 200, "80100000")
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "e")), 503, "")
	// validate_only is not counted.
	dry := strings.Replace(hmsNotification("", "e"), `"validate_only":false`, `"validate_only":true`, 1)
	checkHMS(t, hmsSend(t, hc, s, tok, id, dry), 200, "80000000")
	if rec := lastRecord(t, s, push.HMS); !rec.DryRun || rec.Delivered("e") {
		t.Fatalf("validate_only record %+v", rec)
	}

	// Midnight China time starts a new day.
	clock.Advance(29 * time.Minute)
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "e")), 503, "")
	clock.Advance(time.Minute)
	tok = hmsAccessToken(t, hc, s)
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "e", "f", "g")), 200, "80000000")
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "h")), 503, "")

	// 0 is unlimited.
	s.SetDailyQuota(push.HMS, 0)
	checkHMS(t, hmsSend(t, hc, s, tok, id, hmsNotification("", "h")), 200, "80000000")
}

func TestHMSConfigSnippet(t *testing.T) {
	s := startSim(t, Options{})
	yaml := s.ConfigYAML(t.TempDir())
	c := s.Credentials().HMS
	for _, want := range []string{
		"  hms:\n",
		fmt.Sprintf("client_id: %q", c.ClientID),
		fmt.Sprintf("client_secret: %q", c.ClientSecret),
		fmt.Sprintf("endpoint: %q", s.Endpoint(push.HMS)),
		fmt.Sprintf("auth_endpoint: %q", s.AuthEndpoint(push.HMS)),
	} {
		if !strings.Contains(yaml, want) {
			t.Errorf("config has no %q:\n%s", want, yaml)
		}
	}
	if s.AuthEndpoint(push.HMS) != s.URL()+"/hms/oauth2/v3/token" {
		t.Errorf("AuthEndpoint = %q", s.AuthEndpoint(push.HMS))
	}
}

// FuzzHMSSendBody checks the messages:send parser: every answer is Huawei's
// JSON with a known code, and an accepted message has 1 to 1000 targets.
func FuzzHMSSendBody(f *testing.F) {
	s := newFuzzSim(f)
	v := &hmsVendor{env: testEnv(s, push.HMS), clientID: s.creds.HMS.ClientID, clientSecret: s.creds.HMS.ClientSecret}
	f.Add([]byte(hmsNotification("", "t1", "invalid-2")))
	f.Add([]byte(hmsNotification(`"category":"IM",`, "invalid-1")))
	f.Add([]byte(`{"message":{"token":["t1"],"data":"x","android":{"ttl":"1.5s","collapse_key":100}}}`))
	f.Add([]byte(`{"message":{"topic":"news","condition":"x"}}`))
	f.Add([]byte(`{"message":{"token":["t"],"notification":{"title":1}}}`))
	f.Add([]byte(`{"message":null}`))
	f.Add([]byte(`[]`))
	known := map[string]bool{"80000000": true, "80100000": true, "80100001": true, "80100003": true,
		"80100013": true, "80300007": true, "80300008": true, "80300010": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/v1/" + v.clientID + "/messages:send"}, Header: http.Header{}}
		targets := v.targets(r, body)
		a := v.serve(r, body, targets)
		var b hmsBody
		if err := json.Unmarshal(a.body, &b); err != nil {
			t.Fatalf("answer %q is not JSON: %v", a.body, err)
		}
		if !known[b.Code] {
			t.Fatalf("code %q (status %d) for %q", b.Code, a.status, body)
		}
		switch a.status {
		case http.StatusOK:
			if len(targets) == 0 || len(targets) > hmsMaxTokens {
				t.Fatalf("accepted %q with %d targets", body, len(targets))
			}
		case http.StatusBadRequest:
		default:
			t.Fatalf("status %d for %q", a.status, body)
		}
	})
}
