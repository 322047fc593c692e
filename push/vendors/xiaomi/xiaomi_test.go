package xiaomi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

const (
	testSecret  = "mi-app-secret-0123456789abcdef"
	testPackage = "com.example.chat"
	testChannel = "pre54"
	testToken   = "regid-1"
)

// testNow is the clients' clock in these tests.
var testNow = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

// sent is one request as the fake MiPush received it.
type sent struct {
	proto  int
	method string
	path   string
	header http.Header
	body   string
	form   url.Values
}

// fakeMiPush is an HTTP/2 TLS server on loopback playing MiPush's regid API.
// It answers {"result":"ok","code":0,...} unless answer is set.
type fakeMiPush struct {
	srv    *httptest.Server
	caFile string

	mu     sync.Mutex
	sends  []sent
	answer func(w http.ResponseWriter, r *http.Request)
}

func newFakeMiPush(t *testing.T) *fakeMiPush {
	t.Helper()
	m := &fakeMiPush{}
	m.srv, m.caFile = vendortest.TLSServer(t, http.HandlerFunc(m.serve))
	return m
}

func (m *fakeMiPush) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	m.mu.Lock()
	m.sends = append(m.sends, sent{proto: r.ProtoMajor, method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: string(body), form: form})
	answer := m.answer
	m.mu.Unlock()
	if answer != nil {
		answer(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	io.WriteString(w, `{"result":"ok","trace_id":"Xcm1","code":0,"data":{"id":"slm1"},"description":"成功","info":"Received push messages for 1 REGID"}`)
}

func (m *fakeMiPush) setAnswer(status int, header http.Header, body string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.answer = func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func (m *fakeMiPush) sent() []sent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sends)
}

// newClient makes a Client that sends to m, with ChannelID testChannel and the clock at testNow.
func newClient(t *testing.T, m *fakeMiPush) *Client {
	t.Helper()
	return vendortest.NewClient(t, New, Options{AppSecret: testSecret, PackageName: testPackage, Endpoint: m.srv.URL, ChannelID: testChannel,
		CAFile: m.caFile, Timeout: 10 * time.Second, Now: func() time.Time { return testNow }})
}

func TestSendNotification(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)
	classification := 1
	r := c.Send(context.Background(), &push.Notification{
		ID: "outbox-7", Token: testToken, Title: "Ada", Body: "hello", Payload: `{"m":1,"s":"a&b=c"}`, Badge: 9, BadgeAdd: 3,
		Sound: "ring.mp3", Category: "IM", Importance: "NORMAL", Classification: &classification,
		Priority: push.PriorityHigh, CollapseID: "msg-42", Expiration: testNow.Add(time.Hour + 1500*time.Microsecond),
		Data: map[string]string{"message_id": "m1", "seq": "9", "sender": "ada"},
	})
	if r.Verdict != push.Delivered || r.Status != 200 || r.Reason != "" || len(r.InvalidTokens) != 0 {
		t.Fatalf("result = %+v, want delivered 200", r)
	}
	s := m.sent()
	if len(s) != 1 {
		t.Fatalf("%d requests, want 1", len(s))
	}
	got := s[0]
	if got.proto != 2 || got.method != http.MethodPost || got.path != "/v3/message/regid" {
		t.Errorf("request = HTTP/%d %s %s, want HTTP/2 POST /v3/message/regid", got.proto, got.method, got.path)
	}
	if a := got.header.Get("Authorization"); a != "key="+testSecret {
		t.Errorf("Authorization = %q", a)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/x-www-form-urlencoded;charset=UTF-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	want := url.Values{
		"registration_id":         {testToken},
		"restricted_package_name": {testPackage},
		"pass_through":            {"0"},
		"title":                   {"Ada"},
		"description":             {"hello"},
		"payload":                 {`{"m":1,"s":"a&b=c"}`},
		"notify_type":             {"-1"},
		"notify_id":               {fmt.Sprint(NotifyID("msg-42"))},
		"time_to_live":            {"3600002"}, // 1 h 1.5 ms, rounded up
		"extra.channel_id":        {testChannel},
		"extra.sound_uri":         {"android.resource://" + testPackage + "/raw/ring"},
		"extra.badge":             {"3"},
		"extra.message_id":        {"m1"},
		"extra.seq":               {"9"},
		"extra.sender":            {"ada"},
	}
	if !reflect.DeepEqual(got.form, want) {
		t.Errorf("form =\n%v\nwant\n%v", got.form, want)
	}
	// The payload is form-encoded once, as MiPush decodes it once.
	if !strings.Contains(got.body, "payload=%7B%22m%22%3A1%2C%22s%22%3A%22a%26b%3Dc%22%7D") {
		t.Errorf("body %s does not carry the payload encoded once", got.body)
	}

	ex := r.Exchange
	if ex == nil || ex.Method != http.MethodPost || ex.URL != m.srv.URL+"/v3/message/regid" || ex.Body != got.body ||
		ex.Status != 200 || !strings.Contains(ex.Answer, `"slm1"`) {
		t.Fatalf("exchange = %+v, want the request as sent and the answer", ex)
	}
	if a := ex.Headers["authorization"]; a != "key="+push.MaskSecret(testSecret) || strings.Contains(a, testSecret) {
		t.Errorf("exchange authorization = %q, want the secret masked", a)
	}
	if ex.Headers["content-type"] != "application/x-www-form-urlencoded;charset=UTF-8" {
		t.Errorf("exchange headers = %v", ex.Headers)
	}
}

