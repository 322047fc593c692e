package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/wire"
)

// apiError is an error that crosses the HTTP API: a stable code, a message
// that says what was wrong (naming the field), and the status it is sent with.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// The stable error codes of the API.
const (
	codeBadRequest   = "bad_request"        // malformed JSON, wrong types, out-of-range values
	codeUnknownField = "unknown_field"      // a field the route does not take
	codeTooLarge     = "too_large"          // body over max_body_bytes
	codeUnauthorized = "unauthorized"       // no or bad credentials
	codeForbidden    = "forbidden"          // credentials fine, action not allowed
	codeNotFound     = "not_found"          // no such route, binding, user
	codeBadMethod    = "method_not_allowed" // the route does not take the method
	codeUnavailable  = "unavailable"        // the owner node did not answer in time
	codeInternal     = "internal"
)

func badField(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Message: field + ": " + fmt.Sprintf(format, args...)}
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the answer failed"}}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// errorObject is an error as the API answers it: the whole body of a failed
// request (under "error") and the error of one item of a batch.
type errorObject struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) object() *errorObject { return &errorObject{Code: e.Code, Message: e.Message} }

func writeError(ctx *fasthttp.RequestCtx, e *apiError) {
	writeJSON(ctx, e.Status, struct {
		Error *errorObject `json:"error"`
	}{e.object()})
}

// fromActorError maps an actors error to the API. A code this binary has no
// constant for (a peer of a newer version answered it) is passed on with a 500
// and logged, so that the skew shows.
func (s *Server) fromActorError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if re, ok := actors.AsRequestError(err); ok {
		status, known := actorStatus(re.Code)
		if !known {
			s.log.Error("api: a node answered an error code this version does not know", "code", string(re.Code), "message", re.Message)
		}
		return &apiError{Status: status, Code: string(re.Code), Message: re.Message}
	}
	if errors.Is(err, actors.ErrUnavailable) || errors.Is(err, actors.ErrStopped) {
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: err.Error()}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: err.Error()}
}

// actorStatus is the HTTP status of an error code the actors answer with; it
// names every wire.ErrorCode (a test holds it to that), and known is false
// only for a code from outside that list.
func actorStatus(c wire.ErrorCode) (status int, known bool) {
	switch c {
	case wire.CodeBadRequest, wire.CodeProviderNotConfigured, wire.CodeTooManyMembers:
		return http.StatusBadRequest, true
	case wire.CodeForbidden, wire.CodeNotMember:
		return http.StatusForbidden, true
	case wire.CodeNotFound:
		return http.StatusNotFound, true
	case wire.CodeConflict, wire.CodeCallEnded, wire.CodeTooManyDevices:
		return http.StatusConflict, true
	case wire.CodeTooManyConnections:
		return http.StatusTooManyRequests, true
	case wire.CodeStorageFailed, wire.CodeStorageUnavailable, wire.CodeUnavailable, wire.CodeNodeWorkFailed:
		return http.StatusServiceUnavailable, true
	case wire.CodeUnknownType, wire.CodeBadKey, wire.CodeRegisteredAgain:
		// Internal to the nodes: a client sees one only through a bug or a
		// version skew between nodes.
		return http.StatusInternalServerError, true
	}
	return http.StatusInternalServerError, false
}
