package storage

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pushd-im/pushd/wire"
)

// neighbours are user ids that are prefixes of one another or sort right next
// to the end of "bob"'s prefix ("bob/" ends at "bob0"; '.' sorts just before '/').
var neighbours = []string{"bob", "bobby", "bo", "bob0", "bob."}

// TestUserKeysStayUnderUserPrefix writes one kind of user data for "bob" and
// checks that every key it made lies under bob's prefix (or in a documented
// global index), that bob's reader finds it and that no neighbour's reader
// does; then writes it for every neighbour and checks each sees only its own.
func TestUserKeysStayUnderUserPrefix(t *testing.T) {
	type userData struct {
		name   string
		global []string // key prefixes outside the user's that the write may add
		write  func(b *Batch, user string)
		count  func(s *Store, user string) (int, error)
	}
	cases := []userData{
		{
			name:   "bindings",
			global: []string{"p/"},
			write: func(b *Batch, user string) {
				b.PutBinding(&wire.Binding{App: "app", User: user, PushId: "push-" + user, Token: user})
			},
			count: func(s *Store, user string) (int, error) {
				bs, err := s.UserBindings("app", user)
				for _, bd := range bs {
					if bd.User != user {
						return 0, fmt.Errorf("UserBindings(%s) returned %s's binding", user, bd.User)
					}
				}
				return len(bs), err
			},
		},
		{
			name: "streams",
			write: func(b *Batch, user string) {
				b.PutMessage("app", user, &wire.Message{Stream: "inbox", Seq: 1, To: user})
				b.PutMessage("app", user, &wire.Message{Stream: "inbox", Seq: 0x2f2f, To: user})
			},
			count: func(s *Store, user string) (int, error) {
				n := 0
				err := s.ReadStream("app", user, "inbox", 0, ^uint64(0), func(m *wire.Message) bool {
					if m.To == user {
						n++
					}
					return true
				})
				if err != nil {
					return 0, err
				}
				last, err := s.LastSeq("app", user, "inbox")
				if (n == 0) != (last == 0) {
					return 0, fmt.Errorf("ReadStream found %d messages, LastSeq = %d", n, last)
				}
				return n, err
			},
		},
		{
			name: "cursors",
			write: func(b *Batch, user string) {
				b.SetCursor("app", user, "dev", "inbox", 3)
				b.SetCursor("app", user, "dev", "group:g1", 4)
			},
			count: func(s *Store, user string) (int, error) {
				cs, err := s.Cursors("app", user)
				return len(cs["dev"]), err
			},
		},
		{
			name: "idempotency",
			write: func(b *Batch, user string) {
				b.PutIdempotency("app", user, "alice", "cm1", 5, &wire.IdempotencyRecord{MessageId: user})
			},
			count: func(s *Store, user string) (int, error) {
				r, _, ok, err := s.Idempotency("app", user, "alice", "cm1")
				if ok && r.MessageId != user {
					return 0, fmt.Errorf("Idempotency(%s) returned %s's record", user, r.MessageId)
				}
				if ok {
					return 1, err
				}
				return 0, err
			},
		},
		{
			name:  "user groups",
			write: func(b *Batch, user string) { b.SetUserGroup("app", user, "g1", 7) },
			count: func(s *Store, user string) (int, error) {
				gs, err := s.UserGroups("app", user)
				return len(gs), err
			},
		},
		{
			name:  "ringing",
			write: func(b *Batch, user string) { b.SetRinging("app", user, "call1", 1000) },
			count: func(s *Store, user string) (int, error) {
				rs, err := s.Ringing("app", user)
				return len(rs), err
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t, "")
			write(t, s, func(b *Batch) { c.write(b, "bob") })
			prefix := string(userPrefix("app", "bob"))
		keys:
			for _, k := range allKeys(t, s) {
				if strings.HasPrefix(k, prefix) {
					continue
				}
				for _, g := range c.global {
					if strings.HasPrefix(k, g) {
						continue keys
					}
				}
				t.Errorf("key %q of bob is outside %q", k, prefix)
			}
			for _, u := range neighbours {
				n, err := c.count(s, u)
				want := 0
				if u == "bob" {
					want = 1
					if c.name == "streams" || c.name == "cursors" {
						want = 2
					}
				}
				if err != nil || n != want {
					t.Errorf("only bob has data: %s sees %d, %v; want %d", u, n, err, want)
				}
			}

			write(t, s, func(b *Batch) {
				for _, u := range neighbours[1:] {
					c.write(b, u)
				}
			})
			for _, u := range neighbours {
				n, err := c.count(s, u)
				want := 1
				if c.name == "streams" || c.name == "cursors" {
					want = 2
				}
				if err != nil || n != want {
					t.Errorf("everyone has data: %s sees %d, %v; want %d (its own only)", u, n, err, want)
				}
			}
		})
	}
}

