package daemon_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/transport/api"
)

func TestAuthMatrix(t *testing.T) {
	h := startDaemon(t)
	expired, _ := api.MintClientToken(daemon.DemoAppID, "bob", h.secret, -time.Minute, time.Now())
	wrongSecret, _ := api.MintClientToken(daemon.DemoAppID, "bob", []byte("not-the-secret-of-this-app"), time.Hour, time.Now())
	otherApp, _ := api.MintClientToken("nope", "bob", h.secret, time.Hour, time.Now())
	noneAlg, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"app": daemon.DemoAppID, "sub": "bob", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	send := map[string]any{"from": "a", "to": "bob", "conversation_type": 0, "type": 1, "body": "x"}
	bind := map[string]any{"device_id": "d", "provider": "fcm", "token": "t"}
	cases := []struct {
		name, method, path, auth string
		body                     any
		status                   int
		code                     string
	}{
		{"no credentials", "POST", "/v1/messages", "", send, 401, "unauthorized"},
		{"unknown api key", "POST", "/v1/messages", "X-API-Key:wrong", send, 401, "unauthorized"},
		{"expired token", "POST", "/v1/devices", "Bearer " + expired, bind, 401, "unauthorized"},
		{"token signed with another secret", "POST", "/v1/devices", "Bearer " + wrongSecret, bind, 401, "unauthorized"},
		{"token of an unknown app", "POST", "/v1/devices", "Bearer " + otherApp, bind, 401, "unauthorized"},
		{"unsigned token", "POST", "/v1/devices", "Bearer " + noneAlg, bind, 401, "unauthorized"},
		{"garbage token", "GET", "/v1/connect?device_id=d", "Bearer abc.def.ghi", nil, 401, "unauthorized"},
		{"client on batch", "POST", "/v1/messages/batch", "bob", map[string]any{"messages": []any{send}}, 403, "forbidden"},
		{"client on devices list", "GET", "/v1/users/bob/devices", "bob", nil, 403, "forbidden"},
		{"client on push test", "POST", "/v1/push/test", "bob", map[string]any{"push_id": "x"}, 403, "forbidden"},
		{"server on bind", "POST", "/v1/devices", "key", bind, 403, "forbidden"},
		{"server on logout", "POST", "/v1/logout", "key", map[string]any{"device_id": "d"}, 403, "forbidden"},
		{"server on badge", "POST", "/v1/badge", "key", map[string]any{"count": 0}, 403, "forbidden"},
		{"no credentials on badge", "POST", "/v1/badge", "", map[string]any{"count": 0}, 401, "unauthorized"},
		{"server on unregister", "DELETE", "/v1/devices/p123", "key", nil, 403, "forbidden"},
		{"server on connect", "GET", "/v1/connect?device_id=d", "key", nil, 403, "forbidden"},
		{"client naming another sender", "POST", "/v1/messages", "bob", send, 400, "bad_request"},
		{"client unregistering another user's binding", "DELETE", "/v1/devices/" + "pdoesnotbelongtobob", "bob", nil, 404, "not_found"},
	}
	for _, c := range cases {
		st, out := h.call(c.method, c.path, c.auth, c.body)
		code, _ := dig(out, "error", "code").(string)
		if st != c.status || code != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, st, out, c.status, c.code)
		}
	}
	// A client may send as itself and bind its own devices.
	h.mustCall("POST", "/v1/messages", "bob", map[string]any{"to": "alice", "conversation_type": 0, "type": 1, "body": "x"})
	h.mustCall("POST", "/v1/devices", "bob", bind)
	// ...and a user cannot remove another user's binding.
	id := h.bind("alice", "alice-phone", push.FCM, "alice-token")
	if st, _ := h.call("DELETE", "/v1/devices/"+id, "bob", nil); st != http.StatusNotFound {
		t.Errorf("bob removed alice's binding: %d", st)
	}
	if len(h.devices("alice")) != 1 {
		t.Error("alice's binding is gone")
	}
}

