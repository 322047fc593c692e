package api

import (
	"net/http"

	"github.com/valyala/fasthttp"
)

// clusterStatus answers GET /v1/cluster: the cluster's members and shards as
// the answering node sees them (any app's API key; it names no app's data).
func (s *Server) clusterStatus(ctx *fasthttp.RequestCtx, _ *caller) *apiError {
	if s.o.Cluster == nil {
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "this node reports no cluster status"}
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	st, err := s.o.Cluster(rctx, ctx.QueryArgs().GetBool("digests"))
	if err != nil {
		return &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: err.Error()}
	}
	writeJSON(ctx, http.StatusOK, st)
	return nil
}
