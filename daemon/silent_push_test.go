package daemon_test

import (
	"encoding/json"
	"testing"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
)

// TestSilentProfileIsBackgroundOnAPNsAndDataOnFCM: a message whose
// resources profile is passthrough reaches an iPhone as an APNs background
// push and an Android phone as an FCM data message, which the simulator
// checks against Apple's background rules.
func TestSilentProfileIsBackgroundOnAPNsAndDataOnFCM(t *testing.T) {
	h := startVendorDaemon(t, func(a *config.App) {
		a.Resources = map[string]map[string]config.Resource{"silent": {
			"apns": {PushType: "passthrough"},
			"fcm":  {PushType: "passthrough"},
		}}
	})
	apnsTok, fcmTok := apnsToken(700), "fcm-silent-bob"
	h.bind("bob", "iphone", push.APNs, apnsTok)
	h.bind("bob", "pixel", push.FCM, fcmTok)

	msgID := h.send("alice", "bob", "sync", pushCfg{"title": "Alice", "content": "psst", "payload": `{"sync":1}`, "badge_increment": 1, "resources_id": "silent"},
		map[string]any{"priority": 3})["message_id"].(string)

	a := h.records(push.APNs, apnsTok, 1)[0]
	if !a.Delivered(apnsTok) || a.Headers["apns-push-type"] != "background" || a.Headers["apns-priority"] != "5" {
		t.Fatalf("apns: %d %s, headers %v; want a delivered background push at priority 5", a.Status, a.Reason, a.Headers)
	}
	ab := jsonBody(t, a)
	if aps, _ := json.Marshal(ab["aps"]); string(aps) != `{"content-available":1}` || ab["title"] != "Alice" || ab["body"] != "psst" ||
		ab["payload"] != `{"sync":1}` || ab["message_id"] != msgID {
		t.Errorf("apns body %s: want aps content-available alone, the text and data beside it", a.Body)
	}

	f := h.records(push.FCM, fcmTok, 1)[0]
	fb := jsonBody(t, f)
	if !f.Delivered(fcmTok) || dig(fb, "message", "notification") != nil {
		t.Fatalf("fcm: %d %s, body %s; want a delivered message without a notification", f.Status, f.Reason, f.Body)
	}
	for k, want := range map[string]any{"title": "Alice", "body": "psst", "payload": `{"sync":1}`, "message_id": msgID} {
		if got := dig(fb, "message", "data", k); got != want {
			t.Errorf("fcm data.%s = %v, want %v", k, got, want)
		}
	}
	if dig(fb, "message", "apns", "headers", "apns-push-type") != "background" || dig(fb, "message", "android", "notification") != nil {
		t.Errorf("fcm message %s: want the apns override a background push and no android notification", f.Body)
	}
}
