package rpcerr

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSentence(t *testing.T) {
	inner := status.Error(codes.InvalidArgument, "baton_grant: group membership can only be granted to users")
	chain := status.Errorf(codes.Unknown, "grant failed: %v", inner)
	for _, tc := range []struct {
		err  error
		msg  string
		code codes.Code
	}{
		{inner, "group membership can only be granted to users", codes.InvalidArgument},
		{chain, "group membership can only be granted to users", codes.InvalidArgument},
		{fmt.Errorf("sync into x.c1z: %w", status.Error(codes.Unauthenticated, "segment: HTTP 401")), "segment: HTTP 401", codes.Unauthenticated},
		{errors.New("plain"), "plain", codes.Unknown},
	} {
		msg, code := Sentence(tc.err)
		if msg != tc.msg || code != tc.code {
			t.Errorf("Sentence(%v) = %q, %v; want %q, %v", tc.err, msg, code, tc.msg, tc.code)
		}
	}
}
