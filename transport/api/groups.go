package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/wire"
)

// membersRequest is the body of the group membership routes.
type membersRequest struct {
	Members []string `json:"members"`
}

func (r *membersRequest) validate() *apiError {
	if len(r.Members) == 0 {
		return badField("members", "must list at least one user id")
	}
	if len(r.Members) > actors.MaxGroupMembers {
		return badField("members", "must list at most %d user ids; got %d", actors.MaxGroupMembers, len(r.Members))
	}
	for i, m := range r.Members {
		if e := checkID(fmt.Sprintf("members[%d]", i), m, maxUserID); e != nil {
			return e
		}
	}
	return nil
}

// groups serves /v1/groups/{group_id} and /v1/groups/{group_id}/members.
func (s *Server) groups(ctx *fasthttp.RequestCtx, c *caller) *apiError {
	rest := strings.TrimPrefix(string(ctx.Path()), "/v1/groups/")
	group, sub, _ := strings.Cut(rest, "/")
	if e := checkID("group_id", group, maxUserID); e != nil {
		return e
	}
	method := string(ctx.Method())
	var op wire.GroupOp
	switch {
	case sub == "" && method == "GET":
		rctx, cancel := s.reqContext()
		defer cancel()
		members, err := s.o.Node.GroupMembers(rctx, c.app.ID, group)
		if err != nil {
			return s.fromActorError(err)
		}
		writeJSON(ctx, http.StatusOK, map[string]any{"group_id": group, "members": members, "count": len(members)})
		return nil
	case sub == "" && method == "PUT":
		op = wire.GroupReplace
	case sub == "members" && method == "POST":
		op = wire.GroupAdd
	case sub == "members" && method == "DELETE":
		op = wire.GroupRemove
	case sub == "" || sub == "members":
		return &apiError{Status: http.StatusMethodNotAllowed, Code: codeBadMethod, Message: fmt.Sprintf("%s does not take %s", ctx.Path(), method)}
	default:
		return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "no route " + method + " " + string(ctx.Path())}
	}
	var r membersRequest
	if e := decodeValid(ctx.PostBody(), &r); e != nil {
		return e
	}
	rctx, cancel := s.reqContext()
	defer cancel()
	n, err := s.o.Node.GroupSet(rctx, c.app.ID, group, op, r.Members)
	if err != nil {
		return s.fromActorError(err)
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"group_id": group, "members": n})
	return nil
}
