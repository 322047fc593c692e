package actors

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// RawPush is one push to a vendor token that no user's binding holds: what a
// gorush-style request (POST /api/push) names. It goes through the outbox
// like any push, with the same retries and verdicts, but has no binding to
// check before it is sent, and a vendor's "invalid token" unbinds nothing.
type RawPush struct {
	Provider   push.Provider
	Token      string
	BundleID   string // APNs topic; "" is the provider's configured bundle id
	APNsEnv    string // "development" or "production"; "" is production
	PushType   string // "alert" or "voip"
	Config     *wire.PushConfig
	Priority   push.Priority
	CollapseID string            // "" makes one
	Data       map[string]string // carried to the app
	Expires    time.Time         // zero, or later than the push TTL: the push TTL
}

// rawUser begins the user of a RawPush's job: no user id can (user ids have
// no '~'). The job is stored as the jobs of users are, in the shard of that
// "user", which PushRaw picks among the shards this node writes.
const rawUser = "~raw:"

// rawJob says whether j is a RawPush's job: one with no user behind it.
func rawJob(j *wire.PushJob) bool { return strings.HasPrefix(j.User, rawUser) }

// rawJobUser is a raw job's user whose shard this node writes, so that the
// node can commit the job and its vendor actors send it; another node that
// takes the shard later resumes it from there.
func (n *Node) rawJobUser(app string) (string, bool) {
	for k := range 16 * storage.NumShards {
		u := rawUser + strconv.Itoa(k)
		if n.OwnsShard(storage.ShardOf(UserKey(app, u))) {
			return u, true
		}
	}
	return "", false
}

// PushRaw writes one outbox job for each push, durably (fsynced) in one
// batch, and hands them to their vendor actors. Nothing is written when a
// push names a provider the app does not have: the error says which.
func (n *Node) PushRaw(ctx context.Context, app string, ps []RawPush) error {
	a := n.o.Apps[app]
	for i, p := range ps {
		if a == nil || a.Senders[p.Provider] == nil {
			return &RequestError{Code: wire.CodeProviderNotConfigured, Message: fmt.Sprintf("push %d: provider %s is not configured for app %s", i, p.Provider, app)}
		}
	}
	if len(ps) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	user, ok := n.rawJobUser(app)
	if !ok {
		return &RequestError{Code: wire.CodeUnavailable, Message: "this node writes no shard now; try again or another node"}
	}
	now := n.now()
	ttl := now.Add(n.o.PushTTL)
	b := n.o.Store.NewBatch()
	jobs := make([]*wire.PushJob, len(ps))
	for i, p := range ps {
		expires := ttl
		if !p.Expires.IsZero() && p.Expires.Before(ttl) {
			expires = p.Expires
		}
		id := n.o.Store.NewPushID()
		collapse := p.CollapseID
		if collapse == "" {
			collapse = "raw-" + NewMessageID(now)
		}
		j := &wire.PushJob{
			Id: id, App: app, User: user, PushId: PushID(app, string(p.Provider), p.Token), Provider: string(p.Provider), Token: p.Token,
			BundleId: p.BundleID, ApnsEnv: p.APNsEnv, PushType: p.PushType, PushConfig: p.Config,
			Priority: int32(p.Priority), CreatedAtMs: now.UnixMilli(), ExpiresAtMs: expires.UnixMilli(),
			CollapseId: collapse, Data: p.Data,
		}
		b.PutPush(j)
		jobs[i] = j
	}
	if err := n.o.Store.Commit(b, true); err != nil {
		return storeFailed(err, "write %d pushes to the outbox: %v", len(ps), err)
	}
	n.dispatchPushes(jobs, now)
	return nil
}
