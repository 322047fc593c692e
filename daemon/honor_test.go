package daemon_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pushd-im/pushd/push/vendors/honor"
)

// TestHonorEndToEnd: Honor, the vendor added through the registry alone,
// works like the others through the daemon and its simulator: a message
// becomes Honor's sendMessage request, the binding shows the verdict, a dead
// token is unbound, and one message to three devices goes in one request.
func TestHonorEndToEnd(t *testing.T) {
	h := startVendorDaemon(t, nil)
	p := honor.Provider
	tok := vndTok(p, "bob", "phone")
	a, dead, c := vndTok(p, "trio", "a"), "invalid-"+vndTok(p, "trio", "b"), vndTok(p, "trio", "c")
	h.bindAll([]binding{{"bob", "phone", p, tok, nil}, {"trio", "a", p, a, nil}, {"trio", "b", p, dead, nil}, {"trio", "c", p, c, nil}})

	h.send("alice", "bob", "hi bob", pushCfg{"title": "Alice", "content": "hi bob", "payload": `{"chat":"alice"}`})
	r := h.records(p, tok, 1)[0]
	if !strings.HasPrefix(r.Path, "/api/v1/") || !strings.HasSuffix(r.Path, "/sendMessage") || r.Headers["timestamp"] == "" {
		t.Errorf("request %s %v", r.Path, r.Headers)
	}
	b := jsonBody(t, r)
	if dig(b, "android", "notification", "title") != "Alice" || dig(b, "android", "notification", "body") != "hi bob" ||
		dig(b, "android", "notification", "importance") != "NORMAL" || dig(b, "android", "notification", "clickAction", "type") != float64(3) {
		t.Errorf("notification %v", dig(b, "android"))
	}
	var data map[string]string
	if s, _ := b["data"].(string); json.Unmarshal([]byte(s), &data) != nil || data["payload"] != `{"chat":"alice"}` || data["sender"] != "alice" {
		t.Errorf("data %v", b["data"])
	}
	h.vndWaitVerdict("bob", "phone", "delivered")

	h.send("alice", "trio", "hi", pushCfg{"title": "Alice", "content": "hi"})
	h.eventually("the dead token unbound, the others delivered", func() bool {
		devs := h.devices("trio")
		return len(devs) == 2 && devs[0]["last_verdict"] == "delivered" && devs[1]["last_verdict"] == "delivered"
	})
	if rs := h.vndTargets(p, a); len(rs) != 1 || len(rs[0].Tokens) != 3 || !slices.Equal(rs[0].InvalidTokens, []string{dead}) ||
		!rs[0].Delivered(a) || !rs[0].Delivered(c) {
		t.Errorf("batch %s; want one request for a, b, c rejecting b", vndSummary(rs))
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
}
