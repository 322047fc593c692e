package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

// local is a message between actors of this process. It travels as the Go
// value; only a message to another node is marshalled into a wire.Envelope.
type local struct {
	key string
	msg proto.Message
}

// isLocal reports whether pid lives in this process.
func (n *Node) isLocal(pid *actor.PID) bool {
	return pid.Address == n.system.ProcessRegistry.Address
}

// pack is what to send pid for m: m itself in this process, an Envelope
// across nodes.
func (n *Node) pack(pid *actor.PID, key string, m proto.Message) (any, error) {
	if n.isLocal(pid) {
		return &local{key: key, msg: m}, nil
	}
	return wire.Wrap(key, m)
}

// send packs m for pid and sends it; a message that cannot be marshalled is
// logged (only our own generated types are sent).
func (n *Node) send(ctx actor.SenderContext, pid *actor.PID, key string, m proto.Message) {
	if pid == nil {
		return
	}
	packed, err := n.pack(pid, key, m)
	if err != nil {
		n.log.Error("actors: pack", "type", fmt.Sprintf("%T", m), "err", err)
		return
	}
	ctx.Send(pid, packed)
}

// routingKey is the key of a received envelope or local message.
func routingKey(m any) (string, bool) {
	switch v := m.(type) {
	case *local:
		return v.key, true
	case *wire.Envelope:
		return v.GetKey(), true
	}
	return "", false
}

// unpack takes the message out of a received envelope or local message.
func unpack(m any) (proto.Message, error) {
	switch v := m.(type) {
	case *local:
		return v.msg, nil
	case *wire.Envelope:
		return wire.Unwrap(v)
	}
	return nil, fmt.Errorf("actors: unexpected message %T", m)
}
