package wire

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestWrapUnwrapRoundTrip(t *testing.T) {
	in := &SendRequest{Message: &Message{MessageId: "m1", Body: "hi", Seq: 7}}
	env, err := Wrap("u/demo/bob", in)
	if err != nil {
		t.Fatal(err)
	}
	if env.Key != "u/demo/bob" || env.Type != "pushd.wire.SendRequest" {
		t.Fatalf("envelope = %v", env)
	}
	out, err := Unwrap(env)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Fatalf("got %v, want %v", out, in)
	}
}

func TestUnwrapUnknownTypeIsAnErrorNotAPanic(t *testing.T) {
	for _, typ := range []string{"pushd.wire.FutureThing", "google.protobuf.Empty", "", "x"} {
		_, err := Unwrap(&Envelope{Type: typ, Payload: []byte{1, 2, 3}})
		if !errors.Is(err, ErrUnknownType) {
			t.Errorf("type %q: err = %v, want ErrUnknownType", typ, err)
		}
	}
}

func FuzzUnwrap(f *testing.F) {
	env, _ := Wrap("k", &AckRequest{Stream: "inbox", Seq: 3})
	f.Add(env.Type, env.Payload)
	f.Add("pushd.wire.Deliver", []byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		_, _ = Unwrap(&Envelope{Type: typ, Payload: payload})
	})
}
