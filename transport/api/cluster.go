package api

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/wire"
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

// clusterLeave answers POST /v1/cluster/leave: only from the node's own host
// (an operator's command on it, not any app's backend), it starts the node's
// graceful leave and answers 202 at once; GET /v1/cluster shows the node
// draining until it is gone.
func (s *Server) clusterLeave(ctx *fasthttp.RequestCtx, _ *caller) *apiError {
	if s.o.Leave == nil {
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "this node has no cluster to leave"}
	}
	if !ctx.RemoteIP().IsLoopback() {
		return &apiError{Status: http.StatusForbidden, Code: codeForbidden, Message: "POST /v1/cluster/leave is taken only from the node's own host (loopback)"}
	}
	if err := s.o.Leave(); err != nil {
		return &apiError{Status: http.StatusConflict, Code: string(wire.CodeConflict), Message: err.Error()}
	}
	writeJSON(ctx, http.StatusAccepted, map[string]string{"status": "leaving"})
	return nil
}
