package actors

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorCodesAreConstants: wire.ErrorCode is a string type, so Go would
// also take a bare literal where one is expected; a literal is a code no
// table of the HTTP API knows. This finds literals where the package puts
// its codes (errReply, hasCode, RequestError.Code).
func TestErrorCodesAreConstants(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		literal := func(e ast.Expr, where string) {
			if _, ok := e.(*ast.BasicLit); ok {
				t.Errorf("%s: %s takes a string literal; use a wire.ErrorCode constant", fset.Position(e.Pos()), where)
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
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "RequestError" {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
								literal(kv.Value, "RequestError.Code")
							}
						}
					}
				}
			}
			return true
		})
	}
}
