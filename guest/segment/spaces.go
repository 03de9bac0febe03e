package segment

import (
	"context"

	"github.com/baton-runner/baton-runner/abi"
)

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

func spaceResource(s space, ws abi.ResourceID) abi.Resource {
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeSpace, ID: s.ID},
		Parent:      &ws,
		DisplayName: firstNonEmpty(s.Name, s.Slug, s.ID),
		Profile:     map[string]string{"slug": s.Slug},
	}
}
