package segment

import (
	"context"

	"github.com/baton-runner/baton-runner/abi"
)

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

// workspaceEntitlements: membership of the workspace.
func workspaceEntitlements(id abi.ResourceID, name string) []abi.Entitlement {
	return []abi.Entitlement{{
		Resource:    id,
		Slug:        memberSlug,
		DisplayName: "Member of " + name,
		Description: "Has an account in the Segment workspace " + name,
		GrantableTo: []string{typeUser},
	}}
}

// getWorkspace returns the workspace resource if id is the token's
// workspace; any other workspace is NotFound (a token sees only its own).
func (c *call) getWorkspace(ctx context.Context, id string) (abi.Resource, error) {
	ws, err := c.fetchWorkspace(ctx)
	if err != nil {
		return abi.Resource{}, err
	}
	if ws.ID != id {
		return abi.Resource{}, abi.Errorf(abi.CodeNotFound, "workspace %s not found: the token belongs to workspace %s", id, ws.ID)
	}
	return workspaceResource(*ws), nil
}