func TestSendChannelSoundAndNotifyID(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)
	cases := []struct {
		name string
		n    push.Notification
		want map[string]string // "" = absent
	}{
		{"the notification's channel wins", push.Notification{ChannelID: "pre99"}, map[string]string{"extra.channel_id": "pre99"}},
		{"default sound", push.Notification{Sound: "default"}, map[string]string{"extra.sound_uri": ""}},
		{"sound URI kept", push.Notification{Sound: "android.resource://x.y/raw/z"}, map[string]string{"extra.sound_uri": "android.resource://x.y/raw/z"}},
		{"no collapse id: the push id", push.Notification{ID: "outbox-8"}, map[string]string{"notify_id": fmt.Sprint(NotifyID("outbox-8"))}},
		{"neither", push.Notification{}, map[string]string{"notify_id": "", "time_to_live": "", "payload": "", "extra.badge": ""}},
		{"expiration past two weeks", push.Notification{Expiration: testNow.Add(30 * 24 * time.Hour)}, map[string]string{"time_to_live": "1209600000"}},
		{"long texts are cut", push.Notification{Title: strings.Repeat("标", 60), Body: strings.Repeat("b", 200)},
			map[string]string{"title": strings.Repeat("标", 48) + "…", "description": strings.Repeat("b", 126) + "…"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.n
			n.Token = testToken
			if n.Title == "" {
				n.Title, n.Body = "t", "b"
			}
			if r := c.Send(context.Background(), &n); r.Verdict != push.Delivered {
				t.Fatalf("result = %+v", r)
			}
			form := m.sent()[i].form
			for k, v := range tc.want {
				if got, ok := form[k]; v == "" && ok || v != "" && (len(got) != 1 || got[0] != v) {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if n := utf8.RuneCountInString(form.Get("title")); n > 49 {
				t.Errorf("title has %d characters", n)
			}
		})
	}
}

func TestSendPassthrough(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)
	r := c.Send(context.Background(), &push.Notification{
		Token: testToken, Passthrough: true, Payload: "p", Sound: "ring", CollapseID: "c", Data: map[string]string{"call_id": "k"},
	})
	if r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	want := url.Values{
		"registration_id":         {testToken},
		"restricted_package_name": {testPackage},
		"pass_through":            {"1"},
		"payload":                 {"p"},
		"extra.channel_id":        {testChannel},
		"extra.call_id":           {"k"},
	}
	if got := m.sent()[0].form; !reflect.DeepEqual(got, want) {
		t.Errorf("form = %v\nwant %v", got, want)
	}
}

