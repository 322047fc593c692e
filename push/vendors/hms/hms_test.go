package hms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
)

const (
	testClientID = "108123456"
	// testSecret has characters that must be URL-encoded in the token form.
	testSecret = "s3cr+t/=&%é 9f86d081884c7d659a2feaa0c55ad015"
)

// newClock is a settable clock for Options.Now.
func newClock() *vendortest.Clock {
	return vendortest.NewClock(time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC))
}

// sent is one messages:send request as the fake received it.
type sent struct {
	path        string
	auth        string
	contentType string
	body        []byte
}

// fakeHuawei is a TLS server on loopback that plays Huawei's token endpoint
// (/oauth2/v3/token) and Push Kit (/v1/{clientId}/messages:send). It issues
// access tokens "access-1-…", "access-2-…" and accepts only those not revoked.
type fakeHuawei struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string

	mu         sync.Mutex
	tokenCalls int
	expiresIn  int
	tokenFail  func(w http.ResponseWriter) bool // answers the token request itself when true
	tokenGate  *vendortest.Gate
	formErrs   []error
	valid      map[string]bool
	sends      []sent
	answer     func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newFakeHuawei(t *testing.T) *fakeHuawei {
	t.Helper()
	h := &fakeHuawei{t: t, valid: map[string]bool{}, expiresIn: 3600}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/v3/token", h.token)
	mux.HandleFunc("POST /v1/{clientId}/messages:send", h.send)
	h.srv, h.caFile = vendortest.TLSServer(t, mux)
	return h
}

func (h *fakeHuawei) authURL() string { return h.srv.URL + "/oauth2/v3/token" }

func (h *fakeHuawei) token(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.tokenCalls++
	n, fail, gate, expiresIn := h.tokenCalls, h.tokenFail, h.tokenGate, h.expiresIn
	h.mu.Unlock()
	if !gate.Pass(r.Context()) {
		return
	}
	if fail != nil && fail(w) {
		return
	}
	if err := checkForm(r); err != nil {
		h.mu.Lock()
		h.formErrs = append(h.formErrs, err)
		h.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":1101,"sub_error":12304,"error_description":"invalid client_secret"}`)
		return
	}
	access := fmt.Sprintf("access-%d-%s", n, strings.Repeat("x", 20))
	h.mu.Lock()
	h.valid[access] = true
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"token_type":"Bearer"}`, access, expiresIn)
}

func checkForm(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		return fmt.Errorf("content-type %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" || f.Get("client_id") != testClientID || f.Get("client_secret") != testSecret {
		return fmt.Errorf("form %v", f)
	}
	return nil
}

func (h *fakeHuawei) send(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	access, _ := strings.CutPrefix(auth, "Bearer ")
	h.mu.Lock()
	h.sends = append(h.sends, sent{path: r.URL.Path, auth: auth, contentType: r.Header.Get("Content-Type"), body: body})
	ok := h.valid[access]
	answer := h.answer
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	switch {
	case !ok:
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"code":"80200003","msg":"Request access token expired.","requestId":"1"}`)
	case answer != nil:
		answer(w, r, body)
	default:
		io.WriteString(w, `{"code":"80000000","msg":"Success","requestId":"157440955549500001002006"}`)
	}
}

func (h *fakeHuawei) setAnswer(a func(w http.ResponseWriter, r *http.Request, body []byte)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answer = a
}

func (h *fakeHuawei) revokeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.valid)
}

func (h *fakeHuawei) tokenRequests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tokenCalls
}

func (h *fakeHuawei) sent() []sent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sends)
}

// newClient makes a Client that talks to h for tokens and sends, on clk.
func newClient(t *testing.T, h *fakeHuawei, clk *vendortest.Clock, edit ...func(*Options)) *Client {
	t.Helper()
	o := Options{
		ClientID: testClientID, ClientSecret: testSecret, Endpoint: h.srv.URL, AuthEndpoint: h.authURL(),
		CAFile: h.caFile, Timeout: 10 * time.Second, Now: clk.Now,
	}
	c := vendortest.NewClient(t, New, o, edit...)
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, err := range h.formErrs {
			t.Errorf("token endpoint refused the form: %v", err)
		}
	})
	return c
}

