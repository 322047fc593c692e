package daemon_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// traceOf is GET /v1/messages/{id}/trace (query: "" or "?user=U").
func (h *harness) traceOf(id, query string) (int, map[string]any) {
	h.t.Helper()
	return h.call("GET", "/v1/messages/"+id+"/trace"+query, "key", nil)
}

// traceDevice is the device entry of user's device (device "" for an entry that names no
// device) in a trace answer, or nil.
func traceDevice(tr map[string]any, user, device string) map[string]any {
	devs, _ := tr["devices"].([]any)
	for _, d := range devs {
		m := d.(map[string]any)
		dev, _ := m["device_id"].(string)
		if m["user_id"] == user && dev == device {
			return m
		}
	}
	return nil
}

// traceSteps is a device entry's events, each "event" or "event:verdict|reason".
func traceSteps(d map[string]any) []string {
	var out []string
	evs, _ := d["events"].([]any)
	for _, e := range evs {
		m := e.(map[string]any)
		s, _ := m["event"].(string)
		if v, _ := m["verdict"].(string); v != "" {
			s += ":" + v
		} else if r, _ := m["reason"].(string); r != "" {
			s += ":" + r
		}
		out = append(out, s)
	}
	return out
}

// waitTrace polls the trace of message id until user's device reached outcome, and returns
// that device's entry.
func (h *harness) waitTrace(id, query, user, device, outcome string) map[string]any {
	h.t.Helper()
	var last map[string]any
	h.eventually("trace of "+id+": "+user+"/"+device+" "+outcome, func() bool {
		st, tr := h.traceOf(id, query)
		last = tr
		d := traceDevice(tr, user, device)
		return st == http.StatusOK && d != nil && d["outcome"] == outcome
	})
	if last == nil {
		h.t.Fatalf("no trace of %s", id)
	}
	return traceDevice(last, user, device)
}

func wantSteps(t *testing.T, what string, d map[string]any, want ...string) {
	t.Helper()
	if got := traceSteps(d); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s: events %v, want %v", what, got, want)
	}
}

