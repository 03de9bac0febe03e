// Package connector is a small connector written only against baton-sdk
// (connectorbuilder, uhttp, resource, entitlement, grant), as
// ConductorOne's connectors are, for the demo API (examples/baton-demo/
// demoapi): an organisation (an app, the parent of its groups), users,
// groups with a provisionable membership, and roles granted to users and
// to groups, expanded to the groups' members. It creates and deletes
// users (accounts.go) and reads a user or group again for a targeted
// sync.
//
// It reaches the API through uhttp with an OAuth2 client-credentials
// token and an API key, so in the sandbox it needs the guest's network
// and the host's secrets. What it syncs never holds the base URL, so a
// sync of the same API reached under another address is the same.
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
	client *client
}

// New is the connector's constructor. It checks the URLs; the credentials
// are first used by Validate.
func New(ctx context.Context, cfg *config.Demo) (*Connector, []connectorbuilder.Opt, error) {
	c, err := newClient(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return &Connector{client: c}, nil, nil
}

var (
	orgType = v2.ResourceType_builder{Id: "org", DisplayName: "Organisation",
		Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_APP}}.Build()
	userType = v2.ResourceType_builder{Id: "user", DisplayName: "User",
		Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_USER}}.Build()
	groupType = v2.ResourceType_builder{Id: "group", DisplayName: "Group",
		Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_GROUP}}.Build()
	roleType = v2.ResourceType_builder{Id: "role", DisplayName: "Role",
		Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_ROLE}, Description: "An organisation role"}.Build()
)

func (c *Connector) ResourceSyncers(ctx context.Context) []connectorbuilder.ResourceSyncerV2 {
	return []connectorbuilder.ResourceSyncerV2{&orgSyncer{c.client}, &userSyncer{c.client}, &groupSyncer{c.client}, &roleSyncer{c.client}}
}

func (c *Connector) Metadata(ctx context.Context) (*v2.ConnectorMetadata, error) {
	return v2.ConnectorMetadata_builder{DisplayName: "Demo", Description: "Users, groups and roles of the demo API",
		AccountCreationSchema: accountSchema}.Build(), nil
}

// Validate checks both credentials: the token with the organisation, the
// API key with the roles.
func (c *Connector) Validate(ctx context.Context) (annotations.Annotations, error) {
	if _, err := c.client.org(ctx); err != nil {
		return nil, fmt.Errorf("%w (check --demo-client-id, --demo-client-secret and --token-url)", err)
	}
	if _, err := c.client.roles(ctx, ""); err != nil {
		return nil, fmt.Errorf("%w (check --api-key)", err)
	}
	return nil, nil
}
