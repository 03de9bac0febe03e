package connector

import (
	"context"
	"fmt"
	"net"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/connectorclient"
	"github.com/conductorone/baton-sdk/pkg/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/baton-runner/baton-runner/host/sessionstore"
)

// maxMessageBytes lifts gRPC's 4 MiB default: a page of resources with
// large profiles can exceed it, and both ends are this process.
const maxMessageBytes = 64 << 20

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
}

// NewClient wraps c with baton-sdk's connector builder and serves it to a
// ConnectorClient in this process. Close the Client when done.
func NewClient(ctx context.Context, c *Connector, opts ClientOptions) (*Client, error) {
	srv, err := connectorbuilder.NewConnector(ctx, c,
		connectorbuilder.WithSessionStore(sessionstore.New(0)))
	if err != nil {
		return nil, fmt.Errorf("building connector: %w", err)
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessageBytes), grpc.MaxSendMsgSize(maxMessageBytes))
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
	if provisioning {
		v2.RegisterGrantManagerServiceServer(gs, srv)
	} else {
		v2.RegisterGrantManagerServiceServer(gs, provisioningDisabled{})
	}
}

// provisioningDisabled answers grant and revoke requests when provisioning
// is off, as baton-sdk's connectors do, with a hint.
type provisioningDisabled struct {
	v2.UnimplementedGrantManagerServiceServer
}

var errProvisioningDisabled = status.Error(codes.FailedPrecondition,
	"provisioning is disabled: set BATON_PROVISIONING=true (--provisioning) to let this connector grant and revoke access")

func (provisioningDisabled) Grant(context.Context, *v2.GrantManagerServiceGrantRequest) (*v2.GrantManagerServiceGrantResponse, error) {
	return nil, errProvisioningDisabled
}

func (provisioningDisabled) Revoke(context.Context, *v2.GrantManagerServiceRevokeRequest) (*v2.GrantManagerServiceRevokeResponse, error) {
	return nil, errProvisioningDisabled
}

// Close shuts the in-process server and connection down.
func (c *Client) Close() error {
	err := c.conn.Close()
	c.server.Stop()
	return err
}
