package tenant

import (
	"context"

	"github.com/conductorone/baton-sdk/pkg/types"

	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/connector"
	"github.com/baton-runner/baton-runner/internal/sdkguest"
)

// ClientOptions configures Client.
type ClientOptions struct {
	// Provisioning exposes grant, revoke, create-account and delete. When
	// false they fail with FailedPrecondition and say how to turn
	// provisioning on.
	Provisioning bool
	// Disk, if set, measures the files of the syncs run through the
	// client, which then end when they take more than the tenant's
	// Limits.MaxC1ZBytes.
	Disk *synclimits.Disk
}

// Client is baton-sdk's ConnectorClient for the tenant's sandboxed guest,
// served over gRPC inside this process: anything baton-sdk does with a
// connector (its syncer, provisioner, service-mode task manager) works
// with it, bounded by the tenant's limits. Close it when done.
type Client struct {
	types.ConnectorClient
	close func() error
}

// Client starts a Client for the tenant. Each sync run through it is
// bounded by the tenant's Limits on its own, tracked by its sync ID.
func (t *Tenant) Client(ctx context.Context, opts ClientOptions) (*Client, error) {
	if t.sdk != nil {
		cc := sdkguest.NewClient(ctx, t.pool, sdkguest.Options{Config: t.sdk.config, Provisioning: opts.Provisioning,
			Limits: t.sdk.limits, Disk: opts.Disk})
		return &Client{ConnectorClient: cc, close: func() error { return nil }}, nil
	}
	cc, err := connector.NewClient(ctx, t.connector, connector.ClientOptions{Provisioning: opts.Provisioning, Disk: opts.Disk})
	if err != nil {
		return nil, err
	}
	return &Client{ConnectorClient: cc, close: cc.Close}, nil
}

// Close stops the client's in-process server.
func (c *Client) Close() error { return c.close() }

// Workers is the number of sync workers baton-sdk should run against the
// tenant: one per guest instance (Config.Instances).
func (t *Tenant) Workers() int {
	if t.sdk != nil {
		return t.sdk.workers
	}
	return t.connector.Workers()
}
