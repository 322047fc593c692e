package storage

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

func TestBindings(t *testing.T) {
	s := openStore(t, "")
	b1 := &wire.Binding{App: "app", User: "bob", PushId: "p1", DeviceId: "phone", Provider: "apns", Token: "t1", RegisteredAtMs: 11}
	b2 := &wire.Binding{App: "app", User: "bob", PushId: "p2", DeviceId: "tablet", Provider: "fcm", Token: "t2"}
	write(t, s, func(b *Batch) {
		b.PutBinding(b2)
		b.PutBinding(b1)
	})

	got, ok, err := s.Binding("app", "bob", "p1")
	if err != nil || !ok || !proto.Equal(got, b1) {
		t.Errorf("Binding(p1) = %v, %v, %v; want %v", got, ok, err, b1)
	}
	if _, ok, err := s.Binding("app", "bob", "p3"); ok || err != nil {
		t.Errorf("Binding(p3) = %v, %v; want not found", ok, err)
	}
	all, err := s.UserBindings("app", "bob")
	if err != nil || len(all) != 2 || !proto.Equal(all[0], b1) || !proto.Equal(all[1], b2) {
		t.Errorf("UserBindings = %v, %v; want [p1 p2] in push id order", all, err)
	}
	if none, err := s.UserBindings("app", "alice"); err != nil || len(none) != 0 {
		t.Errorf("UserBindings(alice) = %v, %v; want none", none, err)
	}
	// PutBinding leaves the push id index alone: the token actor writes it.
	if _, _, ok, err := s.PushOwner("app", "p2"); ok || err != nil {
		t.Errorf("PushOwner(p2) after PutBinding = %v, %v; want no entry", ok, err)
	}
	write(t, s, func(b *Batch) { b.PutPushOwner("p2", "app", "bob") })
	if app, user, ok, err := s.PushOwner("app", "p2"); err != nil || !ok || app != "app" || user != "bob" {
		t.Errorf("PushOwner(p2) = %q, %q, %v, %v", app, user, ok, err)
	}
	if _, _, ok, err := s.PushOwner("app", "nope"); ok || err != nil {
		t.Errorf("PushOwner(nope) = %v, %v; want not found", ok, err)
	}

	// The token moves to alice: bob's binding goes, the index names alice.
	write(t, s, func(b *Batch) {
		b.PutBinding(&wire.Binding{App: "app", User: "alice", PushId: "p1", Token: "t1"})
		b.DeleteBinding("app", "bob", "p1")
		b.PutPushOwner("p1", "app", "alice")
	})
	if _, ok, _ := s.Binding("app", "bob", "p1"); ok {
		t.Error("bob's binding p1 survived DeleteBinding")
	}
	if app, user, ok, err := s.PushOwner("app", "p1"); err != nil || !ok || app != "app" || user != "alice" {
		t.Errorf("PushOwner(p1) after the move = %q, %q, %v, %v; want alice", app, user, ok, err)
	}

	// Unbinding for good: the binding and, by its own call, the index entry.
	write(t, s, func(b *Batch) {
		b.DeleteBinding("app", "bob", "p2")
		b.DeletePushOwner("app", "p2")
	})
	if _, _, ok, err := s.PushOwner("app", "p2"); ok || err != nil {
		t.Errorf("PushOwner(p2) after DeletePushOwner = %v, %v; want gone", ok, err)
	}
	if all, err := s.UserBindings("app", "bob"); err != nil || len(all) != 0 {
		t.Errorf("UserBindings(bob) at the end = %v, %v; want none", all, err)
	}
}

// streamAPI is the user-stream or the group-stream flavour of the same calls.
type streamAPI struct {
	put   func(b *Batch, m *wire.Message)
	read  func(s *Store, after, upto uint64, fn func(*wire.Message) bool) error
	last  func(s *Store) (uint64, error)
	first func(s *Store) (uint64, error)
	drop  func(b *Batch, before uint64)
}

