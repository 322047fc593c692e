package daemon_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

func TestOfflinePushAPNsAndFCMFieldMapping(t *testing.T) {
	h := startDaemon(t)
	apnsTok, fcmTok := apnsToken(1), "fcm-token-bob-1"
	h.bind("bob", "iphone", push.APNs, apnsTok, map[string]any{"apns_env": "development"})
	h.bind("bob", "pixel", push.FCM, fcmTok)
	// Every field of a device is there before any push: null where it has no value.
	for _, d := range h.devices("bob") {
		env, hasEnv := d["apns_env"]
		verdict, hasVerdict := d["last_verdict"]
		wantEnv := map[string]any{"iphone": "development", "pixel": nil}[d["device_id"].(string)]
		if !hasEnv || env != wantEnv || !hasVerdict || verdict != nil {
			t.Errorf("device %v before a push: apns_env %v (present %v), last_verdict %v (present %v); want %v and null", d["device_id"], env, hasEnv, verdict, hasVerdict, wantEnv)
		}
	}

	ans := h.send("alice", "bob", "hello bob", pushCfg{"title": "Alice", "content": "hello bob", "payload": `{"conv":"alice"}`, "badge_increment": 1},
		map[string]any{"priority": 3})
	msgID := ans["message_id"].(string)
	if ans["seq"].(float64) != 1 {
		t.Fatalf("first message seq = %v", ans["seq"])
	}

	a := h.records(push.APNs, apnsTok, 1)[0]
	if a.Status != 200 {
		t.Fatalf("apns status %d %s", a.Status, a.Reason)
	}
	creds := h.sim().Credentials()
	for k, want := range map[string]string{"apns-topic": creds.APNs.BundleID, "apns-push-type": "alert", "apns-priority": "10", "apns-collapse-id": msgID} {
		if a.Headers[k] != want {
			t.Errorf("apns header %s = %q, want %q", k, a.Headers[k], want)
		}
	}
	if exp, err := strconv.ParseInt(a.Headers["apns-expiration"], 10, 64); err != nil || exp <= time.Now().Unix() {
		t.Errorf("apns-expiration = %q, want a future unix time", a.Headers["apns-expiration"])
	}
	ab := jsonBody(t, a)
	if dig(ab, "aps", "alert", "title") != "Alice" || dig(ab, "aps", "alert", "body") != "hello bob" || dig(ab, "aps", "badge") != float64(1) {
		t.Errorf("apns aps = %v", ab["aps"])
	}
	if ab["payload"] != `{"conv":"alice"}` || ab["message_id"] != msgID || ab["sender"] != "alice" {
		t.Errorf("apns custom data = %v", ab)
	}

	f := h.records(push.FCM, fcmTok, 1)[0]
	if f.Status != 200 {
		t.Fatalf("fcm status %d %s", f.Status, f.Reason)
	}
	fb := jsonBody(t, f)
	if dig(fb, "message", "token") != fcmTok || dig(fb, "message", "notification", "title") != "Alice" || dig(fb, "message", "notification", "body") != "hello bob" {
		t.Errorf("fcm message = %v", fb["message"])
	}
	if dig(fb, "message", "data", "payload") != `{"conv":"alice"}` || dig(fb, "message", "data", "message_id") != msgID {
		t.Errorf("fcm data = %v", dig(fb, "message", "data"))
	}
	if dig(fb, "message", "android", "priority") != "HIGH" || dig(fb, "message", "android", "collapse_key") != msgID {
		t.Errorf("fcm android = %v", dig(fb, "message", "android"))
	}
	if !strings.HasPrefix(f.Headers["authorization"], "Bearer ") {
		t.Errorf("fcm authorization = %q", f.Headers["authorization"])
	}

	// Low priority maps to APNs priority 5; no push_config means no push at all.
	h.send("alice", "bob", "quiet", pushCfg{"title": "Alice", "content": "quiet"}, map[string]any{"priority": 1})
	if p := h.records(push.APNs, apnsTok, 2)[1].Headers["apns-priority"]; p != "5" {
		t.Errorf("low priority apns-priority = %q, want 5", p)
	}
	h.send("alice", "bob", "no push", nil)
	h.eventually("outbox drained", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.APNs, apnsTok); n != 2 {
		t.Errorf("apns pushes = %d, want 2 (a message without push_config is not pushed)", n)
	}
	for _, d := range h.devices("bob") {
		if d["last_verdict"] != "delivered" {
			t.Errorf("device %v: last_verdict = %v, want delivered", d["device_id"], d["last_verdict"])
		}
	}
}

