package wire

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// ErrUnknownType is returned by Unwrap for an envelope whose type this binary
// does not know (a newer node's message during a rolling upgrade).
var ErrUnknownType = errors.New("wire: unknown envelope type")

// Wrap marshals m into an Envelope routed by key.
func Wrap(key string, m proto.Message) (*Envelope, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: marshal %T: %w", m, err)
	}
	return &Envelope{Type: string(m.ProtoReflect().Descriptor().FullName()), Payload: b, Key: key}, nil
}

// Unwrap decodes the envelope's payload into a new message of its type. Only the
// types of this package are accepted.
func Unwrap(e *Envelope) (proto.Message, error) {
	name := protoreflect.FullName(e.GetType())
	if name.Parent() != "pushd.wire" {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, e.GetType())
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, e.GetType())
	}
	m := mt.New().Interface()
	if err := proto.Unmarshal(e.GetPayload(), m); err != nil {
		return nil, fmt.Errorf("wire: unmarshal %s: %w", name, err)
	}
	return m, nil
}
