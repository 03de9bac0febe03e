package abi

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error that crosses the boundary. The host maps each
// code to the gRPC code of the same meaning, so baton-sdk's retry and
// back-off treat guest errors as they treat any connector's.
type Code string

// The error codes of ABI version 1.
const (
	CodeUnknown          Code = "unknown"
	CodeUnauthenticated  Code = "unauthenticated"
	CodePermissionDenied Code = "permission_denied"
	CodeNotFound         Code = "not_found"
	CodeInvalidArgument  Code = "invalid_argument"
	// CodeFailedPrecondition: the request is valid but the current state
	// does not allow it (e.g. revoking access that comes from a broader
	// permission the guest will not change).
	CodeFailedPrecondition Code = "failed_precondition"
	// CodeUnimplemented: the guest does not support the operation.
	CodeUnimplemented Code = "unimplemented"
	CodeRateLimited   Code = "rate_limited"
	CodeUnavailable   Code = "unavailable"
	// CodeEgressDenied is returned by the host's HTTP function when a
	// request breaks the sandbox's egress rules.
	CodeEgressDenied Code = "egress_denied"
)

// Error is an error value crossing the boundary, in either direction.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// RetryAfter is set with CodeRateLimited: the earliest time the
	// operation may succeed.
	RetryAfter *time.Time `json:"retryAfter,omitempty"`
}

func (e *Error) Error() string {
	if e.RetryAfter != nil {
		return fmt.Sprintf("%s: %s (retry after %s)", e.Code, e.Message, e.RetryAfter.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError converts any error to an *Error, keeping the code of an *Error
// found in its chain and classifying everything else as CodeUnknown.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Error() == err.Error() {
			return e
		}
		return &Error{Code: e.Code, Message: err.Error(), RetryAfter: e.RetryAfter}
	}
	return &Error{Code: CodeUnknown, Message: err.Error()}
}
