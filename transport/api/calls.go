package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/wire"
)

// Call limits (README, "Calls"; openapi.json gives each).
const (
	maxInvitees     = 9
	maxCallTimeout  = 3600
	defCallTimeout  = 90
	maxExtendedData = 4096
)

// inviteRequest is the body of POST /v1/calls.
type inviteRequest struct {
	From         string      `json:"from"`
	Invitees     []string    `json:"invitees"`
	Timeout      *int        `json:"timeout"`
	Mode         *int        `json:"mode"`
	ExtendedData string      `json:"extended_data"`
	PushConfig   *pushConfig `json:"push_config"`
}

func (r *inviteRequest) validate(c *caller) *apiError {
	if c.server {
		if e := checkID("from", r.From, maxUserID); e != nil {
			return e
		}
	} else if r.From != "" {
		return badField("from", "only a server call names the inviter; a client invites as itself")
	} else {
		r.From = c.user
	}
	if len(r.Invitees) == 0 || len(r.Invitees) > maxInvitees {
		return badField("invitees", "must list 1 to %d user ids; got %d", maxInvitees, len(r.Invitees))
	}
	seen := map[string]bool{}
	for i, u := range r.Invitees {
		f := fmt.Sprintf("invitees[%d]", i)
		if e := checkID(f, u, maxUserID); e != nil {
			return e
		}
		if u == r.From {
			return badField("invitees", "the inviter %s cannot invite itself", u)
		}
		if seen[u] {
			return badField(f, "%s is listed twice", u)
		}
		seen[u] = true
	}
	if r.Timeout == nil {
		t := defCallTimeout
		r.Timeout = &t
	}
	if *r.Timeout < 1 || *r.Timeout > maxCallTimeout {
		return badField("timeout", "must be 1 to %d seconds; got %d", maxCallTimeout, *r.Timeout)
	}
	if r.Mode != nil && *r.Mode != 0 && *r.Mode != 1 {
		return badField("mode", "must be 0 (general) or 1 (advanced); got %d", *r.Mode)
	}
	if len(r.ExtendedData) > maxExtendedData {
		return badField("extended_data", "must be at most %d bytes", maxExtendedData)
	}
	if r.PushConfig != nil {
		return r.PushConfig.validate("push_config", c.app.Resources)
	}
	return nil
}

// callActionRequest is the body of cancel, accept and reject.
type callActionRequest struct {
	DeviceID     string      `json:"device_id"`
	ExtendedData string      `json:"extended_data"`
	PushConfig   *pushConfig `json:"push_config"`
}

func (s *Server) invite(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	var r inviteRequest
	if e := decodeStrict(ctx.PostBody(), &r); e != nil {
		return e
	}
	if e := r.validate(c); e != nil {
		return e
	}
	if !c.server && c.app.DenyClientCalls {
		return forbidden("this app lets only its backend start calls (apps[].client_calls is off)")
	}
	if e := c.checkPushConfig(r.PushConfig); e != nil {
		return e
	}
	if e := s.limit(ctx, c, 1); e != nil {
		return e
	}
	if e := s.checkStrangers(c, "invitees", r.Invitees); e != nil {
		return e
	}
	mode := 0
	if r.Mode != nil {
		mode = *r.Mode
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	reply, err := s.o.Node.Call(rctx, &wire.CallRequest{
		App: c.app.ID, Action: string(wire.CallInvite), User: r.From, Invitees: r.Invitees, TimeoutS: int32(*r.Timeout),
		Mode: fmt.Sprint(mode), ExtendedData: r.ExtendedData, PushConfig: r.PushConfig.wire(),
	})
	if err != nil {
		return s.fromActorError(err)
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"call_id": reply.CallId, "timeout": reply.TimeoutS})
	return nil
}

// callAction serves /v1/calls/{call_id}/cancel|accept|reject.
func (s *Server) callAction(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	rest := strings.TrimPrefix(string(ctx.Path()), "/v1/calls/")
	id, segment, _ := strings.Cut(rest, "/")
	if id == "" || len(id) > maxCallID {
		return badField("call_id", "the path must be /v1/calls/<call_id>/<action>")
	}
	action := wire.CallAction(segment)
	switch action {
	case wire.CallCancel, wire.CallAccept, wire.CallReject:
	default:
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "no call action " + segment + " (cancel, accept, reject)"}
	}
	var r callActionRequest
	if body := ctx.PostBody(); len(bytes.TrimSpace(body)) > 0 {
		if e := decodeStrict(body, &r); e != nil {
			return e
		}
	}
	if r.DeviceID != "" {
		if e := checkID("device_id", r.DeviceID, maxDeviceID); e != nil {
			return e
		}
	}
	if len(r.ExtendedData) > maxExtendedData {
		return badField("extended_data", "must be at most %d bytes", maxExtendedData)
	}
	if r.PushConfig != nil {
		if action != wire.CallCancel {
			return badField("push_config", "only a cancel carries a push_config")
		}
		if e := c.checkPushConfig(r.PushConfig); e != nil {
			return e
		}
		if e := r.PushConfig.validate("push_config", c.app.Resources); e != nil {
			return e
		}
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	_, err := s.o.Node.Call(rctx, &wire.CallRequest{
		App: c.app.ID, CallId: id, Action: string(action), User: c.user, DeviceId: r.DeviceID,
		ExtendedData: r.ExtendedData, PushConfig: r.PushConfig.wire(),
	})
	if err != nil {
		return s.fromActorError(err)
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"call_id": id, "action": action})
	return nil
}
