package rpcerr

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/host/synclimits"
)

// A whole-sync limit is found by the connector, behind baton-sdk's gRPC
// client, and reported by localsync in front of it: the *synclimits.Error
// crosses as an ErrorInfo so that callers can still errors.As it.
const (
	limitDomain = "baton-runner"
	limitReason = "SYNC_LIMIT_EXCEEDED"
)

// LimitStatus returns err, a sync over one of its limits, as a
// ResourceExhausted status: final for baton-sdk (its retryer retries only
// Unavailable and DeadlineExceeded, its syncer skips only NotFound), so the
// sync ends at once. A *synclimits.Error in err travels with it.
func LimitStatus(err error) error {
	st := status.New(codes.ResourceExhausted, err.Error())
	var le *synclimits.Error
	if errors.As(err, &le) {
		info := &errdetails.ErrorInfo{Domain: limitDomain, Reason: limitReason,
			Metadata: map[string]string{"key": le.Key, "detail": le.Detail}}
		if withInfo, derr := st.WithDetails(info); derr == nil {
			st = withInfo
		}
	}
	return st.Err()
}

// Limit returns the *synclimits.Error carried by a status LimitStatus made,
// found anywhere in err's tree, or nil. It walks joined errors itself: a
// parallel sync joins its workers' errors, and the limit may follow the
// siblings it cancelled, where errors.As would stop at the first status.
func Limit(err error) *synclimits.Error {
	if gs, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		for _, d := range gs.GRPCStatus().Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == limitDomain && info.GetReason() == limitReason {
				return &synclimits.Error{Key: info.GetMetadata()["key"], Detail: info.GetMetadata()["detail"]}
			}
		}
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if l := Limit(e); l != nil {
				return l
			}
		}
	case interface{ Unwrap() error }:
		return Limit(u.Unwrap())
	}
	return nil
}
