package daemon_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pushd-im/pushd/push"
)

// invite makes a client call invitation by inviter and returns the call id.
func (h *harness) invite(inviter string, body map[string]any) string {
	h.t.Helper()
	out := h.mustCall("POST", "/v1/calls", inviter, body)
	id, _ := out["call_id"].(string)
	if id == "" {
		h.t.Fatalf("invite answered %v: no call_id", out)
	}
	want := 90.0
	if to, ok := body["timeout"].(int); ok {
		want = float64(to)
	}
	if out["timeout"] != want {
		h.t.Fatalf("invite answered timeout %v, want %v", out["timeout"], want)
	}
	return id
}

// answer makes an invitee (or inviter) act on a call: action is accept, reject or cancel.
func (h *harness) answer(user, callID, action string, body map[string]any) {
	h.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	h.mustCall("POST", "/v1/calls/"+callID+"/"+action, user, body)
}

// callStatus is the status and error code of an action on a call.
func (h *harness) callStatus(user, callID, action string, body any) (int, string, string) {
	h.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	st, out := h.call("POST", "/v1/calls/"+callID+"/"+action, user, body)
	code, _ := dig(out, "error", "code").(string)
	msg, _ := dig(out, "error", "message").(string)
	return st, code, msg
}

// checkReceived checks a call_invitation_received frame against the invitation.
func checkReceived(t *testing.T, who string, f map[string]any, callID, inviter string, invitees []string, mode int, ext string, timeout int) {
	t.Helper()
	sorted := append([]string(nil), invitees...)
	sort.Strings(sorted)
	ts, _ := f["timestamp"].(float64)
	now := float64(time.Now().UnixMilli())
	if f["type"] != "call_invitation_received" || f["call_id"] != callID || f["inviter"] != inviter ||
		strings.Join(strs(f["invitees"]), ",") != strings.Join(sorted, ",") || fmt.Sprint(f["mode"]) != fmt.Sprint(mode) ||
		f["extended_data"] != ext || f["timeout"] != float64(timeout) || ts < now-60e3 || ts > now+5e3 {
		t.Fatalf("%s: call_invitation_received = %v; want call %s from %s to %v, mode %d, extended_data %q, timeout %d",
			who, f, callID, inviter, sorted, mode, ext, timeout)
	}
}

// checkEvent checks a call event frame's type, call id and fields.
func checkEvent(t *testing.T, who string, f map[string]any, typ, callID string, fields map[string]any) {
	t.Helper()
	ok := f["type"] == typ && f["call_id"] == callID && f["stream"] == "inbox" && frameSeq(f) > 0
	for k, v := range fields {
		if f[k] != v {
			ok = false
		}
	}
	if !ok {
		t.Fatalf("%s: got %v, want %s of call %s with %v", who, f, typ, callID, fields)
	}
}

// online connects each "user/device" and syncs it: connected, drained, online.
func (h *harness) online(devices ...string) []*wsClient {
	h.t.Helper()
	cs := make([]*wsClient, len(devices))
	for i, ud := range devices {
		user, device, _ := strings.Cut(ud, "/")
		cs[i] = h.connect(user, device)
	}
	for _, c := range cs {
		c.sync()
	}
	return cs
}

// wantCallEnded checks that user's action on the call is refused as 409 call_ended.
func (h *harness) wantCallEnded(user, callID, action string, body any) {
	h.t.Helper()
	if st, code, _ := h.callStatus(user, callID, action, body); st != http.StatusConflict || code != "call_ended" {
		h.t.Errorf("%s %s on call %s: %d %s, want 409 call_ended", user, action, callID, st, code)
	}
}

// callSettled returns once the call's actor has handled everything sent to it
// before, its timer included: it answers an outsider's accept (refused) in
// turn, and stores the events of what came before in the inboxes first.
func (h *harness) callSettled(callID string) {
	h.t.Helper()
	if st, _, _ := h.callStatus("outsider", callID, "accept", nil); st != http.StatusForbidden && st != http.StatusConflict {
		h.t.Fatalf("outsider accepts call %s: %d, want 403 or 409", callID, st)
	}
}

