package daemon_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
)

// POST /api/push, gorush's route: the bodies are gorush's documented examples
// (README, "POST /api/push", "iOS Example", "Android Example"), with the
// placeholder tokens token_a and token_b replaced by tokens the simulator
// takes; each push must arrive at the vendor simulator.

// gorushBody is a documented example with its tokens replaced.
func gorushBody(example string, tokens ...string) string {
	for i, t := range tokens {
		example = strings.ReplaceAll(example, []string{"token_a", "token_b"}[i], t)
	}
	return example
}

func TestGorushDocumentedExamplesReachTheVendors(t *testing.T) {
	h := startDaemon(t)
	ios1, ios2 := apnsToken(101), apnsToken(102)

	post := func(body string) map[string]any {
		t.Helper()
		st, out := h.call("POST", "/api/push", "key", body)
		if st != http.StatusOK || out["success"] != "ok" {
			t.Fatalf("POST /api/push %s: %d %v", body, st, out)
		}
		if logs, ok := out["logs"].([]any); !ok || len(logs) != 0 {
			t.Fatalf("logs = %v, want []", out["logs"])
		}
		return out
	}

	// iOS: "The following payload asks the system to display an alert…"
	out := post(gorushBody(`{
  "notifications": [
    {
      "tokens": ["token_a", "token_b"],
      "platform": 1,
      "badge": 5,
      "alert": {
        "title" : "Game Request",
        "body" : "Bob wants to play poker",
        "action-loc-key" : "PLAY"
      }
    }
  ]
}`, ios1, ios2))
	if out["counts"] != float64(2) {
		t.Fatalf("counts = %v, want 2", out["counts"])
	}
	for _, tok := range []string{ios1, ios2} {
		r := h.records(push.APNs, tok, 1)[0]
		b := jsonBody(t, r)
		if r.Status != 200 || dig(b, "aps", "alert", "title") != "Game Request" || dig(b, "aps", "alert", "body") != "Bob wants to play poker" || dig(b, "aps", "badge") != float64(5) {
			t.Errorf("apns push to %s: %d %s", tok, r.Status, r.Body)
		}
	}

	// iOS: "Add other fields which user defined via data field."
	ios3 := apnsToken(103)
	post(gorushBody(`{
  "notifications": [
    {
      "tokens": ["token_a"],
      "platform": 1,
      "message": "Hello World iOS!",
      "data": {
        "key1": "welcome",
        "key2": 2
      }
    }
  ]
}`, ios3))
	b := jsonBody(t, h.records(push.APNs, ios3, 1)[0])
	if dig(b, "aps", "alert", "body") != "Hello World iOS!" || b["key1"] != "welcome" || b["key2"] != "2" {
		t.Errorf("apns push with data: %v", b)
	}

	// Android: "Add other fields which user defined via data field."
	post(gorushBody(`{
  "notifications": [
    {
      "tokens": ["token_a", "token_b"],
      "platform": 2,
      "message": "Hello World Android!",
      "title": "You got message",
      "data": {
       "Nick" : "Mario",
       "body" : "great match!",
       "Room" : "PortugalVSDenmark"
      }
    }
  ]
}`, "gorush-fcm-a", "gorush-fcm-b"))
	for _, tok := range []string{"gorush-fcm-a", "gorush-fcm-b"} {
		fb := jsonBody(t, h.records(push.FCM, tok, 1)[0])
		if dig(fb, "message", "notification", "title") != "You got message" || dig(fb, "message", "notification", "body") != "Hello World Android!" ||
			dig(fb, "message", "data", "Nick") != "Mario" || dig(fb, "message", "data", "Room") != "PortugalVSDenmark" {
			t.Errorf("fcm push to %s: %v", tok, fb)
		}
	}

	// "Send multiple notifications", with Huawei (platform 3) among them.
	out = post(gorushBody(`{
  "notifications": [
    {"tokens": ["token_a"], "platform": 1, "message": "Hello World iOS!"},
    {"tokens": ["token_b"], "platform": 2, "message": "Hello World Android!"},
    {"tokens": ["gorush-hms-1"], "platform": 3, "title": "Huawei", "message": "Hello World Huawei!"}
  ]
}`, apnsToken(104), "gorush-fcm-c"))
	if out["counts"] != float64(3) {
		t.Fatalf("counts = %v, want 3", out["counts"])
	}
	h.records(push.APNs, apnsToken(104), 1)
	h.records(push.FCM, "gorush-fcm-c", 1)
	h.waitRecords("a huawei push to gorush-hms-1", func(r vendorsim.Record) bool {
		return r.Provider == push.HMS && r.Accepted && strings.Contains(strings.Join(r.Tokens, ","), "gorush-hms-1")
	}, func(rs []vendorsim.Record) bool { return len(rs) > 0 })
	h.eventually("the outbox empties", func() bool { return h.outboxLen() == 0 })
}