var streamAPIs = map[string]streamAPI{
	"user": {
		put: func(b *Batch, m *wire.Message) { m.Stream = "inbox"; b.PutMessage("app", "bob", m) },
		read: func(s *Store, after, upto uint64, fn func(*wire.Message) bool) error {
			return s.ReadStream("app", "bob", "inbox", after, upto, fn)
		},
		last:  func(s *Store) (uint64, error) { return s.LastSeq("app", "bob", "inbox") },
		first: func(s *Store) (uint64, error) { return s.FirstSeq("app", "bob", "inbox") },
		drop:  func(b *Batch, before uint64) { b.DropMessagesBefore("app", "bob", "inbox", before) },
	},
	"group": {
		put: func(b *Batch, m *wire.Message) { m.Stream = "group:g1"; b.PutGroupMessage("app", "g1", m) },
		read: func(s *Store, after, upto uint64, fn func(*wire.Message) bool) error {
			return s.ReadGroupStream("app", "g1", after, upto, fn)
		},
		last:  func(s *Store) (uint64, error) { return s.GroupLastSeq("app", "g1") },
		first: func(s *Store) (uint64, error) { return s.GroupFirstSeq("app", "g1") },
		drop:  func(b *Batch, before uint64) { b.DropGroupMessagesBefore("app", "g1", before) },
	},
}

func TestStreams(t *testing.T) {
	for name, api := range streamAPIs {
		t.Run(name, func(t *testing.T) {
			s := openStore(t, "")
			seqs := func(after, upto uint64) string {
				t.Helper()
				var got []uint64
				if err := api.read(s, after, upto, func(m *wire.Message) bool {
					got = append(got, m.Seq)
					return true
				}); err != nil {
					t.Fatalf("read (%d, %d]: %v", after, upto, err)
				}
				return fmt.Sprint(got)
			}
			edges := func() (uint64, uint64) {
				t.Helper()
				first, err1 := api.first(s)
				last, err2 := api.last(s)
				if err1 != nil || err2 != nil {
					t.Fatalf("first/last: %v, %v", err1, err2)
				}
				return first, last
			}

			if f, l := edges(); f != 0 || l != 0 {
				t.Errorf("empty stream: first, last = %d, %d; want 0, 0", f, l)
			}
			if got := seqs(0, ^uint64(0)); got != "[]" {
				t.Errorf("empty stream read = %s", got)
			}

			write(t, s, func(b *Batch) {
				for seq := uint64(1); seq <= 10; seq++ {
					api.put(b, &wire.Message{Seq: seq, Body: fmt.Sprint("m", seq)})
				}
				// Another stream of the same owner must not show up.
				b.PutMessage("app", "bob", &wire.Message{Stream: "other", Seq: 11})
				b.PutGroupMessage("app", "g2", &wire.Message{Seq: 11})
			})
			windows := []struct {
				after, upto uint64
				want        string
			}{
				{0, ^uint64(0), "[1 2 3 4 5 6 7 8 9 10]"},
				{0, 10, "[1 2 3 4 5 6 7 8 9 10]"},
				{3, 7, "[4 5 6 7]"},
				{9, ^uint64(0), "[10]"},
				{10, ^uint64(0), "[]"},
				{5, 5, "[]"},
				{7, 3, "[]"},
				{0, 0, "[]"},
				{^uint64(0) - 1, ^uint64(0), "[]"},
				{^uint64(0), ^uint64(0), "[]"},
				{0, ^uint64(0) - 1, "[1 2 3 4 5 6 7 8 9 10]"},
			}
			for _, w := range windows {
				if got := seqs(w.after, w.upto); got != w.want {
					t.Errorf("read (%d, %d] = %s, want %s", w.after, w.upto, got, w.want)
				}
			}
			var stopped []uint64
			if err := api.read(s, 2, ^uint64(0), func(m *wire.Message) bool {
				stopped = append(stopped, m.Seq)
				return len(stopped) < 2
			}); err != nil || fmt.Sprint(stopped) != "[3 4]" {
				t.Errorf("read stopping after two = %v, %v", stopped, err)
			}
			var body string
			_ = api.read(s, 4, 5, func(m *wire.Message) bool { body = m.Body; return true })
			if body != "m5" {
				t.Errorf("message 5 body = %q", body)
			}
			if f, l := edges(); f != 1 || l != 10 {
				t.Errorf("first, last = %d, %d; want 1, 10", f, l)
			}

			write(t, s, func(b *Batch) { api.drop(b, 0) })
			if f, _ := edges(); f != 1 {
				t.Errorf("drop before 0 removed something: first = %d", f)
			}
			write(t, s, func(b *Batch) { api.drop(b, 4) })
			if f, l := edges(); f != 4 || l != 10 {
				t.Errorf("after drop before 4: first, last = %d, %d; want 4, 10", f, l)
			}
			if got := seqs(0, ^uint64(0)); got != "[4 5 6 7 8 9 10]" {
				t.Errorf("after drop before 4: read = %s", got)
			}
			write(t, s, func(b *Batch) { api.drop(b, 11) })
			if f, l := edges(); f != 0 || l != 0 {
				t.Errorf("after drop before 11: first, last = %d, %d; want 0, 0 (empty)", f, l)
			}
			if last, err := s.LastSeq("app", "bob", "other"); last != 11 || err != nil {
				t.Errorf("another user stream was touched: LastSeq(other) = %d, %v", last, err)
			}
			if last, err := s.GroupLastSeq("app", "g2"); last != 11 || err != nil {
				t.Errorf("another group stream was touched: GroupLastSeq(g2) = %d, %v", last, err)
			}
		})
	}
}

