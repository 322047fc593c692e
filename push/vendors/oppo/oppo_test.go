package oppo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
)

const (
	testAppKey = "app-key-0123456789"
	testSecret = "master-secret-0123456789"
	testToken  = "CN_0123456789abcdef0123456789abcdef"
)

// newClock is a settable clock for Options.Now.
func newClock() *vendortest.Clock {
	return vendortest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// request is one call the fake OPPO received.
type request struct {
	proto int
	path  string
	ctype string
	form  url.Values
}

// fakeOPPO is an HTTP/2 TLS server on loopback playing OPPO's auth, unicast,
// save_message_content and broadcast APIs. It checks auth signs against clk,
// issues auth tokens "auth-1-…", "auth-2-…" and accepts only those not revoked.
type fakeOPPO struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string
	clk    *vendortest.Clock

	mu        sync.Mutex
	authCalls int
	authGate  *vendortest.Gate            // when set, auth calls wait for it to open
	authReply func(w http.ResponseWriter) // when set, answers auth calls instead
	signErrs  []error
	valid     map[string]bool
	calls     []request
	reply     func(w http.ResponseWriter, r *http.Request, form url.Values) // when set, answers sends
}

func newFakeOPPO(t *testing.T, clk *vendortest.Clock) *fakeOPPO {
	t.Helper()
	f := &fakeOPPO{t: t, clk: clk, valid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+AuthPath, f.auth)
	for _, p := range []string{UnicastPath, SaveMessagePath, BroadcastPath} {
		mux.HandleFunc("POST "+p, f.send)
	}
	f.srv, f.caFile = vendortest.TLSServer(t, mux)
	t.Cleanup(func() {
		for _, err := range f.signErrors() {
			t.Errorf("the fake refused an auth call: %v", err)
		}
	})
	return f
}

func write(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	io.WriteString(w, body)
}

func (f *fakeOPPO) auth(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.authCalls++
	n := f.authCalls
	gate, reply := f.authGate, f.authReply
	f.mu.Unlock()
	if !gate.Pass(r.Context()) {
		return
	}
	if reply != nil {
		reply(w)
		return
	}
	if err := f.checkSign(r); err != nil {
		f.mu.Lock()
		f.signErrs = append(f.signErrs, err)
		f.mu.Unlock()
		write(w, `{"code":16,"message":"Invalid Signature"}`)
		return
	}
	tok := fmt.Sprintf("auth-%d-%s", n, strings.Repeat("t", 24))
	f.mu.Lock()
	f.valid[tok] = true
	f.mu.Unlock()
	write(w, fmt.Sprintf(`{"code":0,"message":"success","data":{"auth_token":%q,"create_time":%d}}`, tok, f.clk.Now().UnixMilli()))
}

func (f *fakeOPPO) checkSign(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		return fmt.Errorf("content type %q", ct)
	}
	ts := r.PostForm.Get("timestamp")
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %v", ts, err)
	}
	if got, want := time.UnixMilli(ms), f.clk.Now(); !got.Equal(want) {
		return fmt.Errorf("timestamp %v, want the client clock's %v in ms", got, want)
	}
	if key := r.PostForm.Get("app_key"); key != testAppKey {
		return fmt.Errorf("app_key %q", key)
	}
	if s, want := r.PostForm.Get("sign"), sign(testAppKey, ts, testSecret); s != want {
		return fmt.Errorf("sign %q, want %q", s, want)
	}
	return nil
}