func TestOnlineDeliveryAckedIsNotPushed(t *testing.T) {
	h := startDaemon(t)
	tok := apnsToken(2)
	h.bind("bob", "iphone", push.APNs, tok)
	c := h.connect("bob", "iphone")
	c.sync()
	for i := 1; i <= 3; i++ {
		h.send("alice", "bob", "m"+strconv.Itoa(i), pushCfg{"title": "t", "content": "c"})
		m := c.message("inbox", i)
		if m["body"] != "m"+strconv.Itoa(i) || m["from"] != "alice" || m["to"] != "bob" {
			t.Fatalf("frame message = %v", m)
		}
		c.ack("inbox", i)
	}
	c.sync()
	// Acked in time: every conditional push is cancelled and leaves the outbox.
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.APNs, tok); n != 0 {
		t.Fatalf("pushes to an online device that acked = %d, want 0", n)
	}
}

func TestAckOrPushOneHonestPush(t *testing.T) {
	h := startDaemon(t)
	tok := apnsToken(3)
	h.bind("bob", "iphone", push.APNs, tok)
	c := h.connect("bob", "iphone")
	c.sync()
	h.send("alice", "bob", "unacked", pushCfg{"title": "t", "content": "c"})
	c.message("inbox", 1)
	// No ack: after ack_timeout the device is pushed as if offline, once.
	r := h.records(push.APNs, tok, 1)
	if r[0].Status != 200 {
		t.Fatalf("push status %d", r[0].Status)
	}
	// A late ack brings no second push.
	c.ack("inbox", 1)
	c.sync()
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	h.send("alice", "bob", "second", pushCfg{"title": "t", "content": "c2"})
	c.message("inbox", 2)
	c.ack("inbox", 2)
	c.sync()
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.APNs, tok); n != 1 {
		t.Fatalf("pushes = %d, want exactly 1", n)
	}
}

func TestOfflineDrainInOrderAcrossReconnects(t *testing.T) {
	h := startDaemon(t)
	for i := 1; i <= 5; i++ {
		h.send("alice", "bob", "m"+strconv.Itoa(i), nil)
	}
	c := h.connect("bob", "phone")
	for i := 1; i <= 5; i++ {
		if m := c.message("inbox", i); m["body"] != "m"+strconv.Itoa(i) {
			t.Fatalf("seq %d body %v", i, m["body"])
		}
	}
	c.ack("inbox", 3)
	c.sync()
	c.close()

	h.send("alice", "bob", "m6", nil)
	c = h.connect("bob", "phone")
	for i := 4; i <= 6; i++ {
		c.message("inbox", i) // 1..3 were acked and are not sent again
	}
	c.ack("inbox", 6)
	if extra := c.sync(); len(extra) != 0 {
		t.Fatalf("unexpected frames %v", extra)
	}
	c.close()

	// A second device has its own cursor and gets everything.
	c2 := h.connect("bob", "tablet")
	for i := 1; i <= 6; i++ {
		c2.message("inbox", i)
	}
	c = h.connect("bob", "phone")
	if extra := c.sync(); len(extra) != 0 {
		t.Fatalf("fully acked device got %v", extra)
	}
	// Live messages follow the drained ones on every online device.
	h.send("alice", "bob", "m7", nil)
	c.message("inbox", 7)
	c2.message("inbox", 7)
}

func TestBackgroundDeviceGetsFrameAndPush(t *testing.T) {
	h := startDaemon(t)
	tok := apnsToken(4)
	h.bind("bob", "iphone", push.APNs, tok)
	c := h.connect("bob", "iphone")
	c.state(false)
	c.sync()
	h.send("alice", "bob", "while in background", pushCfg{"title": "t", "content": "bg"})
	c.message("inbox", 1)
	c.ack("inbox", 1) // even acked, a background device is pushed: it may not show the frame
	r := h.records(push.APNs, tok, 1)
	if dig(jsonBody(t, r[0]), "aps", "alert", "body") != "bg" {
		t.Fatalf("push body %s", r[0].Body)
	}
	c.state(true)
	c.sync()
	h.send("alice", "bob", "foreground again", pushCfg{"title": "t", "content": "fg"})
	c.message("inbox", 2)
	c.ack("inbox", 2)
	c.sync()
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.APNs, tok); n != 1 {
		t.Fatalf("pushes = %d, want 1 (only the background one)", n)
	}
}