// nextInInbox sends user a message and checks it is c's next frame, at inbox
// seq: no event was stored in user's inbox before it (after callSettled).
func (h *harness) nextInInbox(c *wsClient, user string, seq int) {
	h.t.Helper()
	h.send("marker", user, "marker", nil)
	f := c.next()
	if f["type"] != "message" || f["stream"] != "inbox" || frameSeq(f) != seq {
		h.t.Fatalf("%s: got %v, want nothing before the marker message inbox#%d", user, f, seq)
	}
	c.ack("inbox", seq)
}

// inviterTimeouts reads n call_invitation_timeout frames of the call on the
// inviter's connection, acks each and returns the invitees they name, sorted.
func inviterTimeouts(t *testing.T, c *wsClient, callID string, n int) []string {
	t.Helper()
	var timedOut []string
	for i := 0; i < n; i++ {
		f := c.expect("call_invitation_timeout")
		checkEvent(t, "inviter", f, "call_invitation_timeout", callID, nil)
		inv, _ := f["invitee"].(string)
		timedOut = append(timedOut, inv)
		c.ackFrame(f)
	}
	sort.Strings(timedOut)
	return timedOut
}

var voipCfg = pushCfg{
	"title": "Alice", "content": "video call", "payload": `{"room":"r1"}`,
	"voip": map[string]any{"handle_type": 2, "handle_value": "alice@example.com", "has_video": true},
}

func TestCallInviteOnlineFrameOfflineVoIPPush(t *testing.T) {
	h := startDaemon(t, patientAcks)
	bobTok, carolVoIP, carolFCM := "fcm-bob-call", apnsToken(500), "fcm-carol-call"
	h.bind("bob", "phone", push.FCM, bobTok)
	h.bind("carol", "iphone", push.APNs, carolVoIP, map[string]any{"push_type": "voip"})
	h.bind("carol", "pixel", push.FCM, carolFCM)
	cs := h.online("alice/phone", "bob/phone")
	alice, bob := cs[0], cs[1]

	call := h.invite("alice", map[string]any{"invitees": []string{"bob", "carol"}, "timeout": 60, "mode": 1, "extended_data": "ext-1", "push_config": voipCfg})

	// The online invitee gets the invitation over its connection, in its inbox.
	f := bob.expect("call_invitation_received")
	checkReceived(t, "bob", f, call, "alice", []string{"bob", "carol"}, 1, "ext-1", 60)
	if frameSeq(f) != 1 {
		t.Errorf("bob's first inbox frame has seq %d, want 1", frameSeq(f))
	}
	bob.ackFrame(f)

	// The offline invitee's iPhone gets a VoIP push with the CallKit handle.
	v := h.records(push.APNs, carolVoIP, 1)[0]
	if v.Status != 200 {
		t.Fatalf("voip push answered %d %s", v.Status, v.Reason)
	}
	bundle := h.sim().Credentials().APNs.BundleID
	if v.Headers["apns-push-type"] != "voip" || v.Headers["apns-topic"] != bundle+".voip" {
		t.Errorf("voip push headers: apns-push-type %q, apns-topic %q; want voip, %s.voip", v.Headers["apns-push-type"], v.Headers["apns-topic"], bundle)
	}
	vb := jsonBody(t, v)
	if vb["handle_type"] != float64(2) || vb["handle_value"] != "alice@example.com" || vb["has_video"] != true || vb["call_id"] != call {
		t.Errorf("voip payload = %s; want handle_type 2, handle_value alice@example.com, has_video true, call_id %s", v.Body, call)
	}
	// Its Android phone gets an alert push with the title and content.
	fr := h.records(push.FCM, carolFCM, 1)[0]
	fb := jsonBody(t, fr)
	if fr.Status != 200 || dig(fb, "message", "notification", "title") != "Alice" || dig(fb, "message", "notification", "body") != "video call" {
		t.Errorf("fcm invitation push: %d %s", fr.Status, fr.Body)
	}
	if dig(fb, "message", "data", "call_id") != call {
		t.Errorf("fcm invitation push data lacks call_id %s: %v", call, dig(fb, "message", "data"))
	}

	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.FCM, bobTok); n != 0 {
		t.Errorf("the online invitee that acked was pushed %d times", n)
	}
	if n, m := h.countRecords(push.APNs, carolVoIP), h.countRecords(push.FCM, carolFCM); n != 1 || m != 1 {
		t.Errorf("offline invitee pushed %d (voip) and %d (fcm) times, want 1 and 1", n, m)
	}
	bob.quiet("bob")
	alice.quiet("alice (nothing until someone answers)")
}