func TestNotifyID(t *testing.T) {
	seen := map[int]string{}
	for _, k := range []string{"a", "b", "msg-1", "msg-2", "", strings.Repeat("x", 1000)} {
		id := NotifyID(k)
		if id < 1 || id > 1<<31-1 || NotifyID(k) != id {
			t.Errorf("NotifyID(%q) = %d, want a stable int in 1..2^31-1", k, id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("NotifyID(%q) = NotifyID(%q)", k, other)
		}
		seen[id] = k
	}
}

func TestBatchIsOneRequest(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)
	if Vendor().MaxBatch != 1000 {
		t.Fatalf("MaxBatch = %d", Vendor().MaxBatch)
	}
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("regid-%04d", i)
	}
	m.setAnswer(200, nil, `{"result":"ok","code":0,"data":{"id":"slm2","bad_regids":"regid-0003,regid-0999,stranger"}}`)
	r := c.Send(context.Background(), &push.Notification{Tokens: tokens, Title: "t", Body: "b"})
	if r.Verdict != push.Delivered || !slices.Equal(r.InvalidTokens, []string{"regid-0003", "regid-0999"}) {
		t.Fatalf("result = %s %v, want delivered with the two bad ids (not the stranger)", r.Verdict, r.InvalidTokens)
	}
	s := m.sent()
	if len(s) != 1 || s[0].form.Get("registration_id") != strings.Join(tokens, ",") {
		t.Fatalf("%d requests, want one carrying all 1000 ids", len(s))
	}

	r = c.Send(context.Background(), &push.Notification{Tokens: append(tokens, "one-more"), Title: "t", Body: "b"})
	if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, "TooManyTokens") || len(m.sent()) != 1 {
		t.Fatalf("1001 ids: %+v, want a local refusal", r)
	}
}

