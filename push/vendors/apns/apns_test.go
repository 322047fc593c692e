package apns

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/internal/vendortest"
)

const (
	testTeam   = "TEAM123456"
	testKeyID  = "KEY1234567"
	testBundle = "im.pushd.app"
	testToken  = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
)

// seen is one request as the fake APNs received it.
type seen struct {
	proto  int
	method string
	path   string
	header http.Header
	body   []byte
	peer   []*x509.Certificate
}

// fakeAPNs is an HTTP/2 TLS server on loopback that records requests and
// answers with answer (200 with an empty body when nil). conf, when not nil,
// is its TLS config (the test certificate is added unless conf has one).
type fakeAPNs struct {
	srv    *httptest.Server
	caFile string
	conns  atomic.Int32

	mu     sync.Mutex
	got    []seen
	answer func(w http.ResponseWriter, r *http.Request)
}

func newFakeAPNs(t testing.TB, conf *tls.Config) *fakeAPNs {
	t.Helper()
	f := &fakeAPNs{}
	f.srv, f.caFile = vendortest.TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := seen{proto: r.ProtoMajor, method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body}
		if r.TLS != nil {
			s.peer = r.TLS.PeerCertificates
		}
		f.mu.Lock()
		f.got = append(f.got, s)
		answer := f.answer
		f.mu.Unlock()
		if answer != nil {
			answer(w, r)
			return
		}
		w.Header().Set("apns-id", "6A3D2F5E-0000-0000-0000-000000000000")
	}), func(srv *httptest.Server) {
		srv.TLS = conf
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				f.conns.Add(1)
			}
		}
	})
	return f
}

func (f *fakeAPNs) setAnswer(a func(w http.ResponseWriter, r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = a
}

func (f *fakeAPNs) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.got...)
}

func (f *fakeAPNs) last(t *testing.T) seen {
	t.Helper()
	got := f.requests()
	if len(got) == 0 {
		t.Fatal("the fake APNs received no request")
	}
	return got[len(got)-1]
}