func TestLogoutAndUnregisterStopPushes(t *testing.T) {
	h := startDaemon(t)
	loggedOut, unregistered, control := apnsToken(5), apnsToken(6), "fcm-control"
	outID := h.bind("bob", "old-phone", push.APNs, loggedOut)
	id := h.bind("bob", "ipad", push.APNs, unregistered)
	h.bind("bob", "pixel", push.FCM, control)

	c := h.connect("bob", "old-phone")
	c.sync()
	h.mustCall("POST", "/v1/logout", "bob", map[string]any{"device_id": "old-phone"})
	if f := c.next(); f["type"] != "kicked" || f["reason"] != "logout" {
		t.Fatalf("after logout the connection got %v, want kicked/logout", f)
	}
	h.mustCall("DELETE", "/v1/devices/"+id, "bob", nil)
	if st, out := h.call("DELETE", "/v1/devices/"+id, "bob", nil); st != http.StatusNotFound {
		t.Fatalf("second unregister: %d %v, want 404", st, out)
	}

	h.send("alice", "bob", "after logout", pushCfg{"title": "t", "content": "c"})
	h.records(push.FCM, control, 1)
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.APNs, loggedOut) + h.countRecords(push.APNs, unregistered); n != 0 {
		t.Fatalf("pushes to a logged-out or unregistered device = %d", n)
	}
	devs := h.devices("bob")
	if len(devs) != 1 || devs[0]["device_id"] != "pixel" {
		t.Fatalf("devices after logout and unregister = %v", devs)
	}
	// Their token actors forgot bob: the push id index keeps no entry for a
	// token nobody holds, and a push test finds nothing to push.
	for _, pid := range []string{outID, id} {
		h.eventually("index entry of "+pid+" released", func() bool {
			_, _, ok, err := h.d.Store().PushOwner(daemon.DemoAppID, pid)
			return err == nil && !ok
		})
		if st, out := h.call("POST", "/v1/push/test", "key", map[string]any{"push_id": pid, "dry_run": true}); st != http.StatusNotFound {
			t.Fatalf("push test of a dropped binding: %d %v, want 404", st, out)
		}
	}
}

func TestTokenMovesToAnotherUser(t *testing.T) {
	h := startDaemon(t)
	tok := apnsToken(7)
	id1 := h.bind("alice", "shared-phone", push.APNs, tok)
	id2 := h.bind("bob", "shared-phone", push.APNs, tok)
	if id1 != id2 {
		t.Fatalf("same token, different push ids %s %s", id1, id2)
	}
	if id3 := h.bind("bob", "shared-phone", push.APNs, tok); id3 != id2 {
		t.Fatalf("binding again is not idempotent: %s vs %s", id3, id2)
	}
	if devs := h.devices("alice"); len(devs) != 0 {
		t.Fatalf("alice still holds the moved token: %v", devs)
	}
	h.onlyHolderPushed(tok, "bob", "alice")
	// And back: alice holds it again, bob not, and the index names alice.
	h.bind("alice", "shared-phone", push.APNs, tok)
	if devs := h.devices("bob"); len(devs) != 0 {
		t.Fatalf("bob still holds the token that moved back: %v", devs)
	}
	if devs := h.devices("alice"); len(devs) != 1 || devs[0]["push_id"] != id1 {
		t.Fatalf("alice's devices after the move back: %v", devs)
	}
	if app, user, ok, err := h.d.Store().PushOwner(daemon.DemoAppID, id1); err != nil || !ok || app != daemon.DemoAppID || user != "alice" {
		t.Fatalf("push id index after the move back: %q %q %v %v; want alice", app, user, ok, err)
	}
}

