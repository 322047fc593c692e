package storage

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

func TestSweep(t *testing.T) {
	s := openStore(t, "")
	msg := func(stream string, seq uint64, ts int64) *wire.Message {
		return &wire.Message{Stream: stream, Seq: seq, TimestampMs: ts}
	}
	write(t, s, func(b *Batch) {
		// bob's inbox: three old messages, then young ones.
		for i, ts := range []int64{10, 20, 30, 40, 50} {
			b.PutMessage("app", "bob", msg("inbox", uint64(i+1), ts))
		}
		// A stream whose timestamps go back after a young message: Sweep stops
		// at the first young one, so the old one after it stays.
		for i, ts := range []int64{5, 500, 6} {
			b.PutMessage("app", "bob", msg("group:g1", uint64(i+1), ts))
		}
		// bobby: all old; carol: all young.
		b.PutMessage("app", "bobby", msg("inbox", 0x2f, 1))
		b.PutMessage("app", "bobby", msg("inbox", 0x2f2f, 2))
		b.PutMessage("app", "carol", msg("inbox", 1, 100))

		b.PutIdempotency("app", "bob", "alice", "old", 10, &wire.IdempotencyRecord{Seq: 1})
		b.PutIdempotency("app", "bob", "alice", "young", 70, &wire.IdempotencyRecord{Seq: 2})
		b.PutIdempotency("app", "carol", "alice", "old", 59, &wire.IdempotencyRecord{})

		// A group: its stream and its idempotency records are swept too.
		b.PutGroup(&wire.GroupRecord{App: "app", Group: "g1"})
		b.AddMember("app", "g1", "bob")
		for i, ts := range []int64{10, 20, 400} {
			b.PutGroupMessage("app", "g1", msg("group:g1", uint64(i+1), ts))
		}
		b.PutGroupIdempotency("app", "g1", "bob", "old", 1, &wire.IdempotencyRecord{})
		b.PutGroupIdempotency("app", "g1", "bob", "young", 60, &wire.IdempotencyRecord{})
		// Fan-out chunk marks go with the messages of their time.
		// They sit in the members' shard, not the group's.
		b.MarkFanoutChunk(ShardOf(UserKey("app", "alice")), "app", "g1", 1, "alice", 10)
		b.MarkFanoutChunk(ShardOf(UserKey("app", "alice")), "app", "g1", 3, "alice", 400)

		// Everything else is left alone, whatever its age.
		b.PutBinding(&wire.Binding{App: "app", User: "bob", PushId: "p1", RegisteredAtMs: 1})
		b.SetCursor("app", "bob", "phone", "inbox", 2)
		b.SetUserGroup("app", "bob", "g1", 0)
		b.SetRinging("app", "bob", "c1", 100)
		b.PutCall(&wire.CallRecord{App: "app", CallId: "c1", CreatedAtMs: 1, TimeoutAtMs: 100})
		b.PutFanout(&wire.Fanout{App: "app", Group: "g1", Seq: 1})
		b.PutPush(&wire.PushJob{Id: 1, CreatedAtMs: 1})
		b.PutPushChunk(1, &wire.PushChunk{Id: 2, CreatedAtMs: 1})
		b.SetQuotaUsed(9, "app", "xiaomi", "2000-01-01", 5)
	})
	before := allKeys(t, s)

	res, err := s.Sweep(35, 60)
	if err != nil {
		t.Fatal(err)
	}
	gone := []string{
		string(messageKey("app", "bob", "inbox", 1)),
		string(messageKey("app", "bob", "inbox", 2)),
		string(messageKey("app", "bob", "inbox", 3)),
		string(messageKey("app", "bob", "group:g1", 1)),
		string(messageKey("app", "bobby", "inbox", 0x2f)),
		string(messageKey("app", "bobby", "inbox", 0x2f2f)),
		string(groupMessageKey("app", "g1", 1)),
		string(groupMessageKey("app", "g1", 2)),
		string(idempotencyKey("app", "bob", "alice", "old")),
		string(idempotencyKey("app", "carol", "alice", "old")),
		string(groupIdempotencyKey("app", "g1", "bob", "old")),
		string(fanoutMarkKey(ShardOf(UserKey("app", "alice")), "app", "g1", 1, "alice")),
	}
	want := SweepResult{Messages: 8, Idempotency: 3, FanoutMarks: 1, ScannedUsers: 5} // bob, bobby, carol, group g1, and g1 again in alice's shard (its marks)
	if res != want {
		t.Errorf("Sweep = %+v, want %+v", res, want)
	}
	after := allKeys(t, s)
	for _, k := range before {
		if slices.Contains(gone, k) == slices.Contains(after, k) {
			t.Errorf("key %q: swept = %v, want %v", k, !slices.Contains(after, k), slices.Contains(gone, k))
		}
	}
	if len(after) != len(before)-len(gone) {
		t.Errorf("%d keys before, %d after; want %d removed", len(before), len(after), len(gone))
	}
	if first, err := s.FirstSeq("app", "bob", "inbox"); first != 4 || err != nil {
		t.Errorf("FirstSeq(bob, inbox) after Sweep = %d, %v; want 4", first, err)
	}

	// Nothing more is old enough: a second Sweep removes nothing.
	res, err = s.Sweep(35, 60)
	if err != nil || res.Messages != 0 || res.Idempotency != 0 {
		t.Errorf("second Sweep = %+v, %v; want nothing removed", res, err)
	}
}

