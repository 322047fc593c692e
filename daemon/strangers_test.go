package daemon_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/transport/api"
)

// With apps[].client_message_strangers off, a device may message and call
// only users it shares a group with: to anyone else it is 403 forbidden,
// naming them and the switch; the backend is never restricted; leaving the
// shared group makes a user a stranger again. An app without the switch
// (the default) lets devices message anyone.
func TestClientMessageStrangersOff(t *testing.T) {
	const key, secret = "strangers-api-key-0123456789", "strangers-client-secret-0123456789"
	const openKey, openSecret = "open-api-key-0123456789", "open-client-secret-0123456789"
	off := false
	h := startDaemon(t, func(c *config.Config) {
		c.Apps = []config.App{
			{ID: "closed", APIKeys: []string{key}, ClientTokenSecret: secret, ClientMessageStrangers: &off},
			{ID: "open", APIKeys: []string{openKey}, ClientTokenSecret: openSecret},
		}
	})
	h.key = key
	h.putGroup("team", []string{"alice", "bob"})
	h.putGroup("other", []string{"carol", "dave"})
	bearer := func(app, secret, user string) string {
		tok, err := api.MintClientToken(app, user, []byte(secret), time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	alice := bearer("closed", secret, "alice")
	msg := func(to string) map[string]any {
		return map[string]any{"to": to, "conversation_type": 0, "type": 1, "body": "hi " + to}
	}
	for _, c := range []struct {
		what, auth, path string
		body             map[string]any
		want             int
		names            string
	}{
		{"a device to a member of its group", alice, "/v1/messages", msg("bob"), http.StatusOK, ""},
		{"a device to itself", alice, "/v1/messages", msg("alice"), http.StatusOK, ""},
		{"a device to a stranger", alice, "/v1/messages", msg("carol"), http.StatusForbidden, "carol"},
		{"a device to a user in no group", alice, "/v1/messages", msg("zed"), http.StatusForbidden, "zed"},
		{"a device calling a group member", alice, "/v1/calls", map[string]any{"invitees": []string{"bob"}}, http.StatusOK, ""},
		{"a device calling a member and a stranger", alice, "/v1/calls", map[string]any{"invitees": []string{"bob", "dave"}}, http.StatusForbidden, "dave"},
		{"a device in no group", bearer("closed", secret, "erin"), "/v1/messages", msg("bob"), http.StatusForbidden, "bob"},
		{"a device to a group it is in", alice, "/v1/messages",
			map[string]any{"to": "team", "conversation_type": 2, "type": 1, "body": "all"}, http.StatusOK, ""},
		{"the backend to a stranger", "X-API-Key:" + key, "/v1/messages",
			map[string]any{"from": "alice", "to": "carol", "conversation_type": 0, "type": 1, "body": "srv"}, http.StatusOK, ""},
		{"the backend's call to a stranger", "X-API-Key:" + key, "/v1/calls",
			map[string]any{"from": "alice", "invitees": []string{"carol"}}, http.StatusOK, ""},
		{"another app's device, switch at its default", bearer("open", openSecret, "alice"), "/v1/messages", msg("carol"), http.StatusOK, ""},
	} {
		st, out := h.call("POST", c.path, c.auth, c.body)
		if st != c.want {
			t.Errorf("%s: %d %v, want %d", c.what, st, out, c.want)
			continue
		}
		if c.want != http.StatusForbidden {
			continue
		}
		e, _ := out["error"].(map[string]any)
		m, _ := e["message"].(string)
		if e["code"] != "forbidden" || !strings.Contains(m, c.names) || !strings.Contains(m, "client_message_strangers") {
			t.Errorf("%s: error %v, want forbidden naming %s and the switch", c.what, out, c.names)
		}
	}

	// Leaving the only shared group makes bob a stranger.
	h.groupMembers("DELETE", "team", "bob")
	testwait.Until(t, waitTimeout, func() error {
		if st, out := h.call("POST", "/v1/messages", alice, msg("bob")); st != http.StatusForbidden {
			return fmt.Errorf("to bob after he left: %d %v", st, out)
		}
		return nil
	})
}
