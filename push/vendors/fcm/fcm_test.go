package fcm

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
)

const (
	testProject = "pushd-test"
	testEmail   = "pushd@pushd-test.iam.gserviceaccount.com"
	testToken   = "fcm-device-token-1"
)

// testKey is one RSA key for all tests: generating 2048-bit keys under -race is slow.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// sent is one messages:send request as the fake FCM received it.
type sent struct {
	proto int
	path  string
	auth  string
	body  []byte
}

// fakeGoogle is an HTTP/2 TLS server on loopback that plays both Google's
// token endpoint (/token) and FCM (/v1/...). It issues access tokens
// "access-1", "access-2", ... and accepts only those not revoked.
type fakeGoogle struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string

	mu          sync.Mutex
	tokenCalls  int
	tokenFail   func(w http.ResponseWriter) bool // answers the token request itself when true
	tokenGate   *vendortest.Gate
	assertErrs  []error
	valid       map[string]bool
	sends       []sent
	answer      func(w http.ResponseWriter, r *http.Request)
	revokeAfter int // revoke each token after this many sends with it (0: never)
	usedBy      map[string]int
}

func newFakeGoogle(t *testing.T) *fakeGoogle {
	t.Helper()
	g := &fakeGoogle{t: t, valid: map[string]bool{}, usedBy: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", g.token)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", g.send)
	g.srv, g.caFile = vendortest.TLSServer(t, mux)
	return g
}

func (g *fakeGoogle) tokenURI() string { return g.srv.URL + "/token" }

// token checks the JWT-bearer grant as Google does and issues an access token.
func (g *fakeGoogle) token(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.tokenCalls++
	n := g.tokenCalls
	fail, gate := g.tokenFail, g.tokenGate
	g.mu.Unlock()
	if !gate.Pass(r.Context()) {
		return
	}
	if fail != nil && fail(w) {
		return
	}
	if err := g.checkGrant(r); err != nil {
		g.mu.Lock()
		g.assertErrs = append(g.assertErrs, err)
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"`+err.Error()+`"}`)
		return
	}
	access := fmt.Sprintf("access-%d-%s", n, strings.Repeat("x", 20))
	g.mu.Lock()
	g.valid[access] = true
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600,"token_type":"Bearer"}`, access)
}