// decodeBody decodes a sent body, with message.data decoded from its string.
func decodeBody(t *testing.T, b []byte) (body map[string]any, data map[string]any) {
	t.Helper()
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%s is not JSON: %v", b, err)
	}
	msg := body["message"].(map[string]any)
	if s, ok := msg["data"].(string); ok {
		if err := json.Unmarshal([]byte(s), &data); err != nil {
			t.Fatalf("message.data %q is not a JSON object: %v", s, err)
		}
		delete(msg, "data")
	}
	return body, data
}

func TestSendNotificationMapsEveryField(t *testing.T) {
	h := newFakeHuawei(t)
	clk := newClock()
	c := newClient(t, h, clk)
	cls := 1
	r := c.Send(context.Background(), &push.Notification{
		ID: "42", Token: "tok-1", Title: "Ada", Body: "hello <3 & bye", Payload: `{"m":1}`, Badge: 120,
		Sound: "/raw/ping", ChannelID: "messages", Category: "im", Importance: "normal", Classification: &cls,
		Priority: push.PriorityHigh, CollapseID: "c-1", Expiration: clk.Now().Add(time.Hour - 300*time.Millisecond),
		Data: map[string]string{"message_id": "m1", "seq": "9", BadgeClassKey: "im.pushd.demo.MainActivity"},
	})
	if r.Verdict != push.Delivered || r.Status != 200 || r.Reason != "80000000" || len(r.InvalidTokens) != 0 {
		t.Fatalf("result = %+v", r)
	}
	s := h.sent()
	if len(s) != 1 || s[0].path != "/v1/"+testClientID+"/messages:send" || s[0].contentType != "application/json;charset=UTF-8" {
		t.Fatalf("sends = %+v", s)
	}
	if strings.Contains(string(s[0].body), `\u003c`) {
		t.Errorf("body escapes HTML, inflating its size: %s", s[0].body)
	}
	body, data := decodeBody(t, s[0].body)
	want := map[string]any{"validate_only": false, "message": map[string]any{
		"token": []any{"tok-1"},
		"android": map[string]any{
			"collapse_key": -1.0, "urgency": "HIGH", "category": "IM", "ttl": "3600s", "bi_tag": "42",
			"notification": map[string]any{
				"title": "Ada", "body": "hello <3 & bye", "channel_id": "messages", "sound": "/raw/ping",
				"notify_id": float64(notifyID("c-1")), "importance": "NORMAL",
				"badge":        map[string]any{"set_num": 99.0, "class": "im.pushd.demo.MainActivity"},
				"click_action": map[string]any{"type": 3.0},
			},
		},
	}}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %s\nwant %v", s[0].body, want)
	}
	if want := map[string]any{"message_id": "m1", "seq": "9", "payload": `{"m":1}`}; !reflect.DeepEqual(data, want) {
		t.Errorf("data = %v, want %v (badge_class is not passed on)", data, want)
	}

	ex := r.Exchange
	access, _ := strings.CutPrefix(s[0].auth, "Bearer ")
	if ex == nil || ex.Method != http.MethodPost || ex.URL != h.srv.URL+s[0].path || ex.Body != string(s[0].body) ||
		ex.Status != 200 || !strings.Contains(ex.Answer, "80000000") || ex.Headers["content-type"] != s[0].contentType {
		t.Fatalf("exchange = %+v, want the request as sent and the answer", ex)
	}
	if got := ex.Headers["authorization"]; got != "Bearer "+push.MaskSecret(access) || strings.Contains(got, access) {
		t.Errorf("exchange authorization = %q, want the access token masked", got)
	}
	if strings.Contains(fmt.Sprint(ex), testSecret) {
		t.Error("the exchange shows the client secret")
	}
}