// TestRangeDeletesStayInside checks the writers that delete a range:
// DeleteCursors and DropMessagesBefore (and the group stream's) must not
// reach a neighbouring user's, device's, stream's or group's keys.
func TestRangeDeletesStayInside(t *testing.T) {
	s := openStore(t, "")
	write(t, s, func(b *Batch) {
		for _, u := range neighbours {
			for _, dev := range []string{"d", "d0", "dd", "d."} {
				b.SetCursor("app", u, dev, "inbox", 9)
			}
			for _, stream := range []string{"inbox", "inbox0", "inboxx", "inbox."} {
				for seq := uint64(1); seq <= 3; seq++ {
					b.PutMessage("app", u, &wire.Message{Stream: stream, Seq: seq})
				}
			}
		}
		for _, g := range []string{"g", "g0", "gg", "g."} {
			for seq := uint64(1); seq <= 3; seq++ {
				b.PutGroupMessage("app", g, &wire.Message{Seq: seq})
			}
		}
	})
	write(t, s, func(b *Batch) {
		b.DeleteCursors("app", "bob", "d")
		b.DropMessagesBefore("app", "bob", "inbox", ^uint64(0))
		b.DropGroupMessagesBefore("app", "g", ^uint64(0))
	})
	for _, u := range neighbours {
		cs, err := s.Cursors("app", u)
		if err != nil {
			t.Fatal(err)
		}
		for _, dev := range []string{"d", "d0", "dd", "d."} {
			_, has := cs[dev]["inbox"]
			if want := !(u == "bob" && dev == "d"); has != want {
				t.Errorf("cursor of %s/%s present = %v, want %v", u, dev, has, want)
			}
		}
		for _, stream := range []string{"inbox", "inbox0", "inboxx", "inbox."} {
			last, err := s.LastSeq("app", u, stream)
			want := uint64(3)
			if u == "bob" && stream == "inbox" {
				want = 0
			}
			if err != nil || last != want {
				t.Errorf("LastSeq(%s, %s) = %d, %v; want %d", u, stream, last, err, want)
			}
		}
	}
	for _, g := range []string{"g", "g0", "gg", "g."} {
		last, err := s.GroupLastSeq("app", g)
		want := uint64(3)
		if g == "g" {
			want = 0
		}
		if err != nil || last != want {
			t.Errorf("GroupLastSeq(%s) = %d, %v; want %d", g, last, err, want)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	cases := []struct {
		in, want []byte
	}{
		{[]byte("a"), []byte("b")},
		{[]byte("u/app/bob/"), []byte("u/app/bob0")},
		{[]byte("a\xff"), []byte("b")},
		{[]byte("a\xff\xff"), []byte("b")},
		{[]byte("a\xfe\xff"), []byte("a\xff")},
		{[]byte("a\xff\x00"), []byte("a\xff\x01")},
		{[]byte("\xff"), nil},
		{[]byte("\xff\xff\xff"), nil},
		{[]byte{}, nil},
		{nil, nil},
	}
	for _, c := range cases {
		in := append([]byte(nil), c.in...)
		got := prefixEnd(in)
		if !bytes.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("prefixEnd(%q) = %q, want %q", c.in, got, c.want)
		}
		if !bytes.Equal(in, c.in) {
			t.Errorf("prefixEnd(%q) changed its argument to %q", c.in, in)
		}
	}

	// Every key with the prefix sorts before the end, and the end itself (and
	// everything after it) does not have the prefix.
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0x00, 0x01, '.', '/', '0', 'a', 0xfe, 0xff}
	pick := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return b
	}
	for range 2000 {
		p := pick(1 + r.IntN(4))
		end := prefixEnd(p)
		if end == nil {
			if strings.Trim(string(p), "\xff") != "" {
				t.Fatalf("prefixEnd(%q) = nil, but a key after all of %q exists", p, p)
			}
			continue
		}
		if bytes.HasPrefix(end, p) || bytes.Compare(end, p) <= 0 {
			t.Fatalf("prefixEnd(%q) = %q: not after the prefix's keys", p, end)
		}
		k := append(append([]byte(nil), p...), pick(r.IntN(4))...)
		if bytes.Compare(k, end) >= 0 {
			t.Fatalf("key %q has prefix %q but is not before prefixEnd %q", k, p, end)
		}
	}
}