func TestBadInputNamesTheFieldAndServingGoesOn(t *testing.T) {
	h := startDaemon(t, withMaxBody(64<<10))
	msg := func(kv ...any) map[string]any {
		m := map[string]any{"from": "alice", "to": "bob", "conversation_type": 0, "type": 1, "body": "x"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name, method, path, auth string
		body                     any
		status                   int
		field                    string // must appear in the message
	}{
		{"unknown field", "POST", "/v1/messages", "key", msg("colour", "red"), 400, "colour"},
		{"wrong type", "POST", "/v1/messages", "key", msg("type", "text"), 400, "type"},
		{"wrong nested type", "POST", "/v1/messages", "key", msg("push_config", map[string]any{"badge_increment": "one"}), 400, "push_config.badge_increment"},
		{"unknown nested field", "POST", "/v1/messages", "key", msg("push_config", map[string]any{"sound": "x"}), 400, "sound"},
		{"bad enum type", "POST", "/v1/messages", "key", msg("type", 7), 400, "type"},
		{"bad priority", "POST", "/v1/messages", "key", msg("priority", 9), 400, "priority"},
		{"bad conversation type", "POST", "/v1/messages", "key", msg("conversation_type", 1), 400, "conversation_type"},
		{"missing conversation type", "POST", "/v1/messages", "key", msg("conversation_type", nil), 400, "conversation_type"},
		{"bad receiver id", "POST", "/v1/messages", "key", msg("to", "bob smith"), 400, "to"},
		{"empty receiver", "POST", "/v1/messages", "key", msg("to", ""), 400, "to"},
		{"long sender id", "POST", "/v1/messages", "key", msg("from", strings.Repeat("a", 65)), 400, "from"},
		{"body over 32 KiB", "POST", "/v1/messages", "key", msg("body", strings.Repeat("b", 32<<10+1)), 400, "body"},
		{"badge out of range", "POST", "/v1/messages", "key", msg("push_config", map[string]any{"badge_increment": -1}), 400, "push_config.badge_increment"},
		{"unknown resources id", "POST", "/v1/messages", "key", msg("push_config", map[string]any{"resources_id": "ring"}), 400, "push_config.resources_id"},
		{"not json", "POST", "/v1/messages", "key", "{nope", 400, "body"},
		{"empty body", "POST", "/v1/messages", "key", "", 400, "body"},
		{"two objects", "POST", "/v1/messages", "key", `{"to":"a"} {"to":"b"}`, 400, "body"},
		{"array not object", "POST", "/v1/messages", "key", `[1,2]`, 400, "body"},
		{"oversize body", "POST", "/v1/messages", "key", `{"body":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body"},
		{"bad provider", "POST", "/v1/devices", "bob", map[string]any{"device_id": "d", "provider": "nokia", "token": "t"}, 400, "provider"},
		{"bad device id", "POST", "/v1/devices", "bob", map[string]any{"device_id": "d/1", "provider": "fcm", "token": "t"}, 400, "device_id"},
		{"non-hex apns token", "POST", "/v1/devices", "bob", map[string]any{"device_id": "d", "provider": "apns", "token": "xyz"}, 400, "token"},
		{"bad apns_env", "POST", "/v1/devices", "bob", map[string]any{"device_id": "d", "provider": "apns", "token": "ab", "apns_env": "staging"}, 400, "apns_env"},
		{"voip on fcm", "POST", "/v1/devices", "bob", map[string]any{"device_id": "d", "provider": "fcm", "token": "t", "push_type": "voip"}, 400, "push_type"},
		{"missing token", "POST", "/v1/devices", "bob", map[string]any{"device_id": "d", "provider": "fcm"}, 400, "token"},
		{"empty batch", "POST", "/v1/messages/batch", "key", map[string]any{"messages": []any{}}, 400, "messages"},
		{"bad user in path", "GET", "/v1/users/b%20b/devices", "key", nil, 400, "user_id"},
		{"logout without device", "POST", "/v1/logout", "bob", map[string]any{}, 400, "device_id"},
		{"connect without device", "GET", "/v1/connect", "bob", nil, 400, "device_id"},
		{"wrong method", "GET", "/v1/messages", "key", nil, 405, "POST"},
		{"no route", "GET", "/v2/nothing", "key", nil, 404, "/v2/nothing"},
	}
	for _, c := range cases {
		st, out := h.call(c.method, c.path, c.auth, c.body)
		m, _ := dig(out, "error", "message").(string)
		if st != c.status || !strings.Contains(m, c.field) {
			t.Errorf("%s: %d %v, want %d naming %q", c.name, st, out, c.status, c.field)
		}
	}
	// A batch answers per message: the bad one is an error, the others are stored.
	out := h.mustCall("POST", "/v1/messages/batch", "key", map[string]any{"messages": []any{msg(), msg("to", "no body"), msg("body", "second")}})
	res := out["results"].([]any)
	if len(res) != 3 || dig(res[0].(map[string]any), "seq") != float64(1) || dig(res[1].(map[string]any), "error", "code") != "bad_request" || dig(res[2].(map[string]any), "message_id") == nil {
		t.Fatalf("batch results = %v", res)
	}
	if !strings.Contains(dig(res[1].(map[string]any), "error", "message").(string), "messages[1].to") {
		t.Errorf("batch error does not name messages[1].to: %v", res[1])
	}
	// Still serving, and nothing half-stored: bob has exactly the two good messages.
	if st, _ := h.call("GET", "/healthz", "", nil); st != 200 {
		t.Fatal("daemon stopped serving")
	}
	c := h.connect("bob", "phone")
	c.message("inbox", 1)
	c.message("inbox", 2)
	if extra := c.sync(); len(extra) != 0 {
		t.Fatalf("extra frames: %v", extra)
	}
	// A bad frame on the long connection is answered with an error frame; the connection stays.
	c.send(map[string]any{"type": "ack", "stream": "inbox"})
	if f := c.next(); f["type"] != "error" || !strings.Contains(f["message"].(string), "seq") {
		t.Fatalf("bad ack answered %v", f)
	}
	c.send(map[string]any{"type": "dance"})
	if f := c.next(); f["type"] != "error" || !strings.Contains(f["message"].(string), "type") {
		t.Fatalf("bad type answered %v", f)
	}
	c.sync()
}

func TestSecondConnectionKicksTheFirst(t *testing.T) {
	h := startDaemon(t)
	first := h.connect("bob", "phone")
	first.sync()
	second := h.connect("bob", "phone")
	if f := first.next(); f["type"] != "kicked" || f["reason"] != "connected_elsewhere" {
		t.Fatalf("first connection got %v", f)
	}
	h.send("alice", "bob", "to the new connection", nil)
	second.message("inbox", 1)
}

func TestHeartbeatTimeoutClosesSilentConnection(t *testing.T) {
	h := startDaemon(t, func(c *configT) { c.HeartbeatTimeout = durationT(300 * time.Millisecond) })
	c := h.connect("bob", "phone")
	expectClosed(t, c) // by the server, after the heartbeat timeout (a read deadline fails)
	// The device is offline now: a message is pushed, not only stored.
	tok := "fcm-silent"
	h.bind("bob", "phone", push.FCM, tok)
	h.send("alice", "bob", "after timeout", pushCfg{"title": "t", "content": "c"})
	h.records(push.FCM, tok, 1)
}
