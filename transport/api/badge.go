package api

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/storage"
)

// badgeRequest is the body of POST /v1/badge.
type badgeRequest struct {
	Count *int64 `json:"count"`
}

func (r *badgeRequest) validate() *apiError {
	switch {
	case r.Count == nil:
		return badField("count", "is required: the user's unread badge, 0 to %d", storage.MaxBadge)
	case *r.Count < 0 || *r.Count > storage.MaxBadge:
		return badField("count", "must be 0 to %d, not %d", storage.MaxBadge, *r.Count)
	}
	return nil
}

// setBadge sets the calling user's unread badge (POST /v1/badge), usually to
// 0 when the app opens; the next push carries the count from there.
func (s *Server) setBadge(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	var r badgeRequest
	if e := decodeValid(ctx.PostBody(), &r); e != nil {
		return e
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	if err := s.o.Node.SetBadge(rctx, c.app.ID, c.user, uint32(*r.Count)); err != nil {
		return s.fromActorError(err)
	}
	writeJSON(ctx, http.StatusOK, map[string]int64{"count": *r.Count})
	return nil
}