func (f *fakeOPPO) send(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("%s: %v", r.URL.Path, err)
	}
	f.mu.Lock()
	f.calls = append(f.calls, request{proto: r.ProtoMajor, path: r.URL.Path, ctype: r.Header.Get("Content-Type"), form: r.PostForm})
	ok := f.valid[r.PostForm.Get("auth_token")]
	reply := f.reply
	f.mu.Unlock()
	if !ok {
		write(w, `{"code":11,"message":"Invalid AuthToken"}`)
		return
	}
	if reply != nil {
		reply(w, r, r.PostForm)
		return
	}
	switch r.URL.Path {
	case UnicastPath:
		write(w, `{"code":0,"message":"Success","data":{"messageId":"uni-1"}}`)
	case SaveMessagePath:
		write(w, `{"code":0,"message":"success","data":{"message_id":"saved-1"}}`)
	case BroadcastPath:
		dead := []string{}
		for _, id := range strings.Split(r.PostForm.Get("target_value"), ";") {
			if strings.HasPrefix(id, "invalid-") {
				dead = append(dead, id)
			}
		}
		b, _ := json.Marshal(map[string]any{"message_id": r.PostForm.Get("message_id"), "task_id": "task-1", "10000": dead})
		write(w, `{"code":0,"message":"Success","data":`+string(b)+`}`)
	}
}

func (f *fakeOPPO) setReply(reply func(w http.ResponseWriter, r *http.Request, form url.Values)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reply = reply
}

func (f *fakeOPPO) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.valid)
}

func (f *fakeOPPO) authRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.authCalls
}

func (f *fakeOPPO) received() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeOPPO) signErrors() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.signErrs)
}

func newClient(t *testing.T, f *fakeOPPO, edit func(o *Options)) *Client {
	t.Helper()
	o := Options{AppKey: testAppKey, MasterSecret: testSecret, Endpoint: f.srv.URL, CAFile: f.caFile,
		Timeout: 10 * time.Second, Now: f.clk.Now}
	return vendortest.NewClient(t, New, o, edit)
}

// decodeMessage decodes the message form field of a unicast.
func decodeMessage(t *testing.T, form url.Values) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(form.Get("message")), &m); err != nil {
		t.Fatalf("message %q is not JSON: %v", form.Get("message"), err)
	}
	return m
}

func TestUnicastFieldMapping(t *testing.T) {
	clk := newClock()
	f := newFakeOPPO(t, clk)
	c := newClient(t, f, func(o *Options) { o.ChannelID = "im_channel"; o.Category = "IM"; o.NotifyLevel = NotifyLevelBar })
	n := &push.Notification{
		ID: "42", App: "demo", Token: testToken,
		Title: "Ada", Body: "hello there", Payload: `{"conv":"c1"}`,
		Badge: 3, Sound: "ding", ChannelID: "calls", Category: "ACCOUNT", Importance: "HIGH",
		Priority: push.PriorityHigh, CollapseID: "msg-1", Expiration: clk.Now().Add(2*time.Hour + 500*time.Millisecond),
		Data: map[string]string{"message_id": "msg-1", "sender": "u1"},
	}
	r := c.Send(context.Background(), n)
	if r.Verdict != push.Delivered || r.Status != 200 || r.Reason != "" {
		t.Fatalf("result = %+v", r)
	}
	calls := f.received()
	if len(calls) != 1 || calls[0].path != UnicastPath || calls[0].proto != 2 || calls[0].ctype != "application/x-www-form-urlencoded" {
		t.Fatalf("calls = %+v", calls)
	}
	if tok := calls[0].form.Get("auth_token"); !strings.HasPrefix(tok, "auth-1-") {
		t.Errorf("auth_token form field = %q", tok)
	}
	msg := decodeMessage(t, calls[0].form)
	if msg["target_type"] != 2.0 || msg["target_value"] != testToken {
		t.Errorf("target = %v %v", msg["target_type"], msg["target_value"])
	}
	wantNotification := map[string]any{
		"title": "Ada", "content": "hello there", "click_action_type": 0.0,
		"action_parameters": `{"message_id":"msg-1","payload":"{\"conv\":\"c1\"}","sender":"u1"}`,
		"off_line":          true, "off_line_ttl": 7201.0,
		"channel_id": "calls", "category": "ACCOUNT", "notify_level": 16.0,
		"app_message_id": appMessageID(n),
	}
	if got := msg["notification"]; !reflect.DeepEqual(got, wantNotification) {
		t.Errorf("notification =\n%v\nwant\n%v", got, wantNotification)
	}
	if id := appMessageID(n); !strings.HasPrefix(id, "42-") || len(id) != len("42-")+8 || id == appMessageID(&push.Notification{ID: "42", CollapseID: "msg-2"}) {
		t.Errorf("app_message_id %q is not the ID plus a hash of the collapse id", id)
	}
	var params map[string]string
	if err := json.Unmarshal([]byte(wantNotification["action_parameters"].(string)), &params); err != nil || params["payload"] != n.Payload {
		t.Errorf("action_parameters does not carry the payload: %v", err)
	}

	// The exchange is the request as sent, the auth_token masked.
	ex := r.Exchange
	sentTok := calls[0].form.Get("auth_token")
	if ex == nil || ex.Method != "POST" || ex.URL != f.srv.URL+UnicastPath || ex.Headers["content-type"] != "application/x-www-form-urlencoded" ||
		ex.Status != 200 || !strings.Contains(ex.Answer, "uni-1") {
		t.Fatalf("exchange = %+v", ex)
	}
	if strings.Contains(ex.Body, sentTok) {
		t.Errorf("exchange body shows the auth_token: %s", ex.Body)
	}
	shown, err := url.ParseQuery(ex.Body)
	if err != nil || shown.Get("auth_token") != push.MaskSecret(sentTok) || shown.Get("message") != calls[0].form.Get("message") {
		t.Errorf("exchange body = %s (%v)", ex.Body, err)
	}
}

