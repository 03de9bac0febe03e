// Package guest is the Go side of the connector contract: the interface a
// connector implements and the services the host lends it. Connector logic
// written against this package builds both natively (for unit tests and
// native benchmarks) and as a WebAssembly guest, where package wasmguest
// binds it to the ABI exports and host functions of package abi.
package guest

import (
	"context"
	"errors"

	"github.com/baton-runner/baton-runner/abi"
)

// HTTP sends a request to the tenant's API origin. Implementations return
// upstream HTTP errors (4xx/5xx) as responses and report refusals and
// transport failures as *abi.Error values.
type HTTP interface {
	Do(ctx context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error)
}

// BatchHTTP is implemented by an HTTP that can send several requests at
// once: the sandbox's, which runs them concurrently within the tenant's
// limits. Response i answers request i and carries its own Error.
type BatchHTTP interface {
	DoBatch(ctx context.Context, reqs []abi.HTTPRequest) []abi.HTTPResponse
}

// DoAll sends reqs through h, all at once when h is a BatchHTTP and one
// after the other otherwise. Response i answers request i; a request
// without a response has its Error set.
func DoAll(ctx context.Context, h HTTP, reqs []abi.HTTPRequest) []abi.HTTPResponse {
	if b, ok := h.(BatchHTTP); ok {
		return b.DoBatch(ctx, reqs)
	}
	out := make([]abi.HTTPResponse, len(reqs))
	for i, req := range reqs {
		resp, err := h.Do(ctx, req)
		if err != nil {
			resp = abi.HTTPResponse{Error: asABIError(err)}
		}
		out[i] = resp
	}
	return out
}

// asABIError keeps an *abi.Error's code; any other error is unavailable.
func asABIError(err error) *abi.Error {
	var ae *abi.Error
	if errors.As(err, &ae) {
		return ae
	}
	return abi.Errorf(abi.CodeUnavailable, "%v", err)
}

// Session is a key-value cache scoped to one sync (abi.Session). Values
// may be evicted at any time, so a connector must treat a miss as
// "recompute", never as data.
type Session = abi.Session

// LogLevel is the severity of a guest log message.
type LogLevel int

// Log levels, in increasing severity.
const (
	LogDebug LogLevel = iota
	LogInfo
	LogWarn
	LogError
)

// Logger receives the connector's log messages. Messages must not contain
// secrets; the host forwards them to its own logger.
type Logger func(level LogLevel, msg string)

// Env is what the host lends a connector for the duration of one call.
type Env struct {
	HTTP    HTTP
	Session Session
	Log     Logger
}

// Connector is implemented by connector logic. Each method corresponds to
// one export of the ABI; see package abi for the documents.
type Connector interface {
	Metadata() abi.Metadata
	Validate(ctx context.Context, env Env, req abi.Call) error
	ListResources(ctx context.Context, env Env, req abi.ListResourcesRequest) (abi.ResourcePage, error)
	ListEntitlements(ctx context.Context, env Env, req abi.ListEntitlementsRequest) (abi.EntitlementPage, error)
	ListGrants(ctx context.Context, env Env, req abi.ListGrantsRequest) (abi.GrantPage, error)
}

// Provisioner is implemented by connectors that can change access. Only
// entitlements on resource types declared Provisionable are sent to it.
type Provisioner interface {
	Grant(ctx context.Context, env Env, req abi.GrantRequest) (abi.GrantResult, error)
	Revoke(ctx context.Context, env Env, req abi.RevokeRequest) (abi.RevokeResult, error)
}

// AccountCreator is implemented by connectors that create accounts; only
// the resource type declared CreatesAccounts is sent to it.
type AccountCreator interface {
	CreateAccount(ctx context.Context, env Env, req abi.CreateAccountRequest) (abi.CreateAccountResult, error)
}

// ResourceDeleter is implemented by connectors that delete resources of
// the types they declare Deletable.
type ResourceDeleter interface {
	DeleteResource(ctx context.Context, env Env, req abi.DeleteResourceRequest) (abi.DeleteResourceResult, error)
}

// ResourceGetter is implemented by connectors that read single resources
// of the types they declare Gettable (targeted syncs).
type ResourceGetter interface {
	GetResource(ctx context.Context, env Env, req abi.GetResourceRequest) (abi.Resource, error)
}
