package vivo

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
)

const (
	testAppID     = 104357
	testAppKey    = "app-key-0123456789abcdef"
	testAppSecret = "app-secret-fedcba9876543210"
	testRegID     = "16111111111111111111111"
)

// newClock is a settable clock for Options.Now.
func newClock() *vendortest.Clock {
	return vendortest.NewClock(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC))
}

// request is one call the fake vivo received.
type request struct {
	path      string
	authToken string
	body      map[string]any
}

// fakeVivo is a TLS server on loopback playing vivo's auth and send API. It
// issues authTokens "token-1-…", "token-2-…" for a correct sign and accepts only
// those not revoked; each send path answers with answer[path] when set.
type fakeVivo struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string
	clock  *vendortest.Clock

	mu        sync.Mutex
	authCalls int
	authGate  *vendortest.Gate
	authFail  func(w http.ResponseWriter) bool // answers the auth call itself when true
	signErrs  []string
	valid     map[string]bool
	requests  []request
	answer    map[string]func(w http.ResponseWriter, body map[string]any)
}

func newFakeVivo(t *testing.T, clk *vendortest.Clock) *fakeVivo {
	t.Helper()
	f := &fakeVivo{t: t, clock: clk, valid: map[string]bool{}, answer: map[string]func(http.ResponseWriter, map[string]any){}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /message/auth", f.auth)
	mux.HandleFunc("POST /message/{call}", f.send)
	f.srv, f.caFile = vendortest.TLSServer(t, mux)
	t.Cleanup(func() {
		for _, e := range f.signErrors() {
			t.Errorf("fake vivo refused the auth call: %s", e)
		}
	})
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

// auth checks the sign as vivo does and issues a token.
func (f *fakeVivo) auth(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.authCalls++
	n := f.authCalls
	gate, fail := f.authGate, f.authFail
	f.mu.Unlock()
	if !gate.Pass(r.Context()) {
		return
	}
	if fail != nil && fail(w) {
		return
	}
	var body struct {
		AppID     json.Number `json:"appId"`
		AppKey    string      `json:"appKey"`
		Timestamp json.Number `json:"timestamp"`
		Sign      string      `json:"sign"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	err := dec.Decode(&body)
	sum := md5.Sum([]byte(body.AppID.String() + body.AppKey + body.Timestamp.String() + testAppSecret))
	problem := ""
	switch {
	case err != nil:
		problem = err.Error()
	case r.Header.Get("Content-Type") != "application/json; charset=utf-8":
		problem = "content type " + r.Header.Get("Content-Type")
	case body.AppID.String() != strconv.Itoa(testAppID) || body.AppKey != testAppKey:
		problem = "appId/appKey " + body.AppID.String() + "/" + body.AppKey
	case body.Timestamp.String() != strconv.FormatInt(f.clock.Now().UnixMilli(), 10):
		problem = "timestamp " + body.Timestamp.String() + " is not the client clock's"
	case body.Sign != hex.EncodeToString(sum[:]):
		problem = "sign " + body.Sign
	}
	if problem != "" {
		f.mu.Lock()
		f.signErrs = append(f.signErrs, problem)
		f.mu.Unlock()
		writeJSON(w, map[string]any{"result": 10207, "desc": "sign 不合法"})
		return
	}
	token := fmt.Sprintf("token-%d-%s", n, strings.Repeat("x", 24))
	f.mu.Lock()
	f.valid[token] = true
	f.mu.Unlock()
	writeJSON(w, map[string]any{"result": 0, "desc": "请求成功", "authToken": token})
}

func (f *fakeVivo) send(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("%s: body is not JSON: %v", r.URL.Path, err)
	}
	token := r.Header.Get("authToken")
	f.mu.Lock()
	f.requests = append(f.requests, request{path: r.URL.Path, authToken: token, body: body})
	ok := f.valid[token]
	answer := f.answer[r.URL.Path]
	f.mu.Unlock()
	switch {
	case !ok:
		writeJSON(w, map[string]any{"result": 10000, "desc": "权限认证失败"})
	case answer != nil:
		answer(w, body)
	case r.URL.Path == "/message/saveListPayload":
		writeJSON(w, map[string]any{"result": 0, "desc": "请求成功", "taskId": 7788})
	case r.URL.Path == "/message/pushToList":
		var dead []map[string]any
		for _, id := range body["regIds"].([]any) {
			if strings.HasPrefix(id.(string), "dead-") {
				dead = append(dead, map[string]any{"status": 1, "userid": id})
			}
		}
		writeJSON(w, map[string]any{"result": 0, "desc": "请求成功", "taskId": "7788", "invalidUsers": dead})
	default:
		writeJSON(w, map[string]any{"result": 0, "desc": "请求成功", "taskId": "1234567"})
	}
}

func (f *fakeVivo) setAnswer(path string, a func(w http.ResponseWriter, body map[string]any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer[path] = a
}

func (f *fakeVivo) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.valid)
}

func (f *fakeVivo) auths() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.authCalls
}

func (f *fakeVivo) sent() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

func (f *fakeVivo) signErrors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.signErrs...)
}

// options are Options that talk to f.
func (f *fakeVivo) options() Options {
	return Options{AppID: testAppID, AppKey: testAppKey, AppSecret: testAppSecret, Endpoint: f.srv.URL,
		CAFile: f.caFile, Timeout: 10 * time.Second, Now: f.clock.Now}
}

func newClient(t *testing.T, f *fakeVivo, edit func(*Options)) *Client {
	t.Helper()
	return vendortest.NewClient(t, New, f.options(), edit)
}

func intPtr(n int) *int { return &n }

// requestIDRE is n.ID, a dash and 16 hex digits.
func requestIDRE(id string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.QuoteMeta(id) + "-[0-9a-f]{16}$")
}

func TestSendMapsFields(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, func(o *Options) { o.Category = "IM" })
	r := c.Send(context.Background(), &push.Notification{
		ID: "outbox-42", Token: testRegID, Title: "Ada", Body: "hello", Payload: `{"m":1}`,
		Badge: 3, Sound: "ping", ChannelID: "im", Importance: "NORMAL", CollapseID: "c1",
		Priority: push.PriorityHigh, Expiration: clk.Now().Add(time.Hour),
		Data: map[string]string{"message_id": "m1", "seq": "9"},
	})
	if r.Verdict != push.Delivered || r.Status != 200 || r.Reason != "" {
		t.Fatalf("result = %+v, want delivered", r)
	}
	s := f.sent()
	if len(s) != 1 || s[0].path != "/message/send" {
		t.Fatalf("requests = %+v, want one /message/send", s)
	}
	body := s[0].body
	rid, _ := body["requestId"].(string)
	if !requestIDRE("outbox-42").MatchString(rid) {
		t.Errorf("requestId = %q, want the notification ID and a random suffix", rid)
	}
	want := map[string]any{
		"appId": float64(testAppID), "regId": testRegID, "notifyType": 4.0, "title": "Ada", "content": "hello",
		"timeToLive": 3600.0, "skipType": 1.0, "networkType": -1.0, "classification": 1.0, "category": "IM", "pushMode": 0.0,
		"clientCustomMap": map[string]any{"payload": `{"m":1}`, "message_id": "m1", "seq": "9"},
		"requestId":       rid,
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %v\nwant %v", body, want)
	}

	ex := r.Exchange
	if ex == nil || ex.Method != http.MethodPost || ex.URL != f.srv.URL+"/message/send" || ex.Status != 200 ||
		!strings.Contains(ex.Answer, `"result":0`) {
		t.Fatalf("exchange = %+v, want the request as sent and the answer", ex)
	}
	var exBody map[string]any
	if err := json.Unmarshal([]byte(ex.Body), &exBody); err != nil || !reflect.DeepEqual(exBody, body) {
		t.Errorf("exchange body %s, want the body sent", ex.Body)
	}
	if got := ex.Headers["authtoken"]; got != push.MaskSecret(s[0].authToken) || strings.Contains(got, s[0].authToken) {
		t.Errorf("exchange authtoken = %q, want the token masked", got)
	}
	for _, secret := range []string{testAppSecret, s[0].authToken} {
		if strings.Contains(fmt.Sprint(ex), secret) {
			t.Errorf("exchange shows the secret %q", secret)
		}
	}
}

func TestSendDefaultsAndOverrides(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, func(o *Options) { o.Classification = intPtr(0); o.Category = "MARKETING" })
	send := func(n push.Notification) map[string]any {
		t.Helper()
		n.Token, n.Title, n.Body = testRegID, "t", "b"
		if r := c.Send(context.Background(), &n); r.Verdict != push.Delivered {
			t.Fatalf("result = %+v", r)
		}
		s := f.sent()
		return s[len(s)-1].body
	}

	b := send(push.Notification{})
	if b["classification"] != 0.0 || b["category"] != "MARKETING" || b["notifyType"] != 4.0 {
		t.Errorf("option defaults: %v", b)
	}
	for _, k := range []string{"timeToLive", "clientCustomMap", "regIds"} {
		if _, ok := b[k]; ok {
			t.Errorf("%s sent without a reason: %v", k, b)
		}
	}
	if rid, _ := b["requestId"].(string); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(rid) {
		t.Errorf("requestId without a notification ID = %q", rid)
	}

	b = send(push.Notification{Classification: intPtr(1), Category: "IM", Priority: push.PriorityLow})
	if b["classification"] != 1.0 || b["category"] != "IM" || b["notifyType"] != 1.0 {
		t.Errorf("notification overrides: %v", b)
	}

	for _, tc := range []struct {
		exp  time.Time
		want float64
	}{
		{clk.Now().Add(-time.Hour), 60},
		{clk.Now().Add(10 * time.Second), 60},
		{clk.Now().Add(90*time.Minute + 500*time.Millisecond), 5401},
		{clk.Now().Add(30 * 24 * time.Hour), 7 * 24 * 3600},
	} {
		if b := send(push.Notification{Expiration: tc.exp}); b["timeToLive"] != tc.want {
			t.Errorf("expiration in %v: timeToLive = %v, want %v", tc.exp.Sub(clk.Now()), b["timeToLive"], tc.want)
		}
	}

	// Two sends of one notification carry two requestIds.
	n := push.Notification{ID: "same", Token: testRegID, Title: "t", Body: "b"}
	c.Send(context.Background(), &n)
	c.Send(context.Background(), &n)
	s := f.sent()
	if a, b := s[len(s)-2].body["requestId"], s[len(s)-1].body["requestId"]; a == b {
		t.Errorf("requestId %v reused", a)
	}
	// A long ID is cut so the requestId stays within maxRequestID.
	n.ID = strings.Repeat("长", 40)
	c.Send(context.Background(), &n)
	s = f.sent()
	if rid := s[len(s)-1].body["requestId"].(string); len(rid) > maxRequestID || !strings.HasPrefix(rid, "长") {
		t.Errorf("requestId %q (%d bytes)", rid, len(rid))
	}
}

func TestLongTitleAndContentAreCut(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, nil)
	title := strings.Repeat("标", 30)                   // width 60
	content := strings.Repeat("a", 99) + "标题" + "tail" // width 105
	if r := c.Send(context.Background(), &push.Notification{Token: testRegID, Title: title, Body: content}); r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	b := f.sent()[0].body
	if got, want := b["title"], strings.Repeat("标", 19)+"…"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	if got, want := b["content"], strings.Repeat("a", 99)+"…"; got != want {
		t.Errorf("content = %q, want %q", got, want)
	}
	if w := textWidth(b["title"].(string)); w > maxTitle {
		t.Errorf("title width %d", w)
	}
}

func TestLocalRefusals(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, nil)
	many := map[string]string{}
	for i := range 10 {
		many[fmt.Sprint("k", i)] = "v"
	}
	tooMany := make([]string, maxListTargets+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("reg-", i)
	}
	for _, tc := range []struct {
		n      push.Notification
		reason string
	}{
		{push.Notification{Title: "t", Body: "b"}, "MissingToken"},
		{push.Notification{Token: "a", Tokens: []string{"b", "c"}, Title: "t", Body: "b"}, "TokenAndTokens"},
		{push.Notification{Tokens: []string{"a", ""}, Title: "t", Body: "b"}, "EmptyToken"},
		{push.Notification{Tokens: tooMany, Title: "t", Body: "b"}, "TooManyTokens"},
		{push.Notification{Token: testRegID, Body: "b"}, "MissingTitle"},
		{push.Notification{Token: testRegID, Title: "t", Body: "  "}, "MissingContent"},
		{push.Notification{Token: testRegID, Title: "t", Body: "b", Passthrough: true}, "Passthrough"},
		{push.Notification{Token: testRegID, Title: "t", Body: "b", Classification: intPtr(2)}, "BadClassification"},
		{push.Notification{Token: testRegID, Title: "t", Body: "b", Payload: "p", Data: many}, "CustomDataTooLarge: 11 custom pairs"},
		{push.Notification{Token: testRegID, Title: "t", Body: "b", Payload: strings.Repeat("数", 1018)}, "CustomDataTooLarge: custom data of 1025 characters"},
	} {
		r := c.Send(context.Background(), &tc.n)
		if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, tc.reason) {
			t.Errorf("%.80v: result = %+v, want bad request %s", tc.n, r, tc.reason)
		}
	}
	// At the limits it is sent: 10 pairs, 1024 characters.
	r := c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b", Payload: strings.Repeat("数", 1017)})
	if r.Verdict != push.Delivered {
		t.Errorf("1024 characters of custom data: %+v", r)
	}
	if n := len(f.sent()); n != 1 || f.auths() != 1 {
		t.Errorf("%d requests and %d auth calls, want only the one at the limits", n, f.auths())
	}
}

func TestOneAuthForConcurrentSends(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	gate := vendortest.NewGate(t)
	f.authGate = gate
	c := newClient(t, f, nil)
	const sends = 30
	var wg sync.WaitGroup
	results := make(chan push.Result, sends)
	for range sends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b"})
		}()
	}
	// Every Send is waiting for the one auth call in flight before it answers.
	gate.AwaitArrival(t)
	gate.Open()
	wg.Wait()
	close(results)
	for r := range results {
		if r.Verdict != push.Delivered {
			t.Errorf("result = %+v", r)
		}
	}
	if n := f.auths(); n != 1 {
		t.Errorf("%d auth calls for %d concurrent sends, want 1", n, sends)
	}
	tokens := map[string]bool{}
	for _, s := range f.sent() {
		tokens[s.authToken] = true
	}
	if len(tokens) != 1 {
		t.Errorf("sends used %d tokens, want 1", len(tokens))
	}
}

func TestTokenRefreshedOnItsInterval(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, nil)
	send := func() push.Result {
		return c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b"})
	}
	send()
	clk.Advance(tokenRefreshInterval - time.Second)
	send()
	if n := f.auths(); n != 1 {
		t.Fatalf("%d auth calls within the refresh interval, want 1", n)
	}
	clk.Advance(2 * time.Second)
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	if n := f.auths(); n != 2 {
		t.Fatalf("%d auth calls after the refresh interval, want 2", n)
	}

	// When the new fetch fails, the old token (valid 24 h) keeps working…
	f.authFail = func(w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "Internet server error!")
		return true
	}
	clk.Advance(tokenRefreshInterval + time.Second)
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("with the auth call failing and a 1-hour-old token: %+v", r)
	}
	if n := f.auths(); n != 3 {
		t.Fatalf("%d auth calls, want a third try", n)
	}
	// …until it is near its end.
	clk.Advance(tokenLife - 2*tokenRefreshInterval)
	if r := send(); r.Verdict != push.Retry || !strings.HasPrefix(r.Reason, "AuthError: HTTP 500") {
		t.Fatalf("with the auth call failing and a 23-hour-old token: %+v, want retry", r)
	}
}

func TestAuthExpiredThenRefresh(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, nil)
	send := func() push.Result {
		return c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b"})
	}
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("first send: %+v", r)
	}
	f.revokeAll()
	r := send()
	if r.Verdict != push.AuthExpired || r.Reason != "10000 权限认证失败" || r.Status != 200 {
		t.Fatalf("send with a revoked token: %+v, want auth expired", r)
	}
	c.Refresh()
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("send after Refresh: %+v", r)
	}
	if n := f.auths(); n != 2 {
		t.Errorf("%d auth calls, want 2", n)
	}
	s := f.sent()
	if s[0].authToken == s[len(s)-1].authToken {
		t.Error("the send after Refresh used the old token")
	}

	// Refresh alone forces a new token; a 10000 alone drops the refused one.
	c.Refresh()
	send()
	if n := f.auths(); n != 3 {
		t.Errorf("%d auth calls after a second Refresh, want 3", n)
	}
	f.revokeAll()
	send()
	if r := send(); r.Verdict != push.Delivered || f.auths() != 4 {
		t.Errorf("after a 10000 without Refresh: %+v, %d auth calls; want a new token", r, f.auths())
	}
}

func TestBatch(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, nil)
	if Vendor().MaxBatch != 1000 {
		t.Fatalf("MaxBatch = %d", Vendor().MaxBatch)
	}
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("reg-%04d", i)
	}
	tokens[10], tokens[500] = "dead-10", "dead-500"
	r := c.Send(context.Background(), &push.Notification{ID: "b1", Tokens: append(tokens, tokens[0]), Title: "t", Body: "b", Payload: "p"})
	if r.Verdict != push.Delivered || !reflect.DeepEqual(r.InvalidTokens, []string{"dead-10", "dead-500"}) {
		t.Fatalf("result = %v %q %v, want delivered with the two dead tokens", r.Verdict, r.Reason, r.InvalidTokens)
	}
	s := f.sent()
	if len(s) != 2 || s[0].path != "/message/saveListPayload" || s[1].path != "/message/pushToList" {
		t.Fatalf("requests = %d, want saveListPayload then one pushToList", len(s))
	}
	save, list := s[0].body, s[1].body
	if _, ok := save["regId"]; ok || save["title"] != "t" || save["content"] != "b" ||
		!reflect.DeepEqual(save["clientCustomMap"], map[string]any{"payload": "p"}) || save["appId"] != float64(testAppID) {
		t.Errorf("saveListPayload body = %v", save)
	}
	if list["taskId"] != "7788" || list["appId"] != float64(testAppID) || len(list["regIds"].([]any)) != 1000 ||
		len(list) != 4 {
		t.Errorf("pushToList body has %d regIds, taskId %v, keys %d", len(list["regIds"].([]any)), list["taskId"], len(list))
	}
	if !requestIDRE("b1").MatchString(save["requestId"].(string)) || !requestIDRE("b1").MatchString(list["requestId"].(string)) ||
		save["requestId"] == list["requestId"] {
		t.Errorf("requestIds %v and %v, want two distinct ones from the ID", save["requestId"], list["requestId"])
	}
	if r.Exchange == nil || r.Exchange.URL != f.srv.URL+"/message/pushToList" {
		t.Errorf("exchange = %+v, want the pushToList", r.Exchange)
	}

	// All dead: the verdict is token invalid, every token listed.
	r = c.Send(context.Background(), &push.Notification{Tokens: []string{"dead-1", "dead-2"}, Title: "t", Body: "b"})
	if r.Verdict != push.TokenInvalid || !reflect.DeepEqual(r.InvalidTokens, []string{"dead-1", "dead-2"}) {
		t.Errorf("all dead: %+v", r)
	}

	// A batch of one goes through /message/send.
	f.setAnswer("/message/send", func(w http.ResponseWriter, body map[string]any) {
		writeJSON(w, map[string]any{"result": 10302, "desc": "regId不合法", "invalidUser": map[string]any{"status": 1, "userid": body["regId"]}})
	})
	r = c.Send(context.Background(), &push.Notification{Tokens: []string{"dead-9"}, Title: "t", Body: "b"})
	s = f.sent()
	if s[len(s)-1].path != "/message/send" || s[len(s)-1].body["regId"] != "dead-9" ||
		r.Verdict != push.TokenInvalid || !reflect.DeepEqual(r.InvalidTokens, []string{"dead-9"}) {
		t.Errorf("batch of one: %s %v → %+v", s[len(s)-1].path, s[len(s)-1].body["regId"], r)
	}
	// A single Token invalid: token invalid without InvalidTokens.
	r = c.Send(context.Background(), &push.Notification{Token: "dead-8", Title: "t", Body: "b"})
	if r.Verdict != push.TokenInvalid || r.Reason != "10302 regId不合法" || r.InvalidTokens != nil {
		t.Errorf("single invalid: %+v", r)
	}
}

func TestBatchFailures(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, nil)
	batch := func() push.Result {
		return c.Send(context.Background(), &push.Notification{Tokens: []string{"a", "b", "c"}, Title: "t", Body: "b"})
	}
	pushes := func() int {
		n := 0
		for _, s := range f.sent() {
			if s.path == "/message/pushToList" {
				n++
			}
		}
		return n
	}

	f.setAnswer("/message/saveListPayload", func(w http.ResponseWriter, _ map[string]any) {
		writeJSON(w, map[string]any{"result": 10252, "desc": "批量发送消息体超出限制"})
	})
	if r := batch(); r.Verdict != push.QuotaExhausted || r.Reason != "10252 批量发送消息体超出限制" ||
		r.Exchange.URL != f.srv.URL+"/message/saveListPayload" || pushes() != 0 {
		t.Errorf("saveListPayload over its cap: %+v, %d pushToList", r, pushes())
	}
	f.setAnswer("/message/saveListPayload", func(w http.ResponseWriter, _ map[string]any) {
		writeJSON(w, map[string]any{"result": 0, "desc": "请求成功"})
	})
	if r := batch(); r.Verdict != push.Retry || !strings.Contains(r.Reason, "no taskId") || pushes() != 0 {
		t.Errorf("saveListPayload without taskId: %+v", r)
	}
	f.setAnswer("/message/saveListPayload", func(w http.ResponseWriter, _ map[string]any) {
		writeJSON(w, map[string]any{"result": 10302, "desc": "regId不合法"})
	})
	if r := batch(); r.Verdict != push.BadRequest || r.InvalidTokens != nil {
		t.Errorf("saveListPayload calling a regId invalid: %+v", r)
	}
	f.setAnswer("/message/saveListPayload", nil)

	f.setAnswer("/message/pushToList", func(w http.ResponseWriter, _ map[string]any) {
		writeJSON(w, map[string]any{"result": 10070, "desc": "发送总量超出限制"})
	})
	if r := batch(); r.Verdict != push.QuotaExhausted || r.InvalidTokens != nil {
		t.Errorf("pushToList over the daily cap: %+v", r)
	}
	f.setAnswer("/message/pushToList", func(w http.ResponseWriter, _ map[string]any) {
		writeJSON(w, map[string]any{"result": 10302, "desc": "regId不合法"})
	})
	if r := batch(); r.Verdict != push.TokenInvalid || !reflect.DeepEqual(r.InvalidTokens, []string{"a", "b", "c"}) {
		t.Errorf("pushToList 10302 naming none: %+v", r)
	}
	f.setAnswer("/message/pushToList", func(w http.ResponseWriter, _ map[string]any) {
		writeJSON(w, map[string]any{"result": 0, "invalidUsers": []any{map[string]any{"status": 1, "userid": "b"},
			map[string]any{"status": 1, "userid": "not-ours"}, "junk"}})
	})
	if r := batch(); r.Verdict != push.Delivered || !reflect.DeepEqual(r.InvalidTokens, []string{"b"}) {
		t.Errorf("invalidUsers with a stranger and junk: %+v", r)
	}
}

func TestSendMapsCodes(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, nil)
	inTwoMinutes := clk.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	vivoAnswer := func(code int, desc string) string {
		return fmt.Sprintf(`{"result":%d,"desc":%q}`, code, desc)
	}
	cases := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		verdict    push.Verdict
		reason     string
		wait       time.Duration
	}{
		{"ok", 200, `{"result":0,"desc":"请求成功","taskId":"1"}`, "", push.Delivered, "", 0},
		{"invalid regId", 200, `{"result":10302,"desc":"regId不合法","invalidUser":{"status":1,"userid":"x"}}`, "", push.TokenInvalid, "10302 regId不合法", 0},
		{"auth", 200, vivoAnswer(10000, "权限认证失败"), "", push.AuthExpired, "10000 权限认证失败", 0},
		{"daily total", 200, vivoAnswer(10070, "发送总量超出限制"), "", push.QuotaExhausted, "10070 发送总量超出限制", 0},
		{"daily lists", 200, vivoAnswer(10252, "批量发送消息体超出限制"), "", push.QuotaExhausted, "10252 批量发送消息体超出限制", 0},
		{"daily broadcasts", 200, vivoAnswer(10254, "全量发送超过次数限"), "", push.QuotaExhausted, "10254 全量发送超过次数限", 0},
		{"too fast", 200, vivoAnswer(10072, ""), "7", push.Retry, "10072", 7 * time.Second},
		{"appId mismatch", 200, vivoAnswer(10094, "appId不一致"), "", push.BadRequest, "10094 appId不一致", 0},
		{"parameter", 200, vivoAnswer(10200, "appId 不能为空"), "", push.BadRequest, "10200 appId 不能为空", 0},
		{"unknown code", 200, vivoAnswer(19999, "?"), "", push.BadRequest, "19999 ?", 0},
		{"server error page", 500, `Internet server error!`, "", push.Retry, "HTTP 500", 0},
		{"unavailable with date", 503, ``, inTwoMinutes, push.Retry, "HTTP 503", 2 * time.Minute},
		{"throttled", 429, ``, "30", push.Retry, "HTTP 429", 30 * time.Second},
		{"result 0 on a 502", 502, `{"result":0}`, "", push.Retry, "HTTP 502", 0},
		{"code on a 500", 500, vivoAnswer(10302, "regId不合法"), "", push.TokenInvalid, "10302 regId不合法", 0},
		{"200 not JSON", 200, `<html>ok</html>`, "", push.Retry, "BadAnswer: not a vivo result", 0},
		{"404 page", 404, `<html>404</html>`, "", push.BadRequest, "HTTP 404", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.setAnswer("/message/send", func(w http.ResponseWriter, _ map[string]any) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			r := c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b"})
			if r.Verdict != tc.verdict || r.Status != tc.status || r.Reason != tc.reason || r.RetryAfter != tc.wait {
				t.Errorf("result = %s %d %q %v, want %s %d %q %v", r.Verdict, r.Status, r.Reason, r.RetryAfter,
					tc.verdict, tc.status, tc.reason, tc.wait)
			}
			if r.Exchange == nil || r.Exchange.Status != tc.status || r.Exchange.Answer != tc.body {
				t.Errorf("exchange = %+v, want status and answer", r.Exchange)
			}
			vendortest.SameWithoutExchange(t, c.Send, push.Notification{Token: testRegID, Title: "t", Body: "b"}, r)
			// Whatever vivo answered, the client can send again (a 10000 dropped the token).
			c.Refresh()
		})
	}
}

func TestAuthFailures(t *testing.T) {
	cases := []struct {
		name    string
		fail    func(w http.ResponseWriter) bool
		verdict push.Verdict
		reason  string
	}{
		{"sign refused", func(w http.ResponseWriter) bool {
			writeJSON(w, map[string]any{"result": 10207, "desc": "sign 不合法"})
			return true
		}, push.BadRequest, "AuthError: 10207 sign 不合法"},
		{"10000 on auth", func(w http.ResponseWriter) bool {
			writeJSON(w, map[string]any{"result": 10000, "desc": "权限认证失败"})
			return true
		}, push.BadRequest, "AuthError: 10000 权限认证失败"},
		{"too fast", func(w http.ResponseWriter) bool {
			writeJSON(w, map[string]any{"result": 10072, "desc": "请求频率过高"})
			return true
		}, push.Retry, "AuthError: 10072 请求频率过高"},
		{"no token", func(w http.ResponseWriter) bool {
			writeJSON(w, map[string]any{"result": 0, "desc": "请求成功"})
			return true
		}, push.Retry, "AuthError: BadAnswer: no authToken"},
		{"server error", func(w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "Internet server error!")
			return true
		}, push.Retry, "AuthError: HTTP 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			f := newFakeVivo(t, clk)
			f.authFail = tc.fail
			c := newClient(t, f, nil)
			r := c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b"})
			if r.Verdict != tc.verdict || r.Reason != tc.reason {
				t.Errorf("result = %s %q, want %s %q", r.Verdict, r.Reason, tc.verdict, tc.reason)
			}
			if len(f.sent()) != 0 {
				t.Error("a send went out without an authToken")
			}
			ex := r.Exchange
			if ex == nil || ex.URL != f.srv.URL+"/message/auth" || ex.Answer == "" {
				t.Fatalf("exchange = %+v, want the auth call and its answer", ex)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(ex.Body), &body); err != nil {
				t.Fatal(err)
			}
			sign := authSign(testAppID, testAppKey, clk.Now().UnixMilli(), testAppSecret)
			if body["appKey"] != push.MaskSecret(testAppKey) || body["sign"] != push.MaskSecret(sign) ||
				body["appId"] != float64(testAppID) || body["timestamp"] != float64(clk.Now().UnixMilli()) {
				t.Errorf("exchange body %s, want appKey and sign masked", ex.Body)
			}
			for _, secret := range []string{testAppKey, testAppSecret, sign} {
				if strings.Contains(fmt.Sprint(ex), secret) {
					t.Errorf("exchange shows the secret %q", secret)
				}
			}
		})
	}
}

func TestCAFileIsNeeded(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, func(o *Options) { o.CAFile = "" })
	r := c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b"})
	if r.Verdict != push.Retry || !strings.Contains(r.Reason, "certificate") {
		t.Errorf("result = %+v, want retry on an unknown certificate", r)
	}
	if f.auths() != 0 {
		t.Error("the auth call reached a server the client does not trust")
	}
}

func TestDryRun(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, nil)
	n := &push.Notification{ID: "d", Token: testRegID, Title: "t", Body: "b", Data: map[string]string{"k": "v"}, DryRun: true}
	dry := c.Send(context.Background(), n)
	if dry.Verdict != "" || dry.Status != 0 || dry.Exchange == nil || dry.Exchange.URL != f.srv.URL+"/message/send" {
		t.Fatalf("dry run = %+v, want no verdict, an exchange for /message/send", dry)
	}
	if len(f.sent()) != 0 || f.auths() != 1 {
		t.Fatalf("dry run: %d requests, %d auth calls; want none sent, the token fetched", len(f.sent()), f.auths())
	}
	n.DryRun = false
	real := c.Send(context.Background(), n)
	if real.Verdict != push.Delivered {
		t.Fatalf("result = %+v", real)
	}
	withoutID := func(ex *push.Exchange) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(ex.Body), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "requestId") // fresh for every send
		return m
	}
	if !reflect.DeepEqual(withoutID(dry.Exchange), withoutID(real.Exchange)) || !reflect.DeepEqual(dry.Exchange.Headers, real.Exchange.Headers) {
		t.Errorf("dry run exchange %+v differs from the sent %+v", dry.Exchange, real.Exchange)
	}
	if f.auths() != 1 {
		t.Errorf("%d auth calls, want the dry run's token reused", f.auths())
	}

	batch := c.Send(context.Background(), &push.Notification{Tokens: []string{"a", "b"}, Title: "t", Body: "b", DryRun: true})
	if batch.Verdict != "" || batch.Exchange == nil || batch.Exchange.URL != f.srv.URL+"/message/saveListPayload" ||
		!strings.Contains(batch.Exchange.Body, `"title":"t"`) || len(f.sent()) != 1 {
		t.Errorf("batch dry run = %+v, want the saveListPayload exchange and nothing sent", batch)
	}
}

func TestSendHonoursContext(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	f.authGate = vendortest.NewGate(t)
	c := newClient(t, f, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := c.Send(ctx, &push.Notification{Token: testRegID, Title: "t", Body: "b"})
	if r.Verdict != push.Retry || !errors.Is(ctx.Err(), context.DeadlineExceeded) || !strings.HasPrefix(r.Reason, "AuthError: context deadline") {
		t.Errorf("result = %+v, want retry once the deadline passed", r)
	}
}

func TestNetworkErrorIsRetry(t *testing.T) {
	clk := newClock()
	f := newFakeVivo(t, clk)
	c := newClient(t, f, nil)
	if r := c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b"}); r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	f.srv.CloseClientConnections()
	f.srv.Close()
	r := c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b"})
	if r.Verdict != push.Retry || !strings.HasPrefix(r.Reason, "NetworkError") || r.Exchange == nil {
		t.Errorf("result = %+v, want retry on a network error", r)
	}
}

func TestNewReportsEveryBadField(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "not-a-ca.pem")
	if err := os.WriteFile(caFile, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		o    Options
		want []string
	}{
		{"nothing", Options{}, []string{"AppID", "AppKey", "AppSecret"}},
		{"blank secrets", Options{AppID: 1, AppKey: " ", AppSecret: "\t"}, []string{"AppKey", "AppSecret"}},
		{"urls, classification, CA, timeout", Options{AppID: 1, AppKey: "k", AppSecret: "s", Endpoint: "http://vivo",
			AuthEndpoint: "ftp://x", Classification: intPtr(3), CAFile: caFile, Timeout: -1},
			[]string{"Endpoint", "AuthEndpoint", "Classification", "CAFile", "no PEM certificate", "Timeout"}},
		{"missing CA", Options{AppID: 1, AppKey: "k", AppSecret: "s", CAFile: "/nonexistent/ca.pem"}, []string{"CAFile"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { vendortest.Refuses(t, New, tc.o, ErrInvalidOptions, tc.want...) })
	}

	// Defaults, a trailing slash and AuthEndpoint.
	c, err := New(Options{AppID: 1, AppKey: "k", AppSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.sendURL != DefaultEndpoint+"/message/send" || c.authURL != DefaultEndpoint+"/message/auth" ||
		c.classification != DefaultClassification || c.timeout != DefaultTimeout {
		t.Errorf("defaults: %s %s %d %v", c.sendURL, c.authURL, c.classification, c.timeout)
	}
	clk := newClock()
	f := newFakeVivo(t, clk)
	c = newClient(t, f, func(o *Options) {
		o.Endpoint = "https://127.0.0.1:1/"
		o.AuthEndpoint = f.srv.URL + "/message/auth"
	})
	if c.pushURL != "https://127.0.0.1:1/message/pushToList" {
		t.Errorf("push URL %s", c.pushURL)
	}
	c.Send(context.Background(), &push.Notification{Token: testRegID, Title: "t", Body: "b"})
	if f.auths() != 1 {
		t.Error("AuthEndpoint was not used for the auth call")
	}
}
