// Package connector presents a guest as a baton-sdk connector. Connector
// implements connectorbuilder.ConnectorBuilderV2 by calling the guest's ABI
// exports through a Caller and building baton-sdk's v2 protos from the
// guest's documents with the SDK's resource, entitlement and grant helpers,
// so everything downstream (syncer, c1z, grant expansion, provisioning,
// service mode) is baton-sdk's own.
package connector

import (
	"context"
	"encoding/json"
	"fmt"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/synctrack"
)

// Caller runs one export of a guest: a sandbox pool, or native connector
// logic in benchmarks. input and the returned output are the JSON documents
// of package abi; sess is the sync-scoped session the guest may use (nil
// outside a sync).
type Caller interface {
	Call(ctx context.Context, export string, input []byte, sess abi.Session) ([]byte, error)
}

// GuestFault is implemented by the errors of a Caller that the guest
// caused (a trap, output that breaks the ABI, an overrun of its time:
// GuestFault reports which): they are final, never retried.
type GuestFault interface {
	error
	GuestFault() (timedOut bool)
}

// Connector is a guest seen as a baton-sdk ConnectorBuilderV2.
type Connector struct {
	caller Caller
	md     abi.Metadata
	config map[string]string
	types  map[string]*v2.ResourceType
	// noGrants holds the types whose resources are marked SkipGrants.
	noGrants map[string]bool
	limits   synclimits.Limits
	workers  int
	// tracker holds the state of the syncs that call the connector
	// directly; every Client has a tracker of its own.
	tracker  *synctrack.Tracker
	locks    *principalLocks
	failures *failureCounts
}

var _ connectorbuilder.ConnectorBuilderV2 = (*Connector)(nil)

// Option tunes a Connector.
type Option func(*Connector)

// WithMaxAttempts sets how many consecutive retryable failures of one call
// baton-sdk may see before the host makes the error final (default
// MaxAttempts).
func WithMaxAttempts(n int) Option {
	return func(c *Connector) {
		if n > 0 {
			c.failures.max = n
		}
	}
}

// WithLimits sets the limits of each whole sync (zero fields take
// synclimits' defaults).
func WithLimits(l synclimits.Limits) Option {
	return func(c *Connector) { c.limits = l }
}

// WithWorkers sets how many calls a sync of the connector makes at once
// (baton-sdk's sync workers): the caller's instances (default 1).
func WithWorkers(n int) Option {
	return func(c *Connector) { c.workers = max(1, n) }
}

// New returns the connector for a guest whose metadata is md. config holds
// the tenant's non-secret settings, passed to the guest with every call.
func New(caller Caller, md abi.Metadata, config map[string]string, opts ...Option) *Connector {
	c := &Connector{caller: caller, md: md, config: config, types: map[string]*v2.ResourceType{}, noGrants: map[string]bool{},
		locks: &principalLocks{}, failures: &failureCounts{max: MaxAttempts}, workers: 1}
	for _, o := range opts {
		o(c)
	}
	c.limits = c.limits.WithDefaults()
	c.tracker = synctrack.NewTracker(c.limits, nil)
	for _, rt := range md.ResourceTypes {
		c.types[rt.ID] = resourceType(rt)
		c.noGrants[rt.ID] = rt.NoGrants
	}
	return c
}

// Limits returns the limits of each whole sync, defaults applied.
func (c *Connector) Limits() synclimits.Limits { return c.limits }

// Workers returns how many calls a sync of the connector makes at once.
func (c *Connector) Workers() int { return c.workers }

// withTracker returns a view of c whose syncs are tracked by t; the
// view shares everything else (failure counts, provisioning locks).
func (c *Connector) withTracker(t *synctrack.Tracker) *Connector {
	v := *c
	v.tracker = t
	return &v
}

// Metadata describes the connector to baton-sdk; the builder adds the
// capabilities it derives from the resource syncers.
func (c *Connector) Metadata(context.Context) (*v2.ConnectorMetadata, error) {
	return v2.ConnectorMetadata_builder{
		DisplayName: c.md.DisplayName,
		Description: c.md.Description,
	}.Build(), nil
}

// Validate asks the guest to check its credentials against the API.
func (c *Connector) Validate(ctx context.Context) (annotations.Annotations, error) {
	_, err := call[abi.Empty](ctx, c, c.tracker.Sync(""), abi.ExportValidate, abi.Call{Config: c.config}, nil)
	return nil, err
}

// ResourceSyncers returns one syncer per resource type the guest declared.
func (c *Connector) ResourceSyncers(context.Context) []connectorbuilder.ResourceSyncerV2 {
	out := make([]connectorbuilder.ResourceSyncerV2, 0, len(c.md.ResourceTypes))
	for _, rt := range c.md.ResourceTypes {
		out = append(out, compose(&resourceSyncer{c: c, rt: c.types[rt.ID]}, rt))
	}
	return out
}

// call sends req to export and decodes the guest's result envelope,
// converting a guest error into a gRPC status error. scope is the sync the
// call belongs to: the call runs under the sync's deadline, carries scope
// to the host functions, and fails with the limit once the sync exceeded
// one, whatever the guest made of it.
func call[Res any](ctx context.Context, c *Connector, scope *synctrack.Sync, export string, req any, sess abi.Session) (Res, error) {
	var zero Res
	if err := scope.Check(); err != nil {
		return zero, limitExceeded(err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		return zero, fmt.Errorf("encoding %s input: %w", export, err)
	}
	callCtx := synctrack.WithSync(ctx, scope)
	if deadline, ok := scope.Deadline(); ok {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithDeadline(callCtx, deadline)
		defer cancel()
	}
	out, err := c.caller.Call(callCtx, export, in, sess)
	if scope.TimedOut() || scope.Err() != nil {
		return zero, limitExceeded(scope.Err())
	}
	if err != nil {
		return zero, c.failures.bound(export, in, callFailed(ctx, export, err))
	}
	var res abi.Result[Res]
	if err := json.Unmarshal(out, &res); err != nil {
		return zero, malformed(export, err)
	}
	if res.Error != nil {
		return zero, c.failures.bound(export, in, guestError(export, res.Error))
	}
	if res.OK == nil {
		return zero, malformed(export, fmt.Errorf("result has neither ok nor error"))
	}
	c.failures.succeeded(export, in)
	return *res.OK, nil
}
