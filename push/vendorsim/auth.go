package vendorsim

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pushd-im/pushd/push"
)

// accessTokens remembers the access tokens the simulated token endpoints issued
// (FCM and Huawei OAuth, OPPO auth_token, vivo authToken), with their expiry on the
// Sim's clock.
type accessTokens struct {
	mu     sync.Mutex
	issued map[string]issuedToken
}

type issuedToken struct {
	provider push.Provider
	expires  time.Time
}

func newAccessTokens() *accessTokens {
	return &accessTokens{issued: make(map[string]issuedToken)}
}

// issue creates a random token for p valid for ttl from now, and drops tokens that
// have expired so the store does not grow without bound.
func (t *accessTokens) issue(p push.Provider, now time.Time, ttl time.Duration) (string, time.Time) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	token := "sim." + string(p) + "." + base64.RawURLEncoding.EncodeToString(b)
	expires := now.Add(ttl)
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.issued {
		if !now.Before(v.expires) {
			delete(t.issued, k)
		}
	}
	t.issued[token] = issuedToken{provider: p, expires: expires}
	return token, expires
}

// live reports whether token was issued for p and is still valid at now.
func (t *accessTokens) live(p push.Provider, token string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	it, ok := t.issued[token]
	return ok && it.provider == p && now.Before(it.expires)
}

// expireAll invalidates every issued token.
func (t *accessTokens) expireAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.issued)
}

// bearerToken returns the credential of an "Authorization: Bearer <token>" header;
// the scheme is matched case-insensitively, as RFC 6750 allows.
func bearerToken(r *http.Request) (string, bool) {
	return parseBearer(r.Header.Get("Authorization"))
}

// parseBearer returns the credential of a "Bearer <token>" header value.
func parseBearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// secretEqual compares a presented secret or signature with the expected one in
// constant time.
func secretEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sha256Hex is the lower-case hex SHA-256 of s (OPPO's auth sign).
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// md5Hex is the lower-case hex MD5 of s (vivo's auth sign).
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
