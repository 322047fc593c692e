package vendorsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushd-im/pushd/push"
)

// fuzzNow is the fixed clock of the fuzz targets.
var fuzzNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// newFuzzSim builds a Sim that is never started: the fuzz targets call the vendor
// checks directly.
func newFuzzSim(f *testing.F) *Sim {
	f.Helper()
	s, err := New(Options{Credentials: testCreds(f), Now: func() time.Time { return fuzzNow }})
	if err != nil {
		f.Fatal(err)
	}
	return s
}

func testEnv(s *Sim, p push.Provider) *vendorEnv {
	return s.vendors[p]
}

func newTestAPNs(s *Sim) *apnsVendor {
	return &apnsVendor{env: testEnv(s, push.APNs), teamID: s.creds.APNs.TeamID, keyID: s.creds.APNs.KeyID,
		bundleID: s.creds.APNs.BundleID, pub: s.keys.apnsKey}
}

func newTestFCM(s *Sim) *fcmVendor {
	return &fcmVendor{env: testEnv(s, push.FCM), projectID: s.creds.FCM.ProjectID, clientEmail: s.creds.FCM.ClientEmail,
		keyID: s.creds.FCM.PrivateKeyID, pub: s.keys.fcmKey}
}

// FuzzAPNsProviderToken checks that an accepted authorization header always names
// the right key and team and a fresh iat, whatever the input.
func FuzzAPNsProviderToken(f *testing.F) {
	s := newFuzzSim(f)
	v := newTestAPNs(s)
	c := s.creds
	good := apnsJWT(f, c, fuzzNow, nil)
	f.Add("bearer " + good)
	f.Add("Bearer  " + good + " ")
	f.Add("bearer " + apnsJWT(f, c, fuzzNow.Add(-2*time.Hour), nil))
	f.Add("bearer " + apnsJWT(f, c, fuzzNow, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "X" }))
	f.Add("bearer " + apnsJWT(f, c, fuzzNow, func(h map[string]any, _ jwt.MapClaims) { h["alg"] = "none" }))
	f.Add("bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	f.Add("basic abc")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		reason := v.checkProviderToken(header)
		switch reason {
		case "":
		case apnsInvalidProviderToken, apnsExpiredProviderToken:
			return
		default:
			t.Fatalf("unexpected reason %q", reason)
		}
		raw, _ := parseBearer(header)
		claims := jwt.MapClaims{}
		tok, _, err := jwt.NewParser().ParseUnverified(raw, claims)
		if err != nil {
			t.Fatalf("accepted %q that does not parse: %v", header, err)
		}
		iat, _ := claims.GetIssuedAt()
		if tok.Header["kid"] != c.APNs.KeyID || claims["iss"] != c.APNs.TeamID || tok.Method.Alg() != "ES256" ||
			iat == nil || iat.After(fuzzNow) || fuzzNow.Sub(iat.Time) > time.Hour {
			t.Fatalf("accepted %q: header %v claims %v", header, tok.Header, claims)
		}
	})
}

// FuzzAPNsNotification checks the header and payload rules: every answer is one
// of APNs' statuses with a reason, and an accepted push is a JSON payload with an
// aps dictionary within the size limit.
func FuzzAPNsNotification(f *testing.F) {
	s := newFuzzSim(f)
	v := newTestAPNs(s)
	f.Add(testDeviceToken, DemoBundleID, "alert", "10", "0", "c1", "", []byte(apnsBody))
	f.Add(testDeviceToken, DemoBundleID+".voip", "voip", "10", "", "", "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", []byte(`{"aps":{}}`))
	f.Add("zz", "", "", "", "", "", "", []byte(nil))
	f.Add(testDeviceToken, DemoBundleID, "background", "5", "-1", "", "x", []byte(`{"aps":1}`))
	f.Fuzz(func(t *testing.T, token, topic, pushType, priority, expiration, collapse, apnsID string, body []byte) {
		h := http.Header{}
		for k, val := range map[string]string{
			"Apns-Topic": topic, "Apns-Push-Type": pushType, "Apns-Priority": priority,
			"Apns-Expiration": expiration, "Apns-Collapse-Id": collapse, "Apns-Id": apnsID,
		} {
			if val != "" {
				h.Set(k, val)
			}
		}
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: apnsDevicePath + token}, Header: h, ProtoMajor: 2}
		a := v.serve(r, body, v.targets(r, body))
		if !validUUID(a.header.Get("apns-id")) {
			t.Fatalf("apns-id %q", a.header.Get("apns-id"))
		}
		switch a.status {
		case http.StatusOK:
			if len(a.body) != 0 || len(body) > apnsMaxPayloadVoIP || !validAPNsPayload(body) || !validDeviceToken(token) {
				t.Fatalf("accepted token %q body %q", token, body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e apnsError
			if err := json.Unmarshal(a.body, &e); err != nil || e.Reason == "" || e.Reason != a.reason {
				t.Fatalf("error body %q (%v)", a.body, err)
			}
		default:
			t.Fatalf("status %d", a.status)
		}
	})
}

// FuzzFCMSendBody checks the v1 body parser: every answer is 200 or a 400 in
// Google's error shape, and an accepted message has exactly one target.
func FuzzFCMSendBody(f *testing.F) {
	s := newFuzzSim(f)
	v := newTestFCM(s)
	f.Add([]byte(fcmMessage(testFCMToken)))
	f.Add([]byte(`{"validateOnly":true,"message":{"topic":"news","data":{"a":"b"}}}`))
	f.Add([]byte(`{"message":{"token":"t","data":{"a":1},"android":{"ttl":"1.5s","priority":"high"}}}`))
	f.Add([]byte(`{"to":"x","message":{"token":"t","topic":"y"}}`))
	f.Add([]byte(`{"message":{"apns":{"payload":{"aps":{"alert":"x"}}},"condition":"'a' in topics"}}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"message":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/v1/projects/" + DemoProjectID + "/messages:send"}, Header: http.Header{}}
		targets := v.targets(r, body)
		a := v.serve(r, body, targets)
		var answer map[string]any
		if err := json.Unmarshal(a.body, &answer); err != nil {
			t.Fatalf("answer %q is not JSON: %v", a.body, err)
		}
		switch a.status {
		case http.StatusOK:
			msg := normalizedRef(normalizedRef(body, fcmSendRequestSchema)["message"], fcmMessageSchema)
			n := 0
			for _, k := range []string{"token", "topic", "condition"} {
				var s string
				if json.Unmarshal(msg[k], &s) == nil && s != "" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("accepted %q with %d targets", body, n)
			}
		case http.StatusBadRequest:
			e, _ := answer["error"].(map[string]any)
			if e["status"] != fcmInvalidArgument || e["code"] != float64(400) {
				t.Fatalf("error answer %s", a.body)
			}
		default:
			t.Fatalf("status %d for %q", a.status, body)
		}
	})
}