// onlyHolderPushed sends a message with a push to the holder of the APNs
// token tok and to each of others, and checks that once the outbox is empty
// the token got exactly one push, the holder's (its alert body names the
// receiver): a binding left with another user would push theirs too.
func (h *harness) onlyHolderPushed(tok, holder string, others ...string) {
	h.t.Helper()
	for _, u := range append(others, holder) {
		h.send("carol", u, "to "+u, pushCfg{"title": "t", "content": u})
	}
	r := h.records(push.APNs, tok, 1)
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.APNs, tok); n != 1 || dig(jsonBody(h.t, r[0]), "aps", "alert", "body") != holder {
		h.t.Fatalf("pushes to the token: %d, first %s; want %s's only", n, r[0].Body, holder)
	}
}

// storeBindingOffline writes user's APNs binding of tok (push id id, device
// "shared-phone", registered at) straight into the store while the daemon is
// stopped, then starts it again: the state a bind interrupted half-way, or
// one that raced another, leaves behind.
func (h *harness) storeBindingOffline(user, id, tok string, at time.Time) {
	h.t.Helper()
	h.stop()
	st, err := storage.Open(filepath.Join(h.cfg.DataDir, "store"), storage.Options{})
	must(h.t, err)
	b := st.NewBatch()
	b.PutBinding(&wire.Binding{App: daemon.DemoAppID, User: user, PushId: id, DeviceId: "shared-phone", Provider: string(push.APNs),
		Token: tok, ApnsEnv: "production", PushType: "alert", RegisteredAtMs: at.UnixMilli()})
	must(h.t, st.Commit(b, true))
	must(h.t, st.Close())
	h.start()
}

// TestTokenMoveFinishesOnBindingAgain: a move that stopped half-way (the new
// user's binding stored, the old holder's not dropped, so the index still
// names the old holder) is finished by binding again, as the failed bind's
// error tells the client to.
func TestTokenMoveFinishesOnBindingAgain(t *testing.T) {
	h := startDaemon(t)
	tok := apnsToken(12)
	id := h.bind("alice", "shared-phone", push.APNs, tok)
	h.storeBindingOffline("bob", id, tok, time.Now())
	if a, b := h.devices("alice"), h.devices("bob"); len(a) != 1 || len(b) != 1 {
		t.Fatalf("half-way state: alice %v, bob %v; want the token with both", a, b)
	}

	h.bind("bob", "shared-phone", push.APNs, tok)
	if devs := h.devices("alice"); len(devs) != 0 {
		t.Fatalf("alice still holds the token after bob bound it again: %v", devs)
	}
	if _, user, ok, err := h.d.Store().PushOwner(daemon.DemoAppID, id); err != nil || !ok || user != "bob" {
		t.Fatalf("push id index after binding again: %q %v %v; want bob", user, ok, err)
	}
}

// TestOlderBindDoesNotTakeANewerBinding: while bob's bind was moving the
// token from alice, alice bound it again. Her binding is the newer one, so
// bob's bind must not take the token: it is withdrawn and answered 409, and
// only alice holds the token. (Before, alice kept her binding, the index
// moved to bob, and both users' messages were pushed to the one device.)
// Alice's registration is written ahead of the clock, which is the state
// that interleaving leaves: her binding made after bob's.
func TestOlderBindDoesNotTakeANewerBinding(t *testing.T) {
	h := startDaemon(t)
	tok := apnsToken(13)
	id := h.bind("alice", "shared-phone", push.APNs, tok)
	h.storeBindingOffline("alice", id, tok, time.Now().Add(time.Hour))

	status, out := h.call("POST", "/v1/devices", "bob", map[string]any{"device_id": "shared-phone", "provider": string(push.APNs), "token": tok})
	if code := dig(out, "error", "code"); status != http.StatusConflict || code != "conflict" {
		t.Fatalf("older bind of a token bound again since: %d %v, want 409 conflict", status, out)
	}
	if msg, _ := dig(out, "error", "message").(string); !strings.Contains(msg, id) || strings.Contains(msg, "alice") {
		t.Fatalf("conflict message %q: want the push id named and the other user not", msg)
	}
	if a, b := h.devices("alice"), h.devices("bob"); len(a) != 1 || len(b) != 0 {
		t.Fatalf("after the older bind: alice %v, bob %v; want the token with alice alone", a, b)
	}
	if _, user, ok, err := h.d.Store().PushOwner(daemon.DemoAppID, id); err != nil || !ok || user != "alice" {
		t.Fatalf("push id index after the older bind: %q %v %v; want alice", user, ok, err)
	}
	h.onlyHolderPushed(tok, "alice", "bob")
}

