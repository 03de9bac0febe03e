package connector

import (
	"context"
	"fmt"
	"net"
	"unicode/utf8"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/connectorclient"
	"github.com/conductorone/baton-sdk/pkg/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/sessionstore"
	"github.com/baton-runner/baton-runner/internal/synctrack"
)

// maxMessageBytes lifts gRPC's 4 MiB default: a page of resources with
// large profiles can exceed it, and both ends are this process.
const maxMessageBytes = 64 << 20

// maxStatusBytes bounds the message of every status the in-process server
// returns. Guest text in it is clipped already (abi.ClipText), but
// baton-sdk wraps errors in text of its own; a status past gRPC's 16 MiB
// header limit breaks the connection, which the client reports as
// Unavailable, and baton-sdk retries that without end.
const maxStatusBytes = 4 * abi.MaxTextBytes

// Client is an in-process baton-sdk ConnectorClient for a Connector: real
// gRPC over an in-memory listener, so baton-sdk's syncer, provisioner and
// service-mode task manager talk to the guest exactly as they would to a
// connector subprocess, without re-executing the binary.
type Client struct {
	types.ConnectorClient
	server *grpc.Server
	conn   *grpc.ClientConn
}

// ClientOptions configures NewClient.
type ClientOptions struct {
	// Provisioning exposes the grant and revoke services. When false they
	// fail with FailedPrecondition and say how to turn provisioning on.
	Provisioning bool
	// Disk, if set, measures the files of the syncs run through this
	// client, which then end when they take more than the connector's
	// MaxC1ZBytes.
	Disk *synclimits.Disk
}

// NewClient wraps c with baton-sdk's connector builder and serves it to a
// ConnectorClient in this process. The syncs run through the client are
// bounded by c's limits, each tracked by its sync ID. Close the Client
// when done.
func NewClient(ctx context.Context, c *Connector, opts ClientOptions) (*Client, error) {
	c = c.withTracker(synctrack.NewTracker(c.limits, opts.Disk))
	srv, err := connectorbuilder.NewConnector(ctx, c,
		connectorbuilder.WithSessionStore(sessionstore.New(0)))
	if err != nil {
		return nil, fmt.Errorf("building connector: %w", err)
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessageBytes), grpc.MaxSendMsgSize(maxMessageBytes),
		grpc.ChainUnaryInterceptor(boundStatus))
	register(gs, srv, opts.Provisioning)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = gs.Serve(lis) }()

	conn, err := grpc.NewClient("passthrough:///baton-runner-guest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageBytes), grpc.MaxCallSendMsgSize(maxMessageBytes)),
	)
	if err != nil {
		gs.Stop()
		return nil, fmt.Errorf("connecting to in-process connector: %w", err)
	}
	return &Client{ConnectorClient: connectorclient.NewConnectorClient(ctx, conn), server: gs, conn: conn}, nil
}

// boundStatus cuts the message of a failed call's status to
// maxStatusBytes, keeping its code; details (a rate limit's reset time)
// are kept unless they are oversized too.
func boundStatus(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err == nil {
		return resp, nil
	}
	p := status.Convert(err).Proto()
	if len(p.GetMessage()) > maxStatusBytes {
		p.Message = clip(p.GetMessage(), maxStatusBytes)
	}
	if proto.Size(p) > 2*maxStatusBytes {
		p.Details = nil
	}
	return resp, status.ErrorProto(p)
}

// clip cuts s to at most n bytes on a UTF-8 boundary.
func clip(s string, n int) string {
	const note = "… [cut]"
	cut := n - len(note)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + note
}

// register exposes the services baton-sdk's clients use.
func register(gs *grpc.Server, srv types.ConnectorServer, provisioning bool) {
	v2.RegisterConnectorServiceServer(gs, srv)
	v2.RegisterResourceTypesServiceServer(gs, srv)
	v2.RegisterResourcesServiceServer(gs, srv)
	v2.RegisterResourceGetterServiceServer(gs, srv)
	v2.RegisterEntitlementsServiceServer(gs, srv)
	v2.RegisterGrantsServiceServer(gs, srv)
	v2.RegisterAssetServiceServer(gs, srv)
	v2.RegisterEventServiceServer(gs, srv)
	v2.RegisterActionServiceServer(gs, srv)
	// Account creation and deletion change access like grants do, so the
	// same switch governs them.
	if provisioning {
		v2.RegisterGrantManagerServiceServer(gs, srv)
		v2.RegisterAccountManagerServiceServer(gs, srv)
		v2.RegisterResourceManagerServiceServer(gs, srv)
		v2.RegisterResourceDeleterServiceServer(gs, srv)
	} else {
		v2.RegisterGrantManagerServiceServer(gs, provisioningDisabled{})
		v2.RegisterAccountManagerServiceServer(gs, accountsDisabled{})
		v2.RegisterResourceManagerServiceServer(gs, resourceManagerDisabled{})
		v2.RegisterResourceDeleterServiceServer(gs, deleterDisabled{})
	}
}

// provisioningDisabled answers grant and revoke requests when provisioning
// is off, as baton-sdk's connectors do, with a hint.
type provisioningDisabled struct {
	v2.UnimplementedGrantManagerServiceServer
}

var errProvisioningDisabled = status.Error(codes.FailedPrecondition,
	"provisioning is disabled: set BATON_PROVISIONING=true (--provisioning) to let this connector grant and revoke access, create accounts and delete resources")

func (provisioningDisabled) Grant(context.Context, *v2.GrantManagerServiceGrantRequest) (*v2.GrantManagerServiceGrantResponse, error) {
	return nil, errProvisioningDisabled
}

func (provisioningDisabled) Revoke(context.Context, *v2.GrantManagerServiceRevokeRequest) (*v2.GrantManagerServiceRevokeResponse, error) {
	return nil, errProvisioningDisabled
}

// accountsDisabled, resourceManagerDisabled and deleterDisabled answer
// create-account and delete requests when provisioning is off.
type accountsDisabled struct {
	v2.UnimplementedAccountManagerServiceServer
}

func (accountsDisabled) CreateAccount(context.Context, *v2.CreateAccountRequest) (*v2.CreateAccountResponse, error) {
	return nil, errProvisioningDisabled
}

type resourceManagerDisabled struct {
	v2.UnimplementedResourceManagerServiceServer
}

func (resourceManagerDisabled) CreateResource(context.Context, *v2.CreateResourceRequest) (*v2.CreateResourceResponse, error) {
	return nil, errProvisioningDisabled
}

func (resourceManagerDisabled) DeleteResource(context.Context, *v2.DeleteResourceRequest) (*v2.DeleteResourceResponse, error) {
	return nil, errProvisioningDisabled
}

type deleterDisabled struct {
	v2.UnimplementedResourceDeleterServiceServer
}

func (deleterDisabled) DeleteResourceV2(context.Context, *v2.DeleteResourceV2Request) (*v2.DeleteResourceV2Response, error) {
	return nil, errProvisioningDisabled
}

// Close shuts the in-process server and connection down.
func (c *Client) Close() error {
	err := c.conn.Close()
	c.server.Stop()
	return err
}