func TestEveryTokenInvalid(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)
	batch := []string{"a", "b"}
	cases := []struct {
		name   string
		tokens []string
		answer string
	}{
		{"single, code 20301", []string{testToken}, `{"result":"error","code":20301,"reason":"No valid targets!"}`},
		{"batch, code 20301", batch, `{"result":"error","code":20301,"reason":"No valid targets!"}`},
		{"single, in bad_regids", []string{testToken}, `{"result":"ok","code":0,"data":{"bad_regids":"` + testToken + `"}}`},
		{"batch, all in bad_regids", batch, `{"result":"ok","code":0,"data":{"bad_regids":"b,a,a"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m.setAnswer(200, nil, tc.answer)
			n := &push.Notification{Title: "t", Body: "b"}
			if len(tc.tokens) == 1 {
				n.Token = tc.tokens[0]
			} else {
				n.Tokens = tc.tokens
			}
			r := c.Send(context.Background(), n)
			slices.Sort(r.InvalidTokens)
			if r.Verdict != push.TokenInvalid || !slices.Equal(r.InvalidTokens, tc.tokens) {
				t.Errorf("result = %s %v, want token invalid for %v", r.Verdict, r.InvalidTokens, tc.tokens)
			}
		})
	}
}

func TestSendMapsAnswers(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)
	in2min := testNow.Add(2*time.Minute + 30*time.Second).UTC().Format(http.TimeFormat)
	errBody := func(code int, reason string) string {
		return fmt.Sprintf(`{"result":"error","code":%d,"reason":%q,"description":"…","trace_id":"Xcm1"}`, code, reason)
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
		{"ok", 200, `{"result":"ok","code":0,"data":{"id":"x"}}`, "", push.Delivered, "", 0},
		{"ok without a code", 200, `{"result":"ok"}`, "", push.Delivered, "", 0},
		{"all invalid", 200, errBody(20301, "No valid targets!"), "", push.TokenInvalid, "20301: No valid targets!", 0},
		{"busy 10002", 200, errBody(10002, "busy"), "", push.Retry, "10002: busy", 0},
		{"10003", 200, errBody(10003, "x"), "", push.Retry, "10003: x", 0},
		{"10027", 200, errBody(10027, "x"), "", push.Retry, "10027: x", 0},
		{"10037 with Retry-After", 200, errBody(10037, "x"), "30", push.Retry, "10037: x", 30 * time.Second},
		{"daily quota", 200, errBody(200001, "quota"), "", push.QuotaExhausted, "200001: quota", 0},
		{"auth failed", 200, errBody(21301, "Invalid application secret!"), "", push.BadRequest, "21301: Invalid application secret!", 0},
		{"missing parameter", 200, errBody(21305, "Missing required parameter: title"), "", push.BadRequest, "21305: Missing required parameter: title", 0},
		{"unknown code", 200, errBody(99999, "new"), "", push.BadRequest, "99999: new", 0},
		{"code as a string", 200, `{"result":"error","code":"200001","description":"超过当日推送总量限制"}`, "", push.QuotaExhausted, "200001: 超过当日推送总量限制", 0},
		{"code on a 503", 503, errBody(10002, "busy"), in2min, push.Retry, "10002: busy", 2*time.Minute + 30*time.Second},
		{"bad gateway page", 502, `<html>502</html>`, "", push.Retry, "", 0},
		{"429 without body", 429, ``, "5", push.Retry, "", 5 * time.Second},
		{"401 without body", 401, ``, "", push.BadRequest, "", 0},
		{"404 page", 404, `not found`, "", push.BadRequest, "", 0},
		{"200 unreadable", 200, `<html>`, "", push.Retry, "UnreadableAnswer", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.retryAfter != "" {
				h.Set("Retry-After", tc.retryAfter)
			}
			m.setAnswer(tc.status, h, tc.body)
			r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "t", Body: "b"})
			if r.Verdict != tc.verdict || r.Status != tc.status || r.Reason != tc.reason || r.RetryAfter != tc.wait {
				t.Errorf("result = %s %d %q %v, want %s %d %q %v", r.Verdict, r.Status, r.Reason, r.RetryAfter,
					tc.verdict, tc.status, tc.reason, tc.wait)
			}
			if r.Exchange == nil || r.Exchange.Status != tc.status || r.Exchange.Answer != tc.body {
				t.Errorf("exchange = %+v, want status and answer", r.Exchange)
			}
			vendortest.SameWithoutExchange(t, c.Send, push.Notification{Token: testToken, Title: "t", Body: "b"}, r)
		})
	}
}

func TestConcurrentSendsCarryTheKey(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 20 {
				c.Refresh() // nothing to refresh: a no-op that must not disturb sends
			}
			if r := c.Send(context.Background(), &push.Notification{Token: fmt.Sprint("regid-", i), Title: "t", Body: "b"}); r.Verdict != push.Delivered {
				t.Errorf("result = %+v", r)
			}
		}()
	}
	wg.Wait()
	s := m.sent()
	if len(s) != 40 {
		t.Fatalf("%d requests, want 40", len(s))
	}
	for _, r := range s {
		if r.header.Get("Authorization") != "key="+testSecret {
			t.Fatalf("a send carried Authorization %q", r.header.Get("Authorization"))
		}
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)
	n := &push.Notification{Token: testToken, Title: "t", Body: "b", Data: map[string]string{"k": "v"}, DryRun: true}
	dry := c.Send(context.Background(), n)
	if dry.Verdict != "" || dry.Status != 0 || dry.Exchange == nil || len(m.sent()) != 0 {
		t.Fatalf("dry run = %+v with %d requests, want no verdict, no status, an exchange, nothing sent", dry, len(m.sent()))
	}
	n.DryRun = false
	real := c.Send(context.Background(), n)
	if real.Verdict != push.Delivered {
		t.Fatalf("result = %+v", real)
	}
	vendortest.SameRequest(t, dry.Exchange, real.Exchange)
}

func TestNetworkFailuresAreRetry(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)

	block := make(chan struct{})
	m.mu.Lock()
	m.answer = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := c.Send(ctx, &push.Notification{Token: testToken, Title: "t", Body: "b"})
	close(block)
	if r.Verdict != push.Retry || !strings.HasPrefix(r.Reason, "NetworkError") || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("result = %+v, want retry once the deadline passed", r)
	}

	m.srv.Close()
	r = c.Send(context.Background(), &push.Notification{Token: testToken, Title: "t", Body: "b"})
	if r.Verdict != push.Retry || !strings.HasPrefix(r.Reason, "NetworkError") || r.Exchange == nil {
		t.Errorf("result = %+v, want retry on a closed server", r)
	}
}

func TestUntrustedServerIsRetry(t *testing.T) {
	m := newFakeMiPush(t)
	c, err := New(Options{AppSecret: testSecret, PackageName: testPackage, Endpoint: m.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "t", Body: "b"})
	if r.Verdict != push.Retry || !strings.Contains(r.Reason, "certificate") || len(m.sent()) != 0 {
		t.Errorf("result = %+v, want retry on an unknown certificate", r)
	}
}

func TestLocalRefusals(t *testing.T) {
	m := newFakeMiPush(t)
	c := newClient(t, m)
	for _, tc := range []struct {
		n      push.Notification
		reason string
	}{
		{push.Notification{Title: "t", Body: "no token"}, "MissingToken"},
		{push.Notification{Token: "a", Tokens: []string{"b"}, Title: "t", Body: "b"}, "TokenAndTokens"},
		{push.Notification{Tokens: []string{"a", ""}, Title: "t", Body: "b"}, "EmptyToken"},
		{push.Notification{Token: "a,b", Title: "t", Body: "b"}, "BadToken"},
		{push.Notification{Token: "a b", Title: "t", Body: "b"}, "BadToken"},
		{push.Notification{Token: testToken, Body: "no title"}, "MissingTitle"},
		{push.Notification{Token: testToken, Title: "  ", Body: "blank title"}, "MissingTitle"},
		{push.Notification{Token: testToken, Title: "no body"}, "MissingDescription"},
		{push.Notification{Token: testToken, Title: "t", Body: "b", Payload: strings.Repeat("p", 4097)}, "PayloadTooLarge"},
		{push.Notification{Token: testToken, Title: "t", Body: "b", Expiration: testNow.Add(-time.Second)}, "Expired"},
		{push.Notification{Token: testToken, Title: "t", Body: "b", Expiration: testNow}, "Expired"},
		{push.Notification{Token: testToken, Title: "t", Body: "b", Data: map[string]string{"channel_id": "x"}}, "ReservedDataKey"},
		{push.Notification{Token: testToken, Title: "t", Body: "b", Data: map[string]string{"callback.param": "x"}}, "ReservedDataKey"},
		{push.Notification{Token: testToken, Title: "t", Body: "b", Data: map[string]string{"": "x"}}, "BadDataKey"},
	} {
		r := c.Send(context.Background(), &tc.n)
		if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, tc.reason) {
			t.Errorf("%+v: result = %+v, want bad request %s", tc.n, r, tc.reason)
		}
	}
	if n := len(m.sent()); n != 0 {
		t.Errorf("%d refused notifications were sent", n)
	}
	// At the limit it goes.
	if r := c.Send(context.Background(), &push.Notification{Token: testToken, Title: "t", Body: "b", Payload: strings.Repeat("p", 4096)}); r.Verdict != push.Delivered {
		t.Errorf("a 4096-byte payload: %+v", r)
	}
}

func TestNewReportsEveryBadField(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want []string
	}{
		{"nothing", Options{}, []string{"AppSecret is required", "PackageName is required"}},
		{"bad values", Options{AppSecret: " secret\n", PackageName: "chat", Endpoint: "http://api.xmpush.xiaomi.com",
			CAFile: "/nonexistent/ca.pem", Timeout: -time.Second},
			[]string{"AppSecret", "PackageName", "Endpoint", "CAFile", "Timeout"}},
		{"package with a leading digit", Options{AppSecret: "s", PackageName: "com.1chat"}, []string{"PackageName"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { vendortest.Refuses(t, New, tc.o, ErrInvalidOptions, tc.want...) })
	}

	// Defaults: the production endpoint; a trailing slash is trimmed.
	c, err := New(Options{AppSecret: "s", PackageName: "com.example.chat_2"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c.sendURL != DefaultEndpoint+"/v3/message/regid" || vendorhttp.RequestTimeout(c.http) != DefaultTimeout {
		t.Errorf("defaults: %s, %v", c.sendURL, vendorhttp.RequestTimeout(c.http))
	}
	c, err = New(Options{AppSecret: "s", PackageName: "com.example.chat", Endpoint: "https://sim.local/xiaomi/"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c.sendURL != "https://sim.local/xiaomi/v3/message/regid" {
		t.Errorf("sendURL = %s", c.sendURL)
	}
}
