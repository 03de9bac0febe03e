package connector

import (
	"fmt"
	"slices"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/types/entitlement"
	"github.com/conductorone/baton-sdk/pkg/types/grant"
	"github.com/conductorone/baton-sdk/pkg/types/resource"

	"github.com/baton-runner/baton-runner/abi"
)

var traitOf = map[abi.Trait]v2.ResourceType_Trait{
	abi.TraitUser:  v2.ResourceType_TRAIT_USER,
	abi.TraitGroup: v2.ResourceType_TRAIT_GROUP,
	abi.TraitRole:  v2.ResourceType_TRAIT_ROLE,
	abi.TraitApp:   v2.ResourceType_TRAIT_APP,
}

func resourceType(rt abi.ResourceType) *v2.ResourceType {
	var traits []v2.ResourceType_Trait
	for _, t := range rt.Traits {
		if v, ok := traitOf[t]; ok {
			traits = append(traits, v)
		}
	}
	var annos annotations.Annotations
	if rt.NoEntitlements {
		annos.Append(&v2.SkipEntitlements{})
	}
	return v2.ResourceType_builder{
		Id:          rt.ID,
		DisplayName: rt.DisplayName,
		Description: rt.Description,
		Traits:      traits,
		Annotations: annos,
	}.Build()
}

func idFromV2(id *v2.ResourceId) *abi.ResourceID {
	if id == nil {
		return nil
	}
	return &abi.ResourceID{Type: id.GetResourceType(), ID: id.GetResource()}
}

func idToV2(id abi.ResourceID) *v2.ResourceId {
	return v2.ResourceId_builder{ResourceType: id.Type, Resource: id.ID}.Build()
}

// fromResource is the guest's view of a resource it listed earlier: its
// identity, names and, for users, emails and login, which is what a guest
// needs to list entitlements and grants and to provision.
func fromResource(r *v2.Resource) abi.Resource {
	out := abi.Resource{
		DisplayName: r.GetDisplayName(),
		Description: r.GetDescription(),
		Parent:      idFromV2(r.GetParentResourceId()),
	}
	if id := idFromV2(r.GetId()); id != nil {
		out.ID = *id
	}
	if ut, err := resource.GetUserTrait(r); err == nil {
		u := &abi.UserTrait{Login: ut.GetLogin()}
		for _, e := range ut.GetEmails() {
			u.Emails = append(u.Emails, e.GetAddress())
		}
		out.User = u
	}
	return out
}

var userStatus = map[abi.UserStatus]v2.UserTrait_Status_Status{
	abi.UserStatusUnspecified: v2.UserTrait_Status_STATUS_UNSPECIFIED,
	abi.UserStatusEnabled:     v2.UserTrait_Status_STATUS_ENABLED,
	abi.UserStatusDisabled:    v2.UserTrait_Status_STATUS_DISABLED,
	abi.UserStatusPending:     v2.UserTrait_Status_STATUS_PENDING,
}

// toResource builds the v2 resource with the helper that matches the
// resource type's trait.
func (c *Connector) toResource(r abi.Resource) (*v2.Resource, error) {
	rt, ok := c.types[r.ID.Type]
	if !ok {
		return nil, fmt.Errorf("resource %s:%s has undeclared type", r.ID.Type, r.ID.ID)
	}
	if r.ID.ID == "" {
		return nil, fmt.Errorf("resource of type %s has an empty id", r.ID.Type)
	}
	var opts []resource.ResourceOption
	if r.Parent != nil {
		opts = append(opts, resource.WithParentResourceID(idToV2(*r.Parent)))
	}
	if r.Description != "" {
		opts = append(opts, resource.WithDescription(r.Description))
	}
	// baton-sdk skips grants per resource only (there is no type-level
	// annotation for it).
	if c.noGrants[r.ID.Type] {
		opts = append(opts, resource.WithAnnotation(&v2.SkipGrants{}))
	}
	// Each child type costs an annotation of some 60 bytes: an undeclared
	// or repeated one would let a page of a few MiB grow past gRPC's
	// message limit.
	var seen []string
	for _, child := range r.ChildTypes {
		if _, ok := c.types[child]; !ok {
			return nil, fmt.Errorf("resource %s:%s declares undeclared child type %q", r.ID.Type, r.ID.ID, child)
		}
		if slices.Contains(seen, child) {
			continue
		}
		seen = append(seen, child)
		opts = append(opts, resource.WithAnnotation(v2.ChildResourceType_builder{ResourceTypeId: child}.Build()))
	}
	profile := map[string]any{}
	for k, v := range r.Profile {
		profile[k] = v
	}
	// The trait helpers' profile and status options are deprecated in
	// favour of resource-level ones, but they fill both places, so readers
	// of either (older ConductorOne versions, the baton CLI) see them.
	traits := rt.GetTraits()
	switch {
	case slices.Contains(traits, v2.ResourceType_TRAIT_USER):
		u := r.User
		if u == nil {
			u = &abi.UserTrait{}
		}
		uopts := []resource.UserTraitOption{resource.WithUserProfile(profile), resource.WithStatus(userStatus[u.Status])}
		for i, e := range u.Emails {
			uopts = append(uopts, resource.WithEmail(e, i == 0))
		}
		if u.Login != "" {
			uopts = append(uopts, resource.WithUserLogin(u.Login))
		}
		return resource.NewUserResource(r.DisplayName, rt, r.ID.ID, uopts, opts...)
	case slices.Contains(traits, v2.ResourceType_TRAIT_GROUP):
		return resource.NewGroupResource(r.DisplayName, rt, r.ID.ID, []resource.GroupTraitOption{resource.WithGroupProfile(profile)}, opts...)
	case slices.Contains(traits, v2.ResourceType_TRAIT_ROLE):
		return resource.NewRoleResource(r.DisplayName, rt, r.ID.ID, []resource.RoleTraitOption{resource.WithRoleProfile(profile)}, opts...)
	case slices.Contains(traits, v2.ResourceType_TRAIT_APP):
		return resource.NewAppResource(r.DisplayName, rt, r.ID.ID, []resource.AppTraitOption{resource.WithAppProfile(profile)}, opts...)
	default:
		if len(profile) > 0 {
			opts = append(opts, resource.WithResourceProfile(profile))
		}
		return resource.NewResource(r.DisplayName, rt, r.ID.ID, opts...)
	}
}

