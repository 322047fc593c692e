package actors

import (
	"go/ast"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pushd-im/pushd/wire"
)

// TestSendReplyOfUnexpectedType: a peer answering a send with a reply of
// another type (a newer or a buggy node) is an error, not a panic.
func TestSendReplyOfUnexpectedType(t *testing.T) {
	for _, res := range []proto.Message{&wire.Reply{}, &wire.BindReply{}, &wire.GroupGetReply{}, nil} {
		r, moved, err := sendReplyOf(res)
		if err == nil || r != nil || moved {
			t.Errorf("sendReplyOf(%T) = %v, %v, %v; want an error", res, r, moved, err)
		}
	}
	want := &wire.SendReply{MessageId: "m1", Seq: 3}
	if r, moved, err := sendReplyOf(want); err != nil || moved || r.MessageId != "m1" {
		t.Errorf("sendReplyOf(SendReply) = %v, %v, %v", r, moved, err)
	}
	if _, moved, err := sendReplyOf(&wire.NotOwner{}); err != nil || !moved {
		t.Errorf("sendReplyOf(NotOwner) = moved %v, %v; want moved", moved, err)
	}
	if _, _, err := sendReplyOf(&wire.SendReply{Error: &wire.Error{Code: string(wire.CodeNotMember)}}); !hasCode(err, wire.CodeNotMember) {
		t.Errorf("sendReplyOf(SendReply with an error) = %v", err)
	}
}

// TestTypeAssertionsAreChecked: a reply from a peer is outside input, so the
// package never asserts a type without checking it (x.(T) alone panics on
// another type): every assertion is a type switch or takes ", ok".
func TestTypeAssertionsAreChecked(t *testing.T) {
	fset, files := packageSource(t)
	for _, f := range files {
		checked := map[*ast.TypeAssertExpr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				if len(n.Lhs) == 2 && len(n.Rhs) == 1 {
					if ta, ok := n.Rhs[0].(*ast.TypeAssertExpr); ok {
						checked[ta] = true
					}
				}
			case *ast.ValueSpec:
				if len(n.Names) == 2 && len(n.Values) == 1 {
					if ta, ok := n.Values[0].(*ast.TypeAssertExpr); ok {
						checked[ta] = true
					}
				}
			case *ast.TypeAssertExpr:
				if n.Type != nil && !checked[n] { // n.Type is nil in a type switch
					t.Errorf("%s: unchecked type assertion; take \", ok\" or switch on the type", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
}
