package segment

import (
	"context"
	"net/url"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
)

// functionTypes are the values of GET /functions?resourceType=, listed one
// after another; the page token's phase is an index into this list.
var functionTypes = []string{"SOURCE", "DESTINATION", "INSERT_SOURCE", "INSERT_DESTINATION", "INSERT_TRANSFORMATION"}

// sourcePageSize is how many cached sources one ListResources call returns.
const sourcePageSize = 100

func (c *call) listResources(ctx context.Context, rtype string, parent *abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	if rtype == typeWorkspace {
		ws, err := c.fetchWorkspace(ctx)
		if err != nil {
			return abi.ResourcePage{}, err
		}
		return abi.ResourcePage{Resources: []abi.Resource{workspaceResource(*ws)}}, nil
	}
	ws, err := c.parentWorkspace(ctx, parent)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	switch rtype {
	case typeUser:
		return c.listUsers(ctx, ws, tok)
	case typeGroup:
		return c.listGroups(ctx, ws, tok)
	case typeRole:
		return c.listRoles(ctx, ws)
	case typeSource:
		return c.listSources(ctx, ws, tok)
	case typeWarehouse:
		return c.listWarehouses(ctx, ws, tok)
	case typeSpace:
		return c.listSpaces(ctx, ws, tok)
	case typeFunction:
		return c.listFunctions(ctx, ws, tok)
	}
	return abi.ResourcePage{}, abi.Errorf(abi.CodeInvalidArgument, "unknown resource type %q", rtype)
}

// fetchWorkspace reads GET / and remembers the workspace for the sync.
func (c *call) fetchWorkspace(ctx context.Context) (*workspace, error) {
	ws, err := getOne[workspace](ctx, c.api, "get workspace", "/", "workspace")
	if err != nil {
		return nil, err
	}
	if ws.ID == "" {
		return nil, abi.Errorf(abi.CodeUnavailable, "get workspace (GET /): response has no workspace id")
	}
	c.cache.store(ctx, workspaceKey, ws)
	return ws, nil
}

// parentWorkspace returns the workspace resource id that parents every
// other resource: the parent the host passed, else the one remembered in
// the session, else GET /.
func (c *call) parentWorkspace(ctx context.Context, parent *abi.ResourceID) (abi.ResourceID, error) {
	if parent != nil && parent.Type == typeWorkspace && parent.ID != "" {
		return *parent, nil
	}
	var ws workspace
	if c.cache.load(ctx, workspaceKey, &ws) && ws.ID != "" {
		return abi.ResourceID{Type: typeWorkspace, ID: ws.ID}, nil
	}
	got, err := c.fetchWorkspace(ctx)
	if err != nil {
		return abi.ResourceID{}, err
	}
	return abi.ResourceID{Type: typeWorkspace, ID: got.ID}, nil
}

// next builds the token for the page after tok, or "" when cursor is "".
func (t pageToken) next(cursor string) string {
	if cursor == "" {
		return ""
	}
	return pageToken{Phase: t.Phase, Cursor: cursor, Page: t.Page + 1}.String()
}

