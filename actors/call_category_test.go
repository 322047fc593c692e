package actors

import (
	"testing"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/wire"
)

// TestCallPushTakesTheVendorsCallCategory: a call push (its job carries a
// call_id) goes in the vendor's call class ahead of the app's default
// category, a resources profile's category wins over both, a message keeps
// the default, and a vendor without a call class keeps the default.
func TestCallPushTakesTheVendorsCallCategory(t *testing.T) {
	app := &App{
		ID:      "demo",
		Vendors: registry(),
		Defaults: map[push.Provider]push.Profile{
			push.HMS: {Category: "IM"}, "honor": {Category: "IM"}, push.OPPO: {Category: "IM"},
		},
		Resources: map[string]map[push.Provider]push.Profile{"im-call": {push.HMS: {Category: "IM"}}},
	}
	call := map[string]string{"call_id": "c1", "event": "call_invitation_received"}
	for _, c := range []struct {
		name     string
		provider push.Provider
		data     map[string]string
		profile  string
		want     string
	}{
		{"huawei call", push.HMS, call, "", "VOIP"},
		{"honor call", "honor", call, "", "VOIP"},
		{"huawei call, the profile names IM", push.HMS, call, "im-call", "IM"},
		{"huawei message", push.HMS, nil, "", "IM"},
		{"oppo call: no call class", push.OPPO, call, "", "IM"},
		{"fcm call: no category", push.FCM, call, "", ""},
	} {
		n := notification(app, &wire.PushJob{App: "demo", Provider: string(c.provider), Token: "t", Data: c.data, MessageId: "m1",
			PushConfig: &wire.PushConfig{Title: "Alice", Content: "calling", ResourcesId: c.profile}})
		if n.Category != c.want {
			t.Errorf("%s: category %q, want %q", c.name, n.Category, c.want)
		}
	}
	// A raw (gorush) push has no message: its data keys do not make it a call.
	raw := notification(app, &wire.PushJob{App: "demo", Provider: string(push.HMS), Token: "t", Data: call,
		PushConfig: &wire.PushConfig{Title: "x", Content: "y"}})
	if raw.Category != "IM" {
		t.Errorf("raw push with call data: category %q, want the app's IM", raw.Category)
	}
}

// TestOnlyACancellationWakesTheApp: a call's cancellation asks for the app to
// run (to end the call it shows); the invitation and messages do not.
func TestOnlyACancellationWakesTheApp(t *testing.T) {
	app := &App{ID: "demo", Vendors: registry()}
	for event, want := range map[string]bool{"call_invitation_cancelled": true, "call_invitation_received": false, "": false} {
		j := &wire.PushJob{App: "demo", Provider: "apns", Token: "t", MessageId: "m1", PushConfig: &wire.PushConfig{Title: "x"}}
		if event != "" {
			j.Data = map[string]string{"call_id": "c1", "event": event}
		}
		if got := notification(app, j).Wake; got != want {
			t.Errorf("event %q: Wake %v, want %v", event, got, want)
		}
	}
}
