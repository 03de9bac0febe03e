package sdkguest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/internal/sdkguest"
)

// caller answers every call with out and err, and records the last input.
type caller struct {
	out  []byte
	err  error
	last abi.BatonSDKCall
}

func (c *caller) Call(_ context.Context, export string, in []byte, _ abi.Session) ([]byte, error) {
	if export != abi.ExportBatonGRPC {
		return nil, errors.New("wrong export " + export)
	}
	if err := json.Unmarshal(in, &c.last); err != nil {
		return nil, err
	}
	return c.out, c.err
}

// TestCallFailuresAreNotRetried: baton-sdk retries Unavailable and
// DeadlineExceeded without end; a guest that traps, times out or writes
// garbage would be called again and again, so those are Internal, and a
// call its caller cancelled stays Canceled.
func TestCallFailuresAreNotRetried(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		c    *caller
		want codes.Code
	}{
		"trap":      {&caller{err: &sandbox.CallError{Kind: sandbox.KindTrap, Err: errors.New("unreachable")}}, codes.Internal},
		"timeout":   {&caller{err: &sandbox.CallError{Kind: sandbox.KindTimeout, Err: errors.New("2m")}}, codes.Internal},
		"canceled":  {&caller{err: &sandbox.CallError{Kind: sandbox.KindCanceled, Err: context.Canceled}}, codes.Canceled},
		"malformed": {&caller{out: []byte("{not json")}, codes.Internal},
	} {
		t.Run(name, func(t *testing.T) {
			cc := sdkguest.NewClient(ctx, tc.c, sdkguest.Options{Config: map[string]string{"org": "acme"}})
			_, err := cc.ListResourceTypes(ctx, v2.ResourceTypesServiceListResourceTypesRequest_builder{}.Build())
			if got := status.Code(err); got != tc.want {
				t.Fatalf("err = %v (%s), want %s", err, got, tc.want)
			}
			if tc.c.last.Config["org"] != "acme" || len(tc.c.last.Request) == 0 {
				t.Errorf("call %+v: want the configuration and the request", tc.c.last)
			}
		})
	}
}

// TestProvisioningNeedsToBeOn: without Options.Provisioning, what changes
// access is refused before the guest is called.
func TestProvisioningNeedsToBeOn(t *testing.T) {
	ctx := context.Background()
	c := &caller{err: errors.New("the guest must not be called")}
	cc := sdkguest.NewClient(ctx, c, sdkguest.Options{})
	for name, call := range map[string]func() error{
		"grant": func() error {
			_, err := cc.Grant(ctx, v2.GrantManagerServiceGrantRequest_builder{}.Build())
			return err
		},
		"revoke": func() error {
			_, err := cc.Revoke(ctx, v2.GrantManagerServiceRevokeRequest_builder{}.Build())
			return err
		},
		"create account": func() error {
			_, err := cc.CreateAccount(ctx, v2.CreateAccountRequest_builder{}.Build())
			return err
		},
		"delete": func() error {
			_, err := cc.DeleteResourceV2(ctx, v2.DeleteResourceV2Request_builder{}.Build())
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("%s: err = %v, want FailedPrecondition", name, err)
		}
	}
	if c.last.Request != nil {
		t.Error("the guest was called")
	}
}

// TestSocketFailuresSayWhy: a connector's own socket fails at once in
// the guest with Go's wording, which reads like a network fault; the
// error gains why, keeps its code and details, and others are untouched.
func TestSocketFailuresSayWhy(t *testing.T) {
	refused := status.Error(codes.Unavailable, "ldap: dial tcp 10.0.0.1:389: connect: connection refused")
	got := sdkguest.WithSocketHint(refused)
	if status.Code(got) != codes.Unavailable || !strings.Contains(status.Convert(got).Message(), "connection refused (the connector opened a socket of its own") {
		t.Errorf("socket failure became %v", got)
	}
	if again := sdkguest.WithSocketHint(got); status.Convert(again).Message() != status.Convert(got).Message() {
		t.Errorf("the hint was added twice: %v", again)
	}
	other := status.Error(codes.NotFound, "user u1 not found")
	if got := sdkguest.WithSocketHint(other); got != other {
		t.Errorf("an unrelated error became %v", got)
	}
	if sdkguest.WithSocketHint(nil) != nil {
		t.Error("nil became an error")
	}
}