func TestCallAcceptNotifiesInviterAndOtherDevices(t *testing.T) {
	h := startDaemon(t)
	cs := h.online("alice/phone", "bob/phone", "bob/tablet", "carol/phone")
	alice, bobPhone, bobTablet, carol := cs[0], cs[1], cs[2], cs[3]
	call := h.invite("alice", map[string]any{"invitees": []string{"bob", "carol"}, "timeout": 60})
	for who, c := range map[string]*wsClient{"bob/phone": bobPhone, "bob/tablet": bobTablet, "carol": carol} {
		f := c.expect("call_invitation_received")
		checkReceived(t, who, f, call, "alice", []string{"bob", "carol"}, 0, "", 60)
		c.ackFrame(f)
	}

	h.answer("bob", call, "accept", map[string]any{"device_id": "phone", "extended_data": "on my way"})
	f := alice.expect("call_invitation_accepted")
	checkEvent(t, "alice", f, "call_invitation_accepted", call, map[string]any{"invitee": "bob", "extended_data": "on my way"})
	alice.ackFrame(f)
	f = bobTablet.expect("call_invitation_accepted")
	checkEvent(t, "bob/tablet", f, "call_invitation_accepted", call, map[string]any{"invitee": "bob"})
	bobTablet.ackFrame(f)
	bobPhone.quiet("bob/phone (it answered itself)")
	bobTablet.quiet("bob/tablet")

	// Bob answered: he cannot answer again; the call still rings for carol.
	for _, action := range []string{"accept", "reject"} {
		h.wantCallEnded("bob", call, action, nil)
	}
	// A device of bob's that connects now does not ring: it gets the accept only.
	watch := h.connect("bob", "watch")
	f = watch.expect("call_invitation_accepted")
	checkEvent(t, "bob/watch", f, "call_invitation_accepted", call, map[string]any{"invitee": "bob"})
	if frameSeq(f) != 2 {
		t.Errorf("bob/watch: accept has seq %d, want 2 (the invitation's seq 1 skipped)", frameSeq(f))
	}
	watch.quiet("bob/watch")

	// Carol answers too: every invitee answered, the call ended.
	h.answer("carol", call, "accept", map[string]any{"device_id": "phone"})
	f = alice.expect("call_invitation_accepted")
	checkEvent(t, "alice", f, "call_invitation_accepted", call, map[string]any{"invitee": "carol"})
	alice.ackFrame(f)
	alice.quiet("alice")
	h.wantCallEnded("alice", call, "cancel", nil)
	h.wantCallEnded("carol", call, "accept", nil)
}

func TestCallRejectNotifiesInviterAndOtherDevices(t *testing.T) {
	h := startDaemon(t)
	cs := h.online("alice/phone", "bob/phone", "bob/tablet")
	alice, bobPhone, bobTablet := cs[0], cs[1], cs[2]
	call := h.invite("alice", map[string]any{"invitees": []string{"bob"}, "timeout": 3, "mode": 0})
	for _, c := range []*wsClient{bobPhone, bobTablet} {
		c.ackFrame(c.expect("call_invitation_received"))
	}
	h.answer("bob", call, "reject", map[string]any{"device_id": "tablet", "extended_data": "busy"})
	fa := alice.expect("call_invitation_rejected")
	checkEvent(t, "alice", fa, "call_invitation_rejected", call, map[string]any{"invitee": "bob", "extended_data": "busy"})
	alice.ackFrame(fa)
	fb := bobPhone.expect("call_invitation_rejected")
	checkEvent(t, "bob/phone", fb, "call_invitation_rejected", call, map[string]any{"invitee": "bob"})
	bobPhone.ackFrame(fb)
	bobTablet.quiet("bob/tablet (it answered itself)")

	// The only invitee answered: the call ended.
	for _, c := range []struct{ user, action string }{{"bob", "accept"}, {"bob", "reject"}, {"alice", "cancel"}} {
		h.wantCallEnded(c.user, call, c.action, nil)
	}
	// An answered call does not time out later: past its 3 s timeout, nobody
	// gets a timeout event before a message sent afterwards.
	h.clock.Advance(4 * time.Second)
	h.callSettled(call)
	h.nextInInbox(alice, "alice", frameSeq(fa)+1)
	h.nextInInbox(bobPhone, "bob", frameSeq(fb)+1)
	alice.quiet("alice after the timeout of an answered call")
	bobPhone.quiet("bob/phone after the timeout of an answered call")
}