// TestGorushPushesRetryThroughTheOutbox: a gorush push the vendor answers
// with a retryable error is kept in the outbox and sent again, as any push.
func TestGorushPushesRetryThroughTheOutbox(t *testing.T) {
	h := startDaemon(t)
	tok := apnsToken(110)
	if err := h.sim().SetFault(vendorsim.Fault{Provider: push.APNs, Token: tok, Status: 503, Times: 1}); err != nil {
		t.Fatal(err)
	}
	h.mustCall("POST", "/api/push", "key", `{"notifications":[{"tokens":["`+tok+`"],"platform":1,"message":"again","priority":"high"}]}`)
	rs := h.waitRecords("a refused push and its retry", func(r vendorsim.Record) bool { return r.Provider == push.APNs && r.Token == tok },
		func(rs []vendorsim.Record) bool { return len(rs) >= 2 && rs[len(rs)-1].Status == 200 })
	if rs[0].Status != 503 {
		t.Errorf("first attempt answered %d, want the injected 503", rs[0].Status)
	}
	h.eventually("the outbox empties", func() bool { return h.outboxLen() == 0 })

	// A dead raw token is a verdict, not an unbind of anyone's binding.
	bound := apnsToken(111)
	h.bind("bob", "iphone", push.APNs, bound)
	if err := h.sim().SetFault(vendorsim.Fault{Provider: push.APNs, Token: bound, Status: 410, Times: 1}); err != nil {
		t.Fatal(err)
	}
	h.mustCall("POST", "/api/push", "key", `{"notifications":[{"tokens":["`+bound+`"],"platform":1,"message":"gone"}]}`)
	h.records(push.APNs, bound, 1)
	h.eventually("the outbox empties", func() bool { return h.outboxLen() == 0 })
	if devs := h.devices("bob"); len(devs) != 1 {
		t.Errorf("bob's binding after a raw push's 410: %v", devs)
	}
}

func TestGorushRefusesWhatItCannotSend(t *testing.T) {
	h := startDaemon(t)
	for _, c := range []struct {
		body, want string
	}{
		{`{}`, "notifications"},
		{`{"notifications":[]}`, "notifications"},
		{`{"notifications":[{"tokens":["a"],"platform":4,"message":"x"}]}`, "notifications[0].platform"},
		{`{"notifications":[{"platform":2,"message":"x"}]}`, "notifications[0].tokens"},
		{`{"notifications":[{"to":"/topics/foo-bar","platform":2,"message":"This is a Firebase Cloud Messaging Topic Message"}]}`, "topic"},
		{`{"notifications":[{"tokens":["a"],"platform":2,"priority":"urgent"}]}`, "notifications[0].priority"},
		{`{"notifications":[{"tokens":["a"],"platform":1,"expiration":1}]}`, "notifications[0].expiration"},
		{`{"notifications":"x"}`, "notifications"},
	} {
		st, out := h.call("POST", "/api/push", "key", c.body)
		msg, _ := out["message"].(string)
		if st != http.StatusBadRequest || out["code"] != float64(400) || !strings.Contains(msg, c.want) || dig(out, "error", "code") == nil {
			t.Errorf("%s: %d %v, want 400 naming %s", c.body, st, out, c.want)
		}
	}
	if st, _ := h.call("POST", "/api/push", "", `{"notifications":[{"tokens":["a"],"platform":2}]}`); st != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", st)
	}
	// An expiration in the future is kept (and nothing waits in the outbox after).
	exp := time.Now().Add(time.Hour).Unix()
	tok := apnsToken(120)
	h.mustCall("POST", "/api/push", "key", map[string]any{"notifications": []any{map[string]any{"tokens": []string{tok}, "platform": 1, "message": "soon", "expiration": exp}}})
	if r := h.records(push.APNs, tok, 1)[0]; r.Headers["apns-expiration"] == "" {
		t.Errorf("apns-expiration missing: %v", r.Headers)
	}
}