func TestInvalidTokenUnbindsUnlessReRegistered(t *testing.T) {
	h := startDaemon(t)
	dead, fcmDead, again := apnsToken(8), "fcm-dead", apnsToken(9)
	h.bind("bob", "iphone", push.APNs, dead)
	h.bind("bob", "pixel", push.FCM, fcmDead)
	h.bind("bob", "ipad", push.APNs, again)
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: push.APNs, Token: dead, Status: 410}))
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: push.FCM, Token: fcmDead, Status: 404, Reason: "UNREGISTERED"}))
	// The ipad's push is answered 410 slowly; it registers again meanwhile.
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: push.APNs, Token: again, Status: 410, Latency: 700 * time.Millisecond, Times: 1}))
	// A vendor's "invalid" unbinds only a binding registered before the push
	// was made, on a ms clock: let the clock pass the registrations first.
	bound := h.clock.Now().UnixMilli()
	h.eventually("the clock moved past the registrations", func() bool { return h.clock.Now().UnixMilli() > bound })

	h.send("alice", "bob", "hi", pushCfg{"title": "t", "content": "c"})
	h.eventually("the ipad's push reached the vendor", func() bool { return len(h.sim().Records(push.APNs)) > 0 })
	// The registration must be strictly newer than the push, on a ms clock.
	pushed := h.clock.Now().UnixMilli()
	h.eventually("the clock moved past the push", func() bool { return h.clock.Now().UnixMilli() > pushed })
	h.bind("bob", "ipad", push.APNs, again)

	var last []map[string]any
	defer func() { t.Logf("devices: %v", last) }()
	h.eventually("dead tokens unbound, re-registered one kept", func() bool {
		devs := h.devices("bob")
		last = devs
		return len(devs) == 1 && devs[0]["device_id"] == "ipad" && devs[0]["last_verdict"] == "token_invalid"
	})
	h.send("alice", "bob", "again", pushCfg{"title": "t", "content": "c"})
	h.eventually("the kept binding is pushed", func() bool {
		for _, r := range h.records(push.APNs, again, 2) {
			if r.Status == 200 {
				return true
			}
		}
		return false
	})
	if n := h.countRecords(push.APNs, dead); n != 1 {
		t.Fatalf("pushes to the dead token = %d, want 1", n)
	}
}

// TestInvalidTokenUnbindsARegistrationStampedAhead: a vendor's "invalid"
// unbinds the registration its push went to even when that registration was
// stamped by a clock an hour ahead of the one that made the push (the token
// actor's node ahead of the user's). Before, the push's making was compared
// with the registration, and the dead token was spared as registered again
// for as long as the clocks stayed apart, every push to it refused.
func TestInvalidTokenUnbindsARegistrationStampedAhead(t *testing.T) {
	h := startDaemon(t)
	tok := apnsToken(14)
	id := h.bind("bob", "shared-phone", push.APNs, tok)
	h.storeBindingOffline("bob", id, tok, time.Now().Add(time.Hour))
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: push.APNs, Token: tok, Status: 410}))
	h.send("alice", "bob", "hi", pushCfg{"title": "t", "content": "c"})
	h.records(push.APNs, tok, 1)
	h.eventually("the dead token unbound", func() bool { return len(h.devices("bob")) == 0 })
}

func TestRetryOn429And503UntilDelivered(t *testing.T) {
	h := startDaemon(t)
	a, f := apnsToken(10), "fcm-flaky"
	h.bind("bob", "iphone", push.APNs, a)
	h.bind("bob", "pixel", push.FCM, f)
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: push.APNs, Token: a, Status: 503, Times: 1}))
	must(t, h.sim().SetFault(vendorsim.Fault{Provider: push.FCM, Token: f, Status: 429, Reason: "QUOTA_EXCEEDED", RetryAfter: time.Second, Times: 1}))
	h.send("alice", "bob", "hi", pushCfg{"title": "t", "content": "c"})
	ar := h.records(push.APNs, a, 2)
	fr := h.records(push.FCM, f, 2)
	if ar[0].Status != 503 || ar[1].Status != 200 || fr[0].Status != 429 || fr[1].Status != 200 {
		t.Fatalf("apns statuses %d,%d; fcm %d,%d", ar[0].Status, ar[1].Status, fr[0].Status, fr[1].Status)
	}
	if wait := fr[1].At.Sub(fr[0].At); wait < 900*time.Millisecond {
		t.Errorf("FCM retried after %v, before its Retry-After of 1s", wait)
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
}