func TestCallCancelNotifiesRingingInviteesAndPushesOffline(t *testing.T) {
	h := startDaemon(t, patientAcks)
	bobTok, carolVoIP, carolFCM := "fcm-bob-cancel", apnsToken(501), "fcm-carol-cancel"
	h.bind("bob", "phone", push.FCM, bobTok)
	h.bind("carol", "iphone", push.APNs, carolVoIP, map[string]any{"push_type": "voip"})
	h.bind("carol", "pixel", push.FCM, carolFCM)
	bob := h.online("alice/phone", "bob/phone")[1]

	call := h.invite("alice", map[string]any{"invitees": []string{"bob", "carol"}, "timeout": 60, "push_config": voipCfg})
	bob.ackFrame(bob.expect("call_invitation_received"))
	h.records(push.APNs, carolVoIP, 1)
	h.records(push.FCM, carolFCM, 1)

	h.answer("alice", call, "cancel", map[string]any{"extended_data": "bye", "push_config": pushCfg{"title": "Alice", "content": "call cancelled"}})
	f := bob.expect("call_invitation_cancelled")
	checkEvent(t, "bob", f, "call_invitation_cancelled", call, map[string]any{"inviter": "alice", "extended_data": "bye"})
	bob.ackFrame(f)

	// The offline invitee, still ringing, is pushed the cancellation.
	r := h.records(push.FCM, carolFCM, 2)[1]
	rb := jsonBody(t, r)
	if r.Status != 200 || dig(rb, "message", "notification", "body") != "call cancelled" || dig(rb, "message", "data", "call_id") != call {
		t.Errorf("cancel push to the offline invitee: %d %s", r.Status, r.Body)
	}
	h.eventually("outbox empty", func() bool { return h.outboxLen() == 0 })
	if n := h.countRecords(push.FCM, bobTok); n != 0 {
		t.Errorf("the online invitee was pushed %d times", n)
	}
	if n := h.countRecords(push.FCM, carolFCM); n != 2 {
		t.Errorf("carol's android pushed %d times, want 2 (invitation, cancellation)", n)
	}
	t.Logf("carol's voip token got %d pushes (invitation, and the cancellation if VoIP is used for it)", h.countRecords(push.APNs, carolVoIP))

	// Carol connects after the cancel: no ringing, only the cancellation.
	carol := h.connect("carol", "pixel")
	f = carol.expect("call_invitation_cancelled")
	checkEvent(t, "carol", f, "call_invitation_cancelled", call, map[string]any{"inviter": "alice", "extended_data": "bye"})
	if frameSeq(f) != 2 {
		t.Errorf("carol's cancellation has seq %d, want 2 (the invitation's seq 1 skipped)", frameSeq(f))
	}
	carol.quiet("carol")
	bob.quiet("bob")

	h.wantCallEnded("alice", call, "cancel", nil)
	h.wantCallEnded("carol", call, "accept", map[string]any{"device_id": "pixel"})
}