// TestMessageTraceExplainsEachDevice answers "why didn't user X get message M?" through the
// API, for each way a message goes: online and acked, online and not acked then pushed,
// offline pushed with the vendor's verdicts, the skips, and a group message.
func TestMessageTraceExplainsEachDevice(t *testing.T) {
	h := startDaemon(t)
	bobTok, carolTok, deadTok := apnsToken(31), apnsToken(32), apnsToken(33)
	h.bind("bob", "iphone", push.APNs, bobTok)
	h.bind("carol", "phone", push.APNs, carolTok)
	h.bind("carol", "old", push.APNs, deadTok)
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: push.APNs, Token: deadTok, Status: 410}))
	bob := h.connect("bob", "iphone")
	bob.sync()
	pc := pushCfg{"title": "t", "content": "c"}

	// Online and acked in time: the frame, the push job waiting for the ack, the ack.
	m1 := h.send("alice", "bob", "m1", pc)["message_id"].(string)
	bob.message("inbox", 1)
	bob.ack("inbox", 1)
	bob.sync()
	d := h.waitTrace(m1, "", "bob", "iphone", "acked")
	wantSteps(t, "online, acked", d, "frame_sent", "push_job", "acked")

	// Online, not acked: pushed once the ack timeout passed.
	m2 := h.send("alice", "bob", "m2", pc)["message_id"].(string)
	bob.message("inbox", 2)
	d = h.waitTrace(m2, "", "bob", "iphone", "delivered")
	wantSteps(t, "online, not acked", d, "frame_sent", "push_job", "not_acked", "vendor_attempt:delivered")
	bob.ack("inbox", 2)
	bob.sync()

	// Offline: a push job per binding, then each one's verdict; the dead token's reason is the
	// vendor's, without the token.
	m3 := h.send("alice", "carol", "m3", pc)["message_id"].(string)
	d = h.waitTrace(m3, "", "carol", "phone", "delivered")
	wantSteps(t, "offline, delivered", d, "push_job", "vendor_attempt:delivered")
	d = h.waitTrace(m3, "", "carol", "old", "token_invalid")
	wantSteps(t, "offline, invalid token", d, "push_job", "vendor_attempt:token_invalid")
	ev := d["events"].([]any)[1].(map[string]any)
	if r, _ := ev["reason"].(string); r == "" || strings.Contains(r, deadTok) || ev["attempt"] != float64(1) || ev["provider"] != "apns" {
		t.Errorf("invalid token attempt = %v, want a reason without the token, attempt 1, provider apns", ev)
	}
	_, tr := h.traceOf(m3, "")
	if c := tr["counts"].(map[string]any); c["delivered"] != float64(1) || c["token_invalid"] != float64(1) {
		t.Errorf("counts of m3 = %v", c)
	}
	h.eventually("the dead token unbound", func() bool { return len(h.devices("carol")) == 1 })

	// Skipped: no push_config, no binding, the sender's own devices.
	m4 := h.send("alice", "carol", "m4", nil)["message_id"].(string)
	wantSteps(t, "no push_config", h.waitTrace(m4, "", "carol", "", "skipped:no_push_config"), "skipped:no_push_config")
	m5 := h.send("alice", "dave", "m5", pc)["message_id"].(string)
	wantSteps(t, "no binding", h.waitTrace(m5, "", "dave", "", "skipped:no_binding"), "skipped:no_binding")
	m6 := h.send("bob", "bob", "note to self", pc)["message_id"].(string)
	bob.message("inbox", 3)
	d = h.waitTrace(m6, "", "bob", "", "skipped:senders_device")
	wantSteps(t, "sender's own device", d, "skipped:senders_device")
	if d := h.waitTrace(m6, "", "bob", "iphone", "frame_sent"); d == nil {
		t.Errorf("note to self: the sender's connected device got no frame in the trace")
	}
	bob.ack("inbox", 3)
	bob.sync()

	// A group message: counts by outcome for every member, one member's devices with ?user=.
	h.putGroup("club", []string{"alice", "bob", "carol", "dave"})
	g := h.mustCall("POST", "/v1/messages", "key", map[string]any{"from": "alice", "to": "club",
		"conversation_type": 2, "type": 1, "body": "hi all", "push_config": pc})["message_id"].(string)
	bob.message("group:club", 1)
	bob.ack("group:club", 1)
	bob.sync()
	h.waitTrace(g, "", "bob", "iphone", "acked")
	d = h.waitTrace(g, "?user=carol", "carol", "phone", "delivered")
	wantSteps(t, "group member offline", d, "push_job", "vendor_attempt:delivered")
	_, tr = h.traceOf(g, "")
	want := map[string]float64{"acked": 1, "delivered": 1, "skipped:no_binding": 1, "skipped:senders_device": 1}
	c := tr["counts"].(map[string]any)
	if len(c) != len(want) {
		t.Errorf("group counts = %v, want %v", c, want)
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("group counts = %v, want %v", c, want)
			break
		}
	}
	if grp, _ := tr["group"].(map[string]any); grp["group_id"] != "club" || grp["from"] != "alice" || grp["receivers"] != float64(3) {
		t.Errorf("group = %v", tr["group"])
	}
	_, one := h.traceOf(g, "?user=carol")
	if devs := one["devices"].([]any); len(devs) != 1 || one["user_id"] != "carol" {
		t.Errorf("?user=carol devices = %v", devs)
	}

	// An unknown message id is a 404 that says so; a malformed path a 400.
	st, out := h.traceOf("nosuchmessage", "")
	if e, _ := out["error"].(map[string]any); st != http.StatusNotFound || e["code"] != "unknown_message" || !strings.Contains(e["message"].(string), "nosuchmessage") {
		t.Errorf("unknown message: %d %v", st, out)
	}
	if st, _ := h.traceOf("a/b", ""); st != http.StatusBadRequest {
		t.Errorf("malformed message id: status %d, want 400", st)
	}
}

// TestMessageTraceQuotaHeld: a push held for the vendor's next quota day says so in the trace,
// and its verdict follows once the day turns.
func TestMessageTraceQuotaHeld(t *testing.T) {
	h := startVendorDaemon(t, func(a *config.App) {
		vndPromo(a)
		a.RateLimits = map[string]config.RateLimit{string(push.Xiaomi): {DailyQuota: 1}}
	})
	h.vndToNoon()
	tok := vndTok(push.Xiaomi, "bob", "phone")
	h.bind("bob", "phone", push.Xiaomi, tok)
	promo := func(i int) string {
		return h.send("shop", "bob", fmt.Sprint("promo ", i), pushCfg{"title": "Shop", "content": fmt.Sprint("promo ", i), "resources_id": "promo"})["message_id"].(string)
	}
	promo(1)
	h.records(push.Xiaomi, tok, 1)
	held := promo(2)
	d := h.waitTrace(held, "", "bob", "phone", "quota_held")
	wantSteps(t, "held", d, "push_job", "quota_held:quota_exhausted")
	if r, _ := d["events"].([]any)[1].(map[string]any)["reason"].(string); !strings.Contains(r, "daily quota") {
		t.Errorf("quota_held reason %q, want the daily quota named", r)
	}
	h.vndToNextVendorDay()
	d = h.waitTrace(held, "", "bob", "phone", "delivered")
	wantSteps(t, "held, then sent the next day", d, "push_job", "quota_held:quota_exhausted", "vendor_attempt:delivered")
}
