package daemon_test

import (
	"testing"

	"github.com/pushd-im/pushd/push"
)

// TestAPNsAutoEnvFindsTheSandbox: a development build's token bound with
// apns_env auto is pushed through the sandbox after production refuses it,
// stays bound, and its next push goes straight to the sandbox. The same token
// bound as production is refused and unbound, as before.
func TestAPNsAutoEnvFindsTheSandbox(t *testing.T) {
	h := startVendorDaemon(t, nil)
	sandboxTok, wrongTok := h.sim().APNsToken(true), h.sim().APNsToken(true)
	h.bind("bob", "iphone", push.APNs, sandboxTok, map[string]any{"apns_env": "auto"})
	h.bind("carol", "iphone", push.APNs, wrongTok, map[string]any{"apns_env": "production"})

	h.send("alice", "bob", "one", pushCfg{"title": "Alice", "content": "one"})
	recs := h.records(push.APNs, sandboxTok, 2)
	if recs[0].Reason != "BadDeviceToken" || recs[0].Path != "/3/device/"+sandboxTok || !recs[1].Delivered(sandboxTok) || recs[1].Path != "/sandbox/3/device/"+sandboxTok {
		t.Fatalf("first push: %s %d %s, then %s %d %s; want production's BadDeviceToken, then the sandbox's 200",
			recs[0].Path, recs[0].Status, recs[0].Reason, recs[1].Path, recs[1].Status, recs[1].Reason)
	}
	h.eventually("first push answered", func() bool { return h.outboxLen() == 0 })
	h.send("alice", "bob", "two", pushCfg{"title": "Alice", "content": "two"})
	if r := h.records(push.APNs, sandboxTok, 3)[2]; !r.Delivered(sandboxTok) || r.Path != "/sandbox/3/device/"+sandboxTok {
		t.Fatalf("second push: %s %d %s; want the sandbox straight away", r.Path, r.Status, r.Reason)
	}
	h.eventually("second push answered", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.APNs, sandboxTok); n != 3 {
		t.Errorf("bob's token got %d requests, want 3", n)
	}
	devs := h.devices("bob")
	if len(devs) != 1 || devs[0]["apns_env"] != "auto" || devs[0]["last_verdict"] != "delivered" {
		t.Errorf("bob's devices %v; want the auto binding kept, delivered", devs)
	}

	h.send("alice", "carol", "hi", pushCfg{"title": "Alice", "content": "hi"})
	if r := h.records(push.APNs, wrongTok, 1)[0]; r.Reason != "BadDeviceToken" {
		t.Fatalf("sandbox token bound as production: %d %s", r.Status, r.Reason)
	}
	h.eventually("carol's binding removed", func() bool { return len(h.devices("carol")) == 0 })
}