func TestIdempotentSends(t *testing.T) {
	h := startDaemon(t)
	tok := "fcm-idem"
	h.bind("bob", "pixel", push.FCM, tok)
	first := h.send("alice", "bob", "once", pushCfg{"title": "t", "content": "c"}, map[string]any{"client_msg_id": "c-1"})
	again := h.send("alice", "bob", "once", pushCfg{"title": "t", "content": "c"}, map[string]any{"client_msg_id": "c-1"})
	if first["message_id"] != again["message_id"] || first["seq"] != again["seq"] || first["timestamp"] != again["timestamp"] {
		t.Fatalf("retry answered %v, first %v", again, first)
	}
	// The same id from another sender is another message.
	other := h.send("carol", "bob", "other", nil, map[string]any{"client_msg_id": "c-1"})
	if other["message_id"] == first["message_id"] {
		t.Fatal("another sender's client_msg_id was deduplicated")
	}
	// A client retrying its own send gets the first answer too.
	body := map[string]any{"to": "bob", "conversation_type": 0, "type": 1, "body": "from client", "client_msg_id": "c-2"}
	c1 := h.mustCall("POST", "/v1/messages", "dave", body)
	c2 := h.mustCall("POST", "/v1/messages", "dave", body)
	if c1["message_id"] != c2["message_id"] {
		t.Fatalf("client retry: %v then %v", c1, c2)
	}
	c := h.connect("bob", "pixel")
	c.message("inbox", 1)
	c.message("inbox", 2)
	if m := c.message("inbox", 3); m["from"] != "dave" {
		t.Fatalf("client message from = %v", m["from"])
	}
	if extra := c.sync(); len(extra) != 0 {
		t.Fatalf("duplicates delivered: %v", extra)
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.FCM, tok); n != 1 {
		t.Fatalf("pushes = %d, want 1", n)
	}
}

func TestRestartKeepsBindingsMessagesAndCursors(t *testing.T) {
	h := startDaemon(t)
	tok := apnsToken(11)
	h.bind("bob", "iphone", push.APNs, tok)
	for i := 1; i <= 3; i++ {
		h.send("alice", "bob", "m"+strconv.Itoa(i), nil)
	}
	c := h.connect("bob", "iphone")
	c.message("inbox", 1)
	c.ack("inbox", 1)
	c.sync()
	c.close()
	h.restart()
	if devs := h.devices("bob"); len(devs) != 1 || devs[0]["push_id"] == "" {
		t.Fatalf("bindings after restart: %v", devs)
	}
	c = h.connect("bob", "iphone")
	c.message("inbox", 2)
	c.message("inbox", 3)
	if a := h.send("alice", "bob", "m4", pushCfg{"title": "t", "content": "c"}); a["seq"].(float64) != 4 {
		t.Fatalf("seq after restart = %v, want 4", a["seq"])
	}
}