func TestOptionDefaultsAndTTL(t *testing.T) {
	clk := newClock()
	f := newFakeOPPO(t, clk)
	c := newClient(t, f, func(o *Options) { o.ChannelID = "im_channel"; o.Category = "IM" })
	nc := newClient(t, f, nil) // no category configured

	cases := []struct {
		name string
		c    *Client
		n    push.Notification
		want map[string]any // fields of notification; nil value: absent
	}{
		{"provider defaults", c, push.Notification{},
			map[string]any{"channel_id": "im_channel", "category": "IM", "notify_level": 2.0, "off_line_ttl": 259200.0, "off_line": true,
				"app_message_id": nil, "action_parameters": nil}},
		{"importance LOW", c, push.Notification{Importance: "low"}, map[string]any{"notify_level": 1.0}},
		{"unknown importance", c, push.Notification{Importance: "URGENT"}, map[string]any{"notify_level": 2.0}},
		{"no category, no notify_level", nc, push.Notification{Importance: "HIGH"},
			map[string]any{"category": nil, "notify_level": nil, "channel_id": nil}},
		{"expiration past 3 days", c, push.Notification{Expiration: clk.Now().Add(10 * 24 * time.Hour)}, map[string]any{"off_line_ttl": 259200.0}},
		{"expired", c, push.Notification{Expiration: clk.Now().Add(-time.Second)}, map[string]any{"off_line": false, "off_line_ttl": nil}},
		{"id without collapse id", c, push.Notification{ID: "7"}, map[string]any{"app_message_id": "7"}},
		{"long title and content", c, push.Notification{Title: strings.Repeat("标", 60), Body: strings.Repeat("b", 250)},
			map[string]any{"title": strings.Repeat("标", 49) + "…", "content": strings.Repeat("b", 199) + "…"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.n
			n.Token = testToken
			if n.Title == "" {
				n.Title, n.Body = "t", "b"
			}
			if r := tc.c.Send(context.Background(), &n); r.Verdict != push.Delivered {
				t.Fatalf("result = %+v", r)
			}
			calls := f.received()
			if len(calls) != i+1 {
				t.Fatalf("%d calls after %d sends", len(calls), i+1)
			}
			got := decodeMessage(t, calls[i].form)["notification"].(map[string]any)
			for k, want := range tc.want {
				if v, ok := got[k]; want == nil && ok || want != nil && !reflect.DeepEqual(v, want) {
					t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
				}
			}
		})
	}
}

