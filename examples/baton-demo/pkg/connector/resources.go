package connector

import (
	"context"
	"fmt"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/types/entitlement"
	"github.com/conductorone/baton-sdk/pkg/types/grant"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
)

const (
	memberEnt   = "member"
	assignedEnt = "assigned"
)

// none is what a resource type without entitlements or grants lists.
func none[T any](context.Context, *v2.Resource, resource.SyncOpAttrs) ([]T, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

type orgSyncer struct{ c *client }

func (s *orgSyncer) ResourceType(context.Context) *v2.ResourceType { return orgType }

func (s *orgSyncer) List(ctx context.Context, _ *v2.ResourceId, _ resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	o, err := s.c.org(ctx)
	if err != nil {
		return nil, nil, err
	}
	r, err := resource.NewAppResource(o.Name, orgType, o.ID, []resource.AppTraitOption{resource.WithAppHelpURL(o.HelpURL)},
		resource.WithAnnotation(v2.ChildResourceType_builder{ResourceTypeId: groupType.GetId()}.Build()),
		resource.WithExternalID(v2.ExternalId_builder{Id: o.ID}.Build()))
	return []*v2.Resource{r}, &resource.SyncOpResults{}, err
}

func (s *orgSyncer) Entitlements(ctx context.Context, r *v2.Resource, a resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return none[*v2.Entitlement](ctx, r, a)
}

func (s *orgSyncer) Grants(ctx context.Context, r *v2.Resource, a resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	return none[*v2.Grant](ctx, r, a)
}

type userSyncer struct{ c *client }

func (s *userSyncer) ResourceType(context.Context) *v2.ResourceType { return userType }

func (s *userSyncer) List(ctx context.Context, _ *v2.ResourceId, opts resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	p, err := s.c.users(ctx, opts.PageToken.Token)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*v2.Resource, 0, len(p.Items))
	for _, u := range p.Items {
		r, err := userResource(u)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, r)
	}
	return out, &resource.SyncOpResults{NextPageToken: p.NextPageToken}, nil
}

func userResource(u user) (*v2.Resource, error) {
	status := v2.UserTrait_Status_STATUS_ENABLED
	if u.Status != "active" {
		status = v2.UserTrait_Status_STATUS_DISABLED
	}
	return resource.NewUserResource(u.DisplayName, userType, u.ID, []resource.UserTraitOption{
		resource.WithEmail(u.Email, true),
		resource.WithUserLogin(u.Login),
		resource.WithStatus(status),
		resource.WithUserProfile(map[string]any{"login": u.Login, "department": u.Department}),
	})
}

func (s *userSyncer) Entitlements(ctx context.Context, r *v2.Resource, a resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return none[*v2.Entitlement](ctx, r, a)
}

func (s *userSyncer) Grants(ctx context.Context, r *v2.Resource, a resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	return none[*v2.Grant](ctx, r, a)
}

type groupSyncer struct{ c *client }

var _ connectorbuilder.ResourceProvisionerV2 = (*groupSyncer)(nil)

func (s *groupSyncer) ResourceType(context.Context) *v2.ResourceType { return groupType }

// List lists the organisation's groups, which are its children.
func (s *groupSyncer) List(ctx context.Context, parent *v2.ResourceId, opts resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	if parent == nil {
		return nil, &resource.SyncOpResults{}, nil
	}
	p, err := s.c.groups(ctx, opts.PageToken.Token)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*v2.Resource, 0, len(p.Items))
	for _, g := range p.Items {
		r, err := groupResource(g, parent)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, r)
	}
	return out, &resource.SyncOpResults{NextPageToken: p.NextPageToken}, nil
}

func groupResource(g group, parent *v2.ResourceId) (*v2.Resource, error) {
	return resource.NewGroupResource(g.Name, groupType, g.ID,
		[]resource.GroupTraitOption{resource.WithGroupProfile(map[string]any{"name": g.Name})},
		resource.WithParentResourceID(parent), resource.WithDescription(g.Description))
}

func (s *groupSyncer) Entitlements(ctx context.Context, r *v2.Resource, _ resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return []*v2.Entitlement{entitlement.NewAssignmentEntitlement(r, memberEnt,
		entitlement.WithGrantableTo(userType), entitlement.WithDisplayName(r.GetDisplayName()+" member"),
		entitlement.WithDescription("Member of "+r.GetDisplayName()), entitlement.WithSlug("member"))}, &resource.SyncOpResults{}, nil
}