func TestGroupsAndMembers(t *testing.T) {
	s := openStore(t, "")
	rec := &wire.GroupRecord{App: "app", Group: "g1", Members: 4, CreatedAtMs: 99}
	write(t, s, func(b *Batch) {
		b.PutGroup(rec)
		for _, u := range []string{"dave", "alice", "carol", "bob"} {
			b.AddMember("app", "g1", u)
		}
		b.AddMember("app", "g10", "zed") // a group whose id extends g1's
		b.AddMember("app", "g", "yan")   // and one whose id is a prefix of it
	})
	if got, ok, err := s.Group("app", "g1"); err != nil || !ok || !proto.Equal(got, rec) {
		t.Errorf("Group(g1) = %v, %v, %v", got, ok, err)
	}
	if _, ok, err := s.Group("app", "g10"); ok || err != nil {
		t.Errorf("Group(g10) = %v, %v; want not found (no record, only a member)", ok, err)
	}
	members := func(group, from string, max int) string {
		t.Helper()
		var got []string
		if err := s.GroupMembers("app", group, from, func(u string) bool {
			got = append(got, u)
			return len(got) < max
		}); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(got)
	}
	for _, c := range []struct {
		group, from string
		max         int
		want        string
	}{
		{"g1", "", 100, "[alice bob carol dave]"},
		{"g1", "bob", 100, "[bob carol dave]"},
		{"g1", "bobby", 100, "[carol dave]"},
		{"g1", "e", 100, "[]"},
		{"g1", "", 2, "[alice bob]"},
		{"g10", "", 100, "[zed]"},
		{"g", "", 100, "[yan]"},
		{"nope", "", 100, "[]"},
	} {
		if got := members(c.group, c.from, c.max); got != c.want {
			t.Errorf("GroupMembers(%s, from %q, max %d) = %s, want %s", c.group, c.from, c.max, got, c.want)
		}
	}
	for _, c := range []struct {
		group, user string
		want        bool
	}{{"g1", "bob", true}, {"g1", "bo", false}, {"g1", "bobb", false}, {"g1", "zed", false}, {"g10", "zed", true}} {
		if got, err := s.IsMember("app", c.group, c.user); got != c.want || err != nil {
			t.Errorf("IsMember(%s, %s) = %v, %v; want %v", c.group, c.user, got, err, c.want)
		}
	}
	write(t, s, func(b *Batch) { b.RemoveMember("app", "g1", "bob") })
	if got := members("g1", "", 100); got != "[alice carol dave]" {
		t.Errorf("after RemoveMember(bob): %s", got)
	}
	if ok, _ := s.IsMember("app", "g1", "bob"); ok {
		t.Error("IsMember(bob) after RemoveMember")
	}
}