func TestBatchIsOneBroadcast(t *testing.T) {
	clk := newClock()
	f := newFakeOPPO(t, clk)
	c := newClient(t, f, func(o *Options) { o.Category = "IM" })
	if Vendor().MaxBatch != 1000 {
		t.Errorf("MaxBatch = %d", Vendor().MaxBatch)
	}
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("CN_%04d", i)
	}
	tokens[10], tokens[20] = "invalid-10", "invalid-20"
	n := &push.Notification{ID: "9", Tokens: tokens, Title: "Ada", Body: "hi", Payload: "p", Expiration: clk.Now().Add(time.Minute)}
	r := c.Send(context.Background(), n)
	if r.Verdict != push.Delivered || !slices.Equal(r.InvalidTokens, []string{"invalid-10", "invalid-20"}) {
		t.Fatalf("result = %+v", r)
	}
	calls := f.received()
	if len(calls) != 2 || calls[0].path != SaveMessagePath || calls[1].path != BroadcastPath {
		t.Fatalf("calls = %v", calls)
	}
	save, bc := calls[0].form, calls[1].form
	wantSave := url.Values{
		"auth_token": save["auth_token"], "title": {"Ada"}, "content": {"hi"}, "click_action_type": {"0"},
		"action_parameters": {`{"payload":"p"}`}, "off_line": {"true"}, "off_line_ttl": {"60"},
		"category": {"IM"}, "notify_level": {"2"}, "app_message_id": {"9"},
	}
	if !reflect.DeepEqual(save, wantSave) {
		t.Errorf("save form =\n%v\nwant\n%v", save, wantSave)
	}
	if bc.Get("message_id") != "saved-1" || bc.Get("target_type") != "2" || bc.Get("target_value") != strings.Join(tokens, ";") ||
		bc.Get("auth_token") != save.Get("auth_token") {
		t.Errorf("broadcast form = %v", bc)
	}
	if r.Exchange == nil || r.Exchange.URL != f.srv.URL+BroadcastPath || strings.Contains(r.Exchange.Body, bc.Get("auth_token")) {
		t.Errorf("exchange = %+v", r.Exchange)
	}

	// Dead regIds under 10000 and 10001 are unbound; a repeated one (10004) is not.
	f.setReply(func(w http.ResponseWriter, r *http.Request, form url.Values) {
		if r.URL.Path == SaveMessagePath {
			write(w, `{"code":0,"data":{"message_id":"saved-2"}}`)
			return
		}
		write(w, `{"code":0,"message":"Success","data":{"message_id":"saved-2","task_id":"t","10000":["CN_0001"],"10001":"CN_0003;CN_0002","10004":["CN_0004"]}}`)
	})
	r = c.Send(context.Background(), &push.Notification{Tokens: tokens[:5], Title: "a", Body: "b"})
	if r.Verdict != push.Delivered || !slices.Equal(r.InvalidTokens, []string{"CN_0001", "CN_0002", "CN_0003"}) {
		t.Errorf("partial result = %+v", r)
	}
	// All dead: TokenInvalid.
	r = c.Send(context.Background(), &push.Notification{Tokens: []string{"CN_0001", "CN_0002", "CN_0001"}, Title: "a", Body: "b"})
	if r.Verdict != push.TokenInvalid || !slices.Equal(r.InvalidTokens, []string{"CN_0001", "CN_0002"}) {
		t.Errorf("all-dead result = %+v", r)
	}
	// A failed save stops before the broadcast.
	f.setReply(func(w http.ResponseWriter, r *http.Request, form url.Values) {
		if r.URL.Path == SaveMessagePath {
			write(w, `{"code":67,"message":"Category error"}`)
			return
		}
		t.Error("broadcast after a failed save")
	})
	r = c.Send(context.Background(), &push.Notification{Tokens: tokens[:2], Title: "a", Body: "b"})
	if r.Verdict != push.BadRequest || r.Reason != "SaveMessageContent: 67 Category error" || r.Exchange.URL != f.srv.URL+SaveMessagePath {
		t.Errorf("failed save = %+v", r)
	}
	f.setReply(func(w http.ResponseWriter, r *http.Request, form url.Values) {
		if r.URL.Path == SaveMessagePath {
			write(w, `{"code":0,"data":{}}`)
		}
	})
	if r = c.Send(context.Background(), &push.Notification{Tokens: tokens[:2], Title: "a", Body: "b"}); r.Verdict != push.Retry {
		t.Errorf("save without message_id = %+v", r)
	}
	// A top-level dead-regId code on a broadcast that does not say which targets.
	f.setReply(func(w http.ResponseWriter, r *http.Request, form url.Values) {
		if r.URL.Path == SaveMessagePath {
			write(w, `{"code":0,"data":{"message_id":"s"}}`)
			return
		}
		write(w, `{"code":10000,"message":"Invalid RegistrationId"}`)
	})
	if r = c.Send(context.Background(), &push.Notification{Tokens: tokens[:2], Title: "a", Body: "b"}); r.Verdict != push.BadRequest || len(r.InvalidTokens) != 0 {
		t.Errorf("unattributed 10000 = %+v", r)
	}

	// One token goes by unicast.
	f.setReply(nil)
	before := len(f.received())
	r = c.Send(context.Background(), &push.Notification{Tokens: []string{"CN_one"}, Title: "a", Body: "b"})
	if calls := f.received()[before:]; r.Verdict != push.Delivered || len(calls) != 1 || calls[0].path != UnicastPath {
		t.Errorf("one-token batch: %+v, calls %v", r, calls)
	}
}

