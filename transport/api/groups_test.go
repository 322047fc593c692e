package api

import (
	"net/http"
	"testing"
)

// TestGroupErrors: a group that does not exist is a 404 from the group actor;
// a body the API refuses never reaches it.
func TestGroupErrors(t *testing.T) {
	a := startAPI(t)
	a.wantError("GET", "/v1/groups/nobody-here", "", "", http.StatusNotFound, "not_found")
	a.wantError("DELETE", "/v1/groups/nobody-here/members", "", `{"members":["bob"]}`, http.StatusNotFound, "not_found")
	a.wantError("POST", "/v1/groups/nobody-here/members", "", `{"members":[]}`, http.StatusBadRequest, "bad_request")
}