func TestCallTimeoutNotifiesInviteesAndInviterPerUnanswered(t *testing.T) {
	h := startDaemon(t)
	cs := h.online("alice/phone", "bob/phone", "carol/phone")
	alice, bob, carol := cs[0], cs[1], cs[2]
	call := h.invite("alice", map[string]any{"invitees": []string{"bob", "carol", "dave"}, "timeout": 3})
	bob.ackFrame(bob.expect("call_invitation_received"))
	fc := carol.expect("call_invitation_received")
	carol.ackFrame(fc)
	h.answer("bob", call, "accept", map[string]any{"device_id": "phone"})
	f := alice.expect("call_invitation_accepted")
	checkEvent(t, "alice", f, "call_invitation_accepted", call, map[string]any{"invitee": "bob"})
	alice.ackFrame(f)

	// Carol (online) and dave (offline) never answer. 2.5 s on, the 3 s call
	// still rings: no timeout before a message sent afterwards.
	h.clock.Advance(2500 * time.Millisecond)
	h.callSettled(call)
	h.nextInInbox(carol, "carol", frameSeq(fc)+1)
	h.clock.Advance(time.Second)
	f = carol.expect("call_invitation_timeout")
	checkEvent(t, "carol", f, "call_invitation_timeout", call, map[string]any{"inviter": "alice"})
	carol.ackFrame(f)

	// The inviter gets one timeout per invitee who never answered: carol and dave.
	if timedOut := inviterTimeouts(t, alice, call, 2); strings.Join(timedOut, ",") != "carol,dave" {
		t.Errorf("inviter's timeouts name %v, want carol and dave", timedOut)
	}
	alice.quiet("alice")
	bob.quiet("bob (answered: no timeout)")
	carol.quiet("carol")

	// Dave connects after the timeout: no ringing, only the timeout.
	dave := h.connect("dave", "phone")
	f = dave.expect("call_invitation_timeout")
	checkEvent(t, "dave", f, "call_invitation_timeout", call, map[string]any{"inviter": "alice"})
	if frameSeq(f) != 2 {
		t.Errorf("dave's timeout has seq %d, want 2 (the invitation's seq 1 skipped)", frameSeq(f))
	}
	dave.quiet("dave")
	h.wantCallEnded("carol", call, "accept", nil)
}

func TestCallRedeliveryOnConnectOnlyWhileRinging(t *testing.T) {
	h := startDaemon(t)
	call := h.invite("alice", map[string]any{"invitees": []string{"bob", "carol"}, "timeout": 60, "mode": 1, "extended_data": "x"})

	// Bob connects while it rings, from two devices: each gets the invitation.
	phone := h.connect("bob", "phone")
	f := phone.expect("call_invitation_received")
	checkReceived(t, "bob/phone", f, call, "alice", []string{"bob", "carol"}, 1, "x", 60)
	if frameSeq(f) != 1 {
		t.Errorf("seq %d, want 1", frameSeq(f))
	}
	phone.quiet("bob/phone")
	tablet := h.connect("bob", "tablet")
	checkReceived(t, "bob/tablet", tablet.expect("call_invitation_received"), call, "alice", []string{"bob", "carol"}, 1, "x", 60)
	tablet.quiet("bob/tablet")
	// Unacked and still ringing: a reconnect rings again.
	phone.close()
	phone = h.connect("bob", "phone")
	phone.ackFrame(phone.expect("call_invitation_received"))
	phone.sync()

	h.answer("alice", call, "cancel", map[string]any{"extended_data": "sorry"})
	for who, c := range map[string]*wsClient{"bob/phone": phone, "bob/tablet": tablet} {
		checkEvent(t, who, c.expect("call_invitation_cancelled"), "call_invitation_cancelled", call, map[string]any{"inviter": "alice", "extended_data": "sorry"})
	}
	// After the end, nobody rings: carol (never connected) and a new device of bob's
	// get the cancellation only, with the invitation's seq skipped.
	for _, u := range []struct{ user, device string }{{"carol", "phone"}, {"bob", "watch"}} {
		c := h.connect(u.user, u.device)
		f := c.expect("call_invitation_cancelled")
		checkEvent(t, u.user+"/"+u.device, f, "call_invitation_cancelled", call, map[string]any{"inviter": "alice"})
		if frameSeq(f) != 2 {
			t.Errorf("%s/%s: cancellation seq %d, want 2", u.user, u.device, frameSeq(f))
		}
		c.quiet(u.user + "/" + u.device)
		c.close()
	}
	// Bob's tablet never acked: reconnecting it brings the cancellation, not the invitation.
	tablet.close()
	tablet = h.connect("bob", "tablet")
	checkEvent(t, "bob/tablet", tablet.expect("call_invitation_cancelled"), "call_invitation_cancelled", call, nil)
	tablet.quiet("bob/tablet")

	// A second call that bob answers: his new device gets neither invitation, only
	// the cancellation of the first and the accept of the second.
	call2 := h.invite("alice", map[string]any{"invitees": []string{"bob"}, "timeout": 60})
	checkReceived(t, "bob/phone", phone.expect("call_invitation_received"), call2, "alice", []string{"bob"}, 0, "", 60)
	h.answer("bob", call2, "accept", map[string]any{"device_id": "phone"})
	desk := h.connect("bob", "desk")
	f = desk.expect("call_invitation_cancelled")
	checkEvent(t, "bob/desk", f, "call_invitation_cancelled", call, nil)
	f2 := desk.expect("call_invitation_accepted")
	checkEvent(t, "bob/desk", f2, "call_invitation_accepted", call2, map[string]any{"invitee": "bob"})
	if frameSeq(f) != 2 || frameSeq(f2) != 4 {
		t.Errorf("bob/desk: seqs %d, %d; want 2, 4", frameSeq(f), frameSeq(f2))
	}
	desk.quiet("bob/desk")
}