func TestUserGroups(t *testing.T) {
	s := openStore(t, "")
	write(t, s, func(b *Batch) {
		b.SetUserGroup("app", "bob", "g1", 5)
		b.SetUserGroup("app", "bob", "g10", 0)
		b.SetUserGroup("app", "bob", "g2", 1<<40)
	})
	got, err := s.UserGroups("app", "bob")
	if err != nil || fmt.Sprint(got) != "map[g1:5 g10:0 g2:1099511627776]" {
		t.Errorf("UserGroups = %v, %v", got, err)
	}
	write(t, s, func(b *Batch) {
		b.DeleteUserGroup("app", "bob", "g1")
		b.SetUserGroup("app", "bob", "g2", 7)
	})
	if got, err := s.UserGroups("app", "bob"); err != nil || fmt.Sprint(got) != "map[g10:0 g2:7]" {
		t.Errorf("UserGroups after delete and rejoin = %v, %v", got, err)
	}
	if got, err := s.UserGroups("app", "alice"); err != nil || len(got) != 0 {
		t.Errorf("UserGroups(alice) = %v, %v; want empty", got, err)
	}
}

func TestFanouts(t *testing.T) {
	s := openStore(t, "")
	fs := []*wire.Fanout{
		{App: "app", Group: "g1", Seq: 256, NextUser: "m"},
		{App: "app", Group: "g1", Seq: 2},
		{App: "app", Group: "g1", Seq: 0x2f},
		{App: "app", Group: "g0", Seq: 9},
		{App: "zzz", Group: "a", Seq: 1},
	}
	write(t, s, func(b *Batch) {
		for _, f := range fs {
			b.PutFanout(f)
		}
	})
	list := func(max int) string {
		t.Helper()
		var got []string
		if err := s.Fanouts(func(f *wire.Fanout) bool {
			got = append(got, fmt.Sprintf("%s/%s/%d%s", f.App, f.Group, f.Seq, f.NextUser))
			return len(got) < max
		}); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(got)
	}
	// Shard by shard, then by app, group and numeric seq: a group's fan-outs
	// come in seq order.
	want := func(fs []*wire.Fanout, n int) string {
		fs = slices.Clone(fs)
		slices.SortFunc(fs, func(a, b *wire.Fanout) int {
			return cmp.Or(cmp.Compare(ShardOf(GroupKey(a.App, a.Group)), ShardOf(GroupKey(b.App, b.Group))),
				cmp.Compare(a.App, b.App), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Seq, b.Seq))
		})
		var out []string
		for _, f := range fs[:min(n, len(fs))] {
			out = append(out, fmt.Sprintf("%s/%s/%d%s", f.App, f.Group, f.Seq, f.NextUser))
		}
		return fmt.Sprint(out)
	}
	if got, want := list(100), want(fs, 100); got != want {
		t.Errorf("Fanouts = %s, want %s (by shard, app, group, then numeric seq)", got, want)
	}
	if got, want := list(2), want(fs, 2); got != want {
		t.Errorf("Fanouts stopping after two = %s, want %s", got, want)
	}
	write(t, s, func(b *Batch) { b.DeleteFanout("app", "g1", 0x2f) })
	if got, want := list(100), want(slices.Delete(slices.Clone(fs), 2, 3), 100); got != want {
		t.Errorf("after DeleteFanout: %s, want %s", got, want)
	}
}

func TestCallsAndRinging(t *testing.T) {
	s := openStore(t, "")
	c1 := &wire.CallRecord{App: "app", CallId: "c1", Inviter: "alice", Invitees: []*wire.CallInvitee{{User: "bob", State: "ringing"}}, TimeoutAtMs: 5000}
	c2 := &wire.CallRecord{App: "app", CallId: "c2", Inviter: "bob", Ended: true}
	c3 := &wire.CallRecord{App: "other", CallId: "c1"}
	write(t, s, func(b *Batch) {
		b.PutCall(c2)
		b.PutCall(c1)
		b.PutCall(c3)
		b.SetRinging("app", "bob", "c1", 5000)
		b.SetRinging("app", "bob", "c2", 6000)
		b.SetRinging("app", "bobby", "c9", 1)
	})
	if got, ok, err := s.Call("app", "c1"); err != nil || !ok || !proto.Equal(got, c1) {
		t.Errorf("Call(c1) = %v, %v, %v", got, ok, err)
	}
	if _, ok, err := s.Call("app", "c3"); ok || err != nil {
		t.Errorf("Call(c3) = %v, %v; want not found", ok, err)
	}
	var all []string
	if err := s.Calls(func(r *wire.CallRecord) bool {
		all = append(all, r.App+"/"+r.CallId)
		return true
	}); err != nil || fmt.Sprint(all) != "[app/c1 app/c2 other/c1]" {
		t.Errorf("Calls = %v, %v", all, err)
	}
	all = nil
	_ = s.Calls(func(r *wire.CallRecord) bool { all = append(all, r.CallId); return false })
	if len(all) != 1 {
		t.Errorf("Calls did not stop when fn returned false: %v", all)
	}
	if got, err := s.Ringing("app", "bob"); err != nil || fmt.Sprint(got) != "map[c1:5000 c2:6000]" {
		t.Errorf("Ringing(bob) = %v, %v", got, err)
	}
	write(t, s, func(b *Batch) { b.DeleteRinging("app", "bob", "c1") })
	if got, err := s.Ringing("app", "bob"); err != nil || fmt.Sprint(got) != "map[c2:6000]" {
		t.Errorf("Ringing(bob) after DeleteRinging(c1) = %v, %v", got, err)
	}
}

