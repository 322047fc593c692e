package actors

import (
	"context"
	"fmt"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/wire"
)

// The push types a test push may take.
const (
	TestPushAlert  = "alert"  // a notification, as a message's push
	TestPushVoIP   = "voip"   // a call invitation's VoIP push (the binding should be a VoIP one)
	TestPushSilent = "silent" // a data-only push, as a passthrough profile makes
)

// TestPushOptions is what POST /v1/push/test asks for: the push's content
// (title, content, payload, resources_id, badge, VoIP handle), its type
// ("" is the binding's own: alert, or voip for a VoIP binding) and whether
// to send it.
type TestPushOptions struct {
	Config   *wire.PushConfig
	PushType string
	DryRun   bool
}

// TestPush sends (or, with DryRun, only builds) one push to a binding of the
// app straight through its vendor client, bypassing the outbox, and returns the
// exact exchange. It is the online debugging tool of POST /v1/push/test.
func (n *Node) TestPush(ctx context.Context, app, pushID string, o TestPushOptions) (*wire.Binding, push.Result, error) {
	notFound := &RequestError{Code: wire.CodeNotFound, Message: fmt.Sprintf("push_id %s is not bound in app %s", pushID, app)}
	owner, err := requestAs[*wire.PushIDOwner](ctx, n, TokenKey(app, pushID), &wire.PushIDLookup{App: app, PushId: pushID})
	if err != nil {
		return nil, push.Result{}, err
	}
	if owner.User == "" {
		return nil, push.Result{}, notFound
	}
	user := owner.User
	bindings, err := n.Devices(ctx, app, user)
	if err != nil {
		return nil, push.Result{}, err
	}
	var b *wire.Binding
	for _, bd := range bindings {
		if bd.PushId == pushID {
			b = bd
		}
	}
	if b == nil {
		return nil, push.Result{}, notFound
	}
	a := n.o.Apps[app]
	var s push.Sender
	if a != nil {
		s = a.Senders[push.Provider(b.Provider)]
	}
	if s == nil {
		return b, push.Result{}, &RequestError{Code: wire.CodeProviderNotConfigured, Message: fmt.Sprintf("provider %s is not configured for app %s", b.Provider, app)}
	}
	pushType := b.PushType
	switch o.PushType {
	case TestPushVoIP:
		pushType = "voip"
	case TestPushAlert, TestPushSilent:
		pushType = "alert"
	}
	now := n.now()
	j := &wire.PushJob{
		Id: 0, App: app, User: user, PushId: pushID, DeviceId: b.DeviceId, Provider: b.Provider, Token: b.Token,
		BundleId: b.BundleId, ApnsEnv: b.ApnsEnv, PushType: pushType, Stream: "test", PushConfig: o.Config,
		Priority: int32(push.PriorityHigh), CreatedAtMs: now.UnixMilli(), ExpiresAtMs: now.Add(n.o.PushTTL).UnixMilli(),
		CollapseId: "test-" + NewMessageID(now),
	}
	nt := notification(a, j)
	if o.PushType == TestPushSilent {
		nt.Passthrough = true
	}
	nt.DryRun = o.DryRun
	res := s.Send(ctx, nt)
	return b, res, nil
}
