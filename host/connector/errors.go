package connector

import (
	"context"
	"errors"
	"fmt"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
)

// codeOf maps the ABI's error codes to gRPC codes. baton-sdk retries
// Unavailable and DeadlineExceeded with back-off and gives up on the rest.
var codeOf = map[abi.Code]codes.Code{
	abi.CodeUnauthenticated:    codes.Unauthenticated,
	abi.CodePermissionDenied:   codes.PermissionDenied,
	abi.CodeNotFound:           codes.NotFound,
	abi.CodeInvalidArgument:    codes.InvalidArgument,
	abi.CodeFailedPrecondition: codes.FailedPrecondition,
	abi.CodeUnimplemented:      codes.Unimplemented,
	abi.CodeRateLimited:        codes.Unavailable,
	abi.CodeUnavailable:        codes.Unavailable,
	abi.CodeEgressDenied:       codes.PermissionDenied,
}

// guestError converts an error the guest returned into a gRPC status error.
// A rate-limited error carries a RateLimitDescription so baton-sdk's
// retryer waits until the reset time instead of guessing.
func guestError(export string, e *abi.Error) error {
	code, ok := codeOf[e.Code]
	if !ok {
		code = codes.Unknown
	}
	st := status.New(code, fmt.Sprintf("%s: %s", export, e.Message))
	if e.Code == abi.CodeRateLimited && e.RetryAfter != nil {
		rl := v2.RateLimitDescription_builder{
			Status:    v2.RateLimitDescription_STATUS_OVERLIMIT,
			Remaining: 0,
			ResetAt:   timestamppb.New(*e.RetryAfter),
		}.Build()
		if withDetails, err := st.WithDetails(rl); err == nil {
			st = withDetails
		}
	}
	return st.Err()
}

// callFailed converts a failure of the call itself. A guest that crashed,
// overran its time or broke the ABI is not retried: doing the same thing
// again would most likely fail the same way, and baton-sdk retries
// retryable codes without limit.
func callFailed(export string, err error) error {
	var ce *sandbox.CallError
	switch {
	case errors.As(err, &ce) && ce.Kind == sandbox.KindTimeout:
		return status.Errorf(codes.ResourceExhausted, "%v (raise the call timeout if the API is slow)", err)
	case errors.As(err, &ce):
		return status.Errorf(codes.Internal, "%v", err)
	case errors.Is(err, context.Canceled):
		return status.Errorf(codes.Canceled, "%s: %v", export, err)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Errorf(codes.DeadlineExceeded, "%s: %v", export, err)
	default:
		return status.Errorf(codes.Internal, "%s: %v", export, err)
	}
}

func malformed(export string, err error) error {
	return status.Errorf(codes.Internal, "%s: guest output is not a valid ABI v%d result: %v", export, abi.Version, err)
}
