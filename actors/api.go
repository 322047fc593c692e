package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

// Send stores a one-to-one message in the receiver's inbox and returns once it
// is durable. m.From, m.To and the content must be validated by the caller.
func (n *Node) Send(ctx context.Context, m *wire.Message) (*wire.SendReply, error) {
	return requestAs[*wire.SendReply](ctx, n, sendKey(m), &wire.SendRequest{Message: m})
}

// SendMany stores several messages. Messages to the same receiver are stored
// in the order given; all are in flight at once, so their commits are grouped.
// Those this node routes go to its router in one message and are answered
// into one replySink; those of each other node go to its router in one
// EnvelopeBatch and are answered in one. It returns one reply or error per
// message.
func (n *Node) SendMany(ctx context.Context, msgs []*wire.Message) ([]*wire.SendReply, []error) {
	replies := make([]*wire.SendReply, len(msgs))
	errs := make([]error, len(msgs))
	answers := make([]proto.Message, len(msgs))
	timeout := n.o.RequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	sink := n.newReplySink(len(msgs))
	defer n.removeReplySink(sink)
	var batch []heldMessage
	var remotes []*remoteBatch
	byRouter := map[string]*remoteBatch{}
	for i, m := range msgs {
		key := sendKey(m)
		pid := n.routerFor(key)
		req := &wire.SendRequest{Message: m}
		if pid == n.router {
			batch = append(batch, heldMessage{msg: &local{key: key, msg: req}, sender: sink.sender(i)})
			continue
		}
		env, err := wire.Wrap(key, req)
		if err != nil {
			errs[i] = err
			continue
		}
		// Envelopes keep the order of msgs, so each receiver's actor gets
		// its messages in that order.
		rb := byRouter[pid.Address]
		if rb == nil {
			rb = &remoteBatch{pid: pid, batch: &wire.EnvelopeBatch{WaitMs: batchWait(timeout).Milliseconds()}}
			byRouter[pid.Address] = rb
			remotes = append(remotes, rb)
		}
		rb.batch.Items = append(rb.batch.Items, env)
		rb.index = append(rb.index, i)
	}
	for _, rb := range remotes {
		rb.future = n.system.Root.RequestFuture(rb.pid, rb.batch, timeout)
	}
	if len(batch) > 0 {
		sink.expect(len(batch))
		n.system.Root.Send(n.router, &routedBatch{items: batch})
		t := time.NewTimer(timeout)
		select {
		case <-sink.done:
		case <-t.C:
		case <-n.stopCh:
		}
		t.Stop()
		for _, h := range batch {
			if reply, err := unpack(sink.result(int(h.sender.RequestId))); err == nil {
				answers[h.sender.RequestId] = reply
			}
		}
	}
	for _, rb := range remotes {
		res, err := rb.future.Result()
		if err != nil {
			continue // each of its messages is tried once more below
		}
		got, ok := res.(*wire.EnvelopeBatch)
		if !ok || len(got.Items) != len(rb.index) {
			continue
		}
		for k, env := range got.Items {
			if env.GetType() == "" {
				continue // no reply in time
			}
			if reply, err := wire.Unwrap(env); err == nil {
				answers[rb.index[k]] = reply
			}
		}
	}
	for i := range msgs {
		if errs[i] != nil {
			continue
		}
		if answers[i] != nil {
			var moved bool
			var err error
			if replies[i], moved, err = sendReplyOf(answers[i]); !moved {
				errs[i] = err
				continue
			}
		}
		// Ownership moved or the owner did not answer: one more routed try.
		replies[i], errs[i] = n.Send(ctx, msgs[i])
	}
	return replies, errs
}

// batchWait is how long a node answering an EnvelopeBatch may wait for its
// replies when the sender waits timeout for the answer: a fifth less (at most
// a second less), so the answer arrives in time.
func batchWait(timeout time.Duration) time.Duration {
	return max(timeout-min(timeout/5, time.Second), time.Millisecond)
}

// remoteBatch is SendMany's messages for one other node: one EnvelopeBatch
// request, and the index in msgs of each of its items.
type remoteBatch struct {
	pid    *actor.PID
	batch  *wire.EnvelopeBatch
	index  []int
	future *actor.Future
}