func TestAuthFetchedOnceForConcurrentSends(t *testing.T) {
	clk := newClock()
	f := newFakeOPPO(t, clk)
	gate := vendortest.NewGate(t)
	f.authGate = gate
	c := newClient(t, f, func(o *Options) { o.Category = "IM" })

	const sends = 50
	results := make(chan push.Result, sends)
	var wg sync.WaitGroup
	for range sends {
		wg.Go(func() {
			results <- c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b"})
		})
	}
	// Wait until the one auth call is in, then let it finish.
	gate.AwaitArrival(t)
	gate.Open()
	wg.Wait()
	close(results)
	for r := range results {
		if r.Verdict != push.Delivered {
			t.Errorf("result = %+v", r)
		}
	}
	if n := f.authRequests(); n != 1 {
		t.Errorf("%d auth calls for %d concurrent sends, want 1", n, sends)
	}
	if n := len(f.received()); n != sends {
		t.Errorf("%d sends arrived, want %d", n, sends)
	}
}

func TestAuthTokenLifeAndRefresh(t *testing.T) {
	clk := newClock()
	f := newFakeOPPO(t, clk)
	c := newClient(t, f, func(o *Options) { o.Category = "IM" })
	send := func() push.Result {
		return c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b"})
	}
	for range 3 {
		if r := send(); r.Verdict != push.Delivered {
			t.Fatalf("result = %+v", r)
		}
	}
	if n := f.authRequests(); n != 1 {
		t.Fatalf("%d auth calls, want the token reused", n)
	}
	// Used until an hour before its 24 hours end, then fetched anew.
	clk.Advance(23*time.Hour - time.Second)
	send()
	if n := f.authRequests(); n != 1 {
		t.Errorf("%d auth calls at 22:59:59", n)
	}
	clk.Advance(time.Second)
	if r := send(); r.Verdict != push.Delivered || f.authRequests() != 2 {
		t.Errorf("at 23h: %+v, %d auth calls", r, f.authRequests())
	}

	// Code 11 is AuthExpired; Refresh makes the next send fetch a new token.
	f.revokeAll()
	r := send()
	if r.Verdict != push.AuthExpired || r.Reason != "11 Invalid AuthToken" {
		t.Fatalf("revoked token: %+v", r)
	}
	c.Refresh()
	if r := send(); r.Verdict != push.Delivered || f.authRequests() != 3 {
		t.Errorf("after Refresh: %+v, %d auth calls", r, f.authRequests())
	}
	calls := f.received()
	if tok := calls[len(calls)-1].form.Get("auth_token"); !strings.HasPrefix(tok, "auth-3-") {
		t.Errorf("sent auth_token %q, want the third one", tok)
	}
}