func TestSendDefaultsAndPassthrough(t *testing.T) {
	h := newFakeHuawei(t)
	clk := newClock()
	c := newClient(t, h, clk, func(o *Options) { o.Category = "IM" })

	// The option's category applies; no sound means the default sound; no
	// badge without a badge class; medium priority is HIGH urgency.
	r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b", Badge: 2, Priority: push.PriorityMedium})
	if r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	body, data := decodeBody(t, h.sent()[0].body)
	want := map[string]any{"validate_only": false, "message": map[string]any{
		"token": []any{"t"},
		"android": map[string]any{"collapse_key": -1.0, "urgency": "HIGH", "category": "IM",
			"notification": map[string]any{"title": "a", "body": "b", "default_sound": true, "click_action": map[string]any{"type": 3.0}}},
	}}
	if !reflect.DeepEqual(body, want) || data != nil {
		t.Errorf("body = %s\nwant %v", h.sent()[0].body, want)
	}

	// A notification's own category wins; pass-through sends data only, with
	// the title and body unless the app's data has those keys; low priority is NORMAL.
	r = c.Send(context.Background(), &push.Notification{
		Token: "t", Title: "Ada", Body: "hi", Payload: "p", Passthrough: true, Category: "VOIP", Priority: push.PriorityLow,
		ChannelID: "ignored", Sound: "ignored", CollapseID: "c", Data: map[string]string{"title": "own"},
	})
	if r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	body, data = decodeBody(t, h.sent()[1].body)
	want = map[string]any{"validate_only": false, "message": map[string]any{
		"token":   []any{"t"},
		"android": map[string]any{"collapse_key": -1.0, "urgency": "NORMAL", "category": "VOIP"},
	}}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %s\nwant %v", h.sent()[1].body, want)
	}
	if want := map[string]any{"title": "own", "body": "hi", "payload": "p"}; !reflect.DeepEqual(data, want) {
		t.Errorf("data = %v, want %v", data, want)
	}
}

// The badge is the absolute number (set_num), with the configured class; a
// push's own class (Data) wins over it.
func TestBadgeSetsTheNumberWithTheConfiguredClass(t *testing.T) {
	h := newFakeHuawei(t)
	c := newClient(t, h, newClock(), func(o *Options) { o.BadgeClass = "com.example.Main" })
	for _, n := range []*push.Notification{
		{Token: "t", Title: "a", Body: "b", Badge: 7},
		{Token: "t", Title: "a", Body: "b", Badge: 3, Data: map[string]string{BadgeClassKey: "com.other.Main"}},
		{Token: "t", Title: "a", Body: "b"},
	} {
		if r := c.Send(context.Background(), n); r.Verdict != push.Delivered {
			t.Fatalf("result = %+v", r)
		}
	}
	for i, want := range []any{
		map[string]any{"set_num": 7.0, "class": "com.example.Main"},
		map[string]any{"set_num": 3.0, "class": "com.other.Main"},
		nil,
	} {
		body, _ := decodeBody(t, h.sent()[i].body)
		an := body["message"].(map[string]any)["android"].(map[string]any)["notification"].(map[string]any)
		if got := an["badge"]; !reflect.DeepEqual(got, want) {
			t.Errorf("push %d: badge = %v, want %v", i, got, want)
		}
	}
}

func TestTTLIsClampedToFifteenDays(t *testing.T) {
	h := newFakeHuawei(t)
	clk := newClock()
	c := newClient(t, h, clk)
	c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b", Expiration: clk.Now().Add(30 * 24 * time.Hour)})
	body, _ := decodeBody(t, h.sent()[0].body)
	if got := body["message"].(map[string]any)["android"].(map[string]any)["ttl"]; got != "1296000s" {
		t.Errorf("ttl = %v, want 1296000s", got)
	}
}