// answerBatch routes the envelopes of another node's EnvelopeBatch and
// answers it with one EnvelopeBatch of their replies, in order, once all are
// in or the batch's wait has passed (an empty envelope for each missing).
func (n *Node) answerBatch(ctx actor.Context, r *router, b *wire.EnvelopeBatch) {
	sender := ctx.Sender()
	sink := n.newReplySink(len(b.Items))
	sink.expect(len(b.Items))
	for i, env := range b.Items {
		r.route(ctx, env, sink.sender(i))
	}
	n.goWork(func(work context.Context) {
		defer n.removeReplySink(sink)
		wait := n.o.RequestTimeout
		if w := time.Duration(b.GetWaitMs()) * time.Millisecond; w > 0 {
			wait = min(wait, w)
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-sink.done:
		case <-t.C:
		case <-work.Done():
			return
		}
		out := &wire.EnvelopeBatch{Items: make([]*wire.Envelope, len(b.Items))}
		for i, in := range b.Items {
			out.Items[i] = &wire.Envelope{}
			if reply, err := unpack(sink.result(i)); err == nil {
				if env, err := wire.Wrap(in.GetKey(), reply); err == nil {
					out.Items[i] = env
				}
			}
		}
		if sender != nil {
			n.system.Root.Send(sender, out)
		}
	})
}

// sendKey routes a message: to its receiver's user actor, or to its group's actor.
func sendKey(m *wire.Message) string {
	if m.ConversationType == 2 {
		return GroupKey(m.App, m.To)
	}
	return UserKey(m.App, m.To)
}

// GroupSet replaces, adds or removes members (as op says) and
// returns the member count.
func (n *Node) GroupSet(ctx context.Context, app, group string, op wire.GroupOp, members []string) (uint64, error) {
	r, err := requestAs[*wire.GroupSetReply](ctx, n, GroupKey(app, group), &wire.GroupSetRequest{App: app, Group: group, Members: members, Op: string(op)})
	return r.GetMembers(), err
}

// GroupMembers returns the group's members, sorted.
func (n *Node) GroupMembers(ctx context.Context, app, group string) ([]string, error) {
	r, err := requestAs[*wire.GroupGetReply](ctx, n, GroupKey(app, group), &wire.GroupGetRequest{App: app, Group: group})
	return r.GetMembers(), err
}

// Call acts on a call invitation: "invite" (a new call id is made), "cancel",
// "accept" or "reject".
func (n *Node) Call(ctx context.Context, r *wire.CallRequest) (*wire.CallReply, error) {
	if wire.CallAction(r.Action) == wire.CallInvite {
		r.CallId = NewMessageID(n.now())
	}
	return requestAs[*wire.CallReply](ctx, n, CallKey(r.App, r.CallId), r)
}

// claimRounds bounds how often a bind drops a holder and claims again before
// giving up (each round, another bind of the same token got in between).
const claimRounds = 4

// Bind binds b's token to b.User and returns its push id. A token bound to
// another user of the app before is taken from that user: once the binding
// is stored, the push id's token actor (on whichever node owns it) names
// the holder, whose binding is dropped before the index is moved. When that
// cannot be done, the new binding stands, the index still names the old
// holder and the error is returned: binding again (idempotent) finishes the
// move. Binds are stamped by the token actor's clock (stampBind). When the
// holder bound the token again after this bind was made, the newer binding
// wins: this one is withdrawn and a "conflict" error says so
// (before, both users kept the token and the index named this one).
func (n *Node) Bind(ctx context.Context, b *wire.Binding) (string, error) {
	b.PushId = PushID(b.App, b.Provider, b.Token)
	at, err := n.stampBind(ctx, b.App, b.PushId)
	if err != nil {
		return "", err
	}
	b.RegisteredAtMs = at
	r, err := requestAs[*wire.BindReply](ctx, n, UserKey(b.App, b.User), &wire.BindRequest{Binding: b})
	if err != nil {
		return "", err
	}
	dropped := ""
	for range claimRounds {
		holder, err := requestAs[*wire.PushIDOwner](ctx, n, TokenKey(b.App, r.PushId), &wire.PushIDClaim{App: b.App, PushId: r.PushId, User: b.User, Dropped: dropped})
		if err != nil {
			return "", fmt.Errorf("claim push id %s for user %s: %w", r.PushId, b.User, err)
		}
		if holder.User == "" {
			return r.PushId, nil
		}
		switch err := n.unbindMoved(ctx, b, holder.User, r.PushId); {
		case hasCode(err, wire.CodeRegisteredAgain):
			return "", n.withdrawBind(ctx, b, r.PushId)
		case err != nil:
			return "", fmt.Errorf("drop push id %s from its holder %s: %w", r.PushId, holder.User, err)
		}
		dropped = holder.User
	}
	return "", &RequestError{Code: wire.CodeUnavailable, Message: fmt.Sprintf("push id %s changed holders %d times during this bind; bind again", r.PushId, claimRounds)}
}