// newKey makes a .p8-style signing key: EC P-256 in PKCS#8 PEM.
func newKey(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// newTokenClient makes a token-auth Client whose both environments point at f.
func newTokenClient(t testing.TB, f *fakeAPNs) (*Client, *ecdsa.PrivateKey) {
	t.Helper()
	key, keyPEM := newKey(t)
	c := vendortest.NewClient(t, New, Options{
		TeamID: testTeam, KeyID: testKeyID, KeyPEM: keyPEM, BundleID: testBundle,
		EndpointProduction: f.srv.URL, EndpointDevelopment: f.srv.URL,
		CAFile: f.caFile, Timeout: 10 * time.Second,
	})
	return c, key
}

// verifyJWT checks that bearer is an ES256 JWT with our kid and iss, signed by key, and returns its iat.
func verifyJWT(t *testing.T, bearer string, key *ecdsa.PrivateKey) time.Time {
	t.Helper()
	tok, err := jwt.Parse(bearer, func(tok *jwt.Token) (any, error) {
		return &key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("JWT %q does not verify with the test key: %v", bearer, err)
	}
	if kid := tok.Header["kid"]; kid != testKeyID {
		t.Errorf("JWT kid = %v, want %s", kid, testKeyID)
	}
	if iss, _ := tok.Claims.GetIssuer(); iss != testTeam {
		t.Errorf("JWT iss = %q, want %s", iss, testTeam)
	}
	iat, err := tok.Claims.GetIssuedAt()
	if err != nil || iat == nil {
		t.Fatalf("JWT has no iat: %v", err)
	}
	if d := time.Since(iat.Time); d < -time.Minute || d > time.Minute {
		t.Errorf("JWT iat %v is not now", iat.Time)
	}
	return iat.Time
}

func bearerOf(t *testing.T, s seen) string {
	t.Helper()
	auth := s.header.Get("authorization")
	jwtText, ok := strings.CutPrefix(auth, "bearer ")
	if !ok {
		t.Fatalf("authorization header = %q, want \"bearer <JWT>\"", auth)
	}
	return jwtText
}

func decodeBody(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %s is not JSON: %v", b, err)
	}
	return m
}

func TestSendAlert(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, key := newTokenClient(t, f)
	exp := time.Unix(1_900_000_000, 0)
	longCollapse := strings.Repeat("c", 70)
	id := "123e4567-e89b-12d3-a456-426614174000"
	r := c.Send(context.Background(), &push.Notification{
		ID: id, Token: testToken, Title: "Ada", Body: "hello <there>", Payload: `{"m":1}`,
		Badge: 3, Priority: push.PriorityMedium, CollapseID: longCollapse, Expiration: exp,
		Data: map[string]string{"message_id": "m1", "aps": "must not win"},
	})
	if r.Verdict != push.Delivered || r.Status != 200 {
		t.Fatalf("result = %+v, want delivered 200", r)
	}

	s := f.last(t)
	if s.proto != 2 || s.method != http.MethodPost || s.path != "/3/device/"+testToken {
		t.Errorf("request = HTTP/%d %s %s, want HTTP/2 POST /3/device/<token>", s.proto, s.method, s.path)
	}
	wantHeaders := map[string]string{
		"apns-topic":       testBundle,
		"apns-push-type":   "alert",
		"apns-priority":    "10",
		"apns-collapse-id": longCollapse[:64],
		"apns-expiration":  "1900000000",
		"apns-id":          id,
	}
	for k, want := range wantHeaders {
		if got := s.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	jwtText := bearerOf(t, s)
	verifyJWT(t, jwtText, key)

	body := decodeBody(t, s.body)
	aps, _ := body["aps"].(map[string]any)
	alert, _ := aps["alert"].(map[string]any)
	if alert["title"] != "Ada" || alert["body"] != "hello <there>" {
		t.Errorf("aps.alert = %v, want title Ada and body \"hello <there>\"", aps["alert"])
	}
	if aps["badge"] != 3.0 || aps["sound"] != "default" || aps["mutable-content"] != 1.0 {
		t.Errorf("aps = %v, want badge 3, sound default, mutable-content 1", aps)
	}
	if body["payload"] != `{"m":1}` || body["message_id"] != "m1" {
		t.Errorf("body = %v, want payload and message_id at the top level", body)
	}

	ex := r.Exchange
	if ex == nil || ex.Method != http.MethodPost || ex.URL != f.srv.URL+"/3/device/"+testToken ||
		ex.Body != string(s.body) || ex.Status != 200 {
		t.Fatalf("exchange = %+v, want the request as sent", ex)
	}
	if got := ex.Headers["authorization"]; got != "bearer "+push.MaskSecret(jwtText) || strings.Contains(got, jwtText) {
		t.Errorf("exchange authorization = %q, want the JWT masked", got)
	}
	if ex.Headers["apns-topic"] != testBundle || ex.Headers["apns-priority"] != "10" {
		t.Errorf("exchange headers = %v, want the APNs headers", ex.Headers)
	}
}

func TestSendAlertOmitsUnsetFields(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, _ := newTokenClient(t, f)
	r := c.Send(context.Background(), &push.Notification{
		ID: "outbox-17", Token: testToken, BundleID: "other.bundle", Body: "hi", Sound: "ping.caf",
		Priority: push.PriorityLow,
	})
	if r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	s := f.last(t)
	if s.header.Get("apns-topic") != "other.bundle" || s.header.Get("apns-priority") != "5" {
		t.Errorf("topic, priority = %q, %q; want the notification's bundle and 5 for low",
			s.header.Get("apns-topic"), s.header.Get("apns-priority"))
	}
	for _, h := range []string{"apns-id", "apns-collapse-id", "apns-expiration"} {
		if v := s.header.Get(h); v != "" {
			t.Errorf("header %s = %q, want none", h, v)
		}
	}
	body := decodeBody(t, s.body)
	aps := body["aps"].(map[string]any)
	if _, ok := aps["badge"]; ok {
		t.Errorf("aps = %v has a badge for Badge 0", aps)
	}
	if _, ok := body["payload"]; ok {
		t.Errorf("body = %v has a payload for an empty Payload", body)
	}
	if aps["sound"] != "ping.caf" || aps["alert"].(map[string]any)["body"] != "hi" {
		t.Errorf("aps = %v, want sound ping.caf and alert body", aps)
	}
}

func TestSendVoIP(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, _ := newTokenClient(t, f)
	r := c.Send(context.Background(), &push.Notification{
		Token: testToken, PushType: "voip", Title: "Ada", Body: "calling", Payload: "p",
		Priority: push.PriorityHigh,
		VoIP:     &push.VoIP{HandleType: 2, HandleValue: "ada@example.com", HasVideo: true},
		Data:     map[string]string{"call_id": "c9", "handle_value": "must not win"},
	})
	if r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	s := f.last(t)
	if got := s.header.Get("apns-topic"); got != testBundle+".voip" {
		t.Errorf("apns-topic = %q, want %s.voip", got, testBundle)
	}
	if got := s.header.Get("apns-push-type"); got != "voip" {
		t.Errorf("apns-push-type = %q, want voip", got)
	}
	if got := s.header.Get("apns-priority"); got != "10" {
		t.Errorf("apns-priority = %q, want 10", got)
	}
	body := decodeBody(t, s.body)
	if aps, ok := body["aps"].(map[string]any); !ok || len(aps) != 0 {
		t.Errorf("aps = %v, want an empty object (no alert on VoIP)", body["aps"])
	}
	want := map[string]any{
		"handle_type": 2.0, "handle_value": "ada@example.com", "has_video": true,
		"title": "Ada", "body": "calling", "payload": "p", "call_id": "c9",
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body[%s] = %v, want %v", k, body[k], v)
		}
	}
}

func TestSendChoosesEnvironment(t *testing.T) {
	prod := newFakeAPNs(t, nil)
	// dev serves prod's certificate, so that one CAFile trusts both.
	dev := newFakeAPNs(t, &tls.Config{Certificates: prod.srv.TLS.Certificates})
	_, keyPEM := newKey(t)
	c, err := New(Options{
		TeamID: testTeam, KeyID: testKeyID, KeyPEM: keyPEM, BundleID: testBundle,
		EndpointProduction: prod.srv.URL, EndpointDevelopment: dev.srv.URL + "/", CAFile: prod.caFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, env := range []string{"", "production", "development"} {
		if r := c.Send(context.Background(), &push.Notification{Token: testToken, APNsEnv: env, Body: "x"}); r.Verdict != push.Delivered {
			t.Fatalf("APNsEnv %q: result = %+v", env, r)
		}
	}
	if p, d := len(prod.requests()), len(dev.requests()); p != 2 || d != 1 {
		t.Errorf("production got %d, development got %d; want 2 and 1", p, d)
	}
	if got := dev.last(t).path; got != "/3/device/"+testToken {
		t.Errorf("development path = %q; the endpoint's trailing slash leaked in", got)
	}
	r := c.Send(context.Background(), &push.Notification{Token: testToken, APNsEnv: "staging", Body: "x"})
	if r.Verdict != push.BadRequest || !strings.Contains(r.Reason, "APNsEnv") {
		t.Errorf("unknown APNsEnv: result = %+v, want bad request naming APNsEnv", r)
	}
}

func TestSendMapsAnswers(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, _ := newTokenClient(t, f)
	cases := []struct {
		status     int
		body       string
		retryAfter string
		verdict    push.Verdict
		reason     string
		since      time.Time
		wait       time.Duration
	}{
		{410, `{"reason":"Unregistered","timestamp":1700000000123}`, "", push.TokenInvalid, "Unregistered", time.UnixMilli(1700000000123), 0},
		{410, `{"reason":"ExpiredToken"}`, "", push.TokenInvalid, "ExpiredToken", time.Time{}, 0},
		{400, `{"reason":"BadDeviceToken"}`, "", push.TokenInvalid, "BadDeviceToken", time.Time{}, 0},
		{400, `{"reason":"DeviceTokenNotForTopic"}`, "", push.BadRequest, "DeviceTokenNotForTopic", time.Time{}, 0},
		{400, `{"reason":"BadCollapseId"}`, "", push.BadRequest, "BadCollapseId", time.Time{}, 0},
		{403, `{"reason":"ExpiredProviderToken"}`, "", push.AuthExpired, "ExpiredProviderToken", time.Time{}, 0},
		{403, `{"reason":"InvalidProviderToken"}`, "", push.AuthExpired, "InvalidProviderToken", time.Time{}, 0},
		{403, `{"reason":"BadCertificate"}`, "", push.BadRequest, "BadCertificate", time.Time{}, 0},
		{413, `{"reason":"PayloadTooLarge"}`, "", push.BadRequest, "PayloadTooLarge", time.Time{}, 0},
		{429, `{"reason":"TooManyRequests"}`, "7", push.Retry, "TooManyRequests", time.Time{}, 7 * time.Second},
		{429, `{"reason":"TooManyProviderTokenUpdates"}`, "", push.Retry, "TooManyProviderTokenUpdates", time.Time{}, 0},
		{500, `{"reason":"InternalServerError"}`, "", push.Retry, "InternalServerError", time.Time{}, 0},
		{503, `{"reason":"ServiceUnavailable"}`, "120", push.Retry, "ServiceUnavailable", time.Time{}, 2 * time.Minute},
		{502, `<html>bad gateway</html>`, "", push.Retry, "", time.Time{}, 0},
		{404, `{"reason":"SomethingNew"}`, "", push.BadRequest, "SomethingNew", time.Time{}, 0},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.status)+" "+tc.reason, func(t *testing.T) {
			f.setAnswer(func(w http.ResponseWriter, r *http.Request) {
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
			if !r.InvalidSince.Equal(tc.since) {
				t.Errorf("InvalidSince = %v, want %v", r.InvalidSince, tc.since)
			}
			if r.RetryAfter != tc.wait {
				t.Errorf("RetryAfter = %v, want %v", r.RetryAfter, tc.wait)
			}
			if r.Exchange == nil || r.Exchange.Status != tc.status || r.Exchange.Answer != tc.body {
				t.Errorf("exchange = %+v, want status %d and answer %q", r.Exchange, tc.status, tc.body)
			}
			vendortest.SameWithoutExchange(t, c.Send, push.Notification{Token: testToken, Body: "x"}, r)
		})
	}
}

func TestPayloadTooLarge(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, _ := newTokenClient(t, f)
	big := strings.Repeat("x", 4500)

	r := c.Send(context.Background(), &push.Notification{Token: testToken, Payload: big})
	if r.Verdict != push.BadRequest || r.Reason != "PayloadTooLarge" || r.Exchange == nil || len(r.Exchange.Body) <= 4096 {
		t.Errorf("alert of %d bytes: result = %+v, want bad request PayloadTooLarge with the body shown", len(big), r)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("an oversized alert was sent (%d requests)", n)
	}

	// VoIP pushes may be larger.
	r = c.Send(context.Background(), &push.Notification{Token: testToken, PushType: "voip", Payload: big})
	if r.Verdict != push.Delivered {
		t.Errorf("VoIP of %d bytes: result = %+v, want delivered", len(big), r)
	}
	r = c.Send(context.Background(), &push.Notification{Token: testToken, PushType: "voip", Payload: strings.Repeat("x", 5200)})
	if r.Verdict != push.BadRequest || r.Reason != "PayloadTooLarge" {
		t.Errorf("VoIP over 5120 bytes: result = %+v, want PayloadTooLarge", r)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests sent, want only the VoIP push within the limit", n)
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, _ := newTokenClient(t, f)
	n := &push.Notification{
		Token: testToken, Title: "t", Body: "b", CollapseID: "k", Expiration: time.Unix(1_900_000_000, 0),
		ID: "123e4567-e89b-12d3-a456-426614174000", DryRun: true,
	}
	dry := c.Send(context.Background(), n)
	if dry.Verdict != "" || dry.Status != 0 || dry.Exchange == nil || dry.Exchange.Status != 0 {
		t.Fatalf("dry run result = %+v, want no verdict and no status", dry)
	}
	if got := len(f.requests()); got != 0 {
		t.Fatalf("dry run sent %d requests", got)
	}

	n.DryRun = false
	real := c.Send(context.Background(), n)
	if real.Verdict != push.Delivered {
		t.Fatalf("result = %+v", real)
	}
	// The dry run shows what a real send puts on the wire.
	if dry.Exchange.URL != real.Exchange.URL || dry.Exchange.Body != real.Exchange.Body {
		t.Errorf("dry run exchange %+v differs from the sent one %+v", dry.Exchange, real.Exchange)
	}
	for k, v := range real.Exchange.Headers {
		if dry.Exchange.Headers[k] != v {
			t.Errorf("dry run header %s = %q, sent %q", k, dry.Exchange.Headers[k], v)
		}
	}
	if len(dry.Exchange.Headers) != len(real.Exchange.Headers) {
		t.Errorf("dry run headers %v, sent %v", dry.Exchange.Headers, real.Exchange.Headers)
	}
}

func TestNetworkFailureIsRetry(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, _ := newTokenClient(t, f)
	f.srv.Close()
	r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"})
	if r.Verdict != push.Retry || r.Status != 0 || !strings.HasPrefix(r.Reason, "NetworkError") {
		t.Errorf("result = %+v, want retry with a network error reason", r)
	}
}

func TestSendHonoursContext(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, _ := newTokenClient(t, f)
	f.setAnswer(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := c.Send(ctx, &push.Notification{Token: testToken, Body: "x"})
	if r.Verdict != push.Retry || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("result = %+v, want retry once the deadline passed", r)
	}
}

func TestLocalRefusals(t *testing.T) {
	f := newFakeAPNs(t, nil)
	_, keyPEM := newKey(t)
	c, err := New(Options{TeamID: testTeam, KeyID: testKeyID, KeyPEM: keyPEM,
		EndpointProduction: f.srv.URL, CAFile: f.caFile})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		n      push.Notification
		reason string
	}{
		{push.Notification{Body: "no token", BundleID: testBundle}, "MissingDeviceToken"},
		{push.Notification{Token: testToken, Body: "no topic with token auth"}, "MissingTopic"},
	} {
		if r := c.Send(context.Background(), &tc.n); r.Verdict != push.BadRequest || r.Reason != tc.reason {
			t.Errorf("%q: result = %+v, want bad request %s", tc.n.Body, r, tc.reason)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for refused notifications", n)
	}
}

func TestJWTReusedAndRefreshed(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, key := newTokenClient(t, f)
	send := func() string {
		t.Helper()
		if r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"}); r.Verdict != push.Delivered {
			t.Fatalf("result = %+v", r)
		}
		return bearerOf(t, f.last(t))
	}
	first := send()
	if second := send(); second != first {
		t.Error("the JWT was re-signed between two sends; it should be reused")
	}

	// A JWT younger than Apple's 20-minute floor survives Refresh.
	c.Refresh()
	if again := send(); again != first {
		t.Error("Refresh replaced a JWT younger than 20 minutes")
	}

	// An older one is replaced.
	c.token.Lock()
	c.token.IssuedAt -= int64((minJWTAge + time.Minute) / time.Second)
	backdated := c.token.IssuedAt
	c.token.Unlock()
	c.Refresh()
	fresh := send()
	if fresh == first {
		t.Fatal("Refresh did not make the next send sign a new JWT")
	}
	if iat := verifyJWT(t, fresh, key); iat.Unix() <= backdated {
		t.Errorf("new JWT iat %v is not after the old %v", iat, time.Unix(backdated, 0))
	}
}

func TestConcurrentSendsShareOneConnection(t *testing.T) {
	f := newFakeAPNs(t, nil)
	c, _ := newTokenClient(t, f)
	if r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "warm"}); r.Verdict != push.Delivered {
		t.Fatalf("result = %+v", r)
	}
	var wg sync.WaitGroup
	results := make([]push.Result, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.Send(context.Background(), &push.Notification{Token: testToken, Body: strconv.Itoa(i)})
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Verdict != push.Delivered {
			t.Errorf("send %d: %+v", i, r)
		}
	}
	if n := f.conns.Load(); n != 1 {
		t.Errorf("%d connections opened, want 1 shared HTTP/2 connection", n)
	}
}

// newClientCert writes a self-signed client certificate and its key to one PEM file.
func newClientCert(t *testing.T) (string, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Apple Push Services: " + testBundle},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	path := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, cert
}

func TestCertificateAuth(t *testing.T) {
	f := newFakeAPNs(t, &tls.Config{ClientAuth: tls.RequireAnyClientCert})
	certFile, cert := newClientCert(t)
	c, err := New(Options{CertFile: certFile, BundleID: testBundle, EndpointProduction: f.srv.URL, CAFile: f.caFile})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"})
	if r.Verdict != push.Delivered {
		t.Fatalf("result = %+v, want delivered", r)
	}
	s := f.last(t)
	if len(s.peer) == 0 || !s.peer[0].Equal(cert) {
		t.Error("the server did not get our client certificate")
	}
	if auth := s.header.Get("authorization"); auth != "" {
		t.Errorf("certificate auth sent authorization %q", auth)
	}
	if _, ok := r.Exchange.Headers["authorization"]; ok {
		t.Errorf("exchange shows an authorization header: %v", r.Exchange.Headers)
	}
	c.Refresh() // nothing to refresh; must not break the next send
	if r := c.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"}); r.Verdict != push.Delivered {
		t.Errorf("after Refresh: %+v", r)
	}

	// A client without a certificate is refused at the handshake: no answer, so Retry.
	tokenClient, _ := newTokenClient(t, f)
	if r := tokenClient.Send(context.Background(), &push.Notification{Token: testToken, Body: "x"}); r.Verdict != push.Retry {
		t.Errorf("without a client certificate: %+v, want retry", r)
	}
}