func TestVerdictTable(t *testing.T) {
	clk := newClock()
	f := newFakeOPPO(t, clk)
	c := newClient(t, f, func(o *Options) { o.Category = "IM" })
	cases := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		verdict    push.Verdict
		reason     string
		wait       time.Duration
	}{
		{"flow control", 200, `{"code":-2,"message":"Service in Flow Control"}`, "7", push.Retry, "-2 Service in Flow Control", 7 * time.Second},
		{"unavailable", 200, `{"code":-1,"message":"Service Currently Unavailable"}`, "", push.Retry, "-1 Service Currently Unavailable", 0},
		{"call limit", 200, `{"code":13,"message":"App Call Limited"}`, "", push.Retry, "13 App Call Limited", 0},
		{"frequency", 200, `{"code":55,"message":"App Call Frequency Limit"}`, "", push.Retry, "55 App Call Frequency Limit", 0},
		{"auth token", 200, `{"code":11,"message":"Invalid AuthToken"}`, "", push.AuthExpired, "11 Invalid AuthToken", 0},
		{"daily limit", 200, `{"code":33,"message":"The number of messages exceeds the daily limit"}`, "", push.QuotaExhausted,
			"33 The number of messages exceeds the daily limit", 0},
		{"dead regId", 200, `{"code":10000,"message":"Invalid RegistrationId"}`, "", push.TokenInvalid, "10000 Invalid RegistrationId", 0},
		{"unsubscribed regId", 200, `{"code":10001,"message":"x"}`, "", push.TokenInvalid, "10001 x", 0},
		{"unknown business code", 200, `{"code":12345,"message":"?"}`, "", push.BadRequest, "12345 ?", 0},
		{"code as string", 200, `{"code":"33","message":"limit"}`, "", push.QuotaExhausted, "33 limit", 0},
		{"error code with 4xx", 400, `{"code":41,"message":"Invalid Arguments"}`, "", push.BadRequest, "41 Invalid Arguments", 0},
		{"gateway page", 502, `<html>bad gateway</html>`, "", push.Retry, "UnreadableAnswer: HTTP 502", 0},
		{"unreadable 200", 200, `ok`, "", push.Retry, "UnreadableAnswer: HTTP 200", 0},
		{"unreadable 400", 400, `nope`, "", push.BadRequest, "UnreadableAnswer: HTTP 400", 0},
	}
	for _, code := range []int{12, 14, 15, 16, 17, 18, 19, 26, 27, 28, 29, 30, 31, 40, 41, 67} {
		cases = append(cases, struct {
			name       string
			status     int
			body       string
			retryAfter string
			verdict    push.Verdict
			reason     string
			wait       time.Duration
		}{fmt.Sprint("code ", code), 200, fmt.Sprintf(`{"code":%d,"message":"m"}`, code), "", push.BadRequest, fmt.Sprintf("%d m", code), 0})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.setReply(func(w http.ResponseWriter, r *http.Request, form url.Values) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b"})
			if r.Verdict != tc.verdict || r.Status != tc.status || r.Reason != tc.reason || r.RetryAfter != tc.wait {
				t.Errorf("result = %s %d %q %v, want %s %d %q %v", r.Verdict, r.Status, r.Reason, r.RetryAfter, tc.verdict, tc.status, tc.reason, tc.wait)
			}
			if (r.Verdict == push.TokenInvalid) != slices.Equal(r.InvalidTokens, []string{testToken}) {
				t.Errorf("InvalidTokens = %v for %s", r.InvalidTokens, r.Verdict)
			}
			if r.Exchange == nil || r.Exchange.Status != tc.status || r.Exchange.Answer != tc.body {
				t.Errorf("exchange = %+v", r.Exchange)
			}
			vendortest.SameWithoutExchange(t, c.Send, push.Notification{Token: testToken, Title: "a", Body: "b"}, r)
		})
	}
}

