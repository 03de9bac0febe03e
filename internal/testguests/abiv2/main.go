//go:build wasip1

// Command abiv2 is a test guest that claims ABI version 2, which the host
// must refuse.
package main

import (
	"context"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/guest/wasmguest"
)

type future struct{}

func (future) Metadata() abi.Metadata {
	return abi.Metadata{ABIVersion: abi.Version + 1, DisplayName: "from the future"}
}
func (future) Validate(context.Context, guest.Env, abi.Call) error { return nil }
func (future) ListResources(context.Context, guest.Env, abi.ListResourcesRequest) (abi.ResourcePage, error) {
	return abi.ResourcePage{}, nil
}
func (future) ListEntitlements(context.Context, guest.Env, abi.ListEntitlementsRequest) (abi.EntitlementPage, error) {
	return abi.EntitlementPage{}, nil
}
func (future) ListGrants(context.Context, guest.Env, abi.ListGrantsRequest) (abi.GrantPage, error) {
	return abi.GrantPage{}, nil
}

func init() { wasmguest.Register(future{}) }

func main() {}