func TestSplitUserKey(t *testing.T) {
	cases := []struct {
		key    string
		prefix string
		kind   byte
		rest   string
		ok     bool
	}{
		{key: "u/app/bob/b/push1", prefix: "u/app/bob/", kind: 'b', rest: "push1", ok: true},
		{key: "u/app/bob/s/inbox/\x00\x00\x00\x00\x00\x00\x2f\x2f", prefix: "u/app/bob/", kind: 's', rest: "inbox/\x00\x00\x00\x00\x00\x00//", ok: true},
		{key: "u/app/bob/i/alice/cm1", prefix: "u/app/bob/", kind: 'i', rest: "alice/cm1", ok: true},
		{key: "u/app/bob/s/", prefix: "u/app/bob/", kind: 's', rest: "", ok: true},
		{key: "g/app/g1/s/\x00\x00\x00\x00\x00\x00\x00\x01", prefix: "g/app/g1/", kind: 's', rest: "\x00\x00\x00\x00\x00\x00\x00\x01", ok: true},
		{key: "g/app/g1/r"},     // a group record: no "<kind>/"
		{key: "u/app/bob/s"},    // no '/' after the kind
		{key: "u/app/bob/ss/x"}, // two-byte kind
		{key: "u/app/bob//x"},   // empty kind
		{key: "u/app/bob"},      // no third '/'
		{key: "u/app"},          // too short
		{key: ""},               // empty
		{key: "u/app/bob/"},     // prefix only
		{key: "u/app/bob/\xff/tail", prefix: "u/app/bob/", kind: 0xff, rest: "tail", ok: true},
	}
	for _, c := range cases {
		p, kind, rest, ok := splitUserKey([]byte(c.key))
		if ok != c.ok || string(p) != c.prefix || kind != c.kind || string(rest) != c.rest {
			t.Errorf("splitUserKey(%q) = %q, %q, %q, %v; want %q, %q, %q, %v",
				c.key, p, kind, rest, ok, c.prefix, c.kind, c.rest, c.ok)
		}
	}
	// A real key of every user kind splits back into its user's prefix.
	for _, k := range [][]byte{
		bindingKey("app", "bob", "p1"),
		messageKey("app", "bob", "group:g1", 0x2f2f2f2f2f2f2f2f),
		cursorKey("app", "bob", "dev", "group:g1"),
		idempotencyKey("app", "bob", "alice", "cm"),
		userGroupKey("app", "bob", "g1"),
		ringingKey("app", "bob", "call1"),
	} {
		p, _, _, ok := splitUserKey(k[shardPrefixLen:])
		if !ok || string(p) != "u/app/bob/" {
			t.Errorf("splitUserKey(%q) = %q, %v; want bob's prefix", k, p, ok)
		}
	}
}

