package storage

import (
	"encoding/binary"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

// FuzzStoredUserBytes stores arbitrary bytes under a user's prefix (a key
// suffix and a value no writer would produce) and runs the user's readers over
// them: each may answer with an error, none may panic. Sweep runs last, since
// it may delete what it reads.
func FuzzStoredUserBytes(f *testing.F) {
	seq := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	msg, _ := proto.Marshal(&wire.Message{Stream: "inbox", Seq: 1, TimestampMs: 5})
	f.Add(append([]byte("s/inbox/"), seq(1)...), msg)
	f.Add(append([]byte("s/inbox/"), seq(0x2f2f)...), []byte{0xff})
	f.Add([]byte("s/inbox/x"), msg)
	f.Add([]byte("s/inbox/"), []byte{})
	f.Add(append([]byte("s/group:g1/"), seq(^uint64(0))...), msg)
	f.Add([]byte("c/phone/inbox"), binary.AppendUvarint(nil, 7))
	f.Add([]byte("c/phone/"), []byte{0x80})
	f.Add([]byte("c//"), []byte{})
	f.Add([]byte("c/phone"), []byte{1})
	f.Add([]byte("b/p1"), []byte{0x0a, 0x05})
	f.Add([]byte("i/alice/cm1"), []byte{0x05, 0x0a, 0xff})
	f.Add([]byte("i/alice/cm1"), []byte{})
	f.Add([]byte("g/g1"), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte("r/c1"), []byte{0x80, 0x80})
	f.Add([]byte("s/"), msg)
	f.Add([]byte{}, []byte{})

	s := openStore(f, "")
	prefix := userPrefix("app", "bob")
	f.Fuzz(func(t *testing.T, suffix, value []byte) {
		key := append(append([]byte(nil), prefix...), suffix...)
		rawSet(t, s, key, value)
		defer func() {
			b := s.NewBatch()
			_ = b.b.Delete(key, nil)
			if err := s.Commit(b, false); err != nil {
				t.Fatal(err)
			}
		}()

		all := func(*wire.Message) bool { return true }
		for _, stream := range []string{"inbox", "group:g1", ""} {
			_ = s.ReadStream("app", "bob", stream, 0, ^uint64(0), all)
			_ = s.ReadStream("app", "bob", stream, 0x2e, 0x2f2f, all)
		}
		if cs, err := s.Cursors("app", "bob"); err == nil {
			for dev, streams := range cs {
				for stream, seq := range streams {
					if got, err := s.Cursor("app", "bob", dev, stream); err != nil || got != seq {
						t.Errorf("Cursors says %s/%s is at %d, Cursor = %d, %v", dev, stream, seq, got, err)
					}
				}
			}
		}
		_, _ = s.Cursor("app", "bob", "phone", "inbox")
		_, _ = s.UserBindings("app", "bob")
		_, _, _ = s.Binding("app", "bob", "p1")
		_, _, _, _ = s.Idempotency("app", "bob", "alice", "cm1")
		_, _ = s.UserGroups("app", "bob")
		_, _ = s.Ringing("app", "bob")
		_, _ = s.Sweep(1<<62, 1<<62)
	})
}
