package actors

import (
	"go/ast"
	"testing"
)

// TestCodesAndActionsAreConstants: wire.ErrorCode, wire.CallAction and wire.GroupOp are string
// types, so Go would also take a bare literal where one is expected; a
// literal code is one no table of the HTTP API knows. This finds literals
// where the package puts codes (errReply, hasCode, RequestError.Code) and
// call actions and group ops (CallRequest.Action, GroupSetRequest.Op).
func TestCodesAndActionsAreConstants(t *testing.T) {
	fset, files := packageSource(t)
	for _, f := range files {
		literal := func(e ast.Expr, where string) {
			if _, ok := e.(*ast.BasicLit); ok {
				t.Errorf("%s: %s takes a string literal; use a constant of package wire", fset.Position(e.Pos()), where)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && len(n.Args) > 0 {
					switch {
					case id.Name == "errReply":
						literal(n.Args[0], "errReply")
					case id.Name == "hasCode" && len(n.Args) > 1:
						literal(n.Args[1], "hasCode")
					}
				}
			case *ast.CompositeLit:
				var field string
				switch typ := n.Type.(type) {
				case *ast.Ident:
					if typ.Name == "RequestError" {
						field = "Code"
					}
				case *ast.SelectorExpr:
					switch typ.Sel.Name {
					case "CallRequest":
						field = "Action"
					case "GroupSetRequest":
						field = "Op"
					}
				}
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok && field != "" {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == field {
							literal(kv.Value, field)
						}
					}
				}
			}
			return true
		})
	}
}