// toEntitlement builds an assignment entitlement on r, which must be the
// resource the entitlement was listed for.
func (c *Connector) toEntitlement(r *v2.Resource, e abi.Entitlement) (*v2.Entitlement, error) {
	if e.Resource.Type != r.GetId().GetResourceType() || e.Resource.ID != r.GetId().GetResource() {
		return nil, fmt.Errorf("entitlement %q listed for %s:%s names resource %s:%s",
			e.Slug, r.GetId().GetResourceType(), r.GetId().GetResource(), e.Resource.Type, e.Resource.ID)
	}
	if e.Slug == "" {
		return nil, fmt.Errorf("entitlement on %s:%s has an empty slug", e.Resource.Type, e.Resource.ID)
	}
	grantable := make([]*v2.ResourceType, 0, len(e.GrantableTo))
	for _, t := range e.GrantableTo {
		rt, ok := c.types[t]
		if !ok {
			return nil, fmt.Errorf("entitlement %q is grantable to undeclared type %q", e.Slug, t)
		}
		grantable = append(grantable, rt)
	}
	opts := []entitlement.EntitlementOption{
		entitlement.WithGrantableTo(grantable...),
		entitlement.WithDisplayName(e.DisplayName),
	}
	if e.Description != "" {
		opts = append(opts, entitlement.WithDescription(e.Description))
	}
	return entitlement.NewAssignmentEntitlement(r, e.Slug, opts...), nil
}

// entitlementResource is the minimal resource grant.NewGrant needs to name
// an entitlement: its id.
func (c *Connector) entitlementResource(ref abi.EntitlementRef) (*v2.Resource, error) {
	if _, ok := c.types[ref.Resource.Type]; !ok {
		return nil, fmt.Errorf("entitlement %s:%s:%s has undeclared resource type", ref.Resource.Type, ref.Resource.ID, ref.Slug)
	}
	if ref.Resource.ID == "" || ref.Slug == "" {
		return nil, fmt.Errorf("entitlement reference %+v is incomplete", ref)
	}
	return v2.Resource_builder{Id: idToV2(ref.Resource)}.Build(), nil
}

func (c *Connector) toGrant(g abi.Grant) (*v2.Grant, error) {
	res, err := c.entitlementResource(g.Entitlement)
	if err != nil {
		return nil, err
	}
	if _, ok := c.types[g.Principal.Type]; !ok || g.Principal.ID == "" {
		return nil, fmt.Errorf("grant of %s:%s:%s has an invalid principal %+v", g.Entitlement.Resource.Type, g.Entitlement.Resource.ID, g.Entitlement.Slug, g.Principal)
	}
	var opts []grant.GrantOption
	if len(g.ExpandFrom) > 0 {
		ids := make([]string, 0, len(g.ExpandFrom))
		for _, ref := range g.ExpandFrom {
			er, err := c.entitlementResource(ref)
			if err != nil {
				return nil, err
			}
			ids = append(ids, entitlement.NewEntitlementID(er, ref.Slug))
		}
		opts = append(opts, grant.WithAnnotation(v2.GrantExpandable_builder{EntitlementIds: ids}.Build()))
	}
	return grant.NewGrant(res, g.Entitlement.Slug, idToV2(g.Principal), opts...), nil
}