func TestAuthFailures(t *testing.T) {
	clk := newClock()
	cases := []struct {
		name    string
		reply   string
		verdict push.Verdict
		reason  string
	}{
		{"bad sign", `{"code":16,"message":"Invalid Signature"}`, push.BadRequest, "AuthError: 16 Invalid Signature"},
		{"clock", `{"code":19,"message":"Invalid Timestamp"}`, push.BadRequest, "AuthError: 19 Invalid Timestamp"},
		{"flow control", `{"code":-2,"message":"Service in Flow Control"}`, push.Retry, "AuthError: -2 Service in Flow Control"},
		{"no token", `{"code":0,"message":"Success","data":{}}`, push.Retry, "AuthError: the answer has no data.auth_token"},
		{"code 11 from auth", `{"code":11,"message":"?"}`, push.BadRequest, "AuthError: 11 ?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOPPO(t, clk)
			f.authReply = func(w http.ResponseWriter) { write(w, tc.reply) }
			c := newClient(t, f, nil)
			r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b"})
			if r.Verdict != tc.verdict || r.Reason != tc.reason {
				t.Errorf("result = %s %q, want %s %q", r.Verdict, r.Reason, tc.verdict, tc.reason)
			}
			ex := r.Exchange
			if ex == nil || ex.URL != f.srv.URL+AuthPath || ex.Answer != tc.reply {
				t.Fatalf("exchange = %+v, want the auth call", ex)
			}
			shown, _ := url.ParseQuery(ex.Body)
			ts := shown.Get("timestamp")
			if shown.Get("app_key") != testAppKey || ts != strconv.FormatInt(clk.Now().UnixMilli(), 10) ||
				shown.Get("sign") != push.MaskSecret(sign(testAppKey, ts, testSecret)) || strings.Contains(ex.Body, testSecret) {
				t.Errorf("auth exchange body = %s", ex.Body)
			}
			if len(f.received()) != 0 {
				t.Error("sent without an auth_token")
			}
			// A failed auth is not cached: the next send tries again.
			c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b"})
			if n := f.authRequests(); n != 2 {
				t.Errorf("%d auth calls after two failed sends", n)
			}
		})
	}

	// A wrong secret is what the fake refuses with 16.
	f := newFakeOPPO(t, clk)
	c := newClient(t, f, func(o *Options) { o.MasterSecret = "wrong-secret-0123456789" })
	if r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b"}); r.Verdict != push.BadRequest {
		t.Errorf("wrong secret: %+v", r)
	}
	if len(f.signErrors()) != 1 {
		t.Errorf("sign errors = %v", f.signErrors())
	}
	f.mu.Lock()
	f.signErrs = nil
	f.mu.Unlock()

	// Unreachable: Retry.
	f.srv.Close()
	c = newClient(t, f, nil)
	if r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b"}); r.Verdict != push.Retry ||
		!strings.HasPrefix(r.Reason, "AuthError: NetworkError") {
		t.Errorf("unreachable: %+v", r)
	}
}

func TestDryRun(t *testing.T) {
	clk := newClock()
	f := newFakeOPPO(t, clk)
	c := newClient(t, f, func(o *Options) { o.Category = "IM" })
	r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b", DryRun: true})
	if r.Verdict != "" || r.Exchange == nil || r.Exchange.URL != f.srv.URL+UnicastPath || r.Exchange.Status != 0 {
		t.Fatalf("dry run = %+v", r)
	}
	shown, _ := url.ParseQuery(r.Exchange.Body)
	if !strings.Contains(shown.Get("auth_token"), "…") || !strings.Contains(shown.Get("message"), `"target_value":"`+testToken+`"`) {
		t.Errorf("dry run body = %s", r.Exchange.Body)
	}
	r = c.Send(context.Background(), &push.Notification{Tokens: []string{"a", "b"}, Title: "a", Body: "b", DryRun: true})
	if r.Exchange == nil || r.Exchange.URL != f.srv.URL+SaveMessagePath || !strings.Contains(r.Exchange.Body, "title=a") {
		t.Errorf("batch dry run = %+v", r.Exchange)
	}
	if f.authRequests() != 1 || len(f.received()) != 0 {
		t.Errorf("dry runs made %d auth calls and sent %d", f.authRequests(), len(f.received()))
	}
}