func TestBatchIsOneRequest(t *testing.T) {
	h := newFakeHuawei(t)
	c := newClient(t, h, newClock())
	if Vendor().MaxBatch != 1000 {
		t.Fatalf("MaxBatch = %d", Vendor().MaxBatch)
	}
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("tok-%04d", i)
	}
	r := c.Send(context.Background(), &push.Notification{Tokens: tokens, Title: "a", Body: "b"})
	if r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	s := h.sent()
	if len(s) != 1 {
		t.Fatalf("%d requests for 1000 tokens, want 1", len(s))
	}
	body, _ := decodeBody(t, s[0].body)
	got := body["message"].(map[string]any)["token"].([]any)
	if len(got) != 1000 || got[0] != "tok-0000" || got[999] != "tok-0999" {
		t.Errorf("token array has %d tokens", len(got))
	}

	// Duplicates are sent once; 1001 distinct tokens are refused before sending.
	c.Send(context.Background(), &push.Notification{Tokens: []string{"a", "b", "a"}, Title: "a", Body: "b"})
	body, _ = decodeBody(t, h.sent()[1].body)
	if got := body["message"].(map[string]any)["token"]; !reflect.DeepEqual(got, []any{"a", "b"}) {
		t.Errorf("tokens = %v", got)
	}
	r = c.Send(context.Background(), &push.Notification{Tokens: append(tokens, "tok-1000"), Title: "a", Body: "b"})
	if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, "TooManyTokens") || len(h.sent()) != 2 {
		t.Errorf("1001 tokens: %+v, %d requests", r, len(h.sent()))
	}
}

func TestAccessTokenFetchedOnceForConcurrentSends(t *testing.T) {
	h := newFakeHuawei(t)
	gate := vendortest.NewGate(t)
	h.tokenGate = gate
	c := newClient(t, h, newClock())
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"}); r.Verdict != push.Delivered {
				t.Errorf("result = %+v", r)
			}
		}()
	}
	// Let the Sends reach the fetch before it completes.
	gate.AwaitArrival(t)
	gate.Open()
	wg.Wait()
	if n := h.tokenRequests(); n != 1 {
		t.Errorf("%d token requests for 30 concurrent sends, want 1", n)
	}
	auths := map[string]bool{}
	for _, s := range h.sent() {
		auths[s.auth] = true
	}
	if len(auths) != 1 || len(h.sent()) != 30 {
		t.Errorf("%d sends with %d distinct tokens", len(h.sent()), len(auths))
	}
}

func TestAccessTokenRenewedBeforeExpiry(t *testing.T) {
	h := newFakeHuawei(t)
	clk := newClock()
	c := newClient(t, h, clk)
	send := func() push.Result {
		return c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"})
	}
	send()
	clk.Advance(54 * time.Minute)
	send()
	if n := h.tokenRequests(); n != 1 {
		t.Fatalf("%d token requests within the token's life, want 1", n)
	}
	clk.Advance(2 * time.Minute) // 56 min: within the last 5 minutes of the hour
	send()
	if n := h.tokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want a new token 5 minutes before expiry", n)
	}

	// A short-lived token is renewed at half its life.
	h.mu.Lock()
	h.expiresIn = 60
	h.mu.Unlock()
	c.Refresh()
	send()
	clk.Advance(29 * time.Second)
	send()
	clk.Advance(2 * time.Second)
	send()
	if n := h.tokenRequests(); n != 4 {
		t.Errorf("%d token requests, want 4", n)
	}
}

