package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/pushd-im/pushd/actors"
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

// fromActorError maps an actors error to the API.
func fromActorError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if re, ok := actors.AsRequestError(err); ok {
		status := http.StatusInternalServerError
		switch re.Code {
		case "not_found":
			status = http.StatusNotFound
		case "too_many_devices":
			status = http.StatusConflict
		case "provider_not_configured", "bad_request":
			status = http.StatusBadRequest
		case "storage_failed", "unavailable", "node_work_failed":
			status = http.StatusServiceUnavailable
		case "not_member", "forbidden":
			status = http.StatusForbidden
		case "call_ended", "conflict":
			status = http.StatusConflict
		case "too_many_members":
			status = http.StatusBadRequest
		}
		return &apiError{Status: status, Code: re.Code, Message: re.Message}
	}
	if errors.Is(err, actors.ErrUnavailable) || errors.Is(err, actors.ErrStopped) {
		return &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: err.Error()}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: err.Error()}
}
