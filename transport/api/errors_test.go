package api

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/wire"
)

// declaredErrorCodes reads every constant of type ErrorCode from package
// wire's source, so that a code added there is seen here without anyone
// remembering to list it.
func declaredErrorCodes(t *testing.T) []wire.ErrorCode {
	t.Helper()
	names, err := filepath.Glob("../../wire/*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var codes []wire.ErrorCode
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "ErrorCode" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: an ErrorCode that is not a string literal", fset.Position(v.Pos()))
					}
					s, _ := strconv.Unquote(lit.Value)
					codes = append(codes, wire.ErrorCode(s))
				}
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("no ErrorCode constants found in package wire")
	}
	return codes
}

// TestEveryErrorCodeHasAStatus: a code added to package wire without a status
// in actorStatus would reach clients as a 500 and log as unknown.
func TestEveryErrorCodeHasAStatus(t *testing.T) {
	for _, c := range declaredErrorCodes(t) {
		if _, known := actorStatus(c); !known {
			t.Errorf("wire.ErrorCode %q has no HTTP status in actorStatus", c)
		}
	}
}

// TestActorStatusIsTheDocumentedOne pins the status of every code as clients
// see it; changing one is an API change.
func TestActorStatusIsTheDocumentedOne(t *testing.T) {
	want := map[string]int{
		"bad_request":             http.StatusBadRequest,
		"provider_not_configured": http.StatusBadRequest,
		"too_many_members":        http.StatusBadRequest,
		"forbidden":               http.StatusForbidden,
		"not_member":              http.StatusForbidden,
		"not_found":               http.StatusNotFound,
		"conflict":                http.StatusConflict,
		"call_ended":              http.StatusConflict,
		"too_many_devices":        http.StatusConflict,
		"too_many_connections":    http.StatusTooManyRequests,
		"storage_failed":          http.StatusServiceUnavailable,
		"storage_unavailable":     http.StatusServiceUnavailable,
		"unavailable":             http.StatusServiceUnavailable,
		"node_work_failed":        http.StatusServiceUnavailable,
		"unknown_type":            http.StatusInternalServerError,
		"bad_key":                 http.StatusInternalServerError,
		"registered_again":        http.StatusInternalServerError,
	}
	codes := declaredErrorCodes(t)
	if len(codes) != len(want) {
		t.Errorf("package wire declares %d codes, this test pins %d: pin the new one's status here", len(codes), len(want))
	}
	for _, c := range codes {
		st, ok := want[string(c)]
		if !ok {
			t.Errorf("%q: no status pinned", c)
			continue
		}
		if got, _ := actorStatus(c); got != st {
			t.Errorf("%q: status %d, want %d", c, got, st)
		}
	}
}

// TestFromActorError: a known code keeps its code string and gets its status;
// a code from a peer of another version is a logged 500 that still names the
// code; errors that are not replies map as before.
func TestFromActorError(t *testing.T) {
	var logged bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logged, nil))}

	e := s.fromActorError(fmt.Errorf("wrapped: %w", &actors.RequestError{Code: wire.CodeCallEnded, Message: "call c1 has ended"}))
	if e.Status != http.StatusConflict || e.Code != "call_ended" || e.Message != "call c1 has ended" {
		t.Errorf("call_ended: %+v", e)
	}
	if logged.Len() != 0 {
		t.Errorf("a known code was logged: %s", logged.String())
	}

	e = s.fromActorError(&actors.RequestError{Code: "from_a_newer_node", Message: "m"})
	if e.Status != http.StatusInternalServerError || e.Code != "from_a_newer_node" {
		t.Errorf("unknown code: %+v", e)
	}
	if !strings.Contains(logged.String(), "code=from_a_newer_node") {
		t.Errorf("unknown code not logged with its code: %q", logged.String())
	}

	if e = s.fromActorError(fmt.Errorf("x: %w", actors.ErrUnavailable)); e.Status != http.StatusServiceUnavailable || e.Code != codeUnavailable {
		t.Errorf("ErrUnavailable: %+v", e)
	}
	if e = s.fromActorError(errors.New("boom")); e.Status != http.StatusInternalServerError || e.Code != codeInternal {
		t.Errorf("plain error: %+v", e)
	}
	own := badField("to", "must be set")
	if e = s.fromActorError(own); e != own {
		t.Errorf("an apiError is not passed through: %+v", e)
	}
}
