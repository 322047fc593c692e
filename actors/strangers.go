package actors

import (
	"context"
	"sort"

	"github.com/pushd-im/pushd/wire"
)

// Strangers returns those of others who share no group with user (an app
// may keep devices from messaging or calling them). It reads group indexes,
// never group member lists: user's own index on user's shard (one request to
// its actor), then each other's index, asked only about user's groups, on
// that user's shard, so the answer holds in a cluster where they live on
// different nodes. The user is no stranger to itself.
func (n *Node) Strangers(ctx context.Context, app, user string, others []string) ([]string, error) {
	var out []string
	var mine *wire.UserGroupsReply
	for _, o := range others {
		if o == user {
			continue
		}
		if mine == nil {
			var err error
			if mine, err = requestAs[*wire.UserGroupsReply](ctx, n, UserKey(app, user), &wire.UserGroupsRequest{App: app, User: user}); err != nil {
				return nil, err
			}
		}
		if len(mine.Groups) == 0 {
			out = append(out, o)
			continue
		}
		theirs, err := requestAs[*wire.UserGroupsReply](ctx, n, UserKey(app, o), &wire.UserGroupsRequest{App: app, User: o, Among: mine.Groups})
		if err != nil {
			return nil, err
		}
		if len(theirs.Groups) == 0 {
			out = append(out, o)
		}
	}
	return out, nil
}

// userGroups answers which groups the user is in, from its index; with
// among, which of those (the first one found is enough for Strangers, and
// the answer stays small).
func (u *userActor) userGroups(among []string) *wire.UserGroupsReply {
	groups, err := u.n.o.Store.UserGroups(u.app, u.user)
	if err != nil {
		return &wire.UserGroupsReply{Error: storageError(err, "read the groups of user %s: %v", u.user, err)}
	}
	out := &wire.UserGroupsReply{}
	if len(among) > 0 {
		for _, g := range among {
			if _, ok := groups[g]; ok {
				out.Groups = append(out.Groups, g)
				break
			}
		}
		return out
	}
	out.Groups = make([]string, 0, len(groups))
	for g := range groups {
		out.Groups = append(out.Groups, g)
	}
	sort.Strings(out.Groups)
	return out
}
