package api

import (
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/actors"
)

// testPushRequest is the body of POST /v1/push/test: the push id, what a
// push_config holds (title, content, payload, resources_id,
// badge_increment, voip), the push type and whether only to build it.
type testPushRequest struct {
	PushID string `json:"push_id"`
	pushConfig
	PushType string `json:"push_type"`
	DryRun   bool   `json:"dry_run"`
}

func (r *testPushRequest) validate(resources map[string]bool) *apiError {
	if r.PushID == "" || len(r.PushID) > maxPushID {
		return badField("push_id", "is required (at most %d characters)", maxPushID)
	}
	if strings.Contains(r.PushID, "/") {
		return badField("push_id", "is not a push id: push ids have no '/'")
	}
	switch r.PushType {
	case "", actors.TestPushAlert, actors.TestPushVoIP, actors.TestPushSilent:
	default:
		return badField("push_type", "must be alert, voip or silent (or absent: the binding's own); got %q", r.PushType)
	}
	return r.pushConfig.validate("", resources)
}

func (s *Server) testPush(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	var r testPushRequest
	if e := decodeStrict(ctx.PostBody(), &r); e != nil {
		return e
	}
	if e := r.validate(c.app.Resources); e != nil {
		return e
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	b, res, err := s.o.Node.TestPush(rctx, c.app.ID, r.PushID, actors.TestPushOptions{Config: r.pushConfig.wire(), PushType: r.PushType, DryRun: r.DryRun})
	if err != nil {
		return s.fromActorError(err)
	}
	pushType := r.PushType
	if pushType == "" {
		pushType = b.PushType
	}
	writeJSON(ctx, http.StatusOK, map[string]any{
		"push_id": b.PushId, "provider": b.Provider, "push_type": pushType, "dry_run": r.DryRun,
		"verdict": res.Verdict, "status": res.Status, "reason": res.Reason, "request": res.Exchange,
	})
	return nil
}
