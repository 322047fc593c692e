package daemon_test

import (
	"testing"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
)

// TestCallPushesUseHuaweiVOIPCategory: a call invitation and its cancellation
// reach a Huawei phone in category VOIP although the app's Huawei category is
// IM (which a message keeps); a call whose resources profile names a category
// gets that one. The simulator takes VOIP as an uncapped category.
func TestCallPushesUseHuaweiVOIPCategory(t *testing.T) {
	h := startVendorDaemon(t, func(a *config.App) {
		a.Resources = map[string]map[string]config.Resource{"im-call": {"hms": {Category: "IM"}}}
	})
	tok := vndTok(push.HMS, "bob", "phone")
	h.bind("bob", "phone", push.HMS, tok)
	category := func(i int) any {
		t.Helper()
		r := h.records(push.HMS, tok, i+1)[i]
		if !r.Delivered(tok) {
			t.Fatalf("push %d: %d %s", i, r.Status, r.Reason)
		}
		return dig(jsonBody(t, r), "message", "android", "category")
	}

	call := h.invite("alice", map[string]any{"invitees": []string{"bob"}, "timeout": 60, "push_config": pushCfg{"title": "Alice", "content": "calling"}})
	if c := category(0); c != "VOIP" {
		t.Errorf("invitation category %v, want VOIP", c)
	}
	h.answer("alice", call, "cancel", map[string]any{"push_config": pushCfg{"title": "Alice", "content": "missed call"}})
	if c := category(1); c != "VOIP" {
		t.Errorf("cancellation category %v, want VOIP", c)
	}
	h.send("alice", "bob", "hi", pushCfg{"title": "Alice", "content": "hi"})
	if c := category(2); c != "IM" {
		t.Errorf("message category %v, want the app's IM", c)
	}
	h.invite("alice", map[string]any{"invitees": []string{"bob"}, "timeout": 60, "push_config": pushCfg{"title": "Alice", "content": "calling", "resources_id": "im-call"}})
	if c := category(3); c != "IM" {
		t.Errorf("invitation with an IM profile: category %v, want IM", c)
	}
}