// TestSweepMany sweeps more records than one of its batches holds.
func TestSweepMany(t *testing.T) {
	s := openStore(t, "")
	const users, perUser = 10, 1000
	write(t, s, func(b *Batch) {
		for u := range users {
			user := fmt.Sprint("u", u)
			for i := range perUser {
				b.PutMessage("app", user, &wire.Message{Stream: "inbox", Seq: uint64(i + 1), TimestampMs: int64(i)})
				b.PutIdempotency("app", user, "x", fmt.Sprint("c", i), int64(i), &wire.IdempotencyRecord{})
			}
		}
	})
	res, err := s.Sweep(perUser-1, perUser)
	if err != nil {
		t.Fatal(err)
	}
	if want := (SweepResult{Messages: users * (perUser - 1), Idempotency: users * perUser, ScannedUsers: users}); res != want {
		t.Errorf("Sweep = %+v, want %+v", res, want)
	}
	for u := range users {
		user := fmt.Sprint("u", u)
		first, err1 := s.FirstSeq("app", user, "inbox")
		last, err2 := s.LastSeq("app", user, "inbox")
		if first != perUser || last != perUser || err1 != nil || err2 != nil {
			t.Errorf("%s after Sweep: first %d (%v), last %d (%v); want only seq %d", user, first, err1, last, err2, perUser)
		}
	}
	if keys := allKeys(t, s); len(keys) != users {
		t.Errorf("%d keys left, want %d (one young message per user)", len(keys), users)
	}
}

