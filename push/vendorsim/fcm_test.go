package vendorsim

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushd-im/pushd/push"
)

const testFCMToken = "dX1zSimToken:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"

// fcmAssertion builds a service-account assertion as golang.org/x/oauth2/jwt does:
// RS256, kid = private_key_id, iss = client_email, aud = token URI, scope, iat, exp.
func fcmAssertion(t testing.TB, c *Credentials, aud string, iat time.Time, edit func(h map[string]any, cl jwt.MapClaims)) string {
	t.Helper()
	key, err := parsePKCS8PEM(c.FCM.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return fcmAssertionWithKey(t, c, key.(*rsa.PrivateKey), aud, iat, edit)
}

func fcmAssertionWithKey(t testing.TB, c *Credentials, key *rsa.PrivateKey, aud string, iat time.Time, edit func(h map[string]any, cl jwt.MapClaims)) string {
	t.Helper()
	claims := jwt.MapClaims{
		"iss":   c.FCM.ClientEmail,
		"scope": "https://www.googleapis.com/auth/firebase.messaging",
		"aud":   aud,
		"iat":   iat.Unix(),
		"exp":   iat.Add(time.Hour).Unix(),
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = c.FCM.PrivateKeyID
	if edit != nil {
		edit(tok.Header, claims)
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func grant(t *testing.T, hc *http.Client, s *Sim, assertion string) reply {
	t.Helper()
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	return do(t, hc, http.MethodPost, s.AuthEndpoint(push.FCM), h, []byte(form.Encode()))
}

// fcmAccessToken runs the OAuth grant and returns the access token.
func fcmAccessToken(t *testing.T, hc *http.Client, s *Sim, now time.Time) string {
	t.Helper()
	r := grant(t, hc, s, fcmAssertion(t, s.Credentials(), s.AuthEndpoint(push.FCM), now, nil))
	if r.status != http.StatusOK {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(r.body, &tok); err != nil || tok.AccessToken == "" || tok.ExpiresIn != 3600 || tok.TokenType != "Bearer" {
		t.Fatalf("grant answer %s (%v)", r.body, err)
	}
	return tok.AccessToken
}

func fcmSend(t *testing.T, hc *http.Client, s *Sim, accessToken, project, body string) reply {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if accessToken != "" {
		h.Set("Authorization", "Bearer "+accessToken)
	}
	return do(t, hc, http.MethodPost, s.Endpoint(push.FCM)+"/v1/projects/"+project+"/messages:send", h, []byte(body))
}

func fcmMessage(token string) string {
	return `{"message":{"token":"` + token + `","notification":{"title":"Alice","body":"hi"},` +
		`"data":{"message_id":"m1","sender":"alice"},"android":{"priority":"HIGH","ttl":"3600s","collapse_key":"c1",` +
		`"notification":{"channel_id":"im","sound":"default"}}}}`
}

func TestFCMGrantAndSend(t *testing.T) {
	clock := newFakeClock()
	s := startSim(t, Options{Now: clock.Now})
	hc := client(t, s, false)
	tok := fcmAccessToken(t, hc, s, clock.Now())

	r := fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken))
	if r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	name, _ := jsonField(t, r.body, "name").(string)
	if !strings.HasPrefix(name, "projects/"+DemoProjectID+"/messages/") || len(name) <= len("projects/"+DemoProjectID+"/messages/") {
		t.Fatalf("name %q", name)
	}
	del := s.Delivered(push.FCM, testFCMToken)
	if len(del) != 1 || del[0].Path != "/v1/projects/"+DemoProjectID+"/messages:send" || s.Count(push.FCM) != 1 {
		t.Fatalf("Delivered = %+v, Count = %d", del, s.Count(push.FCM))
	}

	// A wrong access token is 401 UNAUTHENTICATED without an FCM errorCode.
	r = fcmSend(t, hc, s, "ya29.not-issued", DemoProjectID, fcmMessage(testFCMToken))
	checkFCMError(t, r, 401, "UNAUTHENTICATED", "")
	r = fcmSend(t, hc, s, "", DemoProjectID, fcmMessage(testFCMToken))
	checkFCMError(t, r, 401, "UNAUTHENTICATED", "")

	// Access tokens expire on the Sim's clock…
	clock.Advance(59 * time.Minute)
	if r := fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken)); r.status != 200 {
		t.Fatalf("59-minute-old access token: %d %s", r.status, r.body)
	}
	clock.Advance(2 * time.Minute)
	checkFCMError(t, fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken)), 401, "UNAUTHENTICATED", "")

	// …and all at once with ExpireAccessTokens; a new grant works again.
	tok = fcmAccessToken(t, hc, s, clock.Now())
	if r := fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken)); r.status != 200 {
		t.Fatalf("after a new grant: %d %s", r.status, r.body)
	}
	s.ExpireAccessTokens()
	checkFCMError(t, fcmSend(t, hc, s, tok, DemoProjectID, fcmMessage(testFCMToken)), 401, "UNAUTHENTICATED", "")
	if rec := lastRecord(t, s, push.FCM); rec.Status != 401 || rec.Token != testFCMToken {
		t.Fatalf("401 record %+v", rec)
	}

	// Another project is PERMISSION_DENIED.
	tok = fcmAccessToken(t, hc, s, clock.Now())
	checkFCMError(t, fcmSend(t, hc, s, tok, "other-project", fcmMessage(testFCMToken)), 403, "PERMISSION_DENIED", "")
}

