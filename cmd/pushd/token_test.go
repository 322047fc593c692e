package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// pushd token signs with the secret of --kid and names it in the token's header; without
// --kid, with client_token_secret and no kid.
func TestTokenCommandSignsWithTheKidAsked(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "pushd.yaml")
	if err := os.WriteFile(cfg, []byte(`apps:
  - id: rot
    api_keys: [rotate-api-key-0123456789]
    client_token_secret: rotate-old-secret-0123456789
    client_token_secrets: [{kid: k2, secret: rotate-new-secret-0123456789}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kid, secret string
	}{{"k2", "rotate-new-secret-0123456789"}, {"", "rotate-old-secret-0123456789"}} {
		var out, errb bytes.Buffer
		args := []string{"token", "--app", "rot", "--user", "alice", "--config", cfg}
		if c.kid != "" {
			args = append(args, "--kid", c.kid)
		}
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("pushd %v: %d %s", args, code, errb.String())
		}
		tok, err := jwt.Parse(strings.TrimSpace(out.String()), func(*jwt.Token) (any, error) { return []byte(c.secret), nil })
		if err != nil {
			t.Fatalf("kid %q: %v", c.kid, err)
		}
		if kid, _ := tok.Header["kid"].(string); kid != c.kid {
			t.Fatalf("header kid %q, want %q", kid, c.kid)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"token", "--app", "rot", "--user", "alice", "--config", cfg, "--kid", "nope"}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), `kid "nope"`) {
		t.Fatalf("an unknown kid: %d %s", code, errb.String())
	}
}