func TestAuthExpiredCodesAndRefresh(t *testing.T) {
	h := newFakeHuawei(t)
	c := newClient(t, h, newClock())
	send := func() push.Result {
		return c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"})
	}
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("first send: %+v", r)
	}
	h.revokeAll()
	r := send()
	if r.Verdict != push.AuthExpired || r.Status != 401 || r.Reason != "80200003" {
		t.Fatalf("send with a revoked token: %+v, want auth expired", r)
	}
	// The rejected token is dropped: the next send fetches a new one by itself.
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("send after 80200003: %+v", r)
	}
	if n := h.tokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	// 80200001 (another app's token) is auth expired too.
	h.setAnswer(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(401)
		io.WriteString(w, `{"code":"80200001","msg":"Authentication Error.","requestId":"1"}`)
	})
	if r := send(); r.Verdict != push.AuthExpired || r.Reason != "80200001" {
		t.Fatalf("80200001: %+v", r)
	}
	h.setAnswer(nil)
	// Refresh forces a new token even when the cached one is good.
	send()
	before := h.tokenRequests()
	c.Refresh()
	send()
	if n := h.tokenRequests(); n != before+1 {
		t.Errorf("%d token requests after Refresh, want %d", n, before+1)
	}
}

func TestPartialSuccessReportsInvalidTokens(t *testing.T) {
	h := newFakeHuawei(t)
	c := newClient(t, h, newClock())
	h.setAnswer(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		msg := `{"success":2,"failure":2,"illegal_tokens":["bad-1","bad-2","not-sent"]}`
		b, _ := json.Marshal(map[string]string{"code": "80100000", "msg": msg, "requestId": "1"})
		w.Write(b)
	})
	r := c.Send(context.Background(), &push.Notification{Tokens: []string{"ok-1", "bad-1", "ok-2", "bad-2"}, Title: "a", Body: "b"})
	if r.Verdict != push.Delivered || r.Reason != "80100000" || !reflect.DeepEqual(r.InvalidTokens, []string{"bad-1", "bad-2"}) {
		t.Fatalf("result = %+v, want delivered with bad-1, bad-2 invalid (a token not sent is ignored)", r)
	}
	r = c.Send(context.Background(), &push.Notification{Token: "bad-1", Title: "a", Body: "b"})
	if r.Verdict != push.TokenInvalid || len(r.InvalidTokens) != 0 {
		t.Fatalf("single token listed illegal: %+v, want token invalid", r)
	}
	r = c.Send(context.Background(), &push.Notification{Tokens: []string{"bad-1", "bad-2"}, Title: "a", Body: "b"})
	if r.Verdict != push.BadRequest || len(r.InvalidTokens) != 0 || !strings.Contains(r.Reason, "check client_id/package") {
		t.Fatalf("whole batch listed illegal: %+v, want the mass-deletion guard", r)
	}
}

func TestAllTokensInvalidGuard(t *testing.T) {
	h := newFakeHuawei(t)
	c := newClient(t, h, newClock())
	h.setAnswer(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(400)
		io.WriteString(w, `{"code":"80300007","msg":"All the tokens are invalid.","requestId":"1"}`)
	})
	r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"})
	if r.Verdict != push.TokenInvalid || r.Reason != "80300007" || r.Status != 400 {
		t.Errorf("single token: %+v, want token invalid", r)
	}
	r = c.Send(context.Background(), &push.Notification{Tokens: []string{"t1"}, Title: "a", Body: "b"})
	if r.Verdict != push.TokenInvalid {
		t.Errorf("batch of one: %+v, want token invalid", r)
	}
	r = c.Send(context.Background(), &push.Notification{Tokens: []string{"t1", "t2", "t3"}, Title: "a", Body: "b"})
	if r.Verdict != push.BadRequest || r.Reason != "80300007 for the whole batch: check client_id/package before unbinding" || len(r.InvalidTokens) != 0 {
		t.Errorf("batch: %+v, want bad request without invalid tokens", r)
	}
}