func TestCallRestartKeepsRingingAndFiresTimeout(t *testing.T) {
	h := startDaemon(t)
	call := h.invite("alice", map[string]any{"invitees": []string{"bob", "carol"}, "timeout": 5})
	h.restart()

	// Still ringing after the restart: a connecting invitee gets the invitation.
	bob := h.connect("bob", "phone")
	checkReceived(t, "bob", bob.expect("call_invitation_received"), call, "alice", []string{"bob", "carol"}, 0, "", 5)
	alice := h.connect("alice", "phone")
	alice.sync()

	// The timeout fires when due, after the restart.
	h.clock.Advance(5 * time.Second)
	f := bob.expect("call_invitation_timeout")
	checkEvent(t, "bob", f, "call_invitation_timeout", call, map[string]any{"inviter": "alice"})
	if timedOut := inviterTimeouts(t, alice, call, 2); strings.Join(timedOut, ",") != "bob,carol" {
		t.Errorf("inviter's timeouts name %v, want bob and carol", timedOut)
	}
	alice.quiet("alice")
	carol := h.connect("carol", "phone")
	checkEvent(t, "carol", carol.expect("call_invitation_timeout"), "call_invitation_timeout", call, nil)
	carol.quiet("carol")

	// A timeout that fell due while the daemon was down fires after the start.
	for _, c := range []*wsClient{alice, bob, carol} {
		c.close() // (a stop with connections still open waits for them)
	}
	call2 := h.invite("alice", map[string]any{"invitees": []string{"dave"}, "timeout": 60})
	h.stop()
	h.clock.Advance(61 * time.Second) // the timeout passes while stopped
	h.start()
	alice = h.connect("alice", "phone")
	f = alice.expect("call_invitation_timeout")
	checkEvent(t, "alice", f, "call_invitation_timeout", call2, map[string]any{"invitee": "dave"})
	alice.quiet("alice")
	dave := h.connect("dave", "phone")
	checkEvent(t, "dave", dave.expect("call_invitation_timeout"), "call_invitation_timeout", call2, map[string]any{"inviter": "alice"})
	dave.quiet("dave")
}

