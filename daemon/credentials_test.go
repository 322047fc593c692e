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