func TestSendMapsEveryCode(t *testing.T) {
	h := newFakeHuawei(t)
	clk := newClock()
	c := newClient(t, h, clk)
	huawei := func(code, msg string) string {
		return fmt.Sprintf(`{"code":%q,"msg":%q,"requestId":"157440955549500001002006"}`, code, msg)
	}
	in90s := clk.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		status     int
		body       string
		retryAfter string
		verdict    push.Verdict
		reason     string
		wait       func(time.Duration) bool
	}{
		{200, huawei("80000000", "Success"), "", push.Delivered, "80000000", nil},
		{200, huawei("80100000", `{"success":1,"failure":0,"illegal_tokens":[]}`), "", push.Delivered, "80100000", nil},
		{400, huawei("80300007", "All the tokens are invalid."), "", push.TokenInvalid, "80300007", nil},
		{401, huawei("80200001", "Authentication Error."), "", push.AuthExpired, "80200001", nil},
		{401, huawei("80200003", "Request access token expired."), "", push.AuthExpired, "80200003", nil},
		{401, huawei("80200005", "Jwt token expired."), "", push.AuthExpired, "80200005", nil},
		{400, huawei("80100001", "Check Parameter Error."), "", push.BadRequest, "80100001", nil},
		{400, huawei("80100003", "Illegal payload, x."), "", push.BadRequest, "80100003", nil},
		{400, huawei("80100004", "Illegal expire time."), "", push.BadRequest, "80100004", nil},
		{400, huawei("80100013", "collapse_key"), "", push.BadRequest, "80100013", nil},
		{400, huawei("80100016", "sensitive"), "", push.BadRequest, "80100016", nil},
		{400, huawei("80300002", "No permission to send message to these tmIDs."), "", push.BadRequest, "80300002", nil},
		{400, huawei("80300008", "Push message size is too long."), "", push.BadRequest, "80300008", nil},
		{400, huawei("80300010", "token count should within 1 and 1000."), "", push.BadRequest, "80300010", nil},
		{400, huawei("80300011", "no permission"), "", push.BadRequest, "80300011", nil},
		{400, huawei("80600003", "Request OAuth service failed."), "", push.BadRequest, "80600003", nil},
		{500, huawei("81000001", "Inner Error."), "", push.Retry, "81000001", nil},
		{200, huawei("81000001", "Inner Error."), "", push.Retry, "81000001", nil},
		{503, `{"msg":"Flow control.","requestId":"1"}`, "120", push.Retry, "HTTP 503: Flow control.",
			func(d time.Duration) bool { return d == 2*time.Minute }},
		{503, `<html>busy</html>`, in90s, push.Retry, "HTTP 503",
			func(d time.Duration) bool { return d == 90*time.Second }},
		{502, ``, "", push.Retry, "HTTP 502", nil},
		{429, ``, "7", push.Retry, "HTTP 429", func(d time.Duration) bool { return d == 7*time.Second }},
		{401, ``, "", push.AuthExpired, "HTTP 401", nil},
		{400, huawei("89999999", "new"), "", push.BadRequest, "89999999", nil},
		{500, huawei("89999999", "new"), "", push.Retry, "89999999", nil},
		{200, `{"code":80000000,"msg":"number code"}`, "", push.Delivered, "80000000", nil},
		{200, `not json`, "", push.BadRequest, "HTTP 200", nil},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.reason), func(t *testing.T) {
			h.setAnswer(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"})
			if r.Verdict != tc.verdict || r.Status != tc.status || r.Reason != tc.reason {
				t.Errorf("result = %s %d %q, want %s %d %q", r.Verdict, r.Status, r.Reason, tc.verdict, tc.status, tc.reason)
			}
			if tc.wait == nil && r.RetryAfter != 0 || tc.wait != nil && !tc.wait(r.RetryAfter) {
				t.Errorf("RetryAfter = %v for header %q", r.RetryAfter, tc.retryAfter)
			}
			if r.Exchange == nil || r.Exchange.Status != tc.status || r.Exchange.Answer != tc.body {
				t.Errorf("exchange = %+v", r.Exchange)
			}
			vendortest.SameWithoutExchange(t, c.Send, push.Notification{Token: "t", Title: "a", Body: "b"}, r)
		})
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		verdict    push.Verdict
		reason     string
	}{
		{"bad secret", 400, `{"sub_error":12304,"error_description":"invalid client_secret","error":1101}`, "", push.BadRequest,
			"OAuthTokenError: 1101/12304 invalid client_secret"},
		{"standard oauth error", 401, `{"error":"invalid_client","error_description":"Bad client credentials"}`, "", push.BadRequest,
			"OAuthTokenError: invalid_client Bad client credentials"},
		{"200 without token", 200, `{"expires_in":3600}`, "", push.BadRequest, "OAuthTokenError: no access_token in the answer"},
		{"unavailable", 503, `busy`, "30", push.Retry, "OAuthTokenError: no access_token in the answer"},
		{"throttled", 429, `{"error":1203,"error_description":"flow control"}`, "", push.Retry, "OAuthTokenError: 1203 flow control"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHuawei(t)
			h.tokenFail = func(w http.ResponseWriter) bool {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
				return true
			}
			c := newClient(t, h, newClock())
			r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"})
			if r.Verdict != tc.verdict || r.Reason != tc.reason {
				t.Errorf("result = %s %q, want %s %q", r.Verdict, r.Reason, tc.verdict, tc.reason)
			}
			if tc.retryAfter != "" && r.RetryAfter != 30*time.Second {
				t.Errorf("RetryAfter = %v", r.RetryAfter)
			}
			if len(h.sent()) != 0 {
				t.Error("sent without an access token")
			}
			if r.Exchange == nil || r.Exchange.Body == "" || r.Exchange.Status != 0 {
				t.Errorf("exchange = %+v, want the body that would have been sent", r.Exchange)
			}
			// A failed fetch is not cached: the next Send asks again.
			c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"})
			if n := h.tokenRequests(); n != 2 {
				t.Errorf("%d token requests after two failed sends, want 2", n)
			}
		})
	}
}