// checkFCMError checks an FCM v1 error answer: code, status and (when errorCode is
// set) the FcmError detail.
func checkFCMError(t *testing.T, r reply, status int, rpcStatus, errorCode string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d body %s, want %d", r.status, r.body, status)
	}
	var body struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil {
		t.Fatalf("error body %s (%v)", r.body, err)
	}
	if body.Error["code"] != float64(status) || body.Error["status"] != rpcStatus {
		t.Fatalf("error body %s, want code %d status %s", r.body, status, rpcStatus)
	}
	got := ""
	details, _ := body.Error["details"].([]any)
	for _, d := range details {
		if m, _ := d.(map[string]any); m["@type"] == "type.googleapis.com/google.firebase.fcm.v1.FcmError" {
			got, _ = m["errorCode"].(string)
		}
	}
	if got != errorCode {
		t.Fatalf("errorCode %q, want %q in %s", got, errorCode, r.body)
	}
	return body.Error
}

// fieldViolations returns the BadRequest field violations of an error body.
func fieldViolations(t *testing.T, e map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	details, _ := e["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		vs, _ := m["fieldViolations"].([]any)
		for _, v := range vs {
			vm, _ := v.(map[string]any)
			out = append(out, vm)
		}
	}
	return out
}

func TestFCMGrantRejections(t *testing.T) {
	clock := newFakeClock()
	s := startSim(t, Options{Now: clock.Now})
	c := s.Credentials()
	hc := client(t, s, false)
	aud := s.AuthEndpoint(push.FCM)
	now := clock.Now()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name      string
		assertion string
		grantType string
		errCode   string
	}{
		{"signed with another key", fcmAssertionWithKey(t, c, otherKey, aud, now, nil), "", "invalid_grant"},
		{"wrong kid", fcmAssertion(t, c, aud, now, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "0000" }), "", "invalid_grant"},
		{"RS512", func() string {
			key, _ := parsePKCS8PEM(c.FCM.PrivateKeyPEM)
			tok := jwt.NewWithClaims(jwt.SigningMethodRS512, jwt.MapClaims{"iss": c.FCM.ClientEmail, "aud": aud,
				"scope": fcmScopes[0], "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
			raw, _ := tok.SignedString(key)
			return raw
		}(), "", "invalid_grant"},
		{"unknown account", fcmAssertion(t, c, aud, now, func(_ map[string]any, cl jwt.MapClaims) { cl["iss"] = "x@y.iam.gserviceaccount.com" }), "", "invalid_grant"},
		{"Google's audience", fcmAssertion(t, c, "https://oauth2.googleapis.com/token", now, nil), "", "invalid_grant"},
		{"no scope", fcmAssertion(t, c, aud, now, func(_ map[string]any, cl jwt.MapClaims) { delete(cl, "scope") }), "", "invalid_scope"},
		{"other scope", fcmAssertion(t, c, aud, now, func(_ map[string]any, cl jwt.MapClaims) {
			cl["scope"] = "https://www.googleapis.com/auth/userinfo.email"
		}), "", "invalid_scope"},
		{"lives over an hour", fcmAssertion(t, c, aud, now, func(_ map[string]any, cl jwt.MapClaims) { cl["exp"] = now.Add(61 * time.Minute).Unix() }), "", "invalid_grant"},
		{"expired", fcmAssertion(t, c, aud, now.Add(-2*time.Hour), nil), "", "invalid_grant"},
		{"issued in the future", fcmAssertion(t, c, aud, now.Add(5*time.Minute), nil), "", "invalid_grant"},
		{"no exp", fcmAssertion(t, c, aud, now, func(_ map[string]any, cl jwt.MapClaims) { delete(cl, "exp") }), "", "invalid_grant"},
		{"wrong grant type", fcmAssertion(t, c, aud, now, nil), "client_credentials", "unsupported_grant_type"},
		{"no assertion", "", "", "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gt := tc.grantType
			if gt == "" {
				gt = "urn:ietf:params:oauth:grant-type:jwt-bearer"
			}
			form := url.Values{"grant_type": {gt}, "assertion": {tc.assertion}}
			r := do(t, hc, http.MethodPost, aud, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d body %s, want 400", r.status, r.body)
			}
			if got := jsonField(t, r.body, "error"); got != tc.errCode {
				t.Fatalf("error %v, want %s (%s)", got, tc.errCode, r.body)
			}
			if d, _ := jsonField(t, r.body, "error_description").(string); d == "" {
				t.Fatalf("no error_description in %s", r.body)
			}
		})
	}

	// A cloud-platform scope works too, and so does the localhost spelling of the token URI.
	localhostAud := strings.Replace(aud, "127.0.0.1", "localhost", 1)
	r := grant(t, hc, s, fcmAssertion(t, c, aud, now, func(_ map[string]any, cl jwt.MapClaims) {
		cl["scope"] = "https://www.googleapis.com/auth/cloud-platform"
	}))
	if r.status != 200 {
		t.Fatalf("cloud-platform scope: %d %s", r.status, r.body)
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {fcmAssertion(t, c, localhostAud, now, nil)}}
	r = do(t, hc, http.MethodPost, localhostAud, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
	if r.status != 200 {
		t.Fatalf("localhost token URI: %d %s", r.status, r.body)
	}
}

