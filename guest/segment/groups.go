package segment

import (
	"context"
	"net/url"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
)

// Phases of a group's grant pages: its accepted members, then its
// pending invites.
const (
	groupPhaseUsers   = 0
	groupPhaseInvites = 1
)

// groupGrants lists one page of a group's members, and on the first page
// the group's own role grants, marked for expansion to its members. When
// the members are done, the same call starts on the group's pending
// invites (groupInviteGrants), which then page on their own.
func (c *call) groupGrants(ctx context.Context, g abi.Resource, tok pageToken) (abi.GrantPage, error) {
	member := abi.EntitlementRef{Resource: g.ID, Slug: memberSlug}
	var grants []abi.Grant
	if tok.Phase == groupPhaseUsers {
		path := "/groups/" + url.PathEscape(g.ID.ID) + "/users"
		members, next, err := fetchPage[user](ctx, c.api, "list group members", path, "users", listCount, tok.Cursor)
		if isNotFound(err) {
			c.log.warnf("group %s no longer exists; no grants", g.ID.ID)
			return abi.GrantPage{}, nil
		}
		if err != nil {
			return abi.GrantPage{}, err
		}
		grants = make([]abi.Grant, 0, len(members))
		seen := map[string]bool{}
		for _, m := range members {
			if m.ID == "" || seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			grants = append(grants, abi.Grant{Entitlement: member, Principal: abi.ResourceID{Type: typeUser, ID: m.ID}})
		}
		if tok.Page == 0 && tok.Cursor == "" {
			roleGrants, err := c.groupRoleGrants(ctx, g.ID, member)
			if err != nil {
				return abi.GrantPage{}, err
			}
			grants = append(grants, roleGrants...)
		}
		if next != "" {
			return abi.GrantPage{Grants: grants, NextPageToken: tok.next(next)}, nil
		}
		tok = pageToken{Phase: groupPhaseInvites, Page: tok.Page}
	}
	if tok.Phase != groupPhaseInvites {
		return abi.GrantPage{}, abi.Errorf(abi.CodeInvalidArgument, "invalid page token: group grants have no phase %d", tok.Phase)
	}
	invites, next, found, err := c.groupInviteGrants(ctx, g.ID, tok.Cursor)
	if err != nil {
		return abi.GrantPage{}, err
	}
	if !found {
		c.log.warnf("group %s disappeared while listing its grants; no invite grants", g.ID.ID)
	}
	return abi.GrantPage{Grants: append(grants, invites...), NextPageToken: tok.next(next)}, nil
}

// groupRoleGrants builds a group's own role grants. They carry ExpandFrom
// the group's member entitlement: baton-sdk derives the members' access
// from it, so the connector never copies group grants onto users.
func (c *call) groupRoleGrants(ctx context.Context, g abi.ResourceID, member abi.EntitlementRef) ([]abi.Grant, error) {
	perms, found, err := c.groupPermissions(ctx, g.ID)
	if err != nil || !found {
		return nil, err
	}
	targets, err := c.targetsOf(ctx, perms)
	if err != nil {
		return nil, err
	}
	slugs, err := c.entitlementNames(ctx)
	if err != nil {
		return nil, err
	}
	return grantsFor(g, targets, []abi.EntitlementRef{member}, slugs), nil
}

func (c *call) grantMembership(ctx context.Context, ch *change) (abi.GrantResult, error) {
	email, err := ch.email()
	if err != nil {
		return abi.GrantResult{}, err
	}
	gid := ch.ent.Resource.ID.ID
	held, _, err := c.holdsMembership(ctx, ch, gid, email)
	if err != nil {
		return abi.GrantResult{}, err
	}
	if held {
		return abi.GrantResult{AlreadyExists: true}, nil
	}
	body := struct {
		Emails []string `json:"emails"`
	}{[]string{email}}
	if err := c.api.send(ctx, "POST", "/groups/"+url.PathEscape(gid)+"/users", body, nil); err != nil {
		return abi.GrantResult{}, err
	}
	return abi.GrantResult{Grants: []abi.Grant{ch.grant()}}, nil
}

func (c *call) revokeMembership(ctx context.Context, ch *change) (abi.RevokeResult, error) {
	email, err := ch.email()
	if err != nil {
		return abi.RevokeResult{}, err
	}
	gid := ch.ent.Resource.ID.ID
	held, current, err := c.holdsMembership(ctx, ch, gid, email)
	if err != nil {
		return abi.RevokeResult{}, err
	}
	if !held {
		return abi.RevokeResult{AlreadyRevoked: true}, nil
	}
	// Segment's current email for the member, when it has one: the
	// principal's may be stale if the user changed address since the sync.
	email = firstNonEmpty(current, email)
	// The singular /group/ path and the emails.0= array encoding are the
	// API's (reference bugs 4 and 5); no pagination parameter.
	path := "/group/" + url.PathEscape(gid) + "/users?emails.0=" + url.QueryEscape(email)
	var out envelope[struct {
		Status string `json:"status"`
	}]
	if err := c.api.send(ctx, "DELETE", path, nil, &out); err != nil {
		return abi.RevokeResult{}, err
	}
	if out.Data.Status != "SUCCESS" {
		// A 200 that does not say SUCCESS is not a success (reference bug
		// 6 is the opposite mistake). Unavailable makes the caller retry,
		// and a retry re-reads the membership first.
		return abi.RevokeResult{}, abi.Errorf(abi.CodeUnavailable, "DELETE /group/%s/users: Segment answered with status %q, not SUCCESS", gid, out.Data.Status)
	}
	return abi.RevokeResult{}, nil
}

