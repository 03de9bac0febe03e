package segment

import (
	"context"
	"net/url"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
)

// userGrants lists a user's grants: workspace membership plus every role
// the user holds directly. Roles held through groups are the groups' grants.
func (c *call) userGrants(ctx context.Context, u abi.Resource) (abi.GrantPage, error) {
	ws, err := c.parentWorkspace(ctx, u.Parent)
	if err != nil {
		return abi.GrantPage{}, err
	}
	perms, found, err := c.userPermissions(ctx, u.ID.ID)
	if err != nil {
		return abi.GrantPage{}, err
	}
	if !found {
		c.log.warnf("user %s no longer exists; no grants", u.ID.ID)
		return abi.GrantPage{}, nil
	}
	targets, err := c.targetsOf(ctx, perms)
	if err != nil {
		return abi.GrantPage{}, err
	}
	slugs, err := c.entitlementNames(ctx)
	if err != nil {
		return abi.GrantPage{}, err
	}
	grants := []abi.Grant{{
		Entitlement: abi.EntitlementRef{Resource: ws, Slug: memberSlug},
		Principal:   u.ID,
	}}
	grants = append(grants, grantsFor(u.ID, targets, nil, slugs)...)
	return abi.GrantPage{Grants: grants}, nil
}

// listUsers lists a page of users and fetches their permissions (list
// responses omit them), all of the page's at once, so that grants and
// entitlements need no further requests.
func (c *call) listUsers(ctx context.Context, ws abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	users, next, err := fetchPage[user](ctx, c.api, "list users", "/users", "users", userCount, tok.Cursor)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	perms, err := c.usersPermissions(ctx, ids)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	var out []abi.Resource
	extras := []scopedRole{}
	for _, u := range users {
		p, found := perms[u.ID]
		if !found {
			c.log.warnf("user %s disappeared while listing users; skipping it", u.ID)
			continue
		}
		x, err := c.extrasOf(ctx, p)
		if err != nil {
			return abi.ResourcePage{}, err
		}
		extras = append(extras, x...)
		out = append(out, userResource(u, ws))
	}
	c.storeExtrasPage(ctx, kindUser, tok.Page, extras, next == "")
	return abi.ResourcePage{Resources: out, NextPageToken: tok.next(next)}, nil
}

// userPermissions returns a user's permissions from the session, else from
// GET /users/{id}, caching them. found is false when the user no longer
// exists. Reading the session first also makes a retried page (after a 429
// part-way through) or a second listing of users in the same sync cost no
// GET /users/{id} again.
func (c *call) userPermissions(ctx context.Context, id string) (perms []permission, found bool, err error) {
	all, err := c.usersPermissions(ctx, []string{id})
	if err != nil {
		return nil, false, err
	}
	perms, found = all[id]
	return perms, found, nil
}

// userResource keeps users whose name is empty (service accounts often
// have none), naming them by email.
func userResource(u user, ws abi.ResourceID) abi.Resource {
	r := abi.Resource{
		ID:          abi.ResourceID{Type: typeUser, ID: u.ID},
		Parent:      &ws,
		DisplayName: firstNonEmpty(u.Name, u.Email, u.ID),
		User:        &abi.UserTrait{Login: u.Email, Status: abi.UserStatusEnabled},
	}
	if u.Email != "" {
		r.User.Emails = []string{u.Email}
		r.Profile = map[string]string{"email": u.Email}
	}
	return r
}

// getUser reads one user (GET /users/{id}, with permissions, which it
// caches for the grants that follow in a targeted sync).
func (c *call) getUser(ctx context.Context, ws abi.ResourceID, id string) (abi.Resource, error) {
	u, err := getOne[user](ctx, c.api, "get user", "/users/"+url.PathEscape(id), "user")
	if isNotFound(err) {
		return abi.Resource{}, abi.Errorf(abi.CodeNotFound, "user %s not found in Segment", id)
	}
	if err != nil {
		return abi.Resource{}, err
	}
	perms := u.Permissions
	if perms == nil {
		perms = []permission{}
	}
	c.cache.store(ctx, permKey(kindUser, u.ID), perms)
	return userResource(*u, ws), nil
}

// deleteUser removes a user from the workspace (DELETE /users?userIds.0=,
// the deepObject array encoding of the Public API's Delete Users). A user that is
// already gone is AlreadyDeleted: Segment would refuse the unknown id.
func (c *call) deleteUser(ctx context.Context, id string) (abi.DeleteResourceResult, error) {
	_, err := getOne[user](ctx, c.api, "get user", "/users/"+url.PathEscape(id), "user")
	if isNotFound(err) {
		return abi.DeleteResourceResult{AlreadyDeleted: true}, nil
	}
	if err != nil {
		return abi.DeleteResourceResult{}, err
	}
	if err := c.sendStatus(ctx, "DELETE", "/users?userIds.0="+url.QueryEscape(id)); err != nil {
		return abi.DeleteResourceResult{}, err
	}
	c.cache.store(ctx, permKey(kindUser, id), []permission(nil))
	return abi.DeleteResourceResult{}, nil
}

// findUserByEmail pages through GET /users for an email
// (case-insensitive); nil when no member has it.
func (c *call) findUserByEmail(ctx context.Context, email string) (*user, error) {
	seen := map[string]bool{}
	cursor := ""
	for {
		users, next, err := fetchPage[user](ctx, c.api, "list users", "/users", "users", userCount, cursor)
		if err != nil {
			return nil, err
		}
		for i := range users {
			if strings.EqualFold(strings.TrimSpace(users[i].Email), email) {
				return &users[i], nil
			}
		}
		if next == "" {
			return nil, nil
		}
		if seen[next] {
			return nil, abi.Errorf(abi.CodeUnavailable, "%s: pagination cursor did not advance (%q seen before)", where("list users", "/users"), next)
		}
		seen[next] = true
		cursor = next
	}
}
