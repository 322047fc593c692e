package daemon_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/transport/api"
)

// An API key may be configured by its SHA-256 and then works as the key itself; a client token
// that lives longer than limits.max_token_ttl is refused, one within it is taken.
func TestHashedAPIKeysAndTokenLifetimes(t *testing.T) {
	const key, secret = "hashed-api-key-0123456789", "creds-client-secret-0123456789"
	sum := sha256.Sum256([]byte(key))
	h := startDaemon(t, func(c *config.Config) {
		c.Apps = []config.App{{ID: "creds", APIKeys: []string{"sha256:" + hex.EncodeToString(sum[:])}, ClientTokenSecret: secret}}
		c.Limits.MaxTokenTTL = config.Duration(7 * 24 * time.Hour)
	})
	msg := map[string]any{"from": "srv", "to": "bob", "conversation_type": 0, "type": 1, "body": "m1"}
	if st, out := h.call("POST", "/v1/messages", "X-API-Key:"+key, msg); st != http.StatusOK {
		t.Fatalf("the key of a hashed entry: %d %v", st, out)
	}
	if st, _ := h.call("POST", "/v1/messages", "X-API-Key:sha256:"+hex.EncodeToString(sum[:]), msg); st != http.StatusUnauthorized {
		t.Fatalf("the hash itself as a key: %d, want 401", st)
	}
	for _, c := range []struct {
		ttl  time.Duration
		want int
	}{{6 * 24 * time.Hour, http.StatusOK}, {8 * 24 * time.Hour, http.StatusUnauthorized}} {
		tok, err := api.MintClientToken("creds", "alice", []byte(secret), c.ttl, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		st, out := h.call("POST", "/v1/messages", "Bearer "+tok, map[string]any{"to": "bob", "conversation_type": 0, "type": 1, "body": "x"})
		if st != c.want {
			t.Errorf("a token of %v: %d %v, want %d", c.ttl, st, out, c.want)
		}
	}
}

// A client-token secret is rotated without logging anyone out: tokens without a kid keep
// working with client_token_secret while new ones carry the kid of a client_token_secrets
// entry; a token naming an unknown kid, or signed with another secret than its kid's, is 401.
func TestClientTokenSecretRotation(t *testing.T) {
	const oldSecret, newSecret = "rotate-old-secret-0123456789", "rotate-new-secret-0123456789"
	h := startDaemon(t, func(c *config.Config) {
		c.Apps = []config.App{{ID: "rot", APIKeys: []string{"rotate-api-key-0123456789"}, ClientTokenSecret: oldSecret,
			ClientTokenSecrets: []config.TokenSecret{{Kid: "2026-12", Secret: newSecret}}}}
	})
	mint := func(kid, secret string) string {
		tok, err := api.MintClientTokenWithKid("rot", "alice", kid, []byte(secret), time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	msg := map[string]any{"to": "bob", "conversation_type": 0, "type": 1, "body": "x"}
	for _, c := range []struct {
		what, auth string
		want       int
	}{
		{"an old token, no kid", mint("", oldSecret), http.StatusOK},
		{"a new token with its kid", mint("2026-12", newSecret), http.StatusOK},
		{"a kid signed with the old secret", mint("2026-12", oldSecret), http.StatusUnauthorized},
		{"an unknown kid", mint("2025-01", newSecret), http.StatusUnauthorized},
		{"no kid, signed with the new secret", mint("", newSecret), http.StatusUnauthorized},
	} {
		if st, out := h.call("POST", "/v1/messages", c.auth, msg); st != c.want {
			t.Errorf("%s: %d %v, want %d", c.what, st, out, c.want)
		}
	}
}
