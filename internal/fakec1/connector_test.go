package fakec1

import (
	"context"
	"net"
	"sync"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/connectorclient"
	"github.com/conductorone/baton-sdk/pkg/types"
	"github.com/conductorone/baton-sdk/pkg/types/entitlement"
	"github.com/conductorone/baton-sdk/pkg/types/grant"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// testConnector is a two-type connector (users, groups with a grantable
// "member" entitlement) for driving the SDK's task manager in-process.
type testConnector struct {
	// blockUsers, when set, makes listing users hang until the sync is
	// cancelled; enteredUsers is closed once the listing has started.
	blockUsers   bool
	enteredUsers chan struct{}
	enterOnce    sync.Once

	mu      sync.Mutex
	granted []string // "entitlement-id -> principal-id"
	revoked []string // grant ids
}

var (
	userRT  = v2.ResourceType_builder{Id: "user", DisplayName: "User", Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_USER}}.Build()
	groupRT = v2.ResourceType_builder{Id: "group", DisplayName: "Group", Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_GROUP}}.Build()
)

func alice() *v2.Resource {
	r, err := resource.NewUserResource("Alice", userRT, "alice", []resource.UserTraitOption{resource.WithEmail("alice@example.com", true)})
	if err != nil {
		panic(err)
	}
	return r
}

func admins() *v2.Resource {
	r, err := resource.NewGroupResource("Admins", groupRT, "admins", nil)
	if err != nil {
		panic(err)
	}
	return r
}

func memberEntitlement() *v2.Entitlement {
	return entitlement.NewAssignmentEntitlement(admins(), "member", entitlement.WithGrantableTo(userRT))
}

func (c *testConnector) Metadata(context.Context) (*v2.ConnectorMetadata, error) {
	return v2.ConnectorMetadata_builder{DisplayName: "fakec1 test connector", Description: "in-process connector for fakec1 tests"}.Build(), nil
}

func (c *testConnector) Validate(context.Context) (annotations.Annotations, error) { return nil, nil }

func (c *testConnector) ResourceSyncers(context.Context) []connectorbuilder.ResourceSyncerV2 {
	return []connectorbuilder.ResourceSyncerV2{&userSyncer{c}, &groupSyncer{c}}
}

type userSyncer struct{ c *testConnector }

func (u *userSyncer) ResourceType(context.Context) *v2.ResourceType { return userRT }

func (u *userSyncer) List(ctx context.Context, _ *v2.ResourceId, _ resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	if u.c.blockUsers {
		u.c.enterOnce.Do(func() { close(u.c.enteredUsers) })
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	return []*v2.Resource{alice()}, &resource.SyncOpResults{}, nil
}

func (u *userSyncer) Entitlements(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

func (u *userSyncer) Grants(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

type groupSyncer struct{ c *testConnector }

func (g *groupSyncer) ResourceType(context.Context) *v2.ResourceType { return groupRT }

func (g *groupSyncer) List(context.Context, *v2.ResourceId, resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	return []*v2.Resource{admins()}, &resource.SyncOpResults{}, nil
}

func (g *groupSyncer) Entitlements(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return []*v2.Entitlement{memberEntitlement()}, &resource.SyncOpResults{}, nil
}

func (g *groupSyncer) Grants(_ context.Context, r *v2.Resource, _ resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	return []*v2.Grant{grant.NewGrant(r, "member", alice().GetId())}, &resource.SyncOpResults{}, nil
}

func (g *groupSyncer) Grant(_ context.Context, principal *v2.Resource, ent *v2.Entitlement) ([]*v2.Grant, annotations.Annotations, error) {
	g.c.mu.Lock()
	defer g.c.mu.Unlock()
	g.c.granted = append(g.c.granted, ent.GetId()+" -> "+principal.GetId().GetResource())
	return []*v2.Grant{grant.NewGrant(ent.GetResource(), "member", principal.GetId())}, nil, nil
}

func (g *groupSyncer) Revoke(_ context.Context, gr *v2.Grant) (annotations.Annotations, error) {
	g.c.mu.Lock()
	defer g.c.mu.Unlock()
	g.c.revoked = append(g.c.revoked, gr.GetId())
	return nil, nil
}

// serveConnector wraps c with the SDK's connector builder and returns a
// ConnectorClient talking to it over an in-memory gRPC connection.
func serveConnector(t *testing.T, c *testConnector) types.ConnectorClient {
	t.Helper()
	ctx := context.Background()
	srv, err := connectorbuilder.NewConnector(ctx, c)
	if err != nil {
		t.Fatalf("building connector: %v", err)
	}
	gs := grpc.NewServer()
	v2.RegisterConnectorServiceServer(gs, srv)
	v2.RegisterResourceTypesServiceServer(gs, srv)
	v2.RegisterResourcesServiceServer(gs, srv)
	v2.RegisterResourceGetterServiceServer(gs, srv)
	v2.RegisterEntitlementsServiceServer(gs, srv)
	v2.RegisterGrantsServiceServer(gs, srv)
	v2.RegisterAssetServiceServer(gs, srv)
	v2.RegisterEventServiceServer(gs, srv)
	v2.RegisterActionServiceServer(gs, srv)
	v2.RegisterGrantManagerServiceServer(gs, srv)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///fakec1-test-connector",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatalf("connecting to connector: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
	})
	return connectorclient.NewConnectorClient(ctx, conn)
}
