package vendorsim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

func TestAPNsTokensBelongToOneEnvironment(t *testing.T) {
	s := startSim(t, Options{})
	c := s.Credentials()
	hc := client(t, s, false)
	h := apnsHeaders(c, apnsJWT(t, c, time.Now(), nil))
	sandboxTok, prodTok := s.APNsToken(true), s.APNsToken(false)
	for _, tc := range []struct {
		name, base, token string
		ok                bool
	}{
		{"sandbox token on the sandbox host", s.APNsSandboxEndpoint(), sandboxTok, true},
		{"sandbox token in production", s.Endpoint(push.APNs), sandboxTok, false},
		{"production token in production", s.Endpoint(push.APNs), prodTok, true},
		{"production token on the sandbox host", s.APNsSandboxEndpoint(), prodTok, false},
		{"production token in upper case on the sandbox host", s.APNsSandboxEndpoint(), strings.ToUpper(prodTok), false},
		{"a token the Sim did not mint, sandbox", s.APNsSandboxEndpoint(), testDeviceToken, true},
		{"a token the Sim did not mint, production", s.Endpoint(push.APNs), testDeviceToken, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, hc, http.MethodPost, tc.base+"/3/device/"+tc.token, h, []byte(apnsBody))
			if tc.ok && r.status != http.StatusOK {
				t.Fatalf("status %d %s, want 200", r.status, r.body)
			}
			if !tc.ok && (r.status != http.StatusBadRequest || apnsReason(t, r.body) != apnsBadDeviceToken) {
				t.Fatalf("status %d %s, want 400 BadDeviceToken", r.status, r.body)
			}
		})
	}
	recs := s.Records(push.APNs)
	if len(recs) != 7 || recs[0].Path != "/sandbox/3/device/"+sandboxTok || recs[1].Path != "/3/device/"+sandboxTok {
		t.Fatalf("records: %+v", recs)
	}
	if r := do(t, hc, http.MethodPost, s.Endpoint(push.APNs)+"/sandboxx/3/device/"+testDeviceToken, h, []byte(apnsBody)); r.status != http.StatusNotFound {
		t.Fatalf("a path that is not the sandbox's: status %d, want 404", r.status)
	}
}

func TestAdminMintsAPNsTokens(t *testing.T) {
	s := startSim(t, Options{})
	admin := client(t, s, true)
	r := do(t, admin, http.MethodPost, s.URL()+"/sim/apns-tokens?env=sandbox", nil, nil)
	tok, _ := jsonField(t, r.body, "token").(string)
	if r.status != http.StatusCreated || len(tok) != 64 || jsonField(t, r.body, "env") != "sandbox" {
		t.Fatalf("POST /sim/apns-tokens: %d %s", r.status, r.body)
	}
	if !s.apnsTokens.refuses(tok, false) || s.apnsTokens.refuses(tok, true) {
		t.Errorf("a minted sandbox token must be refused by production alone")
	}
	if r := do(t, admin, http.MethodPost, s.URL()+"/sim/apns-tokens?env=staging", nil, nil); r.status != http.StatusBadRequest ||
		jsonField(t, r.body, "error.code") != "bad_request" {
		t.Errorf("bad env: %d %s, want 400 bad_request", r.status, r.body)
	}
}
