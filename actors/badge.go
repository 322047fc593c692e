package actors

import (
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// badgeFoldAt is how many increment records a user's badge may have before
// the user's actor folds them into the base.
const badgeFoldAt = 32

// addBadge adds m's badge_increment to the user's badge in b, the batch that
// stores m for the user; tag names m. Now and then it also folds the
// increments the store holds into the base. A fold commits a count read
// before it, which is safe because only this actor folds or sets the badge
// and its commits apply in the order it makes them: a set (committed before
// the actor goes on) is never overtaken by a fold read before it.
func (u *userActor) addBadge(b *storage.Batch, m *wire.Message, tag string) {
	inc := m.GetPushConfig().GetBadgeIncrement()
	if inc <= 0 || m.From == u.user {
		return
	}
	b.AddBadge(u.app, u.user, tag, uint32(inc))
	st, err := u.n.o.Store.Badge(u.app, u.user)
	if err != nil || st.Increments() < badgeFoldAt {
		// A badge that cannot be read is left as it is: the increment is
		// written, and the push reports the read error.
		return
	}
	b.FoldBadge(st)
}

// setBadge sets the user's badge (POST /v1/badge), durably before it answers.
// Increments of messages committed before it are dropped; any a fan-out
// writes after it add to the new count.
func (u *userActor) setBadge(m *wire.BadgeSetRequest) *wire.Reply {
	if m.Count > storage.MaxBadge {
		return &wire.Reply{Error: errReply(wire.CodeBadRequest, "count %d is over the largest badge, %d", m.Count, storage.MaxBadge)}
	}
	b := u.n.o.Store.NewBatch()
	b.SetBadge(u.app, u.user, m.Count)
	if err := u.n.o.Store.Commit(b, true); err != nil {
		return &wire.Reply{Error: storageError(err, "%v", err)}
	}
	return &wire.Reply{}
}

// userBadge is the absolute badge j's push carries: its user's unread count
// as the push is handed to the vendor, which includes j's message (its
// increment committed with it, before the job was handed over) and every
// message since. -1: the push takes its push_config's number as it is (no
// badge_increment, a test push, a raw gorush push).
func (v *vendorActor) userBadge(j *wire.PushJob) int {
	if j.GetPushConfig().GetBadgeIncrement() <= 0 || j.MessageId == "" || rawJob(j) {
		return -1
	}
	st, err := v.n.o.Store.Badge(j.App, j.User)
	if err != nil {
		// The push still goes, with its message's increment for a badge.
		v.n.log.Error("vendor actor: read badge", "app", j.App, "user", j.User, "err", err)
		return -1
	}
	return int(st.Count)
}
