package vendorsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushd-im/pushd/push"
)

const testDeviceToken = "2f3c1e5a9b7d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60"

// apnsJWT builds a provider token the way apns2's token package does: ES256,
// kid = key id, iss = team id, iat = at. edit may change the header and claims.
func apnsJWT(t testing.TB, c *Credentials, at time.Time, edit func(h map[string]any, cl jwt.MapClaims)) string {
	t.Helper()
	key, err := parsePKCS8PEM(c.APNs.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return apnsJWTWithKey(t, c, key.(*ecdsa.PrivateKey), at, edit)
}

func apnsJWTWithKey(t testing.TB, c *Credentials, key *ecdsa.PrivateKey, at time.Time, edit func(h map[string]any, cl jwt.MapClaims)) string {
	t.Helper()
	claims := jwt.MapClaims{"iss": c.APNs.TeamID, "iat": at.Unix()}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = c.APNs.KeyID
	if edit != nil {
		edit(tok.Header, claims)
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// apnsHeaders are the headers of a good alert push with token auth.
func apnsHeaders(c *Credentials, jwtToken string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "bearer "+jwtToken)
	h.Set("Apns-Topic", c.APNs.BundleID)
	h.Set("Apns-Push-Type", "alert")
	h.Set("Apns-Priority", "10")
	h.Set("Content-Type", "application/json")
	return h
}

const apnsBody = `{"aps":{"alert":{"title":"Alice","body":"hi"},"sound":"default","mutable-content":1},"message_id":"m1"}`

func TestAPNsAcceptsValidProviderToken(t *testing.T) {
	s := startSim(t, Options{})
	c := s.Credentials()
	h := apnsHeaders(c, apnsJWT(t, c, time.Now(), nil))
	h.Set("Apns-Id", "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b")
	h.Set("Apns-Expiration", "0")
	h.Set("Apns-Collapse-Id", "call-1")

	r := do(t, client(t, s, false), http.MethodPost, s.Endpoint(push.APNs)+"/3/device/"+testDeviceToken, h, []byte(apnsBody))
	if r.status != http.StatusOK || len(r.body) != 0 {
		t.Fatalf("status %d body %q, want 200 and empty", r.status, r.body)
	}
	if got := r.header.Get("apns-id"); got != "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b" {
		t.Fatalf("apns-id = %q, want the request's", got)
	}
	del := s.Delivered(push.APNs, testDeviceToken)
	if len(del) != 1 || del[0].Path != "/3/device/"+testDeviceToken || string(del[0].Body) != apnsBody ||
		del[0].Headers["apns-collapse-id"] != "call-1" {
		t.Fatalf("Delivered = %+v", del)
	}
	if s.Count(push.APNs) != 1 || s.Count(push.FCM) != 0 {
		t.Fatalf("Count apns %d fcm %d", s.Count(push.APNs), s.Count(push.FCM))
	}

	// Without apns-id, APNs makes one up.
	h.Del("Apns-Id")
	r = do(t, client(t, s, false), http.MethodPost, s.Endpoint(push.APNs)+"/3/device/"+testDeviceToken, h, []byte(apnsBody))
	if r.status != http.StatusOK || !validUUID(r.header.Get("apns-id")) {
		t.Fatalf("status %d apns-id %q", r.status, r.header.Get("apns-id"))
	}
}

func TestAPNsRejections(t *testing.T) {
	clock := newFakeClock()
	s := startSim(t, Options{Now: clock.Now})
	c := s.Credentials()
	now := clock.Now()
	good := apnsJWT(t, c, now, nil)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	cases := []struct {
		name   string
		edit   func(h http.Header)
		path   string // default /3/device/<testDeviceToken>
		method string
		body   string // default apnsBody
		status int
		reason string
	}{
		{name: "wrong key", edit: func(h http.Header) {
			h.Set("Authorization", "bearer "+apnsJWTWithKey(t, c, otherKey, now, nil))
		}, status: 403, reason: "InvalidProviderToken"},
		{name: "wrong kid", edit: func(h http.Header) {
			h.Set("Authorization", "bearer "+apnsJWT(t, c, now, func(hd map[string]any, _ jwt.MapClaims) { hd["kid"] = "ABCDEFGHIJ" }))
		}, status: 403, reason: "InvalidProviderToken"},
		{name: "wrong team", edit: func(h http.Header) {
			h.Set("Authorization", "bearer "+apnsJWT(t, c, now, func(_ map[string]any, cl jwt.MapClaims) { cl["iss"] = "ZZZZZZZZZZ" }))
		}, status: 403, reason: "InvalidProviderToken"},
		{name: "no iat", edit: func(h http.Header) {
			h.Set("Authorization", "bearer "+apnsJWT(t, c, now, func(_ map[string]any, cl jwt.MapClaims) { delete(cl, "iat") }))
		}, status: 403, reason: "InvalidProviderToken"},
		{name: "iat older than an hour", edit: func(h http.Header) {
			h.Set("Authorization", "bearer "+apnsJWT(t, c, now.Add(-61*time.Minute), nil))
		}, status: 403, reason: "ExpiredProviderToken"},
		{name: "iat in the future", edit: func(h http.Header) {
			h.Set("Authorization", "bearer "+apnsJWT(t, c, now.Add(10*time.Minute), nil))
		}, status: 403, reason: "InvalidProviderToken"},
		{name: "not a JWT", edit: func(h http.Header) { h.Set("Authorization", "bearer abc.def.ghi") }, status: 403, reason: "InvalidProviderToken"},
		{name: "HS256 signed", edit: func(h http.Header) {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": c.APNs.TeamID, "iat": now.Unix()})
			tok.Header["kid"] = c.APNs.KeyID
			raw, _ := tok.SignedString([]byte("secret"))
			h.Set("Authorization", "bearer "+raw)
		}, status: 403, reason: "InvalidProviderToken"},
		{name: "no authorization", edit: func(h http.Header) { h.Del("Authorization") }, status: 403, reason: "MissingProviderToken"},
		{name: "missing topic", edit: func(h http.Header) { h.Del("Apns-Topic") }, status: 400, reason: "MissingTopic"},
		{name: "malformed topic", edit: func(h http.Header) { h.Set("Apns-Topic", "im pushd demo") }, status: 400, reason: "BadTopic"},
		{name: "other app's topic", edit: func(h http.Header) { h.Set("Apns-Topic", "com.example.other") }, status: 400, reason: "DeviceTokenNotForTopic"},
		{name: "voip push to the app topic", edit: func(h http.Header) { h.Set("Apns-Push-Type", "voip") }, status: 400, reason: "DeviceTokenNotForTopic"},
		{name: "alert push to the voip topic", edit: func(h http.Header) { h.Set("Apns-Topic", c.APNs.BundleID+".voip") }, status: 400, reason: "DeviceTokenNotForTopic"},
		{name: "voip push to the voip topic", edit: func(h http.Header) {
			h.Set("Apns-Push-Type", "voip")
			h.Set("Apns-Topic", c.APNs.BundleID+".voip")
		}, status: 200},
		{name: "no push type means alert", edit: func(h http.Header) { h.Del("Apns-Push-Type") }, status: 200},
		{name: "unknown push type", edit: func(h http.Header) { h.Set("Apns-Push-Type", "banner") }, status: 400, reason: "InvalidPushType"},
		{name: "bad priority", edit: func(h http.Header) { h.Set("Apns-Priority", "7") }, status: 400, reason: "BadPriority"},
		{name: "priority 5", edit: func(h http.Header) { h.Set("Apns-Priority", "5") }, status: 200},
		{name: "bad expiration", edit: func(h http.Header) { h.Set("Apns-Expiration", "tomorrow") }, status: 400, reason: "BadExpirationDate"},
		{name: "bad apns-id", edit: func(h http.Header) { h.Set("Apns-Id", "not-a-uuid") }, status: 400, reason: "BadMessageId"},
		{name: "collapse id over 64 bytes", edit: func(h http.Header) { h.Set("Apns-Collapse-Id", strings.Repeat("c", 65)) }, status: 400, reason: "BadCollapseId"},
		{name: "collapse id of 64 bytes", edit: func(h http.Header) { h.Set("Apns-Collapse-Id", strings.Repeat("c", 64)) }, status: 200},
		{name: "duplicate topic header", edit: func(h http.Header) { h.Add("Apns-Topic", c.APNs.BundleID) }, status: 400, reason: "DuplicateHeaders"},
		{name: "token not hex", path: "/3/device/not-a-hex-token", status: 400, reason: "BadDeviceToken"},
		{name: "no token", path: "/3/device/", status: 400, reason: "MissingDeviceToken"},
		{name: "bad path", path: "/3/devices/" + testDeviceToken, status: 404, reason: "BadPath"},
		{name: "GET", method: http.MethodGet, body: "-", status: 405, reason: "MethodNotAllowed"},
		{name: "empty payload", body: "-", status: 400, reason: "PayloadEmpty"},
		{name: "payload of 4096 bytes", body: padPayload(4096), status: 200},
		{name: "payload over 4096 bytes", body: padPayload(4097), status: 413, reason: "PayloadTooLarge"},
		{name: "voip payload of 5120 bytes", edit: func(h http.Header) {
			h.Set("Apns-Push-Type", "voip")
			h.Set("Apns-Topic", c.APNs.BundleID+".voip")
		}, body: padPayload(5120), status: 200},
		{name: "voip payload over 5120 bytes", edit: func(h http.Header) {
			h.Set("Apns-Push-Type", "voip")
			h.Set("Apns-Topic", c.APNs.BundleID+".voip")
		}, body: padPayload(5121), status: 413, reason: "PayloadTooLarge"},
		{name: "payload not JSON", body: "{aps", status: 400, reason: "BadPayload"},
		{name: "payload without aps", body: `{"alert":"hi"}`, status: 400, reason: "BadPayload"},
	}
	hc := client(t, s, false)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := apnsHeaders(c, good)
			if tc.edit != nil {
				tc.edit(h)
			}
			path := tc.path
			if path == "" {
				path = "/3/device/" + testDeviceToken
			}
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			body := []byte(tc.body)
			switch tc.body {
			case "":
				body = []byte(apnsBody)
			case "-":
				body = nil
			}
			r := do(t, hc, method, s.Endpoint(push.APNs)+path, h, body)
			if r.status != tc.status {
				t.Fatalf("status %d body %s, want %d %s", r.status, r.body, tc.status, tc.reason)
			}
			if !validUUID(r.header.Get("apns-id")) {
				t.Errorf("apns-id = %q, want a UUID", r.header.Get("apns-id"))
			}
			rec := lastRecord(t, s, push.APNs)
			if rec.Status != tc.status || rec.Reason != tc.reason {
				t.Errorf("record status %d reason %q, want %d %q", rec.Status, rec.Reason, tc.status, tc.reason)
			}
			if tc.status == 200 {
				if len(r.body) != 0 {
					t.Errorf("success body %q, want empty", r.body)
				}
				return
			}
			if got := jsonField(t, r.body, "reason"); got != tc.reason {
				t.Errorf("reason %v, want %s", got, tc.reason)
			}
			if r.header.Get("Content-Type") == "" {
				t.Errorf("error answer without Content-Type")
			}
		})
	}
}

