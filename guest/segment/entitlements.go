package segment

import (
	"context"
	"fmt"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
)

// scopedRole records a role seen granted on one resource that the role
// table does not make applicable to the resource's type (a custom role, or
// a known role on an unexpected type). Such a role still needs an
// entitlement on that resource, or its grant would point nowhere.
type scopedRole struct {
	Type string `json:"t"`
	ID   string `json:"id"`
	Role string `json:"r"`
	Name string `json:"n,omitempty"`
}

// typeNames are the display names of the scoped resource types, for
// entitlement descriptions.
var typeNames = map[string]string{
	typeSource:    "source",
	typeWarehouse: "warehouse",
	typeSpace:     "space",
	typeFunction:  "function",
}

// extrasOf returns the scopedRoles among the grants of perms.
func (c *call) extrasOf(ctx context.Context, perms []permission) ([]scopedRole, error) {
	targets, err := c.targetsOf(ctx, perms)
	if err != nil {
		return nil, err
	}
	var out []scopedRole
	for _, t := range targets {
		if t.Type == "" {
			continue
		}
		name := t.RoleName
		if name == "" {
			// Entries normally carry roleName; the role list is the
			// fallback, and is fetched once per sync anyway.
			if name, err = c.roleName(ctx, t.RoleID); err != nil {
				return nil, err
			}
		}
		if !roleApplies(name, t.Type) {
			out = append(out, scopedRole{Type: t.Type, ID: t.ID, Role: t.RoleID, Name: name})
		}
	}
	return out, nil
}

// storeExtrasPage records the scopedRoles of one page of users or groups,
// and on the last page how many pages there were.
func (c *call) storeExtrasPage(ctx context.Context, kind string, page int, extras []scopedRole, last bool) {
	c.cache.store(ctx, extrasKey(kind, page), dedupExtras(extras))
	if last {
		c.cache.store(ctx, extrasPagesKey(kind), page+1)
	}
}

// loadExtras gathers the scopedRoles recorded while users and groups were
// listed (baton-sdk lists every resource before any entitlement). Once
// every page is there the union is stored under one key, so the per-page
// keys are read once per sync rather than once per resource. Missing keys
// (an evicted session) only cost the custom-role entitlements, with a
// warning: the table still yields every documented one.
func (c *call) loadExtras(ctx context.Context) []scopedRole {
	if all, ok := recall[[]scopedRole](c.cache, extrasAllKey); ok {
		return all
	}
	var all []scopedRole
	if c.cache.load(ctx, extrasAllKey, &all) && all != nil {
		c.cache.remember(extrasAllKey, all)
		return all
	}
	all = []scopedRole{}
	var missing []string
	for _, kind := range []string{kindUser, kindGroup} {
		var pages int
		if !c.cache.load(ctx, extrasPagesKey(kind), &pages) {
			missing = append(missing, extrasPagesKey(kind))
			continue
		}
		for i := range pages {
			var page []scopedRole
			if !c.cache.load(ctx, extrasKey(kind, i), &page) {
				missing = append(missing, extrasKey(kind, i))
				continue
			}
			all = append(all, page...)
		}
	}
	all = dedupExtras(all)
	if len(missing) == 0 {
		c.cache.store(ctx, extrasAllKey, all)
		c.cache.remember(extrasAllKey, all)
		return all
	}
	// Every scoped resource comes through here: warn once per sync, not
	// once per resource (the marker is itself only a cache).
	var warned bool
	if !c.cache.load(ctx, extrasWarnedKey, &warned) {
		c.log.warnf("session lost %s; entitlements for roles outside the role table may be missing on some resources", strings.Join(missing, ", "))
		c.cache.store(ctx, extrasWarnedKey, true)
	}
	return all
}

// dedupExtras drops repeated scopedRoles (many principals hold the same
// custom role on the same resource), keeping the first of each.
func dedupExtras(in []scopedRole) []scopedRole {
	out := make([]scopedRole, 0, len(in))
	seen := map[[3]string]bool{}
	for _, x := range in {
		k := [3]string{x.Type, x.ID, x.Role}
		if !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	return out
}

// entitlements lists the entitlements of one resource.
func (c *call) entitlements(ctx context.Context, r abi.Resource) ([]abi.Entitlement, error) {
	name := firstNonEmpty(r.DisplayName, r.ID.ID)
	switch r.ID.Type {
	case typeWorkspace:
		if err := c.warnCollisions(ctx); err != nil {
			return nil, err
		}
		return workspaceEntitlements(r.ID, name), nil
	case typeGroup:
		return groupEntitlements(r.ID, name), nil
	case typeRole:
		return roleEntitlements(r.ID, name), nil
	case typeSource, typeWarehouse, typeSpace, typeFunction:
		return c.scopedEntitlements(ctx, r, name)
	}
	return nil, nil
}

// scopedEntitlements offers, on one source, warehouse, space or function,
// every role the table makes applicable to its type plus every other role
// seen granted on it. The slug is the role id, so granting and revoking
// never have to parse display strings, unless the tenant asked for
// baton-segment's names (entitlementids.go).
func (c *call) scopedEntitlements(ctx context.Context, r abi.Resource, name string) ([]abi.Entitlement, error) {
	roles, err := c.roles(ctx)
	if err != nil {
		return nil, err
	}
	slugs, err := c.entitlementNames(ctx)
	if err != nil {
		return nil, err
	}
	var out []abi.Entitlement
	emitted := map[string]bool{}
	add := func(roleID, roleName string) {
		emitted[roleID] = true
		out = append(out, scopedEntitlement(r.ID, name, slugs.Slug(roleID), roleName))
	}
	names := map[string]string{}
	for _, role := range roles {
		names[role.ID] = role.Name
		if roleApplies(role.Name, r.ID.Type) {
			add(role.ID, role.Name)
		}
	}
	for _, x := range c.loadExtras(ctx) {
		if x.Type != r.ID.Type || x.ID != r.ID.ID || emitted[x.Role] {
			continue
		}
		roleName := firstNonEmpty(names[x.Role], x.Name, x.Role)
		if _, known := roleScope(roleName); known {
			c.log.warnf("role %q (%s) is granted on %s %s although Segment scopes it elsewhere; adding an entitlement for it", roleName, x.Role, r.ID.Type, r.ID.ID)
		} else {
			// A custom role, or one newer than the connector's table: it is
			// synced like any other, so there is nothing to warn about.
			c.log.infof("role %q (%s) is not in the connector's role table (a custom role?) but is granted on %s %s; adding an entitlement for it", roleName, x.Role, r.ID.Type, r.ID.ID)
		}
		add(x.Role, roleName)
	}
	return out, nil
}

func scopedEntitlement(res abi.ResourceID, resName, slug, roleName string) abi.Entitlement {
	return abi.Entitlement{
		Resource:    res,
		Slug:        slug,
		DisplayName: fmt.Sprintf("%s on %s", roleName, resName),
		Description: fmt.Sprintf("Segment role %s, scoped to the %s %s", roleName, typeNames[res.Type], resName),
		GrantableTo: []string{typeUser, typeGroup},
	}
}
