package segment

import (
	"context"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
)

// roleScopes is the applicability table: for each Segment role name, the
// resource type whose instances the role can be granted on, or "" for roles
// that only exist on the whole workspace. It follows Segment's IAM role
// documentation (docs.segmentapis.com, IAM Roles), including the older names
// that workspaces created in earlier eras still carry:
//
//	source     Source Admin, Source Read-only
//	function   Function Admin, Function Read-only, Functions Admin, Functions Read-only
//	space      Unify and Engage Admin, Unify and Engage Read-only, Unify Read-only,
//	           Engage User, Engage Admin, Engage Read-only,
//	           Personas Admin, Personas User, Personas Read-only
//	warehouse  Warehouse Destination Admin, Warehouse Destination Read-only,
//	           Warehouse Admin, Warehouse Read-only
//	(none)     Workspace Owner, Minimal Workspace Access, Workspace Member,
//	           Tracking Plan Admin, Tracking Plan Read-only,
//	           Identity Admin, End User Privacy Admin
//
// GET /roles has no resource-type field, so names are the only signal. They
// are matched whole (case-insensitive, whitespace-trimmed): substring tests
// would let "Source" match unrelated custom roles. A role missing from the
// table (a custom role) gets per-resource entitlements only where it is
// actually seen granted; see extras in entitlements.go.
var roleScopes = map[string]string{
	"source admin":     typeSource,
	"source read-only": typeSource,

	"function admin":      typeFunction,
	"function read-only":  typeFunction,
	"functions admin":     typeFunction,
	"functions read-only": typeFunction,

	"unify and engage admin":     typeSpace,
	"unify and engage read-only": typeSpace,
	"unify read-only":            typeSpace,
	"engage user":                typeSpace,
	"engage admin":               typeSpace,
	"engage read-only":           typeSpace,
	"personas admin":             typeSpace,
	"personas user":              typeSpace,
	"personas read-only":         typeSpace,

	"warehouse destination admin":     typeWarehouse,
	"warehouse destination read-only": typeWarehouse,
	"warehouse admin":                 typeWarehouse,
	"warehouse read-only":             typeWarehouse,

	"workspace owner":          "",
	"minimal workspace access": "",
	"workspace member":         "",
	"tracking plan admin":      "",
	"tracking plan read-only":  "",
	"identity admin":           "",
	"end user privacy admin":   "",
}

// normRoleName is the table's key for a role name: lower case, trimmed,
// inner runs of whitespace collapsed to one space.
func normRoleName(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), " "))
}

// roleScope returns the resource type a role applies to ("" for
// workspace-only roles) and whether the table knows the role at all.
func roleScope(name string) (scope string, known bool) {
	scope, known = roleScopes[normRoleName(name)]
	return scope, known
}

// roleApplies reports whether the table makes a role with this name
// grantable on individual resources of resourceType.
func roleApplies(name, resourceType string) bool {
	scope, known := roleScope(name)
	return known && scope != "" && scope == resourceType
}

// roleName looks a role's name up in the role list ("" if absent).
func (c *call) roleName(ctx context.Context, id string) (string, error) {
	roles, err := c.roles(ctx)
	if err != nil {
		return "", err
	}
	for _, r := range roles {
		if r.ID == id {
			return r.Name, nil
		}
	}
	return "", nil
}

// requireRole checks that the role exists. The session's role list may
// predate a role created since the sync, so a miss there is confirmed
// against a fresh GET /roles before it becomes an error.
func (c *call) requireRole(ctx context.Context, id string) error {
	roles, err := c.roles(ctx)
	if err != nil {
		return err
	}
	if hasRole(roles, id) {
		return nil
	}
	fresh, refreshed, err := c.rolesAgain(ctx)
	if err != nil {
		return err
	}
	if refreshed && hasRole(fresh, id) {
		return nil
	}
	return abi.Errorf(abi.CodeNotFound, "role %s does not exist in Segment (not in GET /roles)", id)
}

// rolesAgain replaces the session's role list with a fresh GET /roles.
// Without a session the list c.roles returned was already fresh, and
// refreshed is false.
func (c *call) rolesAgain(ctx context.Context) (roles []role, refreshed bool, err error) {
	if c.cache.s == nil {
		return nil, false, nil
	}
	fresh, err := fetchAll[role](ctx, c.api, "list roles", "/roles", "roles")
	if err != nil {
		return nil, false, err
	}
	if fresh == nil {
		fresh = []role{}
	}
	c.cache.store(ctx, rolesKey, fresh)
	c.roleList = fresh
	return fresh, true, nil
}

func hasRole(roles []role, id string) bool {
	for _, r := range roles {
		if r.ID == id {
			return true
		}
	}
	return false
}

// listRoles returns every role in one page from the sync-wide role list,
// so GET /roles is read once per sync however many callers need it.
func (c *call) listRoles(ctx context.Context, ws abi.ResourceID) (abi.ResourcePage, error) {
	roles, err := c.roles(ctx)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	out := make([]abi.Resource, 0, len(roles))
	for _, r := range roles {
		out = append(out, roleResource(r, ws))
	}
	return abi.ResourcePage{Resources: out}, nil
}

// roles returns the whole role list, from the session or from GET /roles.
func (c *call) roles(ctx context.Context) ([]role, error) {
	if c.roleList != nil {
		return c.roleList, nil
	}
	if roles, ok := recall[[]role](c.cache, rolesKey); ok {
		c.roleList = roles
		return roles, nil
	}
	var roles []role
	if !c.cache.load(ctx, rolesKey, &roles) || roles == nil {
		var err error
		roles, err = fetchAll[role](ctx, c.api, "list roles", "/roles", "roles")
		if err != nil {
			return nil, err
		}
		if roles == nil {
			roles = []role{}
		}
		c.cache.store(ctx, rolesKey, roles)
	}
	c.cache.remember(rolesKey, roles)
	c.roleList = roles
	return roles, nil
}

func roleResource(r role, ws abi.ResourceID) abi.Resource {
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeRole, ID: r.ID},
		Parent:      &ws,
		DisplayName: firstNonEmpty(r.Name, r.ID),
		Description: r.Description,
	}
}

// roleEntitlements: the role granted on the whole workspace.
func roleEntitlements(id abi.ResourceID, name string) []abi.Entitlement {
	return []abi.Entitlement{{
		Resource:    id,
		Slug:        memberSlug,
		DisplayName: name,
		Description: name + " on the whole workspace",
		GrantableTo: []string{typeUser, typeGroup},
	}}
}
