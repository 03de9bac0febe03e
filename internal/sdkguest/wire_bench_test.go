package sdkguest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	lgrpc "github.com/conductorone/baton-sdk/pkg/lambda/grpc"
	"github.com/conductorone/baton-sdk/pkg/types/resource"

	"github.com/baton-runner/baton-runner/abi"
)

// pageServer answers every ListResources with page.
type pageServer struct {
	v2.UnimplementedResourcesServiceServer
	page *v2.ResourcesServiceListResourcesResponse
}

func (s pageServer) ListResources(context.Context, *v2.ResourcesServiceListResourcesRequest) (*v2.ResourcesServiceListResourcesResponse, error) {
	return s.page, nil
}

// BenchmarkWireFormat measures what docs/ABI.md chose the baton-sdk
// guests' wire format by: a page of 100 users in baton-sdk's transport
// frame (what a baton-sdk guest encodes and the host decodes, the
// server's dispatch included) against the same users as a JSON-ABI
// ResourcePage (what the Segment guest encodes and the host decodes,
// before its conversion to the same v2 messages). Run with
// go test -bench WireFormat -benchmem ./internal/sdkguest.
func BenchmarkWireFormat(b *testing.B) {
	const n = 100
	userType := v2.ResourceType_builder{Id: "user", Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_USER}}.Build()
	parent := v2.ResourceId_builder{ResourceType: "workspace", Resource: "ws-1"}.Build()
	var list []*v2.Resource
	var page abi.ResourcePage
	for i := range n {
		id, email := fmt.Sprintf("u%05d", i), fmt.Sprintf("user%05d@example.com", i)
		r, err := resource.NewUserResource("User "+id, userType, id,
			[]resource.UserTraitOption{resource.WithEmail(email, true), resource.WithUserLogin(email), resource.WithStatus(v2.UserTrait_Status_STATUS_ENABLED)},
			resource.WithParentResourceID(parent))
		if err != nil {
			b.Fatal(err)
		}
		list = append(list, r)
		page.Resources = append(page.Resources, abi.Resource{
			ID: abi.ResourceID{Type: "user", ID: id}, Parent: &abi.ResourceID{Type: "workspace", ID: "ws-1"}, DisplayName: "User " + id,
			User: &abi.UserTrait{Emails: []string{email}, Login: email, Status: abi.UserStatusEnabled}})
	}
	srv := lgrpc.NewServer(nil)
	v2.RegisterResourcesServiceServer(srv, pageServer{page: v2.ResourcesServiceListResourcesResponse_builder{List: list, NextPageToken: "next"}.Build()})
	req, err := lgrpc.NewRequest(v2.ResourcesService_ListResources_FullMethodName, v2.ResourcesServiceListResourcesRequest_builder{ResourceTypeId: "user"}.Build(), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	b.Run("transport-frame", func(b *testing.B) {
		var size int
		for b.Loop() {
			resp, err := srv.Handler(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			out, err := resp.MarshalJSON() // the guest's side
			if err != nil {
				b.Fatal(err)
			}
			size = len(out)
			var back lgrpc.Response // the host's side
			if err := back.UnmarshalJSON(out); err != nil {
				b.Fatal(err)
			}
			var got v2.ResourcesServiceListResourcesResponse
			if err := back.UnmarshalResponse(&got); err != nil || len(got.GetList()) != n {
				b.Fatalf("%d resources, %v", len(got.GetList()), err)
			}
		}
		b.ReportMetric(float64(size), "bytes/page")
	})
	b.Run("json-abi", func(b *testing.B) {
		var size int
		for b.Loop() {
			out, err := json.Marshal(abi.Result[abi.ResourcePage]{OK: &page})
			if err != nil {
				b.Fatal(err)
			}
			size = len(out)
			var back abi.Result[abi.ResourcePage]
			if err := json.Unmarshal(out, &back); err != nil || len(back.OK.Resources) != n {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(size), "bytes/page")
	})
}
