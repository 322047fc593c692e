package oppo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors/vendorhttp"
)

// The auth_token's life: OPPO keeps one valid for 24 hours; the client uses it
// until an hour before that, so a send never races its expiry.
const (
	tokenLife    = 24 * time.Hour
	refreshEarly = time.Hour
)

// sign is OPPO's auth signature: lower-case hex SHA-256 of app_key, the
// timestamp string as sent, and the master secret.
func sign(appKey, timestamp, masterSecret string) string {
	sum := sha256.Sum256([]byte(appKey + timestamp + masterSecret))
	return hex.EncodeToString(sum[:])
}

// fetchToken calls the auth API and returns the new auth_token, used until
// refreshEarly before its tokenLife counted from the call, or a
// *vendorhttp.Failure carrying the verdict.
func (c *Client) fetchToken(ctx context.Context) (vendorhttp.Credential, error) {
	started := c.now()
	timestamp := strconv.FormatInt(c.now().UnixMilli(), 10)
	signature := sign(c.appKey, timestamp, c.masterSecret)
	form := url.Values{"app_key": {c.appKey}, "timestamp": {timestamp}, "sign": {signature}}
	r, a := c.post(ctx, c.authURL, form, map[string]string{"sign": push.MaskSecret(signature)}, false)
	if r.Verdict != push.Delivered {
		if r.Verdict == push.AuthExpired || r.Verdict == push.TokenInvalid {
			// Not meaningful for the auth call itself: a refusal to fix by hand.
			r.Verdict = push.BadRequest
		}
		r.Reason = "AuthError: " + r.Reason
		return vendorhttp.Credential{}, &vendorhttp.Failure{Result: r}
	}
	var data struct {
		AuthToken string `json:"auth_token"`
	}
	if json.Unmarshal(a.data, &data) != nil || data.AuthToken == "" {
		r.Verdict, r.Reason = push.Retry, "AuthError: the answer has no data.auth_token"
		return vendorhttp.Credential{}, &vendorhttp.Failure{Result: r}
	}
	return vendorhttp.Credential{Token: data.AuthToken, RenewAt: started.Add(tokenLife - refreshEarly)}, nil
}
