package daemon_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/transport/api"
)

// TestClientTokenIssuedAt: a token whose iat is more than a minute ahead of the
// node's clock is refused (it would also live longer than max_token_ttl from
// now); a little skew is taken, and a token without iat is judged from now.
func TestClientTokenIssuedAt(t *testing.T) {
	const secret = "iat-client-secret-0123456789"
	h := startDaemon(t, func(c *config.Config) {
		c.Apps = []config.App{{ID: "iat", APIKeys: []string{"iat-api-key-0123456789"}, ClientTokenSecret: secret}}
		c.Limits.MaxTokenTTL = config.Duration(24 * time.Hour)
	})
	now := time.Now()
	mint := func(iat *time.Time, exp time.Time) string {
		claims := api.ClientClaims{App: "iat", RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(exp)}}
		if iat != nil {
			claims.IssuedAt = jwt.NewNumericDate(*iat)
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	msg := map[string]any{"to": "bob", "conversation_type": 0, "type": 1, "body": "x"}
	for _, c := range []struct {
		what, auth, msg string
		want            int
	}{
		{"iat now", mint(at(0), now.Add(time.Hour)), "", http.StatusOK},
		{"iat 20s ahead (skew)", mint(at(20*time.Second), now.Add(time.Hour)), "", http.StatusOK},
		{"iat a day ahead", mint(at(24*time.Hour), now.Add(47*time.Hour)), "iat is", http.StatusUnauthorized},
		{"iat 5m ahead", mint(at(5*time.Minute), now.Add(time.Hour)), "in the future", http.StatusUnauthorized},
		{"no iat, exp within the ttl from now", mint(nil, now.Add(time.Hour)), "", http.StatusOK},
		{"no iat, exp past the ttl from now", mint(nil, now.Add(48*time.Hour)), "max_token_ttl", http.StatusUnauthorized},
	} {
		st, out := h.call("POST", "/v1/messages", c.auth, msg)
		if st != c.want {
			t.Errorf("%s: %d %v, want %d", c.what, st, out, c.want)
			continue
		}
		if e, _ := out["error"].(map[string]any); c.msg != "" && !strings.Contains(e["message"].(string), c.msg) {
			t.Errorf("%s: message %q does not say %q", c.what, e["message"], c.msg)
		}
	}
}
