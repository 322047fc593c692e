package storage

import (
	"encoding/binary"
	"fmt"
)

// MaxBadge is the largest unread badge a user can have: increments stop
// adding at it, and a set above it is refused by the API before it gets here.
const MaxBadge = 99999

// A user's unread badge is a base ("<user>/n/") plus one increment record
// per badge-carrying message ("<user>/n/<tag>"). Increments are blind writes
// of keys of their own, so that a group fan-out adds to each member's badge
// in the batch it already writes, without reading it first and without
// racing the member's actor. The tag names the message (an inbox seq, a
// group and seq), so a fan-out chunk written twice counts once.

// badgePrefix is "<user>/n/", the key of the base.
func badgePrefix(app, user string) []byte { return append(userPrefix(app, user), "n/"...) }

// badgeIncrementKey is the key of one increment; tag is not empty.
func badgeIncrementKey(app, user, tag string) []byte { return append(badgePrefix(app, user), tag...) }

// InboxBadgeTag is the increment tag of the user's inbox message seq.
func InboxBadgeTag(seq uint64) string {
	return string(binary.BigEndian.AppendUint64([]byte("i/"), seq))
}

// GroupBadgeTag is the increment tag of group message seq.
func GroupBadgeTag(group string, seq uint64) string {
	return string(binary.BigEndian.AppendUint64([]byte("g/"+group+"/"), seq))
}

// BadgeState is a user's badge as read: its count and the increment records
// that make it up, which FoldBadge may fold into the base.
type BadgeState struct {
	App, User string
	// Count is the base plus every increment, at most MaxBadge.
	Count uint32
	// keys are the increment records read.
	keys [][]byte
}

// Increments is how many increment records the count was read from.
func (b *BadgeState) Increments() int { return len(b.keys) }

// Badge reads the user's unread badge.
func (s *Store) Badge(app, user string) (*BadgeState, error) {
	st := &BadgeState{App: app, User: user}
	p := badgePrefix(app, user)
	var sum uint64
	err := s.scan(p, prefixEnd(p), func(k, v []byte) (bool, error) {
		n, size := binary.Uvarint(v)
		if size <= 0 {
			return false, fmt.Errorf("%w: badge key %q", ErrCorrupt, k)
		}
		if len(k) > len(p) {
			st.keys = append(st.keys, append([]byte(nil), k...))
		}
		sum = min(sum+n, MaxBadge)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	st.Count = uint32(sum)
	return st, nil
}

// AddBadge adds n to the user's badge, for the message the tag names.
func (b *Batch) AddBadge(app, user, tag string, n uint32) {
	if n == 0 || tag == "" {
		return
	}
	b.grows = true
	_ = b.b.Set(badgeIncrementKey(app, user, tag), binary.AppendUvarint(nil, uint64(n)), nil)
}

// SetBadge sets the user's badge to count: every increment committed before
// this batch is dropped, and later ones add to count.
func (b *Batch) SetBadge(app, user string, count uint32) {
	p := badgePrefix(app, user)
	_ = b.b.Set(p, binary.AppendUvarint(nil, uint64(min(count, MaxBadge))), nil)
	_ = b.b.DeleteRange(append(p, 0), prefixEnd(p), nil)
}

// FoldBadge makes st's count the base and deletes the increments st was read
// from, keeping the records few. Increments written since st was read stay,
// so the count is unchanged; only the badge's owner may fold, one fold or set
// at a time, since a fold commits a count read earlier.
func (b *Batch) FoldBadge(st *BadgeState) {
	p := badgePrefix(st.App, st.User)
	_ = b.b.Set(p, binary.AppendUvarint(nil, uint64(st.Count)), nil)
	for _, k := range st.keys {
		_ = b.b.Delete(k, nil)
	}
}
