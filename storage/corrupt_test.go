package storage

import (
	"errors"
	"testing"

	"github.com/pushd-im/pushd/wire"
)

// garbage does not decode as any protobuf message: a varint that never ends.
var garbage = []byte{0xff, 0xff, 0xff}

// TestCorruptValues stores bytes no writer produces under each kind of key and
// checks that every reader answers with an error wrapping ErrCorrupt.
func TestCorruptValues(t *testing.T) {
	cases := []struct {
		name  string
		key   []byte
		value []byte
		read  func(s *Store) error
	}{
		{"binding", bindingKey("app", "bob", "p1"), garbage, func(s *Store) error {
			_, _, err := s.Binding("app", "bob", "p1")
			return err
		}},
		{"user bindings", bindingKey("app", "bob", "p1"), garbage, func(s *Store) error {
			_, err := s.UserBindings("app", "bob")
			return err
		}},
		{"push index without a '/'", pushIndexKey("app", "p1"), []byte("appbob"), func(s *Store) error {
			_, _, _, err := s.PushOwner("app", "p1")
			return err
		}},
		{"message", messageKey("app", "bob", "inbox", 1), garbage, func(s *Store) error {
			return s.ReadStream("app", "bob", "inbox", 0, ^uint64(0), func(*wire.Message) bool { return true })
		}},
		{"group message", append(groupStreamPrefix("app", "g1"), 0, 0, 0, 0, 0, 0, 0, 1), garbage, func(s *Store) error {
			return s.ReadGroupStream("app", "g1", 0, ^uint64(0), func(*wire.Message) bool { return true })
		}},
		{"message, at Sweep", messageKey("app", "bob", "inbox", 1), garbage, func(s *Store) error {
			_, err := s.Sweep(1000, 1000)
			return err
		}},
		{"cursor, empty", cursorKey("app", "bob", "d", "inbox"), nil, func(s *Store) error {
			_, err := s.Cursor("app", "bob", "d", "inbox")
			return err
		}},
		{"cursors, unterminated varint", cursorKey("app", "bob", "d", "inbox"), []byte{0x80}, func(s *Store) error {
			_, err := s.Cursors("app", "bob")
			return err
		}},
		{"cursors, overflowing varint", cursorKey("app", "bob", "d", "inbox"), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, func(s *Store) error {
			_, err := s.Cursors("app", "bob")
			return err
		}},
		{"cursor key without a stream", append(userPrefix("app", "bob"), "c/d"...), []byte{1}, func(s *Store) error {
			_, err := s.Cursors("app", "bob")
			return err
		}},
		{"idempotency, empty", idempotencyKey("app", "bob", "alice", "cm"), nil, func(s *Store) error {
			_, _, _, err := s.Idempotency("app", "bob", "alice", "cm")
			return err
		}},
		{"idempotency record", idempotencyKey("app", "bob", "alice", "cm"), append([]byte{5}, garbage...), func(s *Store) error {
			_, _, _, err := s.Idempotency("app", "bob", "alice", "cm")
			return err
		}},
		{"group idempotency record", groupIdempotencyKey("app", "g1", "alice", "cm"), append([]byte{5}, garbage...), func(s *Store) error {
			_, _, _, err := s.GroupIdempotency("app", "g1", "alice", "cm")
			return err
		}},
		{"push job", outboxKey("app", "bob", 3), garbage, func(s *Store) error {
			_, _, err := s.Push("app", "bob", 3)
			return err
		}},
		{"pushes", outboxKey("app", "bob", 3), garbage, func(s *Store) error {
			return s.Pushes(func(*wire.PushJob) bool { return true })
		}},
		{"push chunks", chunkKey(5, 3), garbage, func(s *Store) error {
			return s.PushChunks(func(*wire.PushChunk) bool { return true })
		}},
		{"user groups", userGroupKey("app", "bob", "g1"), []byte{0x80}, func(s *Store) error {
			_, err := s.UserGroups("app", "bob")
			return err
		}},
		{"group record", groupRecordKey("app", "g1"), garbage, func(s *Store) error {
			_, _, err := s.Group("app", "g1")
			return err
		}},
		{"fanouts", fanoutKey("app", "g1", 1), garbage, func(s *Store) error {
			return s.Fanouts(func(*wire.Fanout) bool { return true })
		}},
		{"call", callKey("app", "c1"), garbage, func(s *Store) error {
			_, _, err := s.Call("app", "c1")
			return err
		}},
		{"calls", callKey("app", "c1"), garbage, func(s *Store) error {
			return s.Calls(func(*wire.CallRecord) bool { return true })
		}},
		{"ringing", ringingKey("app", "bob", "c1"), nil, func(s *Store) error {
			_, err := s.Ringing("app", "bob")
			return err
		}},
		{"quota", quotaKey(9, "app", "xiaomi", "2026-01-02"), []byte{0x80}, func(s *Store) error {
			_, err := s.QuotaUsed(9, "app", "xiaomi", "2026-01-02")
			return err
		}},
	}
	s := openStore(t, "")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rawSet(t, s, c.key, c.value)
			defer func() {
				b := s.NewBatch()
				_ = b.b.Delete(c.key, nil)
				if err := s.Commit(b, false); err != nil {
					t.Fatal(err)
				}
			}()
			if err := c.read(s); !errors.Is(err, ErrCorrupt) {
				t.Errorf("read of a corrupt %s = %v, want an error wrapping ErrCorrupt", c.name, err)
			}
		})
	}
}
