// Package connector is a small connector written only against baton-sdk
// (connectorbuilder, resource, entitlement, grant, pagination), as
// ConductorOne's connectors are: an organisation (an app, the parent of
// its teams), users, teams with a provisionable membership, and roles
// granted to teams and expanded to their members. Its data is made up
// from its configuration, so the same configuration syncs the same c1z
// natively and in the sandbox.
package connector

import (
	"context"
	"fmt"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"

	"github.com/baton-runner/baton-runner/examples/baton-demo/pkg/config"
)

// Connector is the demo connector.
type Connector struct {
	org   string
	users int
}

// New is the connector's constructor.
func New(ctx context.Context, cfg *config.Demo) (*Connector, []connectorbuilder.Opt, error) {
	if cfg.Users < 0 || cfg.Users > 10_000 {
		return nil, nil, fmt.Errorf("users must be 0..10000, not %d", cfg.Users)
	}
	return &Connector{org: cfg.Org, users: cfg.Users}, nil, nil
}

var (
	orgType = v2.ResourceType_builder{Id: "org", DisplayName: "Organisation",
		Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_APP}}.Build()
	userType = v2.ResourceType_builder{Id: "user", DisplayName: "User",
		Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_USER}}.Build()
	teamType = v2.ResourceType_builder{Id: "team", DisplayName: "Team",
		Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_GROUP}}.Build()
	roleType = v2.ResourceType_builder{Id: "role", DisplayName: "Role",
		Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_ROLE}, Description: "An organisation role"}.Build()
)

func (c *Connector) ResourceSyncers(ctx context.Context) []connectorbuilder.ResourceSyncerV2 {
	return []connectorbuilder.ResourceSyncerV2{&orgSyncer{c}, &userSyncer{c}, &teamSyncer{c}, &roleSyncer{c}}
}

func (c *Connector) Metadata(ctx context.Context) (*v2.ConnectorMetadata, error) {
	return v2.ConnectorMetadata_builder{DisplayName: "Demo", Description: "The demo organisation " + c.org}.Build(), nil
}

func (c *Connector) Validate(ctx context.Context) (annotations.Annotations, error) {
	if c.org == "" {
		return nil, fmt.Errorf("org is required")
	}
	return nil, nil
}