// padPayload returns a valid APNs payload of exactly n bytes.
func padPayload(n int) string {
	base := `{"aps":{"alert":"x"},"pad":""}`
	return base[:len(base)-2] + strings.Repeat("p", n-len(base)) + `"}`
}

func TestAPNsProviderTokenAgesOnTheSimClock(t *testing.T) {
	clock := newFakeClock()
	s := startSim(t, Options{Now: clock.Now})
	c := s.Credentials()
	h := apnsHeaders(c, apnsJWT(t, c, clock.Now(), nil))
	hc := client(t, s, false)
	url := s.Endpoint(push.APNs) + "/3/device/" + testDeviceToken

	if r := do(t, hc, http.MethodPost, url, h, []byte(apnsBody)); r.status != 200 {
		t.Fatalf("fresh token: %d %s", r.status, r.body)
	}
	clock.Advance(59 * time.Minute)
	if r := do(t, hc, http.MethodPost, url, h, []byte(apnsBody)); r.status != 200 {
		t.Fatalf("59-minute-old token: %d %s", r.status, r.body)
	}
	clock.Advance(2 * time.Minute)
	r := do(t, hc, http.MethodPost, url, h, []byte(apnsBody))
	if r.status != 403 || jsonField(t, r.body, "reason") != "ExpiredProviderToken" {
		t.Fatalf("61-minute-old token: %d %s, want 403 ExpiredProviderToken", r.status, r.body)
	}
}