func TestQuota(t *testing.T) {
	s := openStore(t, "")
	if n, err := s.QuotaUsed(9, "app", "xiaomi", "2026-01-02"); n != 0 || err != nil {
		t.Errorf("QuotaUsed with nothing stored = %d, %v", n, err)
	}
	write(t, s, func(b *Batch) {
		b.SetQuotaUsed(9, "app", "xiaomi", "2026-01-02", 10)
		b.SetQuotaUsed(9, "app", "xiaomi", "2026-01-03", 1<<40)
		b.SetQuotaUsed(9, "app", "vivo", "2026-01-02", 3)
	})
	write(t, s, func(b *Batch) { b.SetQuotaUsed(9, "app", "xiaomi", "2026-01-02", 11) })
	for _, c := range []struct {
		provider, day string
		want          int64
	}{{"xiaomi", "2026-01-02", 11}, {"xiaomi", "2026-01-03", 1 << 40}, {"vivo", "2026-01-02", 3}, {"oppo", "2026-01-02", 0}} {
		if n, err := s.QuotaUsed(9, "app", c.provider, c.day); n != c.want || err != nil {
			t.Errorf("QuotaUsed(%s, %s) = %d, %v; want %d", c.provider, c.day, n, err, c.want)
		}
	}
}

func TestCursors(t *testing.T) {
	s := openStore(t, "")
	if c, err := s.Cursor("app", "bob", "phone", "inbox"); c != 0 || err != nil {
		t.Errorf("Cursor with nothing stored = %d, %v", c, err)
	}
	write(t, s, func(b *Batch) {
		b.SetCursor("app", "bob", "phone", "inbox", 5)
		b.SetCursor("app", "bob", "phone", "group:g1", 3)
		b.SetCursor("app", "bob", "phone", "group:g10", 1<<63)
		b.SetCursor("app", "bob", "phone2", "inbox", 6)
		b.SetCursor("app", "bob", "tablet", "group:g1", 0)
	})
	write(t, s, func(b *Batch) { b.SetCursor("app", "bob", "phone", "inbox", 8) })
	if c, err := s.Cursor("app", "bob", "phone", "inbox"); c != 8 || err != nil {
		t.Errorf("Cursor(phone, inbox) = %d, %v; want 8 (the later write)", c, err)
	}
	if c, err := s.Cursor("app", "bob", "phone", "group:g1"); c != 3 || err != nil {
		t.Errorf("Cursor(phone, group:g1) = %d, %v; want 3", c, err)
	}
	all, err := s.Cursors("app", "bob")
	want := "map[phone:map[group:g1:3 group:g10:9223372036854775808 inbox:8] phone2:map[inbox:6] tablet:map[group:g1:0]]"
	if err != nil || fmt.Sprint(all) != want {
		t.Errorf("Cursors = %v, %v\nwant %s", all, err, want)
	}
	write(t, s, func(b *Batch) { b.DeleteCursors("app", "bob", "phone") })
	all, err = s.Cursors("app", "bob")
	if want := "map[phone2:map[inbox:6] tablet:map[group:g1:0]]"; err != nil || fmt.Sprint(all) != want {
		t.Errorf("Cursors after DeleteCursors(phone) = %v, %v; want %s", all, err, want)
	}
	if c, err := s.Cursor("app", "bob", "phone", "group:g1"); c != 0 || err != nil {
		t.Errorf("Cursor(phone, group:g1) after DeleteCursors = %d, %v; want 0", c, err)
	}
}

