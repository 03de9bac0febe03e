// Package sdkguest makes a baton-sdk guest (guest/batonsdk) baton-sdk's
// own ConnectorClient: baton-sdk's transport-agnostic gRPC client
// (pkg/lambda/grpc) whose transport is a call of the guest's baton_grpc
// export. Every ConnectorV2 method, its annotations and its status details
// cross the boundary as baton-sdk marshals them, so what the connector
// returns reaches the syncer, the provisioner and service mode unchanged.
package sdkguest

import (
	"context"
	"encoding/json"
	"errors"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/connectorclient"
	lgrpc "github.com/conductorone/baton-sdk/pkg/lambda/grpc"
	"github.com/conductorone/baton-sdk/pkg/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/synctrack"
)

// Caller runs a guest export (sandbox.Pool).
type Caller interface {
	Call(ctx context.Context, export string, input []byte, sess abi.Session) ([]byte, error)
}

// Options configures NewClient.
type Options struct {
	// Config holds the connector's configuration values by field name.
	Config map[string]string
	// Provisioning lets grant, revoke, account creation and deletion
	// through; without it they fail with FailedPrecondition.
	Provisioning bool
	// Limits bound each sync run through the client (zero fields take
	// synclimits' defaults); Disk, if set, measures the syncs' files for
	// Limits.MaxC1ZBytes.
	Limits synclimits.Limits
	Disk   *synclimits.Disk
}

// NewClient returns the guest behind c as a ConnectorClient.
func NewClient(ctx context.Context, c Caller, opts Options) types.ConnectorClient {
	tracker := synctrack.NewTracker(opts.Limits.WithDefaults(), opts.Disk)
	var cc types.ConnectorClient = &limited{
		ConnectorClient: connectorclient.NewConnectorClient(ctx, noSockets{lgrpc.NewClientConn(&transport{caller: c, config: opts.Config, tracker: tracker})}),
		tracker:         tracker,
	}
	if opts.Provisioning {
		return cc
	}
	return &readOnly{ConnectorClient: cc}
}

type transport struct {
	caller  Caller
	config  map[string]string
	tracker *synctrack.Tracker
}

// RoundTrip calls baton_grpc. A failure of the call itself (a trap, a
// timeout, output over the limits) is the guest's fault and not one that
// waiting fixes, so it becomes Internal, which baton-sdk does not retry;
// a cancelled call stays Canceled.
func (t *transport) RoundTrip(ctx context.Context, req *lgrpc.Request) (*lgrpc.Response, error) {
	rb, err := req.MarshalJSON()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding %s: %v", req.Method(), err)
	}
	in, err := json.Marshal(abi.BatonSDKCall{Config: t.config, Request: rb})
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding %s: %v", req.Method(), err)
	}
	if synctrack.FromContext(ctx) == nil {
		ctx = synctrack.WithSync(ctx, t.tracker.Sync(""))
	}
	out, err := t.caller.Call(ctx, abi.ExportBatonGRPC, in, nil)
	var ce *sandbox.CallError
	switch {
	case errors.As(err, &ce) && ce.Kind == sandbox.KindCanceled:
		return nil, status.Error(codes.Canceled, err.Error())
	case err != nil:
		return nil, status.Errorf(codes.Internal, "%s: %v", req.Method(), err)
	}
	resp := &lgrpc.Response{}
	if err := resp.UnmarshalJSON(out); err != nil {
		return nil, status.Errorf(codes.Internal, "%s: the guest's response is malformed: %v", req.Method(), err)
	}
	return resp, nil
}

// readOnly refuses what changes access unless provisioning is on, as
// baton-sdk's runner does without --provisioning.
type readOnly struct{ types.ConnectorClient }

var errNoProvisioning = status.Error(codes.FailedPrecondition, "provisioning is not enabled for this connector")

func (readOnly) Grant(context.Context, *v2.GrantManagerServiceGrantRequest, ...grpc.CallOption) (*v2.GrantManagerServiceGrantResponse, error) {
	return nil, errNoProvisioning
}

func (readOnly) Revoke(context.Context, *v2.GrantManagerServiceRevokeRequest, ...grpc.CallOption) (*v2.GrantManagerServiceRevokeResponse, error) {
	return nil, errNoProvisioning
}

func (readOnly) CreateAccount(context.Context, *v2.CreateAccountRequest, ...grpc.CallOption) (*v2.CreateAccountResponse, error) {
	return nil, errNoProvisioning
}

func (readOnly) DeleteResource(context.Context, *v2.DeleteResourceRequest, ...grpc.CallOption) (*v2.DeleteResourceResponse, error) {
	return nil, errNoProvisioning
}

func (readOnly) DeleteResourceV2(context.Context, *v2.DeleteResourceV2Request, ...grpc.CallOption) (*v2.DeleteResourceV2Response, error) {
	return nil, errNoProvisioning
}
