package api

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/wire"
)

// ClusterQuery is what GET /v1/cluster asks of Options.Cluster.
type ClusterQuery struct {
	// NodeOnly asks for the answering node's own view: the shards it holds a replica of
	// (?scope=node, and always with digests).
	NodeOnly bool
	// Digests asks for a digest of each shard replica on the node.
	Digests bool
	// Peers are the other members' own views (their JSON answers to ?scope=node) by API
	// address, to merge into a cluster-wide answer; Missing, the members that did not answer.
	Peers   map[string][]byte
	Missing []string
}

// clusterStatus answers GET /v1/cluster: the cluster's members and every shard, the answering
// node's view merged with the other members' (?scope=node: the node's own view only; any
// app's API key, as it names no app's data).
func (s *Server) clusterStatus(ctx *fasthttp.RequestCtx, _ *caller) *apiError {
	if s.o.Cluster == nil {
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "this node reports no cluster status"}
	}
	q := ClusterQuery{Digests: ctx.QueryArgs().GetBool("digests")}
	switch scope := string(ctx.QueryArgs().Peek("scope")); scope {
	case "", "cluster":
		q.NodeOnly = q.Digests // a digest is of one node's replica
	case "node":
		q.NodeOnly = true
	default:
		return badField("scope", "must be cluster (the default) or node, got %q", scope)
	}
	if !q.NodeOnly && s.o.Peers != nil {
		q.Peers, q.Missing = s.askPeers(s.o.Peers(), "/v1/cluster?scope=node", string(ctx.Request.Header.Peek("X-API-Key")))
		if len(q.Missing) > 0 {
			s.log.Warn("cluster status: members did not answer", "members", q.Missing)
		}
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	st, err := s.o.Cluster(rctx, q)
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
