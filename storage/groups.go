package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/pushd-im/pushd/wire"
)

// PutGroup stores a group's record.
func (b *Batch) PutGroup(r *wire.GroupRecord) {
	b.grows = true
	b.setProto(groupRecordKey(r.App, r.Group), r)
}

// AddMember makes user a member of the group.
func (b *Batch) AddMember(app, group, user string) {
	b.grows = true
	_ = b.b.Set(memberKey(app, group, user), nil, nil)
}

// RemoveMember removes user from the group.
func (b *Batch) RemoveMember(app, group, user string) {
	_ = b.b.Delete(memberKey(app, group, user), nil)
}

// PutGroupMessage appends m (Seq set) to the group's stream, stored once for all members.
func (b *Batch) PutGroupMessage(app, group string, m *wire.Message) {
	b.grows = true
	b.setProto(groupMessageKey(app, group, m.Seq), m)
}

// DropGroupMessagesBefore removes the group stream's messages with seq < seq.
func (b *Batch) DropGroupMessagesBefore(app, group string, seq uint64) {
	_ = b.b.DeleteRange(groupMessageKey(app, group, 0), groupMessageKey(app, group, seq), nil)
}

// SetUserGroup records in the user's own keys that it is in the group, and
// from which group seq on it receives the group's messages.
func (b *Batch) SetUserGroup(app, user, group string, since uint64) {
	_ = b.b.Set(userGroupKey(app, user, group), binary.AppendUvarint(nil, since), nil)
}

// DeleteUserGroup forgets the user's membership of the group.
func (b *Batch) DeleteUserGroup(app, user, group string) {
	_ = b.b.Delete(userGroupKey(app, user, group), nil)
}

// PutFanout records a group message's fan-out in progress.
func (b *Batch) PutFanout(f *wire.Fanout) { b.setProto(fanoutKey(f.App, f.Group, f.Seq), f) }

// DeleteFanout removes a finished fan-out.
func (b *Batch) DeleteFanout(app, group string, seq uint64) {
	_ = b.b.Delete(fanoutKey(app, group, seq), nil)
}

// Group returns the group's record.
func (s *Store) Group(app, group string) (*wire.GroupRecord, bool, error) {
	k := groupRecordKey(app, group)
	v, ok, err := s.get(k)
	if err != nil || !ok {
		return nil, false, err
	}
	r := &wire.GroupRecord{}
	return r, true, decode(k, v, r)
}

// GroupMembers calls fn for each member from the first one >= from, in user id
// order, until fn returns false.
func (s *Store) GroupMembers(app, group, from string, fn func(user string) bool) error {
	p := memberKey(app, group, "")
	return s.scan(append(append([]byte(nil), p...), from...), prefixEnd(p), func(k, _ []byte) (bool, error) {
		return fn(string(k[len(p):])), nil
	})
}

// IsMember reports whether user is in the group.
func (s *Store) IsMember(app, group, user string) (bool, error) {
	_, ok, err := s.get(memberKey(app, group, user))
	return ok, err
}

// GroupLastSeq is the group stream's highest seq (0 when empty).
func (s *Store) GroupLastSeq(app, group string) (uint64, error) {
	return s.edgeSeq(groupStreamPrefix(app, group), true)
}

// GroupFirstSeq is the group stream's lowest stored seq (0 when empty).
func (s *Store) GroupFirstSeq(app, group string) (uint64, error) {
	return s.edgeSeq(groupStreamPrefix(app, group), false)
}

// ReadGroupStream calls fn for each group message with after < seq <= upto.
func (s *Store) ReadGroupStream(app, group string, after, upto uint64, fn func(*wire.Message) bool) error {
	return s.readStream(groupStreamPrefix(app, group), after, upto, fn)
}

// UserGroups returns the groups the user is in, with the seq each joined at.
func (s *Store) UserGroups(app, user string) (map[string]uint64, error) {
	p := append(userPrefix(app, user), "g/"...)
	out := map[string]uint64{}
	err := s.scan(p, prefixEnd(p), func(k, v []byte) (bool, error) {
		since, n := binary.Uvarint(v)
		if n <= 0 {
			return false, fmt.Errorf("%w: user group %q", ErrCorrupt, k)
		}
		out[string(k[len(p):])] = since
		return true, nil
	})
	return out, err
}

// Fanouts calls fn for every fan-out in progress.
func (s *Store) Fanouts(fn func(*wire.Fanout) bool) error {
	return scanFamily(s, fanoutFamily, fn)
}

// FanoutsIn calls fn for every unfinished fan-out of the groups in one shard.
func (s *Store) FanoutsIn(shard uint64, fn func(*wire.Fanout) bool) error {
	_, err := scanShardFamily(s, shard, fanoutFamily, fn)
	return err
}

// PutMemberTell records, in the group's shard, that a member's own keys (in
// the member's shard, which may be another node's) must still learn that it
// joined (since m.Since) or left: m names one user. The group's member keys
// are the truth; this record is how the member-side index catches up, by
// retries, after a failure between the two shards.
func (b *Batch) PutMemberTell(m *wire.Membership) {
	b.setProto(memberTellKey(m.App, m.Group, m.Users[0]), m)
}

// DeleteMemberTell forgets a tell the member's side acknowledged.
func (b *Batch) DeleteMemberTell(app, group, user string) {
	_ = b.b.Delete(memberTellKey(app, group, user), nil)
}

// MemberTells calls fn for each of the group's tells not yet acknowledged.
func (s *Store) MemberTells(app, group string, fn func(*wire.Membership) bool) error {
	p := memberTellPrefix(app, group)
	return scanProto(s, p, prefixEnd(p), func(_ []byte, m *wire.Membership) bool { return fn(m) })
}

// MemberTellsIn calls fn for every tell not yet acknowledged of the groups in one shard.
func (s *Store) MemberTellsIn(shard uint64, fn func(*wire.Membership) bool) error {
	_, err := scanShardFamily(s, shard, memberTellFamily, fn)
	return err
}
