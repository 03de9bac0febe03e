//go:build wasip1

// Package bare exports only the five listing functions of the ABI, as a
// guest written before the optional exports existed would (package
// wasmguest exports every function). The test guests oldguest and liar
// use it to show that such a guest still runs, and that declaring an
// export it lacks is refused.
package bare

import (
	"context"

	"github.com/extism/go-pdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

var registered guest.Connector

// Register makes c the connector served by the exports.
func Register(c guest.Connector) { registered = c }

//go:wasmexport baton_metadata
func exportMetadata() int32 { return run(abi.ExportMetadata) }

//go:wasmexport baton_validate
func exportValidate() int32 { return run(abi.ExportValidate) }

//go:wasmexport baton_list_resources
func exportListResources() int32 { return run(abi.ExportListResources) }

//go:wasmexport baton_list_entitlements
func exportListEntitlements() int32 { return run(abi.ExportListEntitlements) }

//go:wasmexport baton_list_grants
func exportListGrants() int32 { return run(abi.ExportListGrants) }

func run(export string) int32 {
	out, err := guest.Dispatch(context.Background(), registered, guest.Env{}, export, pdk.Input())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	pdk.Output(out)
	return 0
}

// Connector lists one user resource; Declare is applied to its type.
type Connector struct {
	Declare func(*abi.ResourceType)
}

func (c Connector) Metadata() abi.Metadata {
	rt := abi.ResourceType{ID: "person", DisplayName: "Person", Traits: []abi.Trait{abi.TraitUser}, NoEntitlements: true, NoGrants: true}
	if c.Declare != nil {
		c.Declare(&rt)
	}
	return abi.Metadata{ABIVersion: abi.Version, DisplayName: "bare", ResourceTypes: []abi.ResourceType{rt}}
}

func (Connector) Validate(context.Context, guest.Env, abi.Call) error { return nil }

func (Connector) ListResources(context.Context, guest.Env, abi.ListResourcesRequest) (abi.ResourcePage, error) {
	return abi.ResourcePage{Resources: []abi.Resource{{ID: abi.ResourceID{Type: "person", ID: "p1"}, DisplayName: "P One",
		User: &abi.UserTrait{Emails: []string{"p1@example.test"}, Status: abi.UserStatusEnabled}}}}, nil
}

func (Connector) ListEntitlements(context.Context, guest.Env, abi.ListEntitlementsRequest) (abi.EntitlementPage, error) {
	return abi.EntitlementPage{Entitlements: []abi.Entitlement{}}, nil
}

func (Connector) ListGrants(context.Context, guest.Env, abi.ListGrantsRequest) (abi.GrantPage, error) {
	return abi.GrantPage{Grants: []abi.Grant{}}, nil
}
