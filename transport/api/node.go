package api

import (
	"context"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// Node is what the API asks of the node it serves, declared here where it
// is used: *actors.Node is the one the daemon gives, and a handler test
// gives a small fake of this seam. Errors are actors' (RequestError,
// ErrUnavailable, ErrStopped), which fromActorError turns into answers.
type Node interface {
	Bind(ctx context.Context, b *wire.Binding) (pushID string, err error)
	Unbind(ctx context.Context, app, user, pushID string) error
	Logout(ctx context.Context, app, user, device string) error
	SetBadge(ctx context.Context, app, user string, count uint32) error
	Devices(ctx context.Context, app, user string) ([]*wire.Binding, error)
	Send(ctx context.Context, m *wire.Message) (*wire.SendReply, error)
	SendMany(ctx context.Context, msgs []*wire.Message) ([]*wire.SendReply, []error)
	TestPush(ctx context.Context, app, pushID string, o actors.TestPushOptions) (*wire.Binding, push.Result, error)
	GroupSet(ctx context.Context, app, group string, op wire.GroupOp, members []string) (uint64, error)
	GroupMembers(ctx context.Context, app, group string) ([]string, error)
	Call(ctx context.Context, r *wire.CallRequest) (*wire.CallReply, error)
	// Strangers are those of others who share no group with user.
	Strangers(ctx context.Context, app, user string, others []string) ([]string, error)
	CheckConnect(ctx context.Context, app, user, device string) error
	OpenSession(ctx context.Context, app, user, device string, conn actors.Conn, foreground bool) (*actors.Session, error)
	// PushRaw queues pushes to raw tokens (POST /api/push).
	PushRaw(ctx context.Context, app string, ps []actors.RawPush) error
	// The console's reads: the app's providers, the outbox's backlog, a
	// user's streams and cursors (on the user's owner), this node's address.
	AppProviders(app string) []string
	OutboxBacklog(app string, limit int) (map[string]actors.Backlog, bool, error)
	OwnsUser(app, user string) bool
	UserStreams(app, user string, recent int) ([]actors.StreamView, map[string]map[string]uint64, error)
	Address() string
	// Trace is the trace records of a message that this node's store holds
	// (storage.ErrTraceNotFound: none).
	Trace(app, messageID string) ([]storage.TraceEvent, error)
}

var _ Node = (*actors.Node)(nil)