func TestAPNsCertificateAuth(t *testing.T) {
	s := startSim(t, Options{})
	c := s.Credentials()
	cert, err := c.APNsClientCertificate()
	if err != nil {
		t.Fatal(err)
	}
	hc := client(t, s, false, cert)
	url := s.Endpoint(push.APNs) + "/3/device/" + testDeviceToken

	cases := []struct {
		name, topic, pushType string
		status                int
		reason                string
	}{
		{"bundle topic", c.APNs.BundleID, "alert", 200, ""},
		{"topic taken from the certificate", "", "alert", 200, ""},
		{"voip topic", c.APNs.BundleID + ".voip", "voip", 200, ""},
		{"voip push to the bundle topic", c.APNs.BundleID, "voip", 400, "DeviceTokenNotForTopic"},
		{"topic of another app", "com.example.other", "alert", 400, "TopicDisallowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.topic != "" {
				h.Set("Apns-Topic", tc.topic)
			}
			h.Set("Apns-Push-Type", tc.pushType)
			r := do(t, hc, http.MethodPost, url, h, []byte(apnsBody))
			if r.status != tc.status {
				t.Fatalf("status %d body %s, want %d", r.status, r.body, tc.status)
			}
			if tc.reason != "" && jsonField(t, r.body, "reason") != tc.reason {
				t.Fatalf("reason %s, want %s", r.body, tc.reason)
			}
		})
	}

	// A client certificate the CA did not sign fails the TLS handshake. (Go's client
	// would not offer it for the Sim's CA list on its own, so force it.)
	rogue := selfSignedClientCert(t)
	rc := client(t, s, false)
	rc.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &rogue, nil
	}
	if r, err := doCtx(t.Context(), rc, http.MethodPost, url, http.Header{}, []byte(apnsBody)); err == nil {
		t.Fatalf("request with a certificate from another CA got %d %s", r.status, r.body)
	}
}

func selfSignedClientCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _, err := signCert(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "Apple Push Services: " + DemoBundleID},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, nil, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestAPNsRejectsHTTP1(t *testing.T) {
	s := startSim(t, Options{})
	c := s.Credentials()
	r := do(t, client(t, s, true), http.MethodPost, s.Endpoint(push.APNs)+"/3/device/"+testDeviceToken,
		apnsHeaders(c, apnsJWT(t, c, time.Now(), nil)), []byte(apnsBody))
	if r.proto != 1 || r.status != http.StatusHTTPVersionNotSupported {
		t.Fatalf("HTTP/%d status %d, want HTTP/1 505", r.proto, r.status)
	}
	if got := jsonField(t, r.body, "reason"); got != "HTTP2Required" {
		t.Fatalf("reason %v", got)
	}
	if len(s.Delivered(push.APNs, "")) != 0 {
		t.Fatal("an HTTP/1.1 push was delivered")
	}
}

func apnsReason(t *testing.T, body []byte) string {
	t.Helper()
	var e apnsError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Reason
}

func TestAPNsBackgroundPushRules(t *testing.T) {
	s := startSim(t, Options{})
	c := s.Credentials()
	hc := client(t, s, false)
	jwtToken := apnsJWT(t, c, time.Now(), nil)
	const silent = `{"aps":{"content-available":1},"title":"Ada"}`
	for _, tc := range []struct {
		name, priority, body, reason string
	}{
		{"content-available at priority 5", "5", silent, ""},
		{"priority 10", "10", silent, apnsBadPriority},
		{"no priority is 10", "", silent, apnsBadPriority},
		{"no content-available", "5", `{"aps":{}}`, apnsBadPayload},
		{"content-available 0", "5", `{"aps":{"content-available":0}}`, apnsBadPayload},
		{"with an alert", "5", `{"aps":{"content-available":1,"alert":{"title":"x"}}}`, apnsBadPayload},
		{"with a sound", "5", `{"aps":{"content-available":1,"sound":"default"}}`, apnsBadPayload},
		{"with a badge", "5", `{"aps":{"content-available":1,"badge":1}}`, apnsBadPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := apnsHeaders(c, jwtToken)
			h.Set("Apns-Push-Type", "background")
			h.Del("Apns-Priority")
			if tc.priority != "" {
				h.Set("Apns-Priority", tc.priority)
			}
			r := do(t, hc, http.MethodPost, s.Endpoint(push.APNs)+"/3/device/"+testDeviceToken, h, []byte(tc.body))
			switch {
			case tc.reason == "" && r.status != http.StatusOK:
				t.Fatalf("status %d %s, want 200", r.status, r.body)
			case tc.reason != "" && (r.status != http.StatusBadRequest || apnsReason(t, r.body) != tc.reason):
				t.Fatalf("status %d %s, want 400 %s", r.status, r.body, tc.reason)
			}
		})
	}
}
