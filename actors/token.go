package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

// tokenActor keeps one push id's entry of the push id index (which user of
// the app holds the token) on the node that owns TokenKey(app, push id).
// Bindings live with their users, on the users' nodes; the index entry lives
// here, so that a token bound to a user on one node finds the user that held
// it on another, and exactly one place decides who holds it. It holds no
// state between messages: the entry is read from the store each time.
type tokenActor struct {
	n      *Node
	app    string
	pushID string
	key    string
}

// tokenIdleTimeout is how long a token actor stays after its last message
// (or the node's idle timeout, when shorter). It keeps nothing in memory, so
// it need not outlive the few messages of one bind: at users' two minutes, a
// login storm of 10,000 binds a second would keep over a million of them.
const tokenIdleTimeout = time.Second

func newToken(n *Node, app, pushID string) *tokenActor {
	return &tokenActor{n: n, app: app, pushID: pushID, key: TokenKey(app, pushID)}
}

func (t *tokenActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(min(t.n.o.IdleTimeout, tokenIdleTimeout))
	case *actor.ReceiveTimeout:
		ctx.Send(ctx.Parent(), &passivate{key: t.key, pid: ctx.Self()})
	case *wire.Envelope, *local:
		sender := ctx.Sender()
		msg, err := unpack(m)
		if err != nil {
			t.n.send(ctx, sender, t.key, &wire.Reply{Error: errReply("unknown_type", "%v", err)})
			return
		}
		t.n.send(ctx, sender, t.key, t.handle(msg))
	}
}

func (t *tokenActor) handle(msg proto.Message) proto.Message {
	st := t.n.o.Store
	app, user, held, err := st.PushOwner(t.pushID)
	if err != nil {
		return &wire.PushIDOwner{Error: errReply("storage_failed", "%v", err)}
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
			return &wire.PushIDOwner{Error: errReply("storage_failed", "%v", err)}
		}
		return &wire.PushIDOwner{}
	case *wire.PushIDRelease:
		if !held || user != m.User {
			return &wire.Reply{} // taken by another user since, or gone already
		}
		b := st.NewBatch()
		b.DeletePushOwner(t.pushID)
		if err := st.Commit(b, true); err != nil {
			return &wire.Reply{Error: errReply("storage_failed", "%v", err)}
		}
		return &wire.Reply{}
	}
	return &wire.Reply{Error: errReply("unknown_type", "token actor does not handle %T", msg)}
}