// holdsMembership says whether the change's principal is in group gid:
// a user among its members, an invite among its pending invites. current
// is the email as Segment has it now.
func (c *call) holdsMembership(ctx context.Context, ch *change, gid, email string) (held bool, current string, err error) {
	if ch.principal.ID.Type == typeInvite {
		found, err := c.findGroupInvite(ctx, gid, email)
		return found != "", found, err
	}
	m, err := c.findMember(ctx, gid, ch.principal.ID.ID, email)
	if err != nil || m == nil {
		return false, "", err
	}
	return true, m.Email, nil
}

// findGroupInvite pages through the group's pending invites for an email
// (case-insensitive) and returns it as Segment spells it, or "".
func (c *call) findGroupInvite(ctx context.Context, gid, email string) (string, error) {
	found, err := c.findEmail(ctx, "list group invites", "/groups/"+url.PathEscape(gid)+"/invites", "emails", email)
	if isNotFound(err) {
		return "", abi.Errorf(abi.CodeNotFound, "group %s not found in Segment: %s", gid, abi.AsError(err).Message)
	}
	return found, err
}

// findMember pages through the group's members for the user, by id or by
// email (case-insensitive), and returns it, or nil if it is not a member.
func (c *call) findMember(ctx context.Context, gid, uid, email string) (*user, error) {
	path := "/groups/" + url.PathEscape(gid) + "/users"
	seen := map[string]bool{}
	cursor := ""
	for {
		members, next, err := fetchPage[user](ctx, c.api, "list group members", path, "users", listCount, cursor)
		if isNotFound(err) {
			return nil, abi.Errorf(abi.CodeNotFound, "group %s not found in Segment: %s", gid, abi.AsError(err).Message)
		}
		if err != nil {
			return nil, err
		}
		for i := range members {
			if members[i].ID == uid || (email != "" && strings.EqualFold(strings.TrimSpace(members[i].Email), email)) {
				return &members[i], nil
			}
		}
		if next == "" {
			return nil, nil
		}
		if seen[next] {
			return nil, abi.Errorf(abi.CodeUnavailable, "%s: pagination cursor did not advance (%q seen before)", where("list group members", path), next)
		}
		seen[next] = true
		cursor = next
	}
}

// listGroups lists a page of groups and caches their permissions, which
// the list normally includes.
func (c *call) listGroups(ctx context.Context, ws abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	groups, next, err := fetchPage[group](ctx, c.api, "list groups", "/groups", "userGroups", groupCount, tok.Cursor)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	var out []abi.Resource
	extras := []scopedRole{}
	for _, g := range groups {
		perms := g.Permissions
		if perms == nil {
			var found bool
			perms, found, err = c.groupPermissions(ctx, g.ID)
			if err != nil {
				return abi.ResourcePage{}, err
			}
			if !found {
				c.log.warnf("group %s disappeared while listing groups; skipping it", g.ID)
				continue
			}
		} else {
			c.cache.store(ctx, permKey(kindGroup, g.ID), perms)
		}
		x, err := c.extrasOf(ctx, perms)
		if err != nil {
			return abi.ResourcePage{}, err
		}
		extras = append(extras, x...)
		out = append(out, groupResource(g, ws))
	}
	c.storeExtrasPage(ctx, kindGroup, tok.Page, extras, next == "")
	return abi.ResourcePage{Resources: out, NextPageToken: tok.next(next)}, nil
}

// groupPermissions returns a group's permissions from the session, else
// from GET /groups/{id} (key userGroup, singular), caching them. found is
// false when the group is gone.
func (c *call) groupPermissions(ctx context.Context, id string) (perms []permission, found bool, err error) {
	if c.cache.load(ctx, permKey(kindGroup, id), &perms) && perms != nil {
		return perms, true, nil
	}
	g, err := getOne[group](ctx, c.api, "get group", "/groups/"+url.PathEscape(id), "userGroup")
	if isNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	perms = g.Permissions
	if perms == nil {
		perms = []permission{}
	}
	c.cache.store(ctx, permKey(kindGroup, id), perms)
	return perms, true, nil
}

func groupResource(g group, ws abi.ResourceID) abi.Resource {
	count := g.MemberCount.String()
	if count == "" {
		count = "0"
	}
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeGroup, ID: g.ID},
		Parent:      &ws,
		DisplayName: firstNonEmpty(g.Name, g.ID),
		Profile:     map[string]string{"memberCount": count},
	}
}

// groupEntitlements: membership of the group.
func groupEntitlements(id abi.ResourceID, name string) []abi.Entitlement {
	return []abi.Entitlement{{
		Resource:    id,
		Slug:        memberSlug,
		DisplayName: "Member of " + name,
		Description: "Member of the Segment user group " + name,
		// A pending invite can join a group: it gets the group's access
		// when accepted.
		GrantableTo: []string{typeUser, typeInvite},
	}}
}

// getGroup reads one group (GET /groups/{id}) and caches its permissions
// for the grants that follow in a targeted sync.
func (c *call) getGroup(ctx context.Context, ws abi.ResourceID, id string) (abi.Resource, error) {
	g, err := getOne[group](ctx, c.api, "get group", "/groups/"+url.PathEscape(id), "userGroup")
	if isNotFound(err) {
		return abi.Resource{}, abi.Errorf(abi.CodeNotFound, "group %s not found in Segment", id)
	}
	if err != nil {
		return abi.Resource{}, err
	}
	if g.Permissions != nil {
		c.cache.store(ctx, permKey(kindGroup, g.ID), g.Permissions)
	}
	return groupResource(*g, ws), nil
}
