package api

import (
	"net/http"
	"testing"
)

// TestCallActionErrors: the call actor's refusals reach the client with the
// status and code of actorStatus, and the API's own route check answers
// before any actor is asked.
func TestCallActionErrors(t *testing.T) {
	a := startAPI(t)
	a.wantError("POST", "/v1/calls/no-such-call/accept", "bob", "", http.StatusNotFound, "not_found")

	st, out := a.do("POST", "/v1/calls", "alice", `{"invitees":["bob"]}`)
	id, _ := out["call_id"].(string)
	if st != http.StatusOK || id == "" {
		t.Fatalf("invite: %d %v", st, out)
	}
	a.wantError("POST", "/v1/calls/"+id+"/hangup", "bob", "", http.StatusNotFound, "not_found")
	a.wantError("POST", "/v1/calls/"+id+"/accept", "carol", "", http.StatusForbidden, "forbidden")
	a.wantError("POST", "/v1/calls/"+id+"/cancel", "bob", "", http.StatusForbidden, "forbidden")
	if st, out := a.do("POST", "/v1/calls/"+id+"/accept", "bob", ""); st != http.StatusOK || out["action"] != "accept" {
		t.Fatalf("accept: %d %v", st, out)
	}
	a.wantError("POST", "/v1/calls/"+id+"/reject", "bob", "", http.StatusConflict, "call_ended")
	a.wantError("POST", "/v1/calls/"+id+"/cancel", "alice", "", http.StatusConflict, "call_ended")
}
