package daemon_test

import (
	"encoding/json"
	"testing"

	"github.com/pushd-im/pushd/push"
)

// TestCallCancelNeverSendsAVoIPPush: Apple requires every VoIP push to report
// a new call, so a cancellation, even with voip in its push_config, is never
// a VoIP push. An iPhone with an alert binding besides its VoIP one gets the
// cancellation there, as an alert that also wakes the app (content-available)
// to end the CallKit call; a VoIP-only iPhone gets no push (its app
// reconciles over the long connection when it reports the call).
func TestCallCancelNeverSendsAVoIPPush(t *testing.T) {
	h := startDaemon(t, patientAcks)
	bobAlert, bobVoIP, carolVoIP := apnsToken(800), apnsToken(801), apnsToken(802)
	h.bind("bob", "iphone", push.APNs, bobAlert)
	h.bind("bob", "iphone", push.APNs, bobVoIP, map[string]any{"push_type": "voip"})
	h.bind("carol", "iphone", push.APNs, carolVoIP, map[string]any{"push_type": "voip"})

	call := h.invite("alice", map[string]any{"invitees": []string{"bob", "carol"}, "timeout": 60, "push_config": voipCfg})
	for _, tok := range []string{bobVoIP, carolVoIP} {
		if r := h.records(push.APNs, tok, 1)[0]; !r.Delivered(tok) || r.Headers["apns-push-type"] != "voip" {
			t.Fatalf("invitation to %s: %d %s %v; want a delivered VoIP push", tok, r.Status, r.Reason, r.Headers)
		}
	}
	h.eventually("invitation pushes answered", func() bool { return h.outboxLen() == 0 })

	h.answer("alice", call, "cancel", map[string]any{"push_config": voipCfg})
	r := h.records(push.APNs, bobAlert, 1)[0]
	if !r.Delivered(bobAlert) || r.Headers["apns-push-type"] != "alert" || r.Headers["apns-topic"] != h.sim().Credentials().APNs.BundleID {
		t.Fatalf("cancellation to bob's alert binding: %d %s %v; want a delivered alert push", r.Status, r.Reason, r.Headers)
	}
	b := jsonBody(t, r)
	if dig(b, "aps", "content-available") != float64(1) || dig(b, "aps", "alert", "title") != "Alice" ||
		b["call_id"] != call || b["event"] != "call_invitation_cancelled" {
		t.Errorf("cancellation body %s: want the alert, content-available 1, call_id and event", r.Body)
	}
	h.eventually("cancellation pushes answered", func() bool { return h.outboxLen() == 0 })
	for _, rec := range h.sim().Records(push.APNs) {
		if rec.Headers["apns-push-type"] == "voip" && rec.Token != bobVoIP && rec.Token != carolVoIP {
			t.Errorf("a VoIP push to %s", rec.Token)
		}
	}
	if n, m := h.countRecords(push.APNs, bobVoIP), h.countRecords(push.APNs, carolVoIP); n != 1 || m != 1 {
		t.Errorf("VoIP bindings pushed %d (bob) and %d (carol) times, want 1 each: the invitation alone", n, m)
	}

	// The VoIP-only iPhone learns of the cancellation when it connects.
	carol := h.connect("carol", "iphone")
	f := carol.expect("call_invitation_cancelled")
	if f["call_id"] != call {
		raw, _ := json.Marshal(f)
		t.Errorf("carol's drain: %s", raw)
	}
}
