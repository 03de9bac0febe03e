package connector

import (
	"context"
	"fmt"
	"strconv"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/types/entitlement"
	"github.com/conductorone/baton-sdk/pkg/types/grant"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
)

const (
	pageSize    = 50 // small enough that a test sync pages
	teams       = 3
	memberEnt   = "member"
	assignedEnt = "assigned"
)

var roles = []string{"admin", "viewer"}

type orgSyncer struct{ c *Connector }

func (s *orgSyncer) ResourceType(context.Context) *v2.ResourceType { return orgType }

func (s *orgSyncer) List(ctx context.Context, parent *v2.ResourceId, _ resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	org, err := s.c.orgResource()
	return []*v2.Resource{org}, &resource.SyncOpResults{}, err
}

func (s *orgSyncer) Entitlements(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

func (s *orgSyncer) Grants(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

func (c *Connector) orgResource() (*v2.Resource, error) {
	return resource.NewAppResource(c.org, orgType, c.org, []resource.AppTraitOption{resource.WithAppHelpURL("https://example.com/" + c.org)},
		resource.WithAnnotation(v2.ChildResourceType_builder{ResourceTypeId: teamType.GetId()}.Build()),
		resource.WithExternalID(v2.ExternalId_builder{Id: "ext-" + c.org}.Build()))
}

type userSyncer struct{ c *Connector }

func (s *userSyncer) ResourceType(context.Context) *v2.ResourceType { return userType }

// List pages through the users pageSize at a time, the token being the
// next index.
func (s *userSyncer) List(ctx context.Context, parent *v2.ResourceId, opts resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	start := 0
	if tok := opts.PageToken.Token; tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil {
			return nil, nil, fmt.Errorf("bad page token %q", tok)
		}
		start = n
	}
	var out []*v2.Resource
	for i := start; i < min(start+pageSize, s.c.users); i++ {
		u, err := userResource(i)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, u)
	}
	res := &resource.SyncOpResults{}
	if start+pageSize < s.c.users {
		res.NextPageToken = strconv.Itoa(start + pageSize)
	}
	return out, res, nil
}

func userResource(i int) (*v2.Resource, error) {
	status := v2.UserTrait_Status_STATUS_ENABLED
	if i%5 == 4 {
		status = v2.UserTrait_Status_STATUS_DISABLED
	}
	login := fmt.Sprintf("user%d", i)
	return resource.NewUserResource(fmt.Sprintf("User %d", i), userType, login, []resource.UserTraitOption{
		resource.WithEmail(login+"@example.com", true),
		resource.WithUserLogin(login),
		resource.WithStatus(status),
		resource.WithUserProfile(map[string]any{"index": i, "team": teamName(i % teams)}),
	})
}

func (s *userSyncer) Entitlements(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

func (s *userSyncer) Grants(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

type teamSyncer struct{ c *Connector }

func (s *teamSyncer) ResourceType(context.Context) *v2.ResourceType { return teamType }

func teamName(i int) string { return fmt.Sprintf("team-%d", i) }

// List lists the organisation's teams, which are its children.
func (s *teamSyncer) List(ctx context.Context, parent *v2.ResourceId, _ resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	if parent == nil {
		return nil, &resource.SyncOpResults{}, nil
	}
	var out []*v2.Resource
	for i := range teams {
		t, err := resource.NewGroupResource(teamName(i), teamType, teamName(i),
			[]resource.GroupTraitOption{resource.WithGroupProfile(map[string]any{"size": s.c.members(i)})},
			resource.WithParentResourceID(parent), resource.WithDescription("Team "+strconv.Itoa(i)))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, t)
	}
	return out, &resource.SyncOpResults{}, nil
}

func (c *Connector) members(team int) int {
	n := 0
	for i := range c.users {
		if i%teams == team {
			n++
		}
	}
	return n
}

func (s *teamSyncer) Entitlements(ctx context.Context, r *v2.Resource, _ resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return []*v2.Entitlement{entitlement.NewAssignmentEntitlement(r, memberEnt,
		entitlement.WithGrantableTo(userType), entitlement.WithDisplayName(r.GetDisplayName()+" member"),
		entitlement.WithDescription("Member of "+r.GetDisplayName()), entitlement.WithSlug("member"))}, &resource.SyncOpResults{}, nil
}

func (s *teamSyncer) Grants(ctx context.Context, r *v2.Resource, _ resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	team, err := strconv.Atoi(r.GetId().GetResource()[len("team-"):])
	if err != nil {
		return nil, nil, err
	}
	var out []*v2.Grant
	for i := range s.c.users {
		if i%teams == team {
			out = append(out, grant.NewGrant(r, memberEnt, v2.ResourceId_builder{ResourceType: userType.GetId(), Resource: fmt.Sprintf("user%d", i)}.Build(),
				grant.WithGrantMetadata(map[string]any{"since": "2026-01-01"})))
		}
	}
	return out, &resource.SyncOpResults{}, nil
}

// Grant adds a user to a team; the demo's data is made up, so it only
// checks the request.
func (s *teamSyncer) Grant(ctx context.Context, principal *v2.Resource, ent *v2.Entitlement) ([]*v2.Grant, annotations.Annotations, error) {
	if principal.GetId().GetResourceType() != userType.GetId() {
		return nil, nil, fmt.Errorf("only users can join a team, not a %s", principal.GetId().GetResourceType())
	}
	return []*v2.Grant{grant.NewGrant(ent.GetResource(), memberEnt, principal.GetId())}, nil, nil
}

func (s *teamSyncer) Revoke(ctx context.Context, g *v2.Grant) (annotations.Annotations, error) {
	if g.GetPrincipal().GetId().GetResourceType() != userType.GetId() {
		return nil, fmt.Errorf("only users are team members")
	}
	return nil, nil
}

type roleSyncer struct{ c *Connector }

func (s *roleSyncer) ResourceType(context.Context) *v2.ResourceType { return roleType }

func (s *roleSyncer) List(ctx context.Context, parent *v2.ResourceId, _ resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	var out []*v2.Resource
	for _, name := range roles {
		r, err := resource.NewRoleResource(name, roleType, name, []resource.RoleTraitOption{resource.WithRoleProfile(map[string]any{"builtin": true})})
		if err != nil {
			return nil, nil, err
		}
		out = append(out, r)
	}
	return out, &resource.SyncOpResults{}, nil
}

func (s *roleSyncer) Entitlements(ctx context.Context, r *v2.Resource, _ resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return []*v2.Entitlement{entitlement.NewPermissionEntitlement(r, assignedEnt,
		entitlement.WithGrantableTo(userType, teamType), entitlement.WithDisplayName(r.GetDisplayName()+" role"))}, &resource.SyncOpResults{}, nil
}

// Grants: team i holds role i%2 as a team, expanded to the team's members.
func (s *roleSyncer) Grants(ctx context.Context, r *v2.Resource, _ resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	var out []*v2.Grant
	for i := range teams {
		if roles[i%len(roles)] != r.GetId().GetResource() {
			continue
		}
		team := v2.ResourceId_builder{ResourceType: teamType.GetId(), Resource: teamName(i)}.Build()
		teamMembers := fmt.Sprintf("%s:%s:%s", teamType.GetId(), teamName(i), memberEnt)
		out = append(out, grant.NewGrant(r, assignedEnt, team,
			grant.WithAnnotation(v2.GrantExpandable_builder{EntitlementIds: []string{teamMembers}}.Build())))
	}
	return out, &resource.SyncOpResults{}, nil
}