func TestDryRunFetchesTokenButSendsNothing(t *testing.T) {
	h := newFakeHuawei(t)
	c := newClient(t, h, newClock())
	n := &push.Notification{Tokens: []string{"t1", "t2"}, Title: "a", Body: "b", Data: map[string]string{"k": "v"}, DryRun: true}
	dry := c.Send(context.Background(), n)
	if dry.Verdict != "" || dry.Status != 0 || dry.Exchange == nil || dry.Exchange.Headers["authorization"] == "" {
		t.Fatalf("dry run = %+v, want no verdict, an exchange with the masked token", dry)
	}
	if len(h.sent()) != 0 {
		t.Fatal("dry run sent the message")
	}
	n.DryRun = false
	real := c.Send(context.Background(), n)
	if real.Verdict != push.Delivered {
		t.Fatalf("result = %+v", real)
	}
	vendortest.SameRequest(t, dry.Exchange, real.Exchange)
	if n := h.tokenRequests(); n != 1 {
		t.Errorf("%d token requests, want the dry run's token reused", n)
	}
}

func TestSendHonoursContext(t *testing.T) {
	h := newFakeHuawei(t)
	h.tokenGate = vendortest.NewGate(t)
	c := newClient(t, h, newClock())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := c.Send(ctx, &push.Notification{Token: "t", Title: "a", Body: "b"})
	if r.Verdict != push.Retry || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("result = %+v, want retry once the deadline passed", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v waiting for a token past its deadline", d)
	}
}

func TestNetworkErrorIsRetry(t *testing.T) {
	h := newFakeHuawei(t)
	c := newClient(t, h, newClock())
	h.srv.Close()
	r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"})
	if r.Verdict != push.Retry || !strings.HasPrefix(r.Reason, "OAuthTokenError") {
		t.Errorf("result = %+v, want retry", r)
	}
}

