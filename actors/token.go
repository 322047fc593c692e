package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

// tokenActor keeps one push id's entry of the push id index (which user of
// the app holds the token) on the node that owns TokenKey(app, push id).
// Bindings live with their users, on the users' nodes; the index entry lives
// here, so that a token bound to a user on one node finds the user that held
// it on another, and exactly one place decides who holds it. It holds no
// state between messages (the entry is read from the store each time), so it
// stops after each one: a login storm of 10,000 binds a second would
// otherwise keep a million of them alive for the users' idle timeout.
type tokenActor struct {
	n      *Node
	app    string
	pushID string
	key    string
}

func newToken(n *Node, app, pushID string) *tokenActor {
	return &tokenActor{n: n, app: app, pushID: pushID, key: TokenKey(app, pushID)}
}

func (t *tokenActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *wire.Envelope, *local:
		sender := ctx.Sender()
		msg, err := unpack(m)
		if err != nil {
			t.n.send(ctx, sender, t.key, &wire.Reply{Error: errReply(wire.CodeUnknownType, "%v", err)})
		} else {
			reply := t.handle(msg)
			if o, ok := reply.(*wire.PushIDOwner); ok {
				o.NowMs = t.n.now().UnixMilli()
			}
			t.n.send(ctx, sender, t.key, reply)
		}
		// Nothing to keep: stop now. A message that arrives meanwhile waits
		// at the router for the next incarnation. (A receive timeout would
		// do the same later, and protoactor's timeout timer races with the
		// actor's stop: the race detector caught it.)
		ctx.Send(ctx.Parent(), &passivate{key: t.key, pid: ctx.Self()})
	}
}

func (t *tokenActor) handle(msg proto.Message) proto.Message {
	st := t.n.o.Store
	app, user, held, err := st.PushOwner(t.app, t.pushID)
	if err != nil {
		return &wire.PushIDOwner{Error: storageError(err, "%v", err)}
	}
	held = held && app == t.app
	switch m := msg.(type) {
	case *wire.PushIDLookup:
		if !held {
			user = ""
		}
		return &wire.PushIDOwner{User: user}
	case *wire.PushIDClaim:
		if held && user == m.User {
			return &wire.PushIDOwner{}
		}
		if held && user != m.Dropped {
			return &wire.PushIDOwner{User: user} // its binding goes first
		}
		b := st.NewBatch()
		b.PutPushOwner(t.pushID, t.app, m.User)
		if err := st.Commit(b, true); err != nil {
			return &wire.PushIDOwner{Error: storageError(err, "%v", err)}
		}
		return &wire.PushIDOwner{}
	case *wire.PushIDRelease:
		if !held || user != m.User {
			return &wire.Reply{} // taken by another user since, or gone already
		}
		b := st.NewBatch()
		b.DeletePushOwner(t.app, t.pushID)
		if err := st.Commit(b, true); err != nil {
			return &wire.Reply{Error: storageError(err, "%v", err)}
		}
		return &wire.Reply{}
	}
	return &wire.Reply{Error: errReply(wire.CodeUnknownType, "token actor does not handle %T", msg)}
}
