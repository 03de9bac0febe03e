package guest_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

// teams is a minimal connector: one resource type, listed from the API
// through the host's HTTP function. In a guest module its main package
// only registers it:
//
//	//go:build wasip1
//	package main
//
//	func init() { wasmguest.Register(teams{}) }
//	func main() {}
//
// built with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
type teams struct{}

func (teams) Metadata() abi.Metadata {
	return abi.Metadata{ABIVersion: abi.Version, DisplayName: "Teams",
		ResourceTypes: []abi.ResourceType{{ID: "team", DisplayName: "Team", Traits: []abi.Trait{abi.TraitGroup}, NoGrants: true}}}
}

func (teams) Validate(ctx context.Context, env guest.Env, _ abi.Call) error {
	_, err := env.HTTP.Do(ctx, abi.HTTPRequest{Method: "GET", Path: "/me"})
	return err
}

func (teams) ListResources(ctx context.Context, env guest.Env, req abi.ListResourcesRequest) (abi.ResourcePage, error) {
	resp, err := env.HTTP.Do(ctx, abi.HTTPRequest{Method: "GET", Path: "/teams"})
	if err != nil {
		return abi.ResourcePage{}, err
	}
	var names []string
	if err := json.Unmarshal(resp.Body, &names); err != nil {
		return abi.ResourcePage{}, abi.Errorf(abi.CodeUnavailable, "GET /teams: %v", err)
	}
	var page abi.ResourcePage
	for _, n := range names {
		page.Resources = append(page.Resources, abi.Resource{ID: abi.ResourceID{Type: "team", ID: n}, DisplayName: n})
	}
	return page, nil
}

func (teams) ListEntitlements(context.Context, guest.Env, abi.ListEntitlementsRequest) (abi.EntitlementPage, error) {
	return abi.EntitlementPage{}, nil
}

func (teams) ListGrants(context.Context, guest.Env, abi.ListGrantsRequest) (abi.GrantPage, error) {
	return abi.GrantPage{}, nil
}

// fakeAPI stands in for the host's HTTP function, which in a sandbox
// reaches only the tenant's API origin and adds the token itself.
type fakeAPI struct{}

func (fakeAPI) Do(_ context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	return abi.HTTPResponse{Status: 200, Body: []byte(`["blue","red"]`)}, nil
}

// A connector runs natively exactly as in the sandbox: Dispatch takes the
// export's JSON input and returns its result envelope.
func Example() {
	env := guest.Env{HTTP: fakeAPI{}, Log: func(guest.LogLevel, string) {}}
	out, err := guest.Dispatch(context.Background(), teams{}, env, abi.ExportListResources, []byte(`{"resourceType":"team"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"ok":{"resources":[{"id":{"type":"team","id":"blue"},"displayName":"blue"},{"id":{"type":"team","id":"red"},"displayName":"red"}]}}
}