func TestNewReportsEveryBadField(t *testing.T) {
	_, keyPEM := newKey(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(notPEM, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		o    Options
		want []string
	}{
		{"nothing", Options{}, []string{"no credential"}},
		{"both auths", Options{KeyPEM: keyPEM, CertFile: "c.p12"}, []string{"CertFile"}},
		{"token fields", Options{KeyPEM: keyPEM}, []string{"TeamID", "KeyID"}},
		{"bad KeyPEM", Options{TeamID: testTeam, KeyID: testKeyID, KeyPEM: []byte("x")}, []string{"KeyPEM"}},
		{"missing KeyFile", Options{TeamID: testTeam, KeyID: testKeyID, KeyFile: filepath.Join(dir, "none.p8")}, []string{"KeyFile"}},
		{"KeyFile and KeyPEM", Options{TeamID: testTeam, KeyID: testKeyID, KeyFile: notPEM, KeyPEM: keyPEM}, []string{"KeyFile and KeyPEM"}},
		{"bad cert", Options{CertFile: notPEM}, []string{"CertFile"}},
		{"endpoints, CA, timeout", Options{
			TeamID: testTeam, KeyID: testKeyID, KeyPEM: keyPEM,
			EndpointProduction: "http://plain", EndpointDevelopment: "::", CAFile: notPEM, Timeout: -time.Second,
		}, []string{"EndpointProduction", "EndpointDevelopment", "CAFile", "Timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { vendortest.Refuses(t, New, tc.o, ErrInvalidOptions, tc.want...) })
	}
}
