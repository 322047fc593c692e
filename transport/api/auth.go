package api

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

// App is one tenant as the API sees it.
type App struct {
	ID                string
	APIKeys           []string
	ClientTokenSecret []byte
	// Resources names the app's resources_id profiles.
	Resources map[string]bool
	// DenyClientPushConfig and DenyClientCalls keep devices from setting a
	// push_config and from inviting: only the app's backend may.
	DenyClientPushConfig, DenyClientCalls bool
}

// caller is who made a request: the app's backend (server) or a user's device (client).
type caller struct {
	app    *App
	server bool
	key    string // the API key of a server call
	user   string // the client token's sub
}

// ClientClaims are a client token's claims: the app and the user (sub).
type ClientClaims struct {
	App string `json:"app"`
	jwt.RegisteredClaims
}

// MintClientToken signs a client token (HS256) for a user of the app.
func MintClientToken(app, user string, secret []byte, ttl time.Duration, now time.Time) (string, error) {
	claims := ClientClaims{App: app, RegisteredClaims: jwt.RegisteredClaims{
		Subject: user, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
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
		app, ok := s.byKey[string(key)]
		if !ok {
			return nil, unauthorized("X-API-Key is not a key of any app")
		}
		return &caller{app: app, server: true, key: string(key)}, nil
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
		return app.ClientTokenSecret, nil
	})
	if err != nil {
		return nil, unauthorized("client token rejected: %v", err)
	}
	if !validID(claims.Subject, maxUserID) {
		return nil, unauthorized("client token rejected: sub must be a user id")
	}
	return &caller{app: app, user: claims.Subject}, nil
}
