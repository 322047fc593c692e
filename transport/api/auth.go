package api

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

// App is one tenant as the API sees it.
type App struct {
	ID                 string
	APIKeySums         [][sha256.Size]byte // the SHA-256 of each API key (config.APIKeySum)
	ClientTokenSecret  []byte              // for tokens without a kid; nil: they are refused
	ClientTokenSecrets map[string][]byte   // by kid, for tokens whose header names one
	// Resources names the app's resources_id profiles.
	Resources map[string]bool
	// DenyClientPushConfig and DenyClientCalls keep devices from setting a
	// push_config and from inviting: only the app's backend may.
	DenyClientPushConfig, DenyClientCalls bool
	// APNsDefaultEnv is the apns_env of an APNs binding that names none
	// (apps[].providers.apns.default_env); "" is production.
	APNsDefaultEnv string
	// DenyClientStrangers keeps devices from messaging and calling users
	// they share no group with.
	DenyClientStrangers bool
}

// maxClockSkew is how far in the future a client token's iat may be: the
// backend that mints tokens and this node may disagree on the time by this
// much.
const maxClockSkew = time.Minute

// caller is who made a request: the app's backend (server) or a user's device (client).
type caller struct {
	app    *App
	server bool
	keySum [sha256.Size]byte // the SHA-256 of a server call's API key
	user   string            // the client token's sub
}

// ClientClaims are a client token's claims: the app and the user (sub).
type ClientClaims struct {
	App string `json:"app"`
	jwt.RegisteredClaims
}

// MintClientToken signs a client token (HS256) for a user of the app.
func MintClientToken(app, user string, secret []byte, ttl time.Duration, now time.Time) (string, error) {
	return MintClientTokenWithKid(app, user, "", secret, ttl, now)
}

// MintClientTokenWithKid signs a client token whose header names the secret's kid ("": none).
func MintClientTokenWithKid(app, user, kid string, secret []byte, ttl time.Duration, now time.Time) (string, error) {
	claims := ClientClaims{App: app, RegisteredClaims: jwt.RegisteredClaims{
		Subject: user, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t.SignedString(secret)
}

// checkPushConfig refuses a client's push_config when the app keeps pushes to its backend.
func (c *caller) checkPushConfig(pc *pushConfig) *apiError {
	if !c.server && pc != nil && c.app.DenyClientPushConfig {
		return forbidden("push_config: this app lets only its backend set pushes (apps[].client_push_config is off)")
	}
	return nil
}

// checkStrangers refuses a device's one-to-one message or call invitation
// (field names which) to users it shares no group with, when the app keeps
// devices to the users of their groups. A server call is never restricted.
func (s *Server) checkStrangers(c *caller, field string, to []string) *apiError {
	if c.server || !c.app.DenyClientStrangers {
		return nil
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	out, err := s.o.Node.Strangers(rctx, c.app.ID, c.user, to)
	if err != nil {
		return s.fromActorError(err)
	}
	if len(out) > 0 {
		return forbidden("%s: %s shares no group with %s; this app lets devices message and call only users they share a group with (apps[].client_message_strangers is off)",
			field, c.user, strings.Join(out, ", "))
	}
	return nil
}

func unauthorized(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: codeForbidden, Message: fmt.Sprintf(format, args...)}
}

// authenticate finds the caller from X-API-Key or a bearer client token (or
// ?token= on the WebSocket upgrade, where browsers cannot set headers).
func (s *Server) authenticate(ctx *fasthttp.RequestCtx, allowQueryToken bool) (*caller, *apiError) {
	if key := ctx.Request.Header.Peek("X-API-Key"); len(key) > 0 {
		// Keys are looked up by their hash: what the lookup's timing could tell is about the
		// hash, not the key, and the server holds no key in the clear.
		sum := sha256.Sum256(key)
		app, ok := s.byKey[sum]
		if !ok {
			return nil, unauthorized("X-API-Key is not a key of any app")
		}
		return &caller{app: app, server: true, keySum: sum}, nil
	}
	var token string
	if h := ctx.Request.Header.Peek("Authorization"); len(h) > 0 {
		const prefix = "Bearer "
		if len(h) <= len(prefix) || !bytes.EqualFold(h[:len(prefix)], []byte(prefix)) {
			return nil, unauthorized("Authorization must be 'Bearer <client token>'")
		}
		token = string(h[len(prefix):])
	} else if allowQueryToken {
		token = string(ctx.QueryArgs().Peek("token"))
	}
	if token == "" {
		return nil, unauthorized("no credentials: send X-API-Key (server) or Authorization: Bearer <client token> (client)")
	}
	return s.verifyClientToken(token)
}

func (s *Server) verifyClientToken(token string) (*caller, *apiError) {
	var claims ClientClaims
	var app *App
	_, err := s.tokens.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		c, ok := t.Claims.(*ClientClaims)
		if !ok {
			return nil, fmt.Errorf("unexpected claims")
		}
		app = s.apps[c.App]
		if app == nil {
			return nil, fmt.Errorf("app %q is unknown", c.App)
		}
		if kid, ok := t.Header["kid"].(string); ok {
			if secret := app.ClientTokenSecrets[kid]; secret != nil {
				return secret, nil
			}
			return nil, fmt.Errorf("kid %q is not a client token secret of app %q", kid, c.App)
		}
		if app.ClientTokenSecret == nil {
			return nil, fmt.Errorf("app %q signs its tokens with a kid, and this one has none", c.App)
		}
		return app.ClientTokenSecret, nil
	})
	if err != nil {
		return nil, unauthorized("client token rejected: %v", err)
	}
	if !validID(claims.Subject, maxUserID) {
		return nil, unauthorized("client token rejected: sub must be a user id")
	}
	now := s.o.Now()
	from := now
	if claims.IssuedAt != nil {
		from = claims.IssuedAt.Time
		// A token issued in the future is a minting bug or a forgery that would
		// stretch its lifetime past max_token_ttl (exp is judged from iat).
		if ahead := from.Sub(now); ahead > maxClockSkew {
			return nil, unauthorized("client token rejected: iat is %v in the future (more than the %v of clock skew allowed)", ahead.Round(time.Second), maxClockSkew)
		}
	}
	if life := claims.ExpiresAt.Sub(from); life > s.o.MaxTokenTTL {
		return nil, unauthorized("client token rejected: it lives %v, longer than the %v that limits.max_token_ttl allows", life.Round(time.Second), s.o.MaxTokenTTL)
	}
	return &caller{app: app, user: claims.Subject}, nil
}