func TestFCMMessageValidation(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	tok := fcmAccessToken(t, hc, s, time.Now())
	big := strings.Repeat("x", 4100)

	cases := []struct {
		name      string
		body      string
		status    int
		errorCode string
		// field and description of the first field violation, when checked
		field, description string
	}{
		{name: "unknown top-level fields", body: `{"to":"x","message":{"token":"t"}}`, status: 400,
			field: "", description: `Invalid JSON payload received. Unknown name "to": Cannot find field.`},
		{name: "unknown message field", body: `{"message":{"token":"t","tokens":["a"]}}`, status: 400,
			field: "message", description: `Invalid JSON payload received. Unknown name "tokens" at 'message': Cannot find field.`},
		{name: "unknown notification field", body: `{"message":{"token":"t","notification":{"title":"a","data":{}}}}`, status: 400,
			field: "message.notification", description: `Invalid JSON payload received. Unknown name "data" at 'message.notification': Cannot find field.`},
		{name: "data value not a string", body: `{"message":{"token":"t","data":{"a":"1","b":2}}}`, status: 400,
			field: "message.data[1].value", description: `Invalid value at 'message.data[1].value' (TYPE_STRING), 2`},
		{name: "notification not an object", body: `{"message":{"token":"t","notification":"hi"}}`, status: 400, field: "message.notification"},
		{name: "validate_only not a bool", body: `{"validate_only":"yes","message":{"token":"t"}}`, status: 400, field: "validate_only"},
		{name: "not JSON", body: `{"message":`, status: 400},
		{name: "no message", body: `{}`, status: 400, field: "message"},
		{name: "no target", body: `{"message":{"notification":{"title":"a"}}}`, status: 400,
			field: "message", description: "Recipient of the message is not set."},
		{name: "two targets", body: `{"message":{"token":"t","topic":"news"}}`, status: 400, field: "message"},
		{name: "token not an FCM token", body: `{"message":{"token":"not a token"}}`, status: 400, errorCode: "INVALID_ARGUMENT", field: "message.token"},
		{name: "bad android priority", body: `{"message":{"token":"t","android":{"priority":"URGENT"}}}`, status: 400, errorCode: "INVALID_ARGUMENT", field: "message.android.priority"},
		{name: "bad android ttl", body: `{"message":{"token":"t","android":{"ttl":"1h"}}}`, status: 400, errorCode: "INVALID_ARGUMENT", field: "message.android.ttl"},
		{name: "ttl over 4 weeks", body: `{"message":{"token":"t","android":{"ttl":"2419201s"}}}`, status: 400, errorCode: "INVALID_ARGUMENT", field: "message.android.ttl"},
		{name: "reserved data key", body: `{"message":{"token":"t","data":{"from":"alice"}}}`, status: 400, errorCode: "INVALID_ARGUMENT", field: "message.data"},
		{name: "payload too large", body: `{"message":{"token":"t","data":{"big":"` + big + `"}}}`, status: 400, errorCode: "INVALID_ARGUMENT", field: "message"},
		{name: "topic payload over 2048", body: `{"message":{"topic":"news","data":{"big":"` + big[:2100] + `"}}}`, status: 400, errorCode: "INVALID_ARGUMENT", field: "message"},
		{name: "camelCase fields", body: `{"validateOnly":false,"message":{"token":"t","android":{"collapseKey":"c","directBootOk":true,` +
			`"notification":{"channelId":"im","notificationCount":2}},"apns":{"headers":{"apns-priority":"10"},"payload":{"aps":{"badge":1}}}}}`, status: 200},
		{name: "apns background at priority 10", body: `{"message":{"token":"t","apns":{"headers":{"apns-push-type":"background","apns-priority":"10"},` +
			`"payload":{"aps":{"content-available":1}}}}}`, status: 400, errorCode: "INVALID_ARGUMENT", field: "message.apns"},
		{name: "apns background with a sound", body: `{"message":{"token":"t","apns":{"headers":{"apns-push-type":"background","apns-priority":"5"},` +
			`"payload":{"aps":{"content-available":1,"sound":"default"}}}}}`, status: 400, errorCode: "INVALID_ARGUMENT", field: "message.apns"},
		{name: "apns background without a payload", body: `{"message":{"token":"t","apns":{"headers":{"apns-push-type":"background","apns-priority":"5"}}}}`,
			status: 400, errorCode: "INVALID_ARGUMENT", field: "message.apns"},
		{name: "apns background", body: `{"message":{"token":"t","data":{"a":"b"},"apns":{"headers":{"apns-push-type":"background","apns-priority":"5"},` +
			`"payload":{"aps":{"content-available":1}}}}}`, status: 200},
		{name: "topic", body: `{"message":{"topic":"/topics/news","data":{"a":"b"}}}`, status: 200},
		{name: "condition", body: `{"message":{"condition":"'news' in topics","data":{"a":"b"}}}`, status: 200},
		{name: "null fields", body: `{"message":{"token":"t","notification":null,"data":null}}`, status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := fcmSend(t, hc, s, tok, DemoProjectID, tc.body)
			if tc.status == 200 {
				if r.status != 200 {
					t.Fatalf("status %d body %s, want 200", r.status, r.body)
				}
				return
			}
			e := checkFCMError(t, r, tc.status, "INVALID_ARGUMENT", tc.errorCode)
			if tc.field == "" && tc.description == "" {
				return
			}
			vs := fieldViolations(t, e)
			if len(vs) == 0 {
				t.Fatalf("no field violations in %s", r.body)
			}
			if got, _ := vs[0]["field"].(string); got != tc.field {
				t.Errorf("field %q, want %q (%s)", got, tc.field, r.body)
			}
			if tc.description != "" && vs[0]["description"] != tc.description {
				t.Errorf("description %q, want %q", vs[0]["description"], tc.description)
			}
			if rec := lastRecord(t, s, push.FCM); rec.Status != 400 {
				t.Errorf("record status %d", rec.Status)
			}
		})
	}

	// Several unknown fields are all reported, the message joining them.
	r := fcmSend(t, hc, s, tok, DemoProjectID, `{"to":"x","priority":"high","message":{"token":"t"}}`)
	e := checkFCMError(t, r, 400, "INVALID_ARGUMENT", "")
	if vs := fieldViolations(t, e); len(vs) != 2 || !strings.Contains(e["message"].(string), "\n") {
		t.Fatalf("violations %v message %q", vs, e["message"])
	}
}

func TestFCMValidateOnlyIsNotADelivery(t *testing.T) {
	s := startSim(t, Options{})
	hc := client(t, s, false)
	tok := fcmAccessToken(t, hc, s, time.Now())
	r := fcmSend(t, hc, s, tok, DemoProjectID, `{"validate_only":true,"message":{"token":"`+testFCMToken+`"}}`)
	if r.status != 200 || jsonField(t, r.body, "name") != "projects/"+DemoProjectID+"/messages/fake_message_id" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if rec := lastRecord(t, s, push.FCM); !rec.DryRun || rec.Status != 200 {
		t.Fatalf("record %+v", rec)
	}
	if n := len(s.Delivered(push.FCM, testFCMToken)); n != 0 || s.Count(push.FCM) != 0 {
		t.Fatalf("validate_only counted as delivered: %d records, Count %d", n, s.Count(push.FCM))
	}
}