func TestUntrustedServerIsRetry(t *testing.T) {
	h := newFakeHuawei(t)
	c := newClient(t, h, newClock(), func(o *Options) { o.CAFile = "" })
	r := c.Send(context.Background(), &push.Notification{Token: "t", Title: "a", Body: "b"})
	if r.Verdict != push.Retry || !strings.Contains(r.Reason, "certificate") {
		t.Errorf("result = %+v, want retry on an unknown certificate", r)
	}
	if h.tokenRequests() != 0 {
		t.Error("a token request reached the server without trusting it")
	}
}

func TestLocalRefusals(t *testing.T) {
	h := newFakeHuawei(t)
	clk := newClock()
	c := newClient(t, h, clk)
	big := strings.Repeat("x", 4000)
	for _, tc := range []struct {
		n        push.Notification
		reason   string
		exchange bool
	}{
		{push.Notification{Title: "a", Body: "b"}, "MissingToken", false},
		{push.Notification{Tokens: []string{"a", ""}, Title: "a", Body: "b"}, "EmptyToken: Tokens[1] is empty", false},
		{push.Notification{Token: "a", Tokens: []string{"b"}, Title: "a", Body: "b"}, "TokenAndTokens", false},
		{push.Notification{Token: "t", Body: "b"}, "MissingTitleOrBody", false},
		{push.Notification{Token: "t", Title: "a"}, "MissingTitleOrBody", false},
		{push.Notification{Token: "t", Passthrough: true}, "EmptyDataMessage", false},
		{push.Notification{Token: "t", Title: "a", Body: "b", Category: "CHAT"}, `BadCategory: category "CHAT"`, false},
		{push.Notification{Token: "t", Title: "a", Body: "b", Importance: "HIGH"}, `BadImportance: importance "HIGH"`, false},
		{push.Notification{Token: "t", Title: "a", Body: "b", Expiration: clk.Now().Add(-time.Minute)}, "Expired", false},
		{push.Notification{Token: "t", Title: "a", Body: "b", Payload: big, Data: map[string]string{"more": big[:200]}}, "PayloadTooLarge", true},
	} {
		r := c.Send(context.Background(), &tc.n)
		if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, tc.reason) || (r.Exchange != nil) != tc.exchange {
			t.Errorf("%s: result = %+v, want bad request %s", tc.reason, r, tc.reason)
		}
	}
	if len(h.sent()) != 0 || h.tokenRequests() != 0 {
		t.Errorf("refused notifications reached Huawei: %d sends, %d token requests", len(h.sent()), h.tokenRequests())
	}

	// The size limit leaves the tokens out: 1000 long tokens with a small payload pass.
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("%04d-%s", i, strings.Repeat("T", 120))
	}
	if r := c.Send(context.Background(), &push.Notification{Tokens: tokens, Title: "a", Body: "b"}); r.Verdict != push.Delivered {
		t.Errorf("1000 long tokens: %+v", r)
	}
}

func TestNewReportsEveryBadField(t *testing.T) {
	vendortest.Refuses(t, New, Options{
		ClientID: "", Endpoint: "http://push", AuthEndpoint: "ftp://oauth", Category: "CHAT",
		CAFile: "/nonexistent/ca.pem", Timeout: -1,
	}, ErrInvalidOptions, "ClientID", "ClientSecret", "Endpoint", "AuthEndpoint", "Category", "CAFile", "Timeout")
	if _, err := New(Options{ClientID: "1/2", ClientSecret: "s"}); err == nil || !strings.Contains(err.Error(), "ClientID") {
		t.Errorf("a ClientID with a slash: %v", err)
	}

	// Defaults: Huawei's endpoints.
	c, err := New(Options{ClientID: testClientID, ClientSecret: testSecret, Category: "im"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.sendURL != DefaultEndpoint+"/v1/"+testClientID+"/messages:send" || c.authURL != DefaultAuthEndpoint || c.category != "IM" {
		t.Errorf("send URL %q, token URL %q, category %q", c.sendURL, c.authURL, c.category)
	}
}