func (g *fakeGoogle) checkGrant(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	if gt := r.PostForm.Get("grant_type"); gt != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return fmt.Errorf("grant_type = %q", gt)
	}
	tok, err := jwt.Parse(r.PostForm.Get("assertion"), func(*jwt.Token) (any, error) {
		return &testKey().PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(testEmail),
		jwt.WithAudience(g.tokenURI()), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return fmt.Errorf("assertion: %w", err)
	}
	claims := tok.Claims.(jwt.MapClaims)
	if scope := claims["scope"]; scope != Scope {
		return fmt.Errorf("assertion scope = %v", scope)
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if exp.Sub(iat.Time) > time.Hour {
		return fmt.Errorf("assertion lives %v, more than an hour", exp.Sub(iat.Time))
	}
	return nil
}

func (g *fakeGoogle) send(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	access, _ := strings.CutPrefix(auth, "Bearer ")
	g.mu.Lock()
	g.sends = append(g.sends, sent{proto: r.ProtoMajor, path: r.URL.Path, auth: auth, body: body})
	ok := g.valid[access]
	g.usedBy[access]++
	if g.revokeAfter > 0 && g.usedBy[access] >= g.revokeAfter {
		delete(g.valid, access)
	}
	answer := g.answer
	g.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)
		return
	}
	if answer != nil {
		answer(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"name":"projects/%s/messages/0:1"}`, r.PathValue("project"))
}

func (g *fakeGoogle) setAnswer(a func(w http.ResponseWriter, r *http.Request)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answer = a
}

func (g *fakeGoogle) tokenRequests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tokenCalls
}

func (g *fakeGoogle) sent() []sent {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]sent(nil), g.sends...)
}

func (g *fakeGoogle) grantErrors() []error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]error(nil), g.assertErrs...)
}

// serviceAccountJSON is a key file whose token_uri is the fake's.
func serviceAccountJSON(t *testing.T, tokenURI string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testKey())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     testProject,
		"private_key_id": "kid-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   testEmail,
		"client_id":      "1234",
		"token_uri":      tokenURI,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newClient makes a Client that talks to g for both tokens and sends.
func newClient(t *testing.T, g *fakeGoogle) *Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, serviceAccountJSON(t, g.tokenURI()), 0o600); err != nil {
		t.Fatal(err)
	}
	c := vendortest.NewClient(t, New, Options{ServiceAccountFile: path, Endpoint: g.srv.URL, CAFile: g.caFile, Timeout: 10 * time.Second})
	t.Cleanup(func() {
		for _, err := range g.grantErrors() {
			t.Errorf("token endpoint refused the grant: %v", err)
		}
	})
	return c
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s is not JSON: %v", b, err)
	}
	return m
}

func TestSendMessage(t *testing.T) {
	g := newFakeGoogle(t)
	c := newClient(t, g)
	exp := time.Now().Add(time.Hour)
	r := c.Send(context.Background(), &push.Notification{
		Token: testToken, Title: "Ada", Body: "hello", Payload: `{"m":1}`, Badge: 2,
		Sound: "ping", ChannelID: "messages", Priority: push.PriorityHigh,
		CollapseID: strings.Repeat("k", 70), Expiration: exp,
		Data: map[string]string{"message_id": "m1", "seq": "9"},
	})
	if r.Verdict != push.Delivered || r.Status != 200 {
		t.Fatalf("result = %+v, want delivered 200", r)
	}
	s := g.sent()
	if len(s) != 1 {
		t.Fatalf("%d sends, want 1", len(s))
	}
	if s[0].proto != 2 || s[0].path != "/v1/projects/"+testProject+"/messages:send" {
		t.Errorf("request = HTTP/%d %s, want HTTP/2 to the project's messages:send", s[0].proto, s[0].path)
	}
	body := decode(t, s[0].body)
	ttl := body["message"].(map[string]any)["android"].(map[string]any)["ttl"]
	if ttl != "3600s" && ttl != "3599s" {
		t.Errorf("android.ttl = %v, want about 3600s", ttl)
	}
	want := map[string]any{"message": map[string]any{
		"token":        testToken,
		"notification": map[string]any{"title": "Ada", "body": "hello"},
		"data":         map[string]any{"payload": `{"m":1}`, "message_id": "m1", "seq": "9"},
		"android": map[string]any{
			"priority":     "HIGH",
			"ttl":          ttl,
			"collapse_key": strings.Repeat("k", 70),
			"notification": map[string]any{"channel_id": "messages", "sound": "ping", "notification_count": 2.0},
		},
		"apns": map[string]any{
			"headers": map[string]any{
				"apns-priority":    "10",
				"apns-collapse-id": strings.Repeat("k", 64),
				"apns-expiration":  fmt.Sprint(exp.Unix()),
			},
			"payload": map[string]any{"aps": map[string]any{"badge": 2.0, "sound": "ping"}},
		},
	}}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body =\n%s\nwant\n%v", s[0].body, want)
	}

	ex := r.Exchange
	access, _ := strings.CutPrefix(s[0].auth, "Bearer ")
	if ex == nil || ex.Method != http.MethodPost || ex.URL != g.srv.URL+s[0].path || ex.Body != string(s[0].body) ||
		ex.Status != 200 || !strings.Contains(ex.Answer, "messages/0:1") {
		t.Fatalf("exchange = %+v, want the request as sent and the answer", ex)
	}
	if got := ex.Headers["authorization"]; got != "Bearer "+push.MaskSecret(access) || strings.Contains(got, access) {
		t.Errorf("exchange authorization = %q, want the access token masked", got)
	}
}

func TestSendDataOnly(t *testing.T) {
	g := newFakeGoogle(t)
	c := newClient(t, g)
	r := c.Send(context.Background(), &push.Notification{
		Token: testToken, Payload: "p", ChannelID: "messages", Sound: "ping", Priority: push.PriorityMedium,
	})
	if r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	body := decode(t, g.sent()[0].body)
	want := map[string]any{"message": map[string]any{
		"token":   testToken,
		"data":    map[string]any{"payload": "p"},
		"android": map[string]any{"priority": "HIGH"},
		// No apns-priority 10 on a background push; the sound stays.
		"apns": map[string]any{"payload": map[string]any{"aps": map[string]any{"sound": "ping"}}},
	}}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %s\nwant %v", g.sent()[0].body, want)
	}

	r = c.Send(context.Background(), &push.Notification{Token: testToken, Body: "b", Priority: push.PriorityLow})
	body = decode(t, g.sent()[1].body)
	want = map[string]any{"message": map[string]any{
		"token":        testToken,
		"notification": map[string]any{"body": "b"},
		"android":      map[string]any{"priority": "NORMAL"},
		"apns": map[string]any{
			"headers": map[string]any{"apns-priority": "5"},
			"payload": map[string]any{"aps": map[string]any{"sound": "default"}},
		},
	}}
	if r.Verdict != push.Delivered || !reflect.DeepEqual(body, want) {
		t.Errorf("low priority: %+v, body = %s\nwant %v", r, g.sent()[1].body, want)
	}
}

func TestAccessTokenReused(t *testing.T) {
	g := newFakeGoogle(t)
	c := newClient(t, g)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"}); r.Verdict != push.Delivered {
				t.Errorf("result = %+v", r)
			}
		}()
	}
	wg.Wait()
	if n := g.tokenRequests(); n != 1 {
		t.Errorf("%d token requests for 20 sends, want 1 cached token", n)
	}
}

func TestUnauthorizedThenRefresh(t *testing.T) {
	g := newFakeGoogle(t)
	g.revokeAfter = 2 // FCM stops accepting each access token after its second use
	c := newClient(t, g)
	send := func() push.Result {
		return c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"})
	}
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("first send: %+v", r)
	}
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("second send: %+v", r)
	}
	r := send()
	if r.Verdict != push.AuthExpired || r.Status != 401 || r.Reason != "UNAUTHENTICATED" {
		t.Fatalf("send with a revoked token: %+v, want auth expired", r)
	}
	if n := g.tokenRequests(); n != 1 {
		t.Fatalf("%d token requests before Refresh, want 1", n)
	}
	c.Refresh()
	if r := send(); r.Verdict != push.Delivered {
		t.Fatalf("send after Refresh: %+v, want delivered with a new token", r)
	}
	if n := g.tokenRequests(); n != 2 {
		t.Errorf("%d token requests after Refresh, want 2", n)
	}
	s := g.sent()
	if s[0].auth == s[len(s)-1].auth {
		t.Error("the send after Refresh used the old access token")
	}
}

func TestSendMapsErrors(t *testing.T) {
	g := newFakeGoogle(t)
	c := newClient(t, g)
	fcmErr := func(code int, status, message, errorCode string, extra ...string) string {
		details := []string{}
		if errorCode != "" {
			details = append(details, `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"`+errorCode+`"}`)
		}
		details = append(details, extra...)
		return fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q,"details":[%s]}}`,
			code, message, status, strings.Join(details, ","))
	}
	tokenViolation := `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}`
	dataViolation := `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.data[0].key","description":"Invalid data payload key: from"}]}`
	in2min := time.Now().Add(2*time.Minute + 30*time.Second).UTC().Format(http.TimeFormat)

	cases := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		verdict    push.Verdict
		reason     string
		wait       func(time.Duration) bool
	}{
		{"unregistered", 404, fcmErr(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"), "", push.TokenInvalid, "UNREGISTERED", nil},
		{"invalid token by message", 400, fcmErr(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", "INVALID_ARGUMENT"), "", push.TokenInvalid, "INVALID_ARGUMENT", nil},
		{"invalid token by field", 400, fcmErr(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "INVALID_ARGUMENT", tokenViolation), "", push.TokenInvalid, "INVALID_ARGUMENT", nil},
		{"invalid token without FcmError", 400, fcmErr(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "", tokenViolation), "", push.TokenInvalid, "INVALID_ARGUMENT", nil},
		{"invalid payload", 400, fcmErr(400, "INVALID_ARGUMENT", "Invalid data payload key: from", "INVALID_ARGUMENT", dataViolation), "", push.BadRequest, "INVALID_ARGUMENT", nil},
		{"sender id mismatch", 403, fcmErr(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"), "", push.TokenInvalid, "SENDER_ID_MISMATCH", nil},
		{"permission denied", 403, fcmErr(403, "PERMISSION_DENIED", "Permission 'cloudmessaging.messages.create' denied", ""), "", push.BadRequest, "PERMISSION_DENIED", nil},
		{"quota exceeded", 429, fcmErr(429, "RESOURCE_EXHAUSTED", "Quota exceeded", "QUOTA_EXCEEDED"), "30", push.Retry, "QUOTA_EXCEEDED",
			func(d time.Duration) bool { return d == 30*time.Second }},
		{"unavailable", 503, fcmErr(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"), in2min, push.Retry, "UNAVAILABLE",
			func(d time.Duration) bool { return d > 2*time.Minute && d <= 2*time.Minute+30*time.Second }},
		{"internal", 500, fcmErr(500, "INTERNAL", "Internal error", "INTERNAL"), "", push.Retry, "INTERNAL", nil},
		{"third party auth", 401, fcmErr(401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service", "THIRD_PARTY_AUTH_ERROR"), "", push.BadRequest, "THIRD_PARTY_AUTH_ERROR", nil},
		{"old apns auth name", 401, fcmErr(401, "UNAUTHENTICATED", "Auth error from APNS", "APNS_AUTH_ERROR"), "", push.BadRequest, "APNS_AUTH_ERROR", nil},
		{"401 without detail", 401, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`, "", push.AuthExpired, "UNAUTHENTICATED", nil},
		{"401 empty", 401, ``, "", push.AuthExpired, "", nil},
		{"404 without detail", 404, fcmErr(404, "NOT_FOUND", "Requested entity was not found.", ""), "", push.BadRequest, "NOT_FOUND", nil},
		{"bad gateway page", 502, `<html>502</html>`, "", push.Retry, "", nil},
		{"unknown code", 400, fcmErr(400, "FAILED_PRECONDITION", "?", "SOMETHING_NEW"), "", push.BadRequest, "SOMETHING_NEW", nil},
		{"unknown 5xx", 504, fcmErr(504, "DEADLINE_EXCEEDED", "?", ""), "", push.Retry, "DEADLINE_EXCEEDED", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g.setAnswer(func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"})
			if r.Verdict != tc.verdict || r.Status != tc.status || r.Reason != tc.reason {
				t.Errorf("result = %s %d %q, want %s %d %q", r.Verdict, r.Status, r.Reason, tc.verdict, tc.status, tc.reason)
			}
			if tc.wait == nil && r.RetryAfter != 0 || tc.wait != nil && !tc.wait(r.RetryAfter) {
				t.Errorf("RetryAfter = %v for header %q", r.RetryAfter, tc.retryAfter)
			}
			if r.Exchange == nil || r.Exchange.Status != tc.status || r.Exchange.Answer != tc.body {
				t.Errorf("exchange = %+v, want status and answer", r.Exchange)
			}
			vendortest.SameWithoutExchange(t, c.Send, push.Notification{Token: testToken, Body: "x"}, r)
		})
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		verdict push.Verdict
		reason  string
	}{
		{"refused grant", 400, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, push.BadRequest, "OAuthTokenError: invalid_grant"},
		{"unauthorized client", 401, `{"error":"unauthorized_client"}`, push.BadRequest, "OAuthTokenError: unauthorized_client"},
		{"unavailable", 503, `upstream down`, push.Retry, "OAuthTokenError"},
		{"throttled", 429, `{"error":"rate_limit_exceeded"}`, push.Retry, "OAuthTokenError: rate_limit_exceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGoogle(t)
			g.tokenFail = func(w http.ResponseWriter) bool {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
				return true
			}
			c := newClient(t, g)
			r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"})
			if r.Verdict != tc.verdict || r.Reason != tc.reason {
				t.Errorf("result = %s %q, want %s %q", r.Verdict, r.Reason, tc.verdict, tc.reason)
			}
			if n := len(g.sent()); n != 0 {
				t.Errorf("%d sends without an access token", n)
			}
			if r.Exchange == nil || r.Exchange.Body == "" {
				t.Errorf("exchange = %+v, want the body that would have been sent", r.Exchange)
			}
		})
	}
}

func TestTokenFetchTrustsCAFile(t *testing.T) {
	g := newFakeGoogle(t)
	// Without CAFile the fake's certificate is unknown: the token fetch fails
	// on TLS, a network-level failure, so Retry.
	c, err := New(Options{ServiceAccountJSON: serviceAccountJSON(t, g.tokenURI()), Endpoint: g.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"})
	if r.Verdict != push.Retry || !strings.Contains(r.Reason, "certificate") {
		t.Errorf("result = %+v, want retry on an unknown certificate", r)
	}
	if n := g.tokenRequests(); n != 0 {
		t.Errorf("%d token requests reached the server without trusting it", n)
	}
}

func TestDryRunFetchesTokenButSendsNothing(t *testing.T) {
	g := newFakeGoogle(t)
	c := newClient(t, g)
	n := &push.Notification{Token: testToken, Title: "t", Data: map[string]string{"k": "v"}, DryRun: true}
	dry := c.Send(context.Background(), n)
	if dry.Verdict != "" || dry.Status != 0 || dry.Exchange == nil {
		t.Fatalf("dry run = %+v, want no verdict, no status, an exchange", dry)
	}
	if len(g.sent()) != 0 {
		t.Fatal("dry run sent the message")
	}
	n.DryRun = false
	real := c.Send(context.Background(), n)
	if real.Verdict != push.Delivered {
		t.Fatalf("result = %+v", real)
	}
	vendortest.SameRequest(t, dry.Exchange, real.Exchange)
	if n := g.tokenRequests(); n != 1 {
		t.Errorf("%d token requests, want the dry run's token reused", n)
	}
}

func TestSendHonoursContext(t *testing.T) {
	g := newFakeGoogle(t)
	g.tokenGate = vendortest.NewGate(t)
	c := newClient(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := c.Send(ctx, &push.Notification{Token: testToken, Body: "x"})
	if r.Verdict != push.Retry || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("result = %+v, want retry once the deadline passed", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v waiting for a token past its deadline", d)
	}
}

func TestLocalRefusals(t *testing.T) {
	g := newFakeGoogle(t)
	c := newClient(t, g)
	for _, tc := range []struct {
		n      push.Notification
		reason string
	}{
		{push.Notification{Body: "no token"}, "MissingToken"},
		{push.Notification{Token: testToken, Data: map[string]string{"from": "ada"}}, `ReservedDataKey: FCM refuses the data key "from"`},
		{push.Notification{Token: testToken, Data: map[string]string{"google.sent_time": "1"}}, "ReservedDataKey"},
	} {
		r := c.Send(context.Background(), &tc.n)
		if r.Verdict != push.BadRequest || !strings.HasPrefix(r.Reason, tc.reason) {
			t.Errorf("%+v: result = %+v, want bad request %s", tc.n, r, tc.reason)
		}
	}
	if n := len(g.sent()); n != 0 {
		t.Errorf("%d refused notifications were sent", n)
	}
}

func TestNewReportsEveryBadField(t *testing.T) {
	good := serviceAccountJSON(t, "https://oauth2.example/token")
	var sa map[string]string
	if err := json.Unmarshal(good, &sa); err != nil {
		t.Fatal(err)
	}
	with := func(changes map[string]string) []byte {
		m := map[string]string{}
		for k, v := range sa {
			m[k] = v
		}
		for k, v := range changes {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name string
		o    Options
		want []string
	}{
		{"nothing", Options{}, []string{"ServiceAccountFile or ServiceAccountJSON"}},
		{"both", Options{ServiceAccountFile: "sa.json", ServiceAccountJSON: good}, []string{"ServiceAccountFile and ServiceAccountJSON"}},
		{"missing file", Options{ServiceAccountFile: filepath.Join(t.TempDir(), "none.json")}, []string{"ServiceAccountFile"}},
		{"not JSON", Options{ServiceAccountJSON: []byte("nope")}, []string{"ServiceAccountJSON is not JSON"}},
		{"bad account", Options{ServiceAccountJSON: with(map[string]string{
			"type": "authorized_user", "client_email": "", "private_key": "junk", "project_id": "", "token_uri": "ftp://x",
		})}, []string{"type", "client_email", "private_key", "token_uri", "ProjectID"}},
		{"endpoint, CA, timeout", Options{ServiceAccountJSON: good, Endpoint: "http://fcm", CAFile: "/nonexistent/ca.pem", Timeout: -1},
			[]string{"Endpoint", "CAFile", "Timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { vendortest.Refuses(t, New, tc.o, ErrInvalidOptions, tc.want...) })
	}

	// ProjectID overrides the file's project_id.
	g := newFakeGoogle(t)
	c, err := New(Options{ServiceAccountJSON: serviceAccountJSON(t, g.tokenURI()), ProjectID: "other", Endpoint: g.srv.URL + "/", CAFile: g.caFile})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"}); r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	if p := g.sent()[0].path; p != "/v1/projects/other/messages:send" {
		t.Errorf("path = %q, want the ProjectID option's", p)
	}
}