func TestLocalRefusals(t *testing.T) {
	clk := newClock()
	f := newFakeOPPO(t, clk)
	c := newClient(t, f, nil)
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprint("CN_", i)
	}
	cases := []struct {
		name   string
		n      push.Notification
		reason string
	}{
		{"passthrough", push.Notification{Token: testToken, Title: "a", Body: "b", Passthrough: true}, "PassthroughUnsupported"},
		{"no title", push.Notification{Token: testToken, Body: "b"}, "MissingTitle"},
		{"no content", push.Notification{Token: testToken, Title: "a", Body: " "}, "MissingContent"},
		{"payload too large", push.Notification{Token: testToken, Title: "a", Body: "b", Payload: strings.Repeat("x", 4090)}, "PayloadTooLarge"},
		{"no token", push.Notification{Title: "a", Body: "b"}, "MissingToken"},
		{"token and tokens", push.Notification{Token: "x", Tokens: []string{"y", "z"}, Title: "a", Body: "b"}, "TokenAndTokens"},
		{"1001 tokens", push.Notification{Tokens: many, Title: "a", Body: "b"}, "TooManyTokens"},
		{"separator in a token", push.Notification{Tokens: []string{"a;b", "c"}, Title: "a", Body: "b"}, "InvalidToken"},
		{"empty token in a batch", push.Notification{Tokens: []string{"a", ""}, Title: "a", Body: "b"}, "EmptyToken"},
	}
	for _, tc := range cases {
		r := c.Send(context.Background(), &tc.n)
		if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, tc.reason) {
			t.Errorf("%s: %+v, want BadRequest %s", tc.name, r, tc.reason)
		}
	}
	// 4 KB of action_parameters is fine.
	if r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b",
		Payload: strings.Repeat("x", maxActionParameters-len(`{"payload":""}`))}); r.Verdict != push.Delivered {
		t.Errorf("4096-byte action_parameters: %+v", r)
	}
	if n := len(f.received()); n != 1 {
		t.Errorf("%d requests sent, want only the last", n)
	}
}

func TestSendHonoursContext(t *testing.T) {
	clk := newClock()
	f := newFakeOPPO(t, clk)
	f.authGate = vendortest.NewGate(t)
	c := newClient(t, f, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := c.Send(ctx, &push.Notification{Token: testToken, Title: "a", Body: "b"})
	if r.Verdict != push.Retry || !strings.Contains(r.Reason, "deadline") {
		t.Errorf("result = %+v", r)
	}
}

func TestNewReportsEveryBadField(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want []string
	}{
		{"nothing", Options{}, []string{"AppKey", "MasterSecret"}},
		{"endpoints, CA, timeout, level", Options{AppKey: "k", MasterSecret: "s", Endpoint: "http://api.push.oppomobile.com",
			AuthEndpoint: "ftp://x", CAFile: "/nonexistent/ca.pem", Timeout: -1, NotifyLevel: 3, Category: " IM"},
			[]string{"Endpoint must", "AuthEndpoint", "CAFile", "Timeout", "NotifyLevel", "Category"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { vendortest.Refuses(t, New, tc.o, ErrInvalidOptions, tc.want...) })
	}

	// Defaults: the production host, the auth call below it.
	c, err := New(Options{AppKey: "k", MasterSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.authURL != DefaultEndpoint+AuthPath || c.unicastURL != DefaultEndpoint+UnicastPath || c.timeout != DefaultTimeout ||
		c.defaults.notifyLevel != DefaultNotifyLevel {
		t.Errorf("defaults: %s %s %v %d", c.authURL, c.unicastURL, c.timeout, c.defaults.notifyLevel)
	}
	// AuthEndpoint apart from Endpoint, trailing slashes dropped.
	clk := newClock()
	f := newFakeOPPO(t, clk)
	c = newClient(t, f, func(o *Options) { o.Endpoint = f.srv.URL + "/"; o.AuthEndpoint = f.srv.URL + AuthPath })
	if r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "a", Body: "b"}); r.Verdict != push.Delivered {
		t.Errorf("result = %+v", r)
	}
}
