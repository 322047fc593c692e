package daemon_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/transport/api"
)

// An app can keep push titles and calls to its backend: with client_push_config and
// client_calls off, a device's message with a push_config and a device's call invitation are
// refused (403) and nothing is sent; a device's plain message, and the backend's pushes and
// calls, go through.
func TestAppSwitchesKeepPushesAndCallsToTheBackend(t *testing.T) {
	const key, secret = "locked-api-key-0123456789", "locked-client-secret-0123456789"
	off := false
	h := startDaemon(t, func(c *config.Config) {
		c.Apps = []config.App{{ID: "locked", APIKeys: []string{key}, ClientTokenSecret: secret,
			ClientPushConfig: &off, ClientCalls: &off}}
	})
	tok, err := api.MintClientToken("locked", "alice", []byte(secret), time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client, server := "Bearer "+tok, "X-API-Key:"+key
	pc := map[string]any{"title": "Your bank", "content": "log in here"}
	for _, c := range []struct {
		what, auth, path string
		body             map[string]any
		want             int
	}{
		{"a device's message with a push_config", client, "/v1/messages",
			map[string]any{"to": "bob", "conversation_type": 0, "type": 1, "body": "x", "push_config": pc}, http.StatusForbidden},
		{"a device's call invitation", client, "/v1/calls", map[string]any{"invitees": []string{"bob"}}, http.StatusForbidden},
		{"a device's plain message", client, "/v1/messages",
			map[string]any{"to": "bob", "conversation_type": 0, "type": 1, "body": "m1"}, http.StatusOK},
		{"the backend's message with a push_config", server, "/v1/messages",
			map[string]any{"from": "carol", "to": "bob", "conversation_type": 0, "type": 1, "body": "m2", "push_config": pc}, http.StatusOK},
		{"the backend's call invitation", server, "/v1/calls", map[string]any{"from": "carol", "invitees": []string{"dave"}}, http.StatusOK},
	} {
		st, out := h.call("POST", c.path, c.auth, c.body)
		if st != c.want {
			t.Errorf("%s: %d %v, want %d", c.what, st, out, c.want)
		}
		if e, _ := out["error"].(map[string]any); c.want == http.StatusForbidden && (e["code"] != "forbidden" || e["message"] == "") {
			t.Errorf("%s: error %v, want forbidden with a reason", c.what, out)
		}
	}
}