func TestHealthReadyMetricsOpenAPI(t *testing.T) {
	h := startDaemon(t)
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json"} {
		if st, out := h.call("GET", p, "", nil); st != 200 {
			t.Errorf("%s: %d %v", p, st, out)
		}
	}
	_, doc := h.call("GET", "/openapi.json", "", nil)
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/devices", "/v1/devices/{push_id}", "/v1/logout", "/v1/badge", "/v1/connect", "/v1/messages", "/v1/messages/batch", "/v1/users/{user_id}/devices", "/v1/users/{user_id}/devices/{push_id}", "/v1/users/{user_id}/logout", "/v1/users/{user_id}/streams", "/v1/overview", "/api/push", "/console/", "/v1/push/test", "/healthz", "/readyz", "/metrics"} {
		if paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
	h.send("alice", "bob", "x", nil)
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(raw), `pushd_messages_accepted_total{kind="peer"} 1`) {
		t.Errorf("metrics lack the accepted message:\n%s", raw)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestIdleUserActorsPassivateAndComeBack(t *testing.T) {
	// The idle checks run on the test clock; the wall clock never reaches
	// the idle timeout during the test, so a check runs when the test
	// advances the clock and only then.
	const idle = time.Minute
	h := startDaemon(t, func(c *configT) { c.UserIdleTimeout = durationT(idle) })
	tok := "fcm-idle"
	h.bind("bob", "pixel", push.FCM, tok)
	h.send("alice", "bob", "m1", nil)
	h.send("alice", "bob", "m2", pushCfg{"title": "t", "content": "c"})
	h.records(push.FCM, tok, 1)
	// Every user actor stops once idle: only Pebble holds them. An actor
	// that was busy at one check goes at a later one.
	h.eventually("user actors passivated", func() bool {
		h.clock.Advance(idle)
		return activeUsers(h) == 0
	})
	// ...and comes back with its state: bindings, seq, pushes.
	if a := h.send("alice", "bob", "m3", pushCfg{"title": "t", "content": "c"}); a["seq"].(float64) != 3 {
		t.Fatalf("seq after passivation = %v, want 3", a["seq"])
	}
	h.records(push.FCM, tok, 2)
	c := h.connect("bob", "pixel")
	for i := 1; i <= 3; i++ {
		c.message("inbox", i)
	}
	// A connected user is not passivated however idle it is. Bob's is the
	// only actor with an idle check now; a check that keeps the actor sets
	// the next one, so each new check armed is one answered without a
	// passivation. The first still sees the connection's messages; the next
	// ones find bob idle but connected.
	c.sync()
	for i := 1; i <= 3; i++ {
		h.clock.Advance(idle)
		h.eventually("bob's next idle check, or his passivation", func() bool {
			return h.clock.Armed(idle) == 1 || activeUsers(h) == 0
		})
		if activeUsers(h) == 0 {
			t.Fatalf("a user with a live connection was passivated at idle check %d", i)
		}
	}
}

func activeUsers(h *harness) float64 {
	v, _ := h.metric("pushd_active_users")
	return v
}

func TestServerClosesKickedConnections(t *testing.T) {
	// The heartbeat timeout is longer than every wait here: a connection that
	// ends did so because the server closed it.
	h := startDaemon(t, func(c *configT) { c.HeartbeatTimeout = durationT(time.Hour) })
	c := h.connect("bob", "phone")
	c.sync()
	h.mustCall("POST", "/v1/logout", "bob", map[string]any{"device_id": "phone"})
	if f := c.next(); f["type"] != "kicked" || f["reason"] != "logout" {
		t.Fatalf("got %v, want kicked/logout", f)
	}
	expectClosed(t, c)

	c = h.connect("bob", "phone")
	c.sync()
	h.stop()
	if f := c.next(); f["type"] != "kicked" || f["reason"] != "server_shutdown" {
		t.Fatalf("got %v, want kicked/server_shutdown", f)
	}
	expectClosed(t, c)
}

// expectClosed reads until the server's close; a read deadline means it never came.
func expectClosed(t *testing.T, c *wsClient) {
	t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			t.Fatal("the server did not close the connection")
		}
		return
	}
}

// TestInboxKeepsTheNewestMaxPerStream: a device that comes back to a full
// inbox drains only the newest offline_max_per_stream messages, before and
// after a restart, while Pebble holds at most trimRun more.
func TestInboxKeepsTheNewestMaxPerStream(t *testing.T) {
	const keep, sent = 5, 150
	h := startDaemon(t, func(c *config.Config) { c.OfflineMaxPerStream = keep })
	for i := 1; i <= sent; i++ {
		h.send("alice", "bob", "m"+strconv.Itoa(i), nil)
	}
	h.drainsOnly("bob", "phone", "inbox", sent-keep+1, sent)
	h.restart()
	h.drainsOnly("bob", "tablet", "inbox", sent-keep+1, sent)
	stored := 0
	if err := h.d.Store().ReadStream(daemon.DemoAppID, "bob", "inbox", 0, 0, func(*wire.Message) bool { stored++; return true }); err != nil {
		t.Fatal(err)
	}
	if stored > keep+64 {
		t.Fatalf("%d messages still stored, want at most %d", stored, keep+64)
	}
}