func (s *groupSyncer) Grants(ctx context.Context, r *v2.Resource, opts resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	p, err := s.c.members(ctx, r.GetId().GetResource(), opts.PageToken.Token)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*v2.Grant, 0, len(p.Items))
	for _, m := range p.Items {
		out = append(out, memberGrant(r, m))
	}
	return out, &resource.SyncOpResults{NextPageToken: p.NextPageToken}, nil
}

func memberGrant(group *v2.Resource, m member) *v2.Grant {
	return grant.NewGrant(group, memberEnt, v2.ResourceId_builder{ResourceType: userType.GetId(), Resource: m.UserID}.Build(),
		grant.WithGrantMetadata(map[string]any{"since": m.Since}))
}

// Grant adds a user to a group; a member already is one, and says so.
func (s *groupSyncer) Grant(ctx context.Context, principal *v2.Resource, ent *v2.Entitlement) ([]*v2.Grant, annotations.Annotations, error) {
	if principal.GetId().GetResourceType() != userType.GetId() {
		return nil, nil, fmt.Errorf("baton-demo: only users can join a group, not a %s", principal.GetId().GetResourceType())
	}
	changed, m, err := s.c.addMember(ctx, ent.GetResource().GetId().GetResource(), principal.GetId().GetResource())
	if err != nil {
		return nil, nil, err
	}
	var annos annotations.Annotations
	if !changed {
		annos.Append(&v2.GrantAlreadyExists{})
	}
	return []*v2.Grant{memberGrant(ent.GetResource(), *m)}, annos, nil
}

// Revoke removes a user from a group; a non-member is not one, and says so.
func (s *groupSyncer) Revoke(ctx context.Context, g *v2.Grant) (annotations.Annotations, error) {
	principal := g.GetPrincipal().GetId()
	if principal.GetResourceType() != userType.GetId() {
		return nil, fmt.Errorf("baton-demo: only users are group members, not a %s", principal.GetResourceType())
	}
	changed, err := s.c.removeMember(ctx, g.GetEntitlement().GetResource().GetId().GetResource(), principal.GetResource())
	if err != nil {
		return nil, err
	}
	var annos annotations.Annotations
	if !changed {
		annos.Append(&v2.GrantAlreadyRevoked{})
	}
	return annos, nil
}

type roleSyncer struct{ c *client }

func (s *roleSyncer) ResourceType(context.Context) *v2.ResourceType { return roleType }

func (s *roleSyncer) List(ctx context.Context, _ *v2.ResourceId, opts resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	p, err := s.c.roles(ctx, opts.PageToken.Token)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*v2.Resource, 0, len(p.Items))
	for _, rl := range p.Items {
		r, err := resource.NewRoleResource(rl.Name, roleType, rl.ID, []resource.RoleTraitOption{resource.WithRoleProfile(map[string]any{"name": rl.Name})},
			resource.WithDescription(rl.Description))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, r)
	}
	return out, &resource.SyncOpResults{NextPageToken: p.NextPageToken}, nil
}

func (s *roleSyncer) Entitlements(ctx context.Context, r *v2.Resource, _ resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return []*v2.Entitlement{entitlement.NewPermissionEntitlement(r, assignedEnt,
		entitlement.WithGrantableTo(userType, groupType), entitlement.WithDisplayName(r.GetDisplayName()+" role"))}, &resource.SyncOpResults{}, nil
}

// Grants lists who holds the role: users directly, and groups, whose
// grants baton-sdk expands to their members.
func (s *roleSyncer) Grants(ctx context.Context, r *v2.Resource, opts resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	p, err := s.c.assignments(ctx, r.GetId().GetResource(), opts.PageToken.Token)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*v2.Grant, 0, len(p.Items))
	for _, a := range p.Items {
		switch a.PrincipalType {
		case userType.GetId():
			out = append(out, grant.NewGrant(r, assignedEnt, v2.ResourceId_builder{ResourceType: userType.GetId(), Resource: a.PrincipalID}.Build()))
		case groupType.GetId():
			members := fmt.Sprintf("%s:%s:%s", groupType.GetId(), a.PrincipalID, memberEnt)
			out = append(out, grant.NewGrant(r, assignedEnt, v2.ResourceId_builder{ResourceType: groupType.GetId(), Resource: a.PrincipalID}.Build(),
				grant.WithAnnotation(v2.GrantExpandable_builder{EntitlementIds: []string{members}}.Build())))
		default:
			return nil, nil, fmt.Errorf("baton-demo: role %s is assigned to a %q, neither a user nor a group", r.GetId().GetResource(), a.PrincipalType)
		}
	}
	return out, &resource.SyncOpResults{NextPageToken: p.NextPageToken}, nil
}