// stampBind is the registration time of a bind of pushID: the clock of the
// node that owns the push id's token actor, so that which of two binds came
// later is decided by one clock, whichever nodes took them (a node whose
// clock ran ahead would otherwise make its binds look newer than later ones
// and refuse those with a conflict). When this node owns the push id, its
// own clock is that clock and no request is made (a cluster of one never
// makes one). A token actor from before the stamp answers 0, and this
// node's clock stands in.
func (n *Node) stampBind(ctx context.Context, app, pushID string) (int64, error) {
	key := TokenKey(app, pushID)
	if n.routerFor(key) == n.router {
		return n.now().UnixMilli(), nil
	}
	o, err := requestAs[*wire.PushIDOwner](ctx, n, key, &wire.PushIDLookup{App: app, PushId: pushID})
	if err != nil {
		return 0, fmt.Errorf("stamp the bind of push id %s: %w", pushID, err)
	}
	if o.NowMs == 0 {
		return n.now().UnixMilli(), nil
	}
	return o.NowMs, nil
}

// withdrawBind drops the binding b stored, unless b.User bound the token
// again since, after its holder turned out to have bound it later than b
// was made. The index never named b.User, so nothing is released.
func (n *Node) withdrawBind(ctx context.Context, b *wire.Binding, pushID string) error {
	if err := n.unbindMoved(ctx, b, b.User, pushID); err != nil && !hasCode(err, wire.CodeRegisteredAgain) {
		return fmt.Errorf("withdraw push id %s from user %s, whose bind is older than its holder's: %w", pushID, b.User, err)
	}
	return &RequestError{Code: wire.CodeConflict, Message: fmt.Sprintf("push_id %s was bound again by another user after this bind was made; the newer binding holds the token (bind again to take it)", pushID)}
}

// unbindMoved asks user's actor to drop its binding of pushID, which the bind
// b (registered at b.RegisteredAtMs) is taking; a binding registered after
// that answers wire.CodeRegisteredAgain, and one already gone counts as dropped.
func (n *Node) unbindMoved(ctx context.Context, b *wire.Binding, user, pushID string) error {
	err := n.requestReply(ctx, UserKey(b.App, user), &wire.UnbindRequest{
		App: b.App, User: user, PushId: pushID, Moved: true, Reason: "moved", RegisteredBeforeMs: b.RegisteredAtMs,
	})
	if hasCode(err, wire.CodeNotFound) {
		return nil
	}
	return err
}

// Unbind removes the user's binding (unregister push).
func (n *Node) Unbind(ctx context.Context, app, user, pushID string) error {
	return n.requestReply(ctx, UserKey(app, user), &wire.UnbindRequest{App: app, User: user, PushId: pushID, Reason: "unregister"})
}

// Logout removes every binding of the device and closes its connections.
func (n *Node) Logout(ctx context.Context, app, user, device string) error {
	return n.requestReply(ctx, UserKey(app, user), &wire.LogoutRequest{App: app, User: user, DeviceId: device})
}

// SetBadge sets the user's unread badge to count.
func (n *Node) SetBadge(ctx context.Context, app, user string, count uint32) error {
	return n.requestReply(ctx, UserKey(app, user), &wire.BadgeSetRequest{App: app, User: user, Count: count})
}

// Devices lists the user's bindings with their last verdicts.
func (n *Node) Devices(ctx context.Context, app, user string) ([]*wire.Binding, error) {
	r, err := requestAs[*wire.DevicesReply](ctx, n, UserKey(app, user), &wire.DevicesRequest{App: app, User: user})
	return r.GetBindings(), err
}

// requestReply sends m to key's actor and returns the reply's error.
func (n *Node) requestReply(ctx context.Context, key string, m proto.Message) error {
	reply, err := n.Request(ctx, key, m)
	if err != nil {
		return err
	}
	return ReplyError(reply)
}

// requestAs sends m to key's actor and returns its reply as a T, or the
// reply's error.
func requestAs[T proto.Message](ctx context.Context, n *Node, key string, m proto.Message) (T, error) {
	var zero T
	reply, err := n.Request(ctx, key, m)
	if err != nil {
		return zero, err
	}
	if err := ReplyError(reply); err != nil {
		return zero, err
	}
	r, ok := reply.(T)
	if !ok {
		return zero, fmt.Errorf("actors: unexpected reply %T", reply)
	}
	return r, nil
}

// sendReplyOf reads a send's answer: the reply, whether the receiver's
// owner moved (try again, routed), or the error it carries. A reply of any
// other type (a peer of another version, or a bug) is an error.
func sendReplyOf(reply proto.Message) (*wire.SendReply, bool, error) {
	if _, moved := reply.(*wire.NotOwner); moved {
		return nil, true, nil
	}
	if err := ReplyError(reply); err != nil {
		return nil, false, err
	}
	r, ok := reply.(*wire.SendReply)
	if !ok {
		return nil, false, fmt.Errorf("actors: a send was answered with %T, not a SendReply", reply)
	}
	return r, false, nil
}
