package segment

import (
	"context"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
)

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
	case typeInvite:
		return c.listInvites(ctx, ws, tok)
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

// next builds the token for the page after tok, or "" when cursor is "".
func (t pageToken) next(cursor string) string {
	if cursor == "" {
		return ""
	}
	return pageToken{Phase: t.Phase, Cursor: cursor, Page: t.Page + 1}.String()
}

// The builders below turn Segment documents into resources.

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
