package actors

import (
	"errors"
	"fmt"

	"github.com/pushd-im/pushd/wire"
)

// RequestError is a reply's wire.Error as a Go error; its Code is stable.
type RequestError struct {
	Code    string
	Message string
}

func (e *RequestError) Error() string { return e.Code + ": " + e.Message }

// ReplyError extracts the wire.Error of any reply (nil when it succeeded).
func ReplyError(reply any) error {
	type withError interface{ GetError() *wire.Error }
	r, ok := reply.(withError)
	if !ok {
		return fmt.Errorf("actors: unexpected reply %T", reply)
	}
	if e := r.GetError(); e != nil {
		return &RequestError{Code: e.Code, Message: e.Message}
	}
	return nil
}

// AsRequestError unwraps a *RequestError.
func AsRequestError(err error) (*RequestError, bool) {
	var re *RequestError
	ok := errors.As(err, &re)
	return re, ok
}

// hasCode says whether err is a RequestError with code.
func hasCode(err error, code string) bool {
	re, ok := AsRequestError(err)
	return ok && re.Code == code
}

// errReply builds a wire.Error.
func errReply(code, format string, args ...any) *wire.Error {
	return &wire.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
