package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestBindAPNsEnv: an APNs binding keeps the apns_env it names (auto
// included), gets the app's default_env when it names none (production when
// the app has none), and a bad value is refused naming the field.
func TestBindAPNsEnv(t *testing.T) {
	for _, c := range []struct {
		appDefault, body, want string
	}{
		{"", `{"device_id":"d","provider":"apns","token":"ab"}`, "production"},
		{"auto", `{"device_id":"d","provider":"apns","token":"ab"}`, "auto"},
		{"auto", `{"device_id":"d","provider":"apns","token":"ab","apns_env":"development"}`, "development"},
		{"", `{"device_id":"d","provider":"apns","token":"ab","apns_env":"auto"}`, "auto"},
		{"auto", `{"device_id":"d","provider":"fcm","token":"ab"}`, ""},
	} {
		fake := &fakeNode{}
		a := startFakeAPI(t, fake, func(o *Options) { o.Apps[0].APNsDefaultEnv = c.appDefault })
		if st, out := a.do("POST", "/v1/devices", "bob", c.body); st != http.StatusOK {
			t.Fatalf("bind %s: %d %v", c.body, st, out)
		}
		if binds, _, _ := fake.calls(); binds[0].ApnsEnv != c.want {
			t.Errorf("default %q, bind %s: apns_env %q, want %q", c.appDefault, c.body, binds[0].ApnsEnv, c.want)
		}
	}
	a := startFakeAPI(t, &fakeNode{})
	st, out := a.do("POST", "/v1/devices", "bob", `{"device_id":"d","provider":"apns","token":"ab","apns_env":"sandbox"}`)
	e, _ := out["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if st != http.StatusBadRequest || !strings.Contains(msg, "apns_env") || !strings.Contains(msg, "auto") {
		t.Errorf("bad apns_env: %d %v, want 400 naming apns_env and its values", st, out)
	}
}