// listUsers lists a page of users and, for each, fetches its permissions
// (list responses omit them) so that grants and entitlements need no
// further requests.
func (c *call) listUsers(ctx context.Context, ws abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	users, next, err := fetchPage[user](ctx, c.api, "list users", "/users", "users", userCount, tok.Cursor)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	var out []abi.Resource
	extras := []scopedRole{}
	for _, u := range users {
		perms, found, err := c.userPermissions(ctx, u.ID)
		if err != nil {
			return abi.ResourcePage{}, err
		}
		if !found {
			c.log.warnf("user %s disappeared while listing users; skipping it", u.ID)
			continue
		}
		x, err := c.extrasOf(ctx, perms)
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
	if c.cache.load(ctx, permKey(kindUser, id), &perms) && perms != nil {
		return perms, true, nil
	}
	u, err := getOne[user](ctx, c.api, "get user", "/users/"+url.PathEscape(id), "user")
	if isNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	perms = u.Permissions
	if perms == nil {
		perms = []permission{}
	}
	c.cache.store(ctx, permKey(kindUser, id), perms)
	return perms, true, nil
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

// listSources pages through the sync-wide source list, which label-scoped
// grants may already have loaded while users were listed.
func (c *call) listSources(ctx context.Context, ws abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	sources, err := c.sources(ctx)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	lo := min(tok.Offset, len(sources))
	hi := min(lo+sourcePageSize, len(sources))
	out := make([]abi.Resource, 0, hi-lo)
	for _, s := range sources[lo:hi] {
		out = append(out, sourceResource(s, ws))
	}
	page := abi.ResourcePage{Resources: out}
	if hi < len(sources) {
		page.NextPageToken = pageToken{Offset: hi, Page: tok.Page + 1}.String()
	}
	return page, nil
}

func (c *call) listWarehouses(ctx context.Context, ws abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	items, next, err := fetchPage[warehouse](ctx, c.api, "list warehouses", "/warehouses", "warehouses", listCount, tok.Cursor)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	out := make([]abi.Resource, 0, len(items))
	for _, w := range items {
		out = append(out, warehouseResource(w, ws))
	}
	return abi.ResourcePage{Resources: out, NextPageToken: tok.next(next)}, nil
}

// listSpaces lists spaces; a workspace without the Spaces feature has none.
func (c *call) listSpaces(ctx context.Context, ws abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	items, next, err := fetchPage[space](ctx, c.api, "list spaces", "/spaces", "spaces", listCount, tok.Cursor)
	if featureDisabled(err) {
		c.log.warnf("spaces are not available in this workspace, listing none: %v", err)
		return abi.ResourcePage{}, nil
	}
	if err != nil {
		return abi.ResourcePage{}, err
	}
	out := make([]abi.Resource, 0, len(items))
	for _, s := range items {
		out = append(out, spaceResource(s, ws))
	}
	return abi.ResourcePage{Resources: out, NextPageToken: tok.next(next)}, nil
}

// listFunctions lists functions of every resource type, one type after
// another (GET /functions requires the type). A workspace without the
// Functions feature has none; an API version that does not know a type
// (the 2022 one knew only SOURCE and DESTINATION) skips that type.
func (c *call) listFunctions(ctx context.Context, ws abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	if tok.Phase >= len(functionTypes) {
		return abi.ResourcePage{}, abi.Errorf(abi.CodeInvalidArgument, "invalid page token: function phase %d", tok.Phase)
	}
	ftype := functionTypes[tok.Phase]
	op := "list " + ftype + " functions"
	items, next, err := fetchPage[function](ctx, c.api, op, "/functions?resourceType="+ftype, "functions", listCount, tok.Cursor)
	switch {
	case featureDisabled(err):
		// The feature is per workspace: the other types would answer the same.
		c.log.warnf("functions are not available in this workspace, listing none: %v", err)
		return abi.ResourcePage{}, nil
	case rejectedField(err, "resourceType"):
		c.log.warnf("Segment does not accept function type %s, skipping it: %v", ftype, err)
		items, next = nil, ""
	case err != nil:
		return abi.ResourcePage{}, err
	}
	out := make([]abi.Resource, 0, len(items))
	for _, f := range items {
		out = append(out, functionResource(f, ftype, ws))
	}
	page := abi.ResourcePage{Resources: out}
	switch {
	case next != "":
		page.NextPageToken = tok.next(next)
	case tok.Phase+1 < len(functionTypes):
		page.NextPageToken = pageToken{Phase: tok.Phase + 1, Page: tok.Page + 1}.String()
	}
	return page, nil
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

// sources returns the whole source list, from the session or from
// GET /sources.
func (c *call) sources(ctx context.Context) ([]source, error) {
	if c.sourceList != nil {
		return c.sourceList, nil
	}
	if sources, ok := recall[[]source](c.cache, sourcesKey); ok {
		c.sourceList = sources
		return sources, nil
	}
	var sources []source
	if !c.cache.load(ctx, sourcesKey, &sources) || sources == nil {
		var err error
		sources, err = fetchAll[source](ctx, c.api, "list sources", "/sources", "sources")
		if err != nil {
			return nil, err
		}
		if sources == nil {
			sources = []source{}
		}
		c.cache.store(ctx, sourcesKey, sources)
	}
	c.cache.remember(sourcesKey, sources)
	c.sourceList = sources
	return sources, nil
}

// The builders below turn Segment documents into resources.

// workspaceResource declares no child types although every other resource
// names the workspace as its parent: baton-sdk lists every type at the top
// level anyway, and child types would make it list them all a second time
// under the workspace (and not at all in a sync limited to some types).
func workspaceResource(ws workspace) abi.Resource {
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeWorkspace, ID: ws.ID},
		DisplayName: firstNonEmpty(ws.Name, ws.Slug, ws.ID),
		Profile:     map[string]string{"slug": ws.Slug},
	}
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

func roleResource(r role, ws abi.ResourceID) abi.Resource {
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeRole, ID: r.ID},
		Parent:      &ws,
		DisplayName: firstNonEmpty(r.Name, r.ID),
		Description: r.Description,
	}
}

func sourceResource(s source, ws abi.ResourceID) abi.Resource {
	labels := make([]string, 0, len(s.Labels))
	for _, l := range s.Labels {
		labels = append(labels, l.Key+"="+l.Value)
	}
	enabled := "false"
	if s.Enabled {
		enabled = "true"
	}
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeSource, ID: s.ID},
		Parent:      &ws,
		DisplayName: firstNonEmpty(s.Name, s.Slug, s.ID),
		Profile:     map[string]string{"slug": s.Slug, "labels": strings.Join(labels, ","), "enabled": enabled},
	}
}

// warehouseResource names a warehouse from settings.name: metadata.name is
// the warehouse type ("Snowflake"), shared by every warehouse of that type.
func warehouseResource(w warehouse, ws abi.ResourceID) abi.Resource {
	name := strings.TrimSpace(string(w.Settings.Name))
	if name == "" {
		name = strings.TrimSpace(w.Metadata.Name + " " + w.ID)
	}
	enabled := "false"
	if w.Enabled {
		enabled = "true"
	}
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeWarehouse, ID: w.ID},
		Parent:      &ws,
		DisplayName: name,
		Profile:     map[string]string{"type": w.Metadata.Name, "enabled": enabled},
	}
}

func spaceResource(s space, ws abi.ResourceID) abi.Resource {
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeSpace, ID: s.ID},
		Parent:      &ws,
		DisplayName: firstNonEmpty(s.Name, s.Slug, s.ID),
		Profile:     map[string]string{"slug": s.Slug},
	}
}

// functionResource records the function's type; listed is the type that
// was asked for, used when the item does not repeat it.
func functionResource(f function, listed string, ws abi.ResourceID) abi.Resource {
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeFunction, ID: f.ID},
		Parent:      &ws,
		DisplayName: firstNonEmpty(f.DisplayName, f.ID),
		Description: f.Description,
		Profile:     map[string]string{"resourceType": firstNonEmpty(f.ResourceType, listed)},
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
