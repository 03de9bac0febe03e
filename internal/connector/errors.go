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
	"github.com/baton-runner/baton-runner/internal/rpcerr"
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
	st := status.New(code, fmt.Sprintf("%s: %s", export, abi.ClipText(e.Message)))
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
// retryable codes without limit. ctx is the caller's: when it is done the
// caller gave up, which is no fault of the guest's and no reason to retry.
func callFailed(ctx context.Context, export string, err error) error {
	var gf GuestFault
	text := abi.ClipText(err.Error())
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return status.Errorf(codes.Canceled, "%s: cancelled by the caller: %s", export, text)
	case errors.As(err, &gf) && gf.GuestFault():
		return status.Errorf(codes.ResourceExhausted, "%s (raise the call timeout if the API is slow)", text)
	case errors.As(err, &gf):
		return status.Error(codes.Internal, text)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Errorf(codes.DeadlineExceeded, "%s: %s", export, text)
	default:
		return status.Errorf(codes.Internal, "%s: %s", export, text)
	}
}

// malformed reports guest output that breaks the ABI. err may quote the
// guest's own strings (IDs, types), so its text is clipped.
func malformed(export string, err error) error {
	return status.Errorf(codes.Internal, "%s: guest output is not a valid ABI v%d result: %s", export, abi.Version, abi.ClipText(err.Error()))
}

// limitExceeded reports a sync over one of its limits, ending the sync
// (rpcerr.LimitStatus).
func limitExceeded(err error) error { return rpcerr.LimitStatus(err) }