// TestSweepStepsOverCorruptStreamKeys stores young messages under stream keys
// no writer produces (too short to hold <stream>/<seq:be64>): Sweep must step
// over each, neither panicking, nor seeking back to the start (a hang), nor
// skipping the streams of the users after it.
func TestSweepStepsOverCorruptStreamKeys(t *testing.T) {
	young, err := proto.Marshal(&wire.Message{TimestampMs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"u///s/",        // shorter than a seq
		"u/a/b/s/",      // exactly a seq long: no prefix left before it
		"u/app/bob/s/x", // the seq would cut into the owner's prefix
	} {
		t.Run(key, func(t *testing.T) {
			s := openStore(t, "")
			rawSet(t, s, []byte(key), young)
			write(t, s, func(b *Batch) {
				b.PutMessage("app", "carol", &wire.Message{Stream: "inbox", Seq: 1, TimestampMs: 1})
			})
			var (
				res SweepResult
				err error
			)
			within(t, 10*time.Second, "Sweep", func() {
				res, err = s.Sweep(500, 0)
			})
			if err != nil || res.Messages != 1 {
				t.Errorf("Sweep = %+v, %v; want carol's old message removed", res, err)
			}
			if last, err := s.LastSeq("app", "carol", "inbox"); last != 0 || err != nil {
				t.Errorf("LastSeq(carol) after Sweep = %d, %v; want 0", last, err)
			}
		})
	}
}

// Calls, ringing marks and cursors go with the messages of their time: a call
// that ended (or was due) before the retention, a mark that ran out before
// it, a cursor last moved before it. A call still ringing, undelivered call
// events, and a cursor written without its time stay.
func TestSweepCallsRingingAndCursors(t *testing.T) {
	s := openStore(t, "")
	write(t, s, func(b *Batch) {
		b.PutCall(&wire.CallRecord{App: "app", CallId: "ended-old", CreatedAtMs: 10, TimeoutAtMs: 20, Ended: true})
		b.PutCall(&wire.CallRecord{App: "app", CallId: "ended-young", CreatedAtMs: 50, TimeoutAtMs: 60, Ended: true})
		b.PutCall(&wire.CallRecord{App: "app", CallId: "ringing", CreatedAtMs: 10, TimeoutAtMs: 1000})
		b.SetLiveCall("app", "ringing", 1000)
		b.PutCall(&wire.CallRecord{App: "app", CallId: "stuck", CreatedAtMs: 10, TimeoutAtMs: 20})
		b.SetLiveCall("app", "stuck", 20)
		b.PutCallEvent("app", "ended-old", 1, &wire.CallEvent{Message: &wire.Message{App: "app", To: "bob", CallId: "ended-old"}})
		b.SetRinging("app", "bob", "ended-old", 20)
		b.SetRinging("app", "bob", "ringing", 1000)
		b.SetCursorAt("app", "bob", "gone", "inbox", 7, 20)
		b.SetCursorAt("app", "bob", "gone", "group:g1", 3, 20)
		b.SetCursorAt("app", "bob", "phone", "inbox", 9, 100)
		b.SetCursor("app", "bob", "old-version", "inbox", 4)
	})
	res, err := s.Sweep(35, 60)
	if err != nil {
		t.Fatal(err)
	}
	if res.Calls != 2 || res.Ringing != 1 || res.Cursors != 2 {
		t.Errorf("Sweep = %+v, want 2 calls, 1 ringing mark, 2 cursors", res)
	}
	for id, want := range map[string]bool{"ended-old": false, "ended-young": true, "ringing": true, "stuck": false} {
		if _, ok, err := s.Call("app", id); ok != want || err != nil {
			t.Errorf("call %s kept = %v, %v; want %v", id, ok, err, want)
		}
	}
	var live []string
	mustOK(t, s.LiveCallsIn(ShardOf(CallKey("app", "ringing")), func(_, id string, _ int64) bool { live = append(live, id); return true }))
	mustOK(t, s.LiveCallsIn(ShardOf(CallKey("app", "stuck")), func(_, id string, _ int64) bool { live = append(live, id); return true }))
	if !slices.Equal(live, []string{"ringing"}) {
		t.Errorf("live calls after Sweep = %v, want [ringing]", live)
	}
	n := 0
	mustOK(t, s.CallEvents("app", "ended-old", func(uint64, *wire.CallEvent) bool { n++; return true }))
	if n != 1 {
		t.Errorf("undelivered events of a swept call = %d, want 1 (they go on until delivered)", n)
	}
	if r, err := s.Ringing("app", "bob"); err != nil || len(r) != 1 || r["ringing"] != 1000 {
		t.Errorf("ringing after Sweep = %v, %v; want only the call still ringing", r, err)
	}
	c, err := s.Cursors("app", "bob")
	if err != nil || len(c) != 2 || c["phone"]["inbox"] != 9 || c["old-version"]["inbox"] != 4 {
		t.Errorf("cursors after Sweep = %v, %v; want phone's (moved lately) and old-version's (no time)", c, err)
	}
	if seq, err := s.Cursor("app", "bob", "phone", "inbox"); seq != 9 || err != nil {
		t.Errorf("Cursor with its time = %d, %v; want 9", seq, err)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Calls an older version stored (ringing, with no index entry) are indexed
// once, the first time their shard is resumed; later calls are indexed as
// they are written, and the shard is not read again.
func TestIndexLiveCallsOnce(t *testing.T) {
	s := openStore(t, "")
	shard := ShardOf(CallKey("app", "old-ringing"))
	write(t, s, func(b *Batch) {
		b.PutCall(&wire.CallRecord{App: "app", CallId: "old-ringing", TimeoutAtMs: 500})
		b.PutCall(&wire.CallRecord{App: "app", CallId: "old-ended", TimeoutAtMs: 400, Ended: true})
	})
	live := func() []string {
		var ids []string
		for sh := uint64(1); sh <= NumShards; sh++ {
			mustOK(t, s.LiveCallsIn(sh, func(_, id string, _ int64) bool { ids = append(ids, id); return true }))
		}
		return ids
	}
	mustOK(t, s.IndexLiveCalls(shard))
	if got := live(); !slices.Equal(got, []string{"old-ringing"}) {
		t.Fatalf("live calls after indexing = %v, want [old-ringing]", got)
	}
	// A call in the same shard with no index entry (as no current writer
	// leaves one) is not looked for again: the shard is read once.
	other := ""
	for i := 0; other == ""; i++ {
		if id := fmt.Sprintf("x%d", i); ShardOf(CallKey("app", id)) == shard {
			other = id
		}
	}
	write(t, s, func(b *Batch) { b.PutCall(&wire.CallRecord{App: "app", CallId: other, TimeoutAtMs: 600}) })
	mustOK(t, s.IndexLiveCalls(shard))
	if got := live(); !slices.Equal(got, []string{"old-ringing"}) {
		t.Fatalf("live calls after a second IndexLiveCalls = %v, want [old-ringing] (the shard read once)", got)
	}
}
