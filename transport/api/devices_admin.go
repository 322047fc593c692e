package api

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/valyala/fasthttp"
)

// The backend's control of a user's devices (account bans, forced logouts, a
// token known to be dead): the client routes' unbind and logout, made with
// the app's API key for any user of the app.

// userRoute serves /v1/users/{user_id}/… below the devices listing:
// DELETE …/devices/{push_id}, POST …/logout and GET …/streams.
func (s *Server) userRoute(ctx *fasthttp.RequestCtx, method, path string) {
	_, sub, _ := strings.Cut(strings.TrimPrefix(path, "/v1/users/"), "/")
	switch {
	case strings.HasPrefix(sub, "devices/"):
		s.route(ctx, method, "DELETE", s.adminUnbind, routeServer)
	case sub == "logout":
		s.route(ctx, method, "POST", s.adminLogout, routeServer)
	case sub == "streams":
		s.route(ctx, method, "GET", s.userStreams, routeServer)
	default:
		writeError(ctx, &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "no route " + method + " " + path})
	}
}

// pathUser is the {user_id} of /v1/users/{user_id}/…, checked.
func pathUser(ctx *fasthttp.RequestCtx) (string, string, *apiError) {
	user, rest, _ := strings.Cut(strings.TrimPrefix(string(ctx.Path()), "/v1/users/"), "/")
	if e := checkID("user_id", user, maxUserID); e != nil {
		return "", "", e
	}
	return user, rest, nil
}

// adminUnbind is DELETE /v1/users/{user_id}/devices/{push_id}: the binding
// gets no more pushes, as the device's own DELETE /v1/devices/{push_id}.
func (s *Server) adminUnbind(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	user, rest, e := pathUser(ctx)
	if e != nil {
		return e
	}
	id := strings.TrimPrefix(rest, "devices/")
	if id == "" || len(id) > maxPushID || strings.Contains(id, "/") {
		return badField("push_id", "the path must be /v1/users/<user_id>/devices/<push_id>")
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	if err := s.o.Node.Unbind(rctx, c.app.ID, user, id); err != nil {
		return s.fromActorError(err)
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"removed": true, "user_id": user, "push_id": id})
	return nil
}

// adminLogoutRequest is the body of POST /v1/users/{user_id}/logout: one
// device, or (no body, {} or no device_id) every device of the user.
type adminLogoutRequest struct {
	DeviceID string `json:"device_id"`
}

// adminLogout is POST /v1/users/{user_id}/logout: each device logged out
// as by its own POST /v1/logout (its bindings removed, its connection
// kicked with reason logout; its ack cursors stay).
func (s *Server) adminLogout(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	user, _, e := pathUser(ctx)
	if e != nil {
		return e
	}
	var r adminLogoutRequest
	if body := ctx.PostBody(); len(bytes.TrimSpace(body)) > 0 {
		if e := decodeStrict(body, &r); e != nil {
			return e
		}
		if r.DeviceID != "" {
			if e := checkID("device_id", r.DeviceID, maxDeviceID); e != nil {
				return e
			}
		}
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	devices := []string{r.DeviceID}
	if r.DeviceID == "" {
		var err error
		if devices, err = s.userDevices(rctx, c.app.ID, user); err != nil {
			return s.fromActorError(err)
		}
	}
	for _, d := range devices {
		if err := s.o.Node.Logout(rctx, c.app.ID, user, d); err != nil {
			return s.fromActorError(err)
		}
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"logged_out": true, "user_id": user, "devices": devices})
	return nil
}

// userDevices are the user's known devices: those with a binding, and, on
// the node that holds the user's streams, those with an ack cursor (a device
// that connected without binding a token).
func (s *Server) userDevices(ctx context.Context, app, user string) ([]string, error) {
	bs, err := s.o.Node.Devices(ctx, app, user)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, b := range bs {
		set[b.DeviceId] = true
	}
	if s.o.Node.OwnsUser(app, user) {
		_, cursors, err := s.o.Node.UserStreams(app, user, 0)
		if err != nil {
			return nil, err
		}
		for d := range cursors {
			set[d] = true
		}
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, nil
}