func TestIdempotency(t *testing.T) {
	s := openStore(t, "")
	rec := &wire.IdempotencyRecord{MessageId: "m1", Seq: 0x2f2f, TimestampMs: 1234}
	grec := &wire.IdempotencyRecord{MessageId: "gm1", Seq: 7}
	write(t, s, func(b *Batch) {
		b.PutIdempotency("app", "bob", "alice", "cm1", 1_700_000_000_000, rec)
		b.PutIdempotency("app", "bob", "alice", "cm2", 0, &wire.IdempotencyRecord{})
		b.PutGroupIdempotency("app", "g1", "alice", "cm1", 42, grec)
	})
	got, created, ok, err := s.Idempotency("app", "bob", "alice", "cm1")
	if err != nil || !ok || created != 1_700_000_000_000 || !proto.Equal(got, rec) {
		t.Errorf("Idempotency(cm1) = %v, %d, %v, %v", got, created, ok, err)
	}
	got, created, ok, err = s.Idempotency("app", "bob", "alice", "cm2")
	if err != nil || !ok || created != 0 || !proto.Equal(got, &wire.IdempotencyRecord{}) {
		t.Errorf("Idempotency(cm2, empty record at 0) = %v, %d, %v, %v", got, created, ok, err)
	}
	for _, c := range [][2]string{{"alice", "cm3"}, {"alic", "ecm1"}, {"carol", "cm1"}} {
		if _, _, ok, err := s.Idempotency("app", "bob", c[0], c[1]); ok || err != nil {
			t.Errorf("Idempotency(%s, %s) = %v, %v; want not found", c[0], c[1], ok, err)
		}
	}
	got, created, ok, err = s.GroupIdempotency("app", "g1", "alice", "cm1")
	if err != nil || !ok || created != 42 || !proto.Equal(got, grec) {
		t.Errorf("GroupIdempotency(cm1) = %v, %d, %v, %v", got, created, ok, err)
	}
	if _, _, ok, err := s.GroupIdempotency("app", "g1", "alice", "cm2"); ok || err != nil {
		t.Errorf("GroupIdempotency(cm2) = %v, %v; want not found (it is bob's)", ok, err)
	}
}

func TestOutbox(t *testing.T) {
	s := openStore(t, "")
	ids := []uint64{256, 3, 0x2f, 1, 0xff, 0x2f2f}
	write(t, s, func(b *Batch) {
		for _, id := range ids {
			// One user's jobs share a shard, where they come in id order.
			b.PutPush(&wire.PushJob{Id: id, App: "app", User: "bob", PushId: fmt.Sprint("p", id), Data: map[string]string{"k": "v"}})
		}
	})
	list := func(max int) string {
		t.Helper()
		var got []uint64
		if err := s.Pushes(func(j *wire.PushJob) bool {
			got = append(got, j.Id)
			return len(got) < max
		}); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(got)
	}
	if got := list(100); got != "[1 3 47 255 256 12079]" {
		t.Errorf("Pushes = %s, want ids in numeric order", got)
	}
	if got := list(2); got != "[1 3]" {
		t.Errorf("Pushes stopping after two = %s", got)
	}
	j, ok, err := s.Push("app", "bob", 0x2f)
	if err != nil || !ok || j.PushId != "p47" || j.Data["k"] != "v" {
		t.Errorf("Push(0x2f) = %v, %v, %v", j, ok, err)
	}
	write(t, s, func(b *Batch) { b.DeletePush(j) })
	if _, ok, err := s.Push("app", "bob", 0x2f); ok || err != nil {
		t.Errorf("Push(0x2f) after DeletePush = %v, %v; want gone", ok, err)
	}
	if got := list(100); got != "[1 3 255 256 12079]" {
		t.Errorf("Pushes after DeletePush = %s", got)
	}
	// A pager goes on after the last id it saw, in the user's shard.
	shard := ShardOf(UserKey("app", "bob"))
	after := func(from uint64) string {
		t.Helper()
		var got []uint64
		if err := s.PushesAfter(shard, from, func(j *wire.PushJob) bool { got = append(got, j.Id); return true }); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(got)
	}
	for from, want := range map[uint64]string{0: "[1 3 255 256 12079]", 3: "[255 256 12079]", 256: "[12079]", 12079: "[]", math.MaxUint64: "[]"} {
		if got := after(from); got != want {
			t.Errorf("PushesAfter(%d) = %s, want %s", from, got, want)
		}
	}
}

