package actors

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pushd-im/pushd/wire"
)

// This file holds the read-only views the web console and the backend's
// admin routes ask the node for. They read the node's own store: a user's
// streams and cursors are on the node that owns the user, so on another node
// the answer says so instead of showing nothing.

// AppProviders are the providers configured for the app, sorted.
func (n *Node) AppProviders(app string) []string {
	a := n.o.Apps[app]
	if a == nil {
		return nil
	}
	out := make([]string, 0, len(a.Senders))
	for p := range a.Senders {
		out = append(out, string(p))
	}
	sort.Strings(out)
	return out
}

// OwnsUser reports whether this node owns the user's actor, and so holds
// its streams and cursors.
func (n *Node) OwnsUser(app, user string) bool {
	return n.ownsKey(UserKey(app, user))
}

// StreamView is one of a user's streams: its last seq and its most recent
// messages, oldest first.
type StreamView struct {
	Stream   string
	FirstSeq uint64
	LastSeq  uint64
	Recent   []*wire.Message
}

// UserStreams reads the user's inbox and the group streams its devices have
// cursors in, each with its last `recent` messages, and every device's
// cursors (device → stream → seq). It answers unavailable on a node that
// does not own the user.
func (n *Node) UserStreams(app, user string, recent int) ([]StreamView, map[string]map[string]uint64, error) {
	if !n.OwnsUser(app, user) {
		return nil, nil, &RequestError{Code: wire.CodeUnavailable, Message: fmt.Sprintf("user %s is owned by another node; ask that node", user)}
	}
	st := n.o.Store
	cursors, err := st.Cursors(app, user)
	if err != nil {
		return nil, nil, storeFailed(err, "read the cursors of user %s: %v", user, err)
	}
	streams := []string{inbox}
	seen := map[string]bool{inbox: true}
	for _, byStream := range cursors {
		for s := range byStream {
			if !seen[s] && strings.HasPrefix(s, "group:") {
				seen[s] = true
				streams = append(streams, s)
			}
		}
	}
	sort.Strings(streams[1:])
	views := make([]StreamView, 0, len(streams))
	for _, s := range streams {
		v, err := n.streamView(app, user, s, recent)
		if err != nil {
			return nil, nil, storeFailed(err, "read stream %s of user %s: %v", s, user, err)
		}
		views = append(views, v)
	}
	return views, cursors, nil
}

// streamView reads one stream's edges and its last `recent` messages.
func (n *Node) streamView(app, user, stream string, recent int) (StreamView, error) {
	st := n.o.Store
	v := StreamView{Stream: stream}
	var err error
	group, isGroup := strings.CutPrefix(stream, "group:")
	if isGroup {
		if v.FirstSeq, err = st.GroupFirstSeq(app, group); err == nil {
			v.LastSeq, err = st.GroupLastSeq(app, group)
		}
	} else if v.FirstSeq, err = st.FirstSeq(app, user, stream); err == nil {
		v.LastSeq, err = st.LastSeq(app, user, stream)
	}
	if err != nil || v.LastSeq == 0 {
		return v, err
	}
	after := uint64(0)
	if v.LastSeq > uint64(recent) {
		after = v.LastSeq - uint64(recent)
	}
	keep := func(m *wire.Message) bool { v.Recent = append(v.Recent, m); return true }
	if isGroup {
		err = st.ReadGroupStream(app, group, after, v.LastSeq, keep)
	} else {
		err = st.ReadStream(app, user, stream, after, v.LastSeq, keep)
	}
	return v, err
}

// Backlog is what waits in this node's outbox for one provider of an app.
type Backlog struct {
	Pending  int // pushes not yet answered for good
	Retrying int // of those, pushes that have been tried and wait for another attempt
}

// OutboxBacklog counts the app's push jobs waiting in the outbox of the
// shards this node writes, by provider, reading at most limit jobs (complete is false when it stopped
// there). Fan-out chunks are not counted: their pushes get jobs of their own
// once they wait for a retry.
func (n *Node) OutboxBacklog(app string, limit int) (map[string]Backlog, bool, error) {
	out := map[string]Backlog{}
	read := 0
	complete := true
	err := n.o.Store.Pushes(func(j *wire.PushJob) bool {
		if read++; read > limit {
			complete = false
			return false
		}
		if j.App != app || !n.OwnsShard(jobShard(j)) {
			return true // another app's, or a replica of a shard another node sends
		}
		b := out[j.Provider]
		b.Pending++
		if j.Attempts > 0 {
			b.Retrying++
		}
		out[j.Provider] = b
		return true
	})
	if err != nil {
		return nil, false, storeFailed(err, "read the outbox: %v", err)
	}
	return out, complete, nil
}

// storeFailed is a failed store read or write as a RequestError with storageError's code.
func storeFailed(err error, format string, args ...any) error {
	e := storageError(err, format, args...)
	return &RequestError{Code: wire.ErrorCode(e.Code), Message: e.Message}
}