func TestCallErrors(t *testing.T) {
	h := startDaemon(t)
	call := h.invite("alice", map[string]any{"invitees": []string{"bob", "carol"}})
	// Default timeout: 90 s (checked by invite).

	for _, c := range []struct {
		name, user, callID, action string
		status                     int
	}{
		{"non-inviter cancels", "bob", call, "cancel", 403},
		{"outsider cancels", "dave", call, "cancel", 403},
		{"non-invitee accepts", "dave", call, "accept", 403},
		{"non-invitee rejects", "dave", call, "reject", 403},
		{"inviter accepts its own call", "alice", call, "accept", 403},
		{"unknown call accept", "bob", "nosuchcall", "accept", 404},
		{"unknown call reject", "bob", "nosuchcall", "reject", 404},
		{"unknown call cancel", "alice", "nosuchcall", "cancel", 404},
	} {
		if st, code, _ := h.callStatus(c.user, c.callID, c.action, nil); st != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, st, code, c.status)
		}
	}
	// Servers do not answer calls for users.
	if st, _, _ := h.callStatus("key", call, "accept", nil); st != http.StatusForbidden {
		t.Errorf("server accepting a call: %d, want 403", st)
	}

	nine := users("friend", 0, 9)
	bad := []struct {
		name, auth string
		body       any
		field      string
	}{
		{"invite self", "alice", map[string]any{"invitees": []string{"alice"}}, "invitees"},
		{"invite self among others", "alice", map[string]any{"invitees": []string{"bob", "alice"}}, "invitees"},
		{"ten invitees", "alice", map[string]any{"invitees": append(append([]string(nil), nine...), "bob")}, "invitees"},
		{"duplicate invitees", "alice", map[string]any{"invitees": []string{"bob", "carol", "bob"}}, "invitees"},
		{"no invitees", "alice", map[string]any{"invitees": []string{}}, "invitees"},
		{"missing invitees", "alice", map[string]any{"timeout": 30}, "invitees"},
		{"bad invitee id", "alice", map[string]any{"invitees": []string{"bob", "c d"}}, "invitees"},
		{"timeout 0", "alice", map[string]any{"invitees": []string{"bob"}, "timeout": 0}, "timeout"},
		{"timeout over an hour", "alice", map[string]any{"invitees": []string{"bob"}, "timeout": 3601}, "timeout"},
		{"timeout not a number", "alice", map[string]any{"invitees": []string{"bob"}, "timeout": "60"}, "timeout"},
		{"bad mode", "alice", map[string]any{"invitees": []string{"bob"}, "mode": 2}, "mode"},
		{"extended_data too long", "alice", map[string]any{"invitees": []string{"bob"}, "extended_data": strings.Repeat("e", 4097)}, "extended_data"},
		{"unknown field", "alice", map[string]any{"invitees": []string{"bob"}, "ringtone": "x"}, "ringtone"},
		{"bad push_config", "alice", map[string]any{"invitees": []string{"bob"}, "push_config": map[string]any{"voip": map[string]any{"has_video": "yes"}}}, "push_config.voip.has_video"},
		{"not json", "alice", "{nope", "body"},
		{"server without from", "key", map[string]any{"invitees": []string{"bob"}}, "from"},
		{"server inviting from itself", "key", map[string]any{"from": "bob", "invitees": []string{"bob"}}, "invitees"},
	}
	for _, c := range bad {
		st, out := h.call("POST", "/v1/calls", c.auth, c.body)
		msg, _ := dig(out, "error", "message").(string)
		if st != http.StatusBadRequest || !strings.Contains(msg, c.field) {
			t.Errorf("%s: %d %v, want 400 naming %q", c.name, st, out, c.field)
		}
	}
	for _, c := range []struct {
		name, user, action string
		body               any
		field              string
	}{
		{"accept with an unknown field", "bob", "accept", map[string]any{"colour": "red"}, "colour"},
		{"reject with a bad device id", "bob", "reject", map[string]any{"device_id": "a b"}, "device_id"},
		{"cancel with a long extended_data", "alice", "cancel", map[string]any{"extended_data": strings.Repeat("e", 4097)}, "extended_data"},
	} {
		st, _, msg := h.callStatus(c.user, call, c.action, c.body)
		if st != http.StatusBadRequest || !strings.Contains(msg, c.field) {
			t.Errorf("%s: %d %q, want 400 naming %q", c.name, st, msg, c.field)
		}
	}

	// The limits themselves are fine: nine invitees, an hour, 4096 bytes; a server names the inviter.
	h.invite("alice", map[string]any{"invitees": nine, "timeout": 3600, "mode": 1, "extended_data": strings.Repeat("e", 4096)})
	out := h.mustCall("POST", "/v1/calls", "key", map[string]any{"from": "erin", "invitees": []string{"frank"}, "timeout": 30})
	server, _ := out["call_id"].(string)
	if server == "" || out["timeout"] != float64(30) {
		t.Fatalf("server invite answered %v", out)
	}
	frank := h.connect("frank", "phone")
	checkReceived(t, "frank", frank.expect("call_invitation_received"), server, "erin", []string{"frank"}, 0, "", 30)
	if st, _, _ := h.callStatus("frank", server, "accept", map[string]any{}); st != http.StatusOK {
		t.Errorf("accept with an empty body: %d", st)
	}

	// The earlier refusals left the first call ringing: bob can still answer it.
	h.answer("bob", call, "reject", nil)
	h.answer("carol", call, "accept", nil)
	h.wantCallEnded("bob", call, "accept", nil)
}