func TestEachUserBindingsReadsEveryUsersOwn(t *testing.T) {
	s := openStore(t, t.TempDir())
	b := s.NewBatch()
	for _, u := range []string{"bo", "bob", "bobby", "carl"} {
		for _, d := range []string{"d1", "d2"} {
			b.PutBinding(&wire.Binding{App: "demo", User: u, PushId: "p-" + u + "-" + d, DeviceId: d})
		}
	}
	if err := s.Commit(b, true); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	err := s.EachUserBindings("demo", []string{"bo", "bob", "bobby", "nobody", "carl"}, func(u string, bs []*wire.Binding) error {
		for _, b := range bs {
			if b.User != u {
				t.Errorf("%s got %s's binding %s", u, b.User, b.PushId)
			}
			got[u] = append(got[u], b.PushId)
		}
		if u == "nobody" && len(bs) != 0 {
			t.Errorf("nobody has %d bindings", len(bs))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bo", "bob", "bobby", "carl"} {
		if len(got[u]) != 2 {
			t.Errorf("%s: %v", u, got[u])
		}
	}
}

// TestEachUserBindingsAnyOrder checks EachUserBindings against UserBindings
// for users asked in key order (where it steps instead of seeking),
// reversed, shuffled, with repeats and unknown users, between users holding
// from none to many other keys (inbox messages) and none to three bindings.
func TestEachUserBindingsAnyOrder(t *testing.T) {
	s := openStore(t, t.TempDir())
	rng := rand.New(rand.NewPCG(1, 2))
	b := s.NewBatch()
	var users []string
	for i := 0; i < 300; i++ {
		u := fmt.Sprintf("u%d", i)
		users = append(users, u)
		for d := 0; d < rng.IntN(4); d++ {
			b.PutBinding(&wire.Binding{App: "demo", User: u, PushId: fmt.Sprintf("p-%s-%d", u, d), DeviceId: fmt.Sprint(d)})
		}
		for seq := 1; seq <= rng.IntN(3)*rng.IntN(20); seq++ {
			b.PutMessage("demo", u, &wire.Message{Stream: "inbox", Seq: uint64(seq), Body: "x"})
		}
		if i%100 == 99 { // some keys in sstables, the last ones in the memtable
			if err := s.Commit(b, true); err != nil {
				t.Fatal(err)
			}
			if i < 200 {
				if err := s.db.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			b = s.NewBatch()
		}
	}
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b string) int { return bytes.Compare(userPrefix("demo", a), userPrefix("demo", b)) })
	reversed := slices.Clone(sorted)
	slices.Reverse(reversed)
	shuffled := slices.Clone(users)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	mixed := append(append([]string{"nobody", "u1", "u1", "u10"}, sorted[:50]...), "zz", "u0", "u299")
	for name, order := range map[string][]string{"sorted": sorted, "reversed": reversed, "shuffled": shuffled, "mixed": mixed} {
		i := 0
		err := s.EachUserBindings("demo", order, func(u string, bs []*wire.Binding) error {
			if u != order[i] {
				t.Fatalf("%s: call %d for %s, want %s", name, i, u, order[i])
			}
			i++
			want, err := s.UserBindings("demo", u)
			if err != nil {
				return err
			}
			var got, exp []string
			for _, b := range bs {
				got = append(got, b.PushId)
			}
			for _, b := range want {
				exp = append(exp, b.PushId)
			}
			if !slices.Equal(got, exp) {
				t.Errorf("%s: %s has %v, want %v", name, u, got, exp)
			}
			return nil
		})
		if err != nil || i != len(order) {
			t.Fatalf("%s: %d of %d users, err %v", name, i, len(order), err)
		}
	}
}
