package actors

import (
	"errors"
	"fmt"

	"github.com/pushd-im/pushd/storage"
	"github.com/pushd-im/pushd/wire"
)

// RequestError is a reply's wire.Error as a Go error; its Code is stable. A
// peer of another version may answer a code this binary has no constant for.
type RequestError struct {
	Code    wire.ErrorCode
	Message string
}

func (e *RequestError) Error() string { return string(e.Code) + ": " + e.Message }

// ReplyError extracts the wire.Error of any reply (nil when it succeeded).
func ReplyError(reply any) error {
	type withError interface{ GetError() *wire.Error }
	r, ok := reply.(withError)
	if !ok {
		return fmt.Errorf("actors: unexpected reply %T", reply)
	}
	if e := r.GetError(); e != nil {
		return &RequestError{Code: wire.ErrorCode(e.Code), Message: e.Message}
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
func hasCode(err error, code wire.ErrorCode) bool {
	re, ok := AsRequestError(err)
	return ok && re.Code == code
}

// storageError is the reply to a request whose store read or write failed:
// storage_unavailable while the disk is short of space (the client may retry
// later), unavailable while the shard moves between nodes or has no quorum
// (retryable), storage_failed otherwise.
func storageError(err error, format string, args ...any) *wire.Error {
	code := wire.CodeStorageFailed
	switch {
	case errors.Is(err, storage.ErrNoSpace):
		code = wire.CodeStorageUnavailable
	case errors.Is(err, storage.ErrNotWriter), errors.Is(err, storage.ErrNotCommitted):
		code = wire.CodeUnavailable
	}
	return errReply(code, format, args...)
}

// errReply builds a wire.Error; the code is typed so that only a constant of
// package wire (or a deliberate conversion) goes on the wire.
func errReply(code wire.ErrorCode, format string, args ...any) *wire.Error {
	return &wire.Error{Code: string(code), Message: fmt.Sprintf(format, args...)}
}