func TestSplitOwner(t *testing.T) {
	cases := []struct {
		in, app, user string
		ok            bool
	}{
		{"app/bob", "app", "bob", true},
		{"app/bob/extra", "app", "bob/extra", true}, // user ids never contain '/'; the first one splits
		{"app/", "", "", false},
		{"/bob", "", "", false},
		{"/", "", "", false},
		{"appbob", "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		app, user, ok := splitOwner([]byte(c.in))
		if ok != c.ok || (ok && (app != c.app || user != c.user)) {
			t.Errorf("splitOwner(%q) = %q, %q, %v; want %q, %q, %v", c.in, app, user, ok, c.app, c.user, c.ok)
		}
	}
}

func TestCutSlash(t *testing.T) {
	cases := []struct {
		in, dev, stream string
		ok              bool
	}{
		{"dev/inbox", "dev", "inbox", true},
		{"dev/group:g1", "dev", "group:g1", true},
		{"dev/", "", "", false},
		{"/inbox", "", "", false},
		{"devinbox", "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		dev, stream, ok := cutSlash(c.in)
		if ok != c.ok || (ok && (dev != c.dev || stream != c.stream)) {
			t.Errorf("cutSlash(%q) = %q, %q, %v; want %q, %q, %v", c.in, dev, stream, ok, c.dev, c.stream, c.ok)
		}
	}
}

// slashSeqs are seqs whose big-endian bytes contain '/' (0x2f), and 0xff.
var slashSeqs = []uint64{1, 0x2f, 0x2f00, 0x2f2f, 0x2fff, 0x2f2f2f2f, 0x2f2f2f2f2f2f2f2f}

func TestSeqsWithSlashBytes(t *testing.T) {
	s := openStore(t, "")
	write(t, s, func(b *Batch) {
		for i, seq := range slashSeqs {
			ts := int64(100 + i) // old up to 0x2f2f, young from 0x2fff on
			if seq >= 0x2fff {
				ts = 1000 + int64(i)
			}
			for _, stream := range []string{"inbox", "group:g1"} {
				b.PutMessage("app", "bob", &wire.Message{Stream: stream, Seq: seq, TimestampMs: ts})
			}
			b.PutGroupMessage("app", "g1", &wire.Message{Seq: seq, TimestampMs: ts})
		}
	})
	read := func(after, upto uint64) []uint64 {
		t.Helper()
		var got []uint64
		if err := s.ReadStream("app", "bob", "inbox", after, upto, func(m *wire.Message) bool {
			got = append(got, m.Seq)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		var group []uint64
		if err := s.ReadGroupStream("app", "g1", after, upto, func(m *wire.Message) bool {
			group = append(group, m.Seq)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(group) {
			t.Errorf("window (%d, %d]: user stream %x, group stream %x", after, upto, got, group)
		}
		return got
	}
	if got := read(0, ^uint64(0)); fmt.Sprint(got) != fmt.Sprint(slashSeqs) {
		t.Errorf("ReadStream all = %x, want %x", got, slashSeqs)
	}
	if got, want := read(0x2f, 0x2f2f), []uint64{0x2f00, 0x2f2f}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ReadStream (0x2f, 0x2f2f] = %x, want %x", got, want)
	}
	if got, want := read(0x2e, 0x2f), []uint64{0x2f}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ReadStream (0x2e, 0x2f] = %x, want %x", got, want)
	}
	for _, stream := range []string{"inbox", "group:g1"} {
		first, err1 := s.FirstSeq("app", "bob", stream)
		last, err2 := s.LastSeq("app", "bob", stream)
		if first != 1 || last != 0x2f2f2f2f2f2f2f2f || err1 != nil || err2 != nil {
			t.Errorf("%s: FirstSeq, LastSeq = %x (%v), %x (%v)", stream, first, err1, last, err2)
		}
	}
	if last, err := s.GroupLastSeq("app", "g1"); last != 0x2f2f2f2f2f2f2f2f || err != nil {
		t.Errorf("GroupLastSeq = %x, %v", last, err)
	}

	res, err := s.Sweep(500, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Four old messages (1, 0x2f, 0x2f00, 0x2f2f) in each of three streams.
	if res.Messages != 12 {
		t.Errorf("Sweep removed %d messages, want 12", res.Messages)
	}
	want := []uint64{0x2fff, 0x2f2f2f2f, 0x2f2f2f2f2f2f2f2f}
	if got := read(0, ^uint64(0)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after Sweep: %x, want %x", got, want)
	}
	if first, err := s.FirstSeq("app", "bob", "group:g1"); first != 0x2fff || err != nil {
		t.Errorf("after Sweep: FirstSeq(group:g1) = %x, %v", first, err)
	}
	if first, err := s.GroupFirstSeq("app", "g1"); first != 0x2fff || err != nil {
		t.Errorf("after Sweep: GroupFirstSeq = %x, %v", first, err)
	}
}

// Every key sits in the shard of its owner, named by the owner's actor routing key, so that a
// shard's snapshot carries everything its owners keep.
func TestKeysSitInTheirOwnersShard(t *testing.T) {
	user, group, call, token := UserKey("app", "bob"), GroupKey("app", "g1"), CallKey("app", "c1"), TokenKey("app", "p1")
	for _, c := range []struct {
		owner string
		key   []byte
	}{
		{user, bindingKey("app", "bob", "p1")},
		{user, verdictKey("app", "bob", "p1")},
		{user, messageKey("app", "bob", "inbox", 3)},
		{user, cursorKey("app", "bob", "d", "inbox")},
		{user, idempotencyKey("app", "bob", "alice", "cm")},
		{user, userGroupKey("app", "bob", "g1")},
		{user, ringingKey("app", "bob", "c1")},
		{user, outboxKey("app", "bob", 9)},
		{group, groupRecordKey("app", "g1")},
		{group, memberKey("app", "g1", "bob")},
		{group, groupMessageKey("app", "g1", 3)},
		{group, groupIdempotencyKey("app", "g1", "alice", "cm")},
		{user, fanoutMarkKey(ShardOf(user), "app", "g1", 3, "bob")},
		{group, fanoutKey("app", "g1", 3)},
		{user, chunkKey(ShardOf(user), 9)},
		{call, callKey("app", "c1")},
		{token, pushIndexKey("app", "p1")},
		{user, quotaKey(ShardOf(user), "app", "vivo", "2026-12-07")},
	} {
		shard := ShardOf(c.owner)
		if shard < 1 || shard > NumShards || !bytes.HasPrefix(c.key, ShardPrefix(shard)) {
			t.Errorf("key %q of %s is not in its shard %d", c.key, c.owner, shard)
		}
	}
	// Owners spread over the shards.
	seen := map[uint64]bool{}
	for i := 0; i < 2000; i++ {
		seen[ShardOf(UserKey("app", fmt.Sprint("user", i)))] = true
	}
	if len(seen) != NumShards {
		t.Errorf("2000 users fill %d of %d shards", len(seen), NumShards)
	}
}
