package daemon_test

import (
	"context"
	"testing"
	"time"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/daemon"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// commitRaw writes straight to the daemon's store, to leave it as a crash or
// a fault on the other side would.
func (h *harness) commitRaw(fill func(b *storage.Batch)) {
	h.t.Helper()
	st := h.d.Store()
	b := st.NewBatch()
	fill(b)
	if err := st.Commit(b, true); err != nil {
		h.t.Fatal(err)
	}
}

// A member removed from a group does not replay the group's stream on its
// next connect, even when its own index of groups still names the group (as a
// crash between the group's write and the member's left it): the group's
// members are checked at replay. Removing it again answers the same.
func TestRemovedMemberDoesNotReplayTheGroup(t *testing.T) {
	h := startDaemon(t, patientAcks)
	h.putGroup("team", []string{"alice", "bob"})
	h.sendGroup("alice", "team", "before", nil)
	if n := h.groupMembers("DELETE", "team", "bob"); n != 1 {
		t.Fatalf("members after removing bob = %d", n)
	}
	// The member-side index as it was before the removal.
	h.commitRaw(func(b *storage.Batch) { b.SetUserGroup(daemon.DemoAppID, "bob", "team", 0) })
	h.sendGroup("alice", "team", "after", nil)

	bob := h.connect("bob", "phone")
	bob.quiet("bob, removed from team")

	// Removing twice is fine and answers the same.
	if n := h.groupMembers("DELETE", "team", "bob"); n != 1 {
		t.Fatalf("members after removing bob again = %d", n)
	}
	// A member still replays the group.
	carol := h.connect("alice", "tablet")
	carol.message("group:team", 1)
	carol.message("group:team", 2)
	carol.quiet("alice")
}

// A membership change whose tell to the member's keys did not happen (the
// group's batch was written and the process stopped) is told when the
// group's shard is taken again, at start, and its record is then cleared.
func TestPendingMemberTellResumesAtStart(t *testing.T) {
	h := startDaemon(t, patientAcks)
	h.putGroup("team", []string{"alice", "bob"})
	h.commitRaw(func(b *storage.Batch) {
		// What the group's batch holds after bob's removal, with the tell
		// to bob's keys not done.
		b.RemoveMember(daemon.DemoAppID, "team", "bob")
		b.PutMemberTell(&wire.Membership{App: daemon.DemoAppID, Group: "team", Users: []string{"bob"}})
	})
	h.restart()
	st := h.d.Store()
	h.eventually("bob's index forgets team and the tell is cleared", func() bool {
		groups, err := st.UserGroups(daemon.DemoAppID, "bob")
		must(t, err)
		n := 0
		must(t, st.MemberTells(daemon.DemoAppID, "team", func(*wire.Membership) bool { n++; return true }))
		_, still := groups["team"]
		return !still && n == 0
	})
}

// A call's ending survives a receiver that cannot take it: the cancel is
// answered once stored, with its event, and the event is delivered when the
// receiver's store works again, across a restart in between. The invitee's
// "ringing" record goes, and its connect replays the cancellation, not the
// invitation.
func TestCallEndingDeliveredAfterFailureAndRestart(t *testing.T) {
	h := startDaemon(t, patientAcks)
	app := daemon.DemoAppID
	call := h.invite("alice", map[string]any{"invitees": []string{"bob"}, "timeout": 600})
	st := h.d.Store()
	if r, err := st.Ringing(app, "bob"); err != nil || r[call] == 0 {
		t.Fatalf("bob's ringing calls = %v, %v; want %s", r, err, call)
	}
	// A fault in bob's keys: a cursor with no device id, which his actor
	// cannot load, so it refuses every request until it is gone.
	h.commitRaw(func(b *storage.Batch) { b.SetCursor(app, "bob", "", "inbox", 1) })
	h.restart()

	h.answer("alice", call, "cancel", nil)
	pending := func() int {
		n := 0
		must(t, h.d.Store().CallEvents(app, call, func(uint64, *wire.CallEvent) bool { n++; return true }))
		return n
	}
	if n := pending(); n != 1 {
		t.Fatalf("pending call events after a cancel bob could not take = %d, want 1", n)
	}
	h.restart()
	if n := pending(); n != 1 {
		t.Fatalf("pending call events after a restart = %d, want 1", n)
	}
	if r, err := h.d.Store().Ringing(app, "bob"); err != nil || r[call] == 0 {
		t.Fatalf("bob's ringing calls before his store heals = %v, %v", r, err)
	}

	h.commitRaw(func(b *storage.Batch) { b.DeleteCursors(app, "bob", "") })
	h.eventually("the cancellation reaches bob", func() bool {
		h.clock.Advance(time.Minute) // the next retry, whatever its backoff
		r, err := h.d.Store().Ringing(app, "bob")
		must(t, err)
		return len(r) == 0 && pending() == 0
	})
	bob := h.connect("bob", "phone")
	f := bob.expect("call_invitation_cancelled")
	checkEvent(t, "bob", f, "call_invitation_cancelled", call, map[string]any{"inviter": "alice"})
	bob.quiet("bob (the invitation is not replayed, the cancellation once)")
}

// A call event that comes again (the call retries one whose answer it did not
// get) is stored once: the second time is answered with the first's place.
func TestCallEventStoredOnceWhenSentAgain(t *testing.T) {
	h := startDaemon(t, patientAcks)
	app := daemon.DemoAppID
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for i := 0; i < 2; i++ {
		ev := &wire.CallEvent{StopRinging: true, Message: &wire.Message{App: app, From: "alice", To: "bob", Type: 2,
			Event: "call_invitation_cancelled", CallId: "c1", CallJson: `{"inviter":"alice"}`}}
		r, err := h.d.NodeForTest().Request(ctx, actors.UserKey(app, "bob"), ev)
		if err == nil {
			err = actors.ReplyError(r)
		}
		if sr, ok := r.(*wire.SendReply); err != nil || !ok || sr.Seq != 1 {
			t.Fatalf("call event, time %d: %v, %v; want stored at inbox seq 1", i+1, r, err)
		}
	}
	n := 0
	must(t, h.d.Store().ReadStream(app, "bob", "inbox", 0, ^uint64(0), func(*wire.Message) bool { n++; return true }))
	if n != 1 {
		t.Errorf("bob's inbox holds %d messages, want the event once", n)
	}
}
