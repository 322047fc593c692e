package daemon_test

import (
	"net/http"
	"testing"

	"github.com/pushd-im/pushd/push"
)

// The backend's device control: DELETE /v1/users/{user_id}/devices/{push_id}
// and POST /v1/users/{user_id}/logout, through real HTTP with the API key.

func TestBackendUnbindsADevice(t *testing.T) {
	h := startDaemon(t)
	iphone := h.bind("bob", "iphone", push.APNs, apnsToken(1))
	h.bind("bob", "pixel", push.FCM, "fcm-admin-1")

	// Not for a device: its client token may not unbind for the backend.
	if st, out := h.call("DELETE", "/v1/users/bob/devices/"+iphone, "bob", nil); st != http.StatusForbidden {
		t.Fatalf("client token: %d %v, want 403", st, out)
	}
	if st, out := h.call("DELETE", "/v1/users/bob/devices/"+iphone, "X-API-Key:not-a-key-of-any-app", nil); st != http.StatusUnauthorized || dig(out, "error", "code") != "unauthorized" {
		t.Fatalf("bad key: %d %v, want 401 unauthorized", st, out)
	}
	out := h.mustCall("DELETE", "/v1/users/bob/devices/"+iphone, "key", nil)
	if out["removed"] != true || out["push_id"] != iphone {
		t.Fatalf("unbind answered %v", out)
	}
	devs := h.devices("bob")
	if len(devs) != 1 || devs[0]["device_id"] != "pixel" {
		t.Fatalf("after the unbind: %v, want the pixel alone", devs)
	}
	if st, out := h.call("DELETE", "/v1/users/bob/devices/"+iphone, "key", nil); st != http.StatusNotFound || dig(out, "error", "code") != "not_found" {
		t.Fatalf("unbinding again: %d %v, want 404 not_found", st, out)
	}
	if st, out := h.call("DELETE", "/v1/users/bad%20id/devices/"+iphone, "key", nil); st != http.StatusBadRequest {
		t.Fatalf("bad user id: %d %v, want 400", st, out)
	}
	if st, _ := h.call("GET", "/v1/users/bob/devices/"+iphone, "key", nil); st != http.StatusMethodNotAllowed {
		t.Fatalf("GET on the unbind route: %d, want 405", st)
	}

	// The unbound device gets no push; the other one does.
	h.send("alice", "bob", "after the ban", pushCfg{"title": "Alice", "content": "after the ban"})
	h.records(push.FCM, "fcm-admin-1", 1)
	if n := h.countRecords(push.APNs, apnsToken(1)); n != 0 {
		t.Fatalf("the unbound iPhone was pushed %d times", n)
	}
}

func TestBackendLogsOutOneDeviceOrAll(t *testing.T) {
	h := startDaemon(t)
	h.bind("bob", "iphone", push.APNs, apnsToken(2))
	h.bind("bob", "pixel", push.FCM, "fcm-admin-2")
	h.bind("bob", "tablet", push.FCM, "fcm-admin-3")
	pixel := h.connect("bob", "pixel")
	defer pixel.close()
	pixel.sync()

	out := h.mustCall("POST", "/v1/users/bob/logout", "key", map[string]any{"device_id": "pixel"})
	if out["logged_out"] != true {
		t.Fatalf("logout answered %v", out)
	}
	if f := pixel.next(); f["type"] != "kicked" || f["reason"] != "logout" {
		t.Fatalf("the pixel's connection got %v, want kicked/logout", f)
	}
	if devs := h.devices("bob"); len(devs) != 2 {
		t.Fatalf("after logging out the pixel: %v", devs)
	}
	if st, out := h.call("POST", "/v1/users/bob/logout", "key", map[string]any{"device": "x"}); st != http.StatusBadRequest || dig(out, "error", "code") != "unknown_field" {
		t.Fatalf("unknown field: %d %v", st, out)
	}

	// No device: every device of the user.
	out = h.mustCall("POST", "/v1/users/bob/logout", "key", nil)
	if devs, _ := out["devices"].([]any); len(devs) < 2 {
		t.Fatalf("logging out every device answered %v", out)
	}
	if devs := h.devices("bob"); len(devs) != 0 {
		t.Fatalf("after logging out every device: %v", devs)
	}
	// A user with nothing bound: nothing to do, and no error.
	h.mustCall("POST", "/v1/users/nobody/logout", "key", map[string]any{})
}
