package segment

import (
	"context"
	"fmt"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/internal/segmentids"
)

// The tenant's entitlement_ids setting chooses how the entitlements of a
// role on one source, warehouse, space or function are named: by role ID
// (the default: source:<id>:<roleId>), or as ConductorOne's baton-segment
// names them, by the role's name as a slug (source:<id>:source_admin), for
// a ConductorOne app that moves from that connector and must keep its
// entitlement IDs (see internal/segmentids for the mapping and collisions).
// Every other entitlement has the same ID in both schemes. Grant and
// revoke take either form whatever the setting: a c1z synced before the
// setting changed, or by another process, still provisions.

// namesKey memoises the sync's *segmentids.Names (never in the session: it
// is derived from the role list, which is).
const namesKey = "names:baton-segment"

// batonSegmentIDs reads the setting from a call's configuration. An
// unknown value is refused, not ignored: a typo would otherwise give a
// migrated app the IDs it must not see.
func batonSegmentIDs(cfg map[string]string) (bool, error) {
	switch v, set := cfg[segmentids.Setting]; {
	case !set || v == segmentids.RoleID:
		return false, nil
	case v == segmentids.BatonSegment:
		return true, nil
	default:
		return false, abi.Errorf(abi.CodeInvalidArgument, "%s = %q: must be %q (the default) or %q", segmentids.Setting, v, segmentids.RoleID, segmentids.BatonSegment)
	}
}

// callFor prepares a call that names entitlements as the request's
// configuration says.
func (conn *Connector) callFor(env guest.Env, req abi.Call) (*call, error) {
	c := conn.newCall(env, req.SyncID)
	var err error
	c.batonSegmentIDs, err = batonSegmentIDs(req.Config)
	return c, err
}

// entitlementNames returns the role slugs of the call's scheme: nil for
// role IDs (a nil *segmentids.Names names every role by its ID), else
// baton-segment's names of the sync's role list.
func (c *call) entitlementNames(ctx context.Context) (*segmentids.Names, error) {
	if !c.batonSegmentIDs {
		return nil, nil
	}
	return c.roleNames(ctx)
}

// roleNames returns baton-segment's names of the role list, computed once
// per call, and once per sync where there is one.
func (c *call) roleNames(ctx context.Context) (*segmentids.Names, error) {
	if c.names != nil {
		return c.names, nil
	}
	if n, ok := recall[*segmentids.Names](c.cache, namesKey); ok {
		c.names = n
		return n, nil
	}
	roles, err := c.roles(ctx)
	if err != nil {
		return nil, err
	}
	c.names = namesOf(roles)
	c.cache.remember(namesKey, c.names)
	return c.names, nil
}

func namesOf(roles []role) *segmentids.Names {
	in := make([]segmentids.Role, len(roles))
	for i, r := range roles {
		in[i] = segmentids.Role{ID: r.ID, Name: r.Name}
	}
	return segmentids.BatonSegmentNames(in)
}

// idsWarnedKey notes in the session that the sync's name collisions were
// reported.
const idsWarnedKey = "names:warned"

// warnCollisions reports, once per sync, the roles baton-segment gave one
// entitlement and this connector tells apart: their grants in ConductorOne
// move to the new IDs. Only the listing of the workspace's entitlements
// calls it: a sync lists them once, where any call of the resources it
// lists by the dozen could run on two instances at once and both find the
// session's marker unset (the session has no compare-and-set). The marker
// stops a listing repeated in a sync (a resumed one).
func (c *call) warnCollisions(ctx context.Context) error {
	if !c.batonSegmentIDs || c.cache.syncID == "" {
		return nil
	}
	if _, err := c.roleNames(ctx); err != nil || len(c.names.Collisions) == 0 {
		return err
	}
	var warned bool
	if c.cache.load(ctx, idsWarnedKey, &warned) {
		return nil
	}
	c.cache.store(ctx, idsWarnedKey, true)
	for _, col := range c.names.Collisions {
		roles := make([]string, len(col.Roles))
		for i, r := range col.Roles {
			roles[i] = fmt.Sprintf("%q (%s)", r.Name, r.ID)
		}
		c.log.warnf("%s = %q: roles %s have the baton-segment entitlement name %s (baton-segment gave them one entitlement); %s, the lowest role id, keeps it and the others get %s_<roleId>",
			segmentids.Setting, segmentids.BatonSegment, strings.Join(roles, ", "), col.Slug, roles[0], col.Slug)
	}
	return nil
}

// roleOfSlug is the role a scoped role entitlement's slug names, in
// either scheme: a role ID or a baton-segment name. The session's role
// list may predate a role created or renamed since the sync, so a miss is
// confirmed against a fresh GET /roles. found is false when no role has
// the slug; roleID is then the slug itself, a role GET /roles does not
// list but a principal may still hold.
func (c *call) roleOfSlug(ctx context.Context, slug string) (roleID string, found bool, err error) {
	names, err := c.roleNames(ctx)
	if err != nil {
		return "", false, err
	}
	if id, ok := names.Role(slug); ok {
		return id, true, nil
	}
	fresh, refreshed, err := c.rolesAgain(ctx)
	if err != nil || !refreshed {
		return slug, false, err
	}
	c.names = namesOf(fresh)
	if id, ok := c.names.Role(slug); ok {
		return id, true, nil
	}
	return slug, false, nil
}

// resolveRole turns a scoped role change's slug, a role ID or (from a sync
// with entitlement_ids = "baton-segment") a role's name, into the role's
// ID. A role the principal holds is named by its ID, and needs no GET
// /roles: the usual revoke and the grant already held cost what they did
// before names were taken. A slug that names no role stays as it is, with
// unknownRole set: a revoke may still find it held as the ID of a role GET
// /roles does not list.
func (c *call) resolveRole(ctx context.Context, ch *change, perms []permission) error {
	if ch.segType == segWorkspace {
		return nil
	}
	for _, p := range perms {
		if p.RoleID == ch.roleID {
			return nil
		}
	}
	id, found, err := c.roleOfSlug(ctx, ch.roleID)
	if err != nil {
		return err
	}
	ch.roleID, ch.unknownRole = id, !found
	return nil
}

// unknownRole is the error of a change whose slug names no role.
func unknownRole(slug string) error {
	return abi.Errorf(abi.CodeNotFound, "role %s does not exist in Segment (GET /roles has no role with that id or baton-segment name: deleted, or renamed since the sync); nothing was changed", slug)
}
