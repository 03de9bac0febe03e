package segment

import (
	"context"

	"github.com/baton-runner/baton-runner/abi"
)

// functionTypes are the values of GET /functions?resourceType=, listed one
// after another; the page token's phase is an index into this list.
var functionTypes = []string{"SOURCE", "DESTINATION", "INSERT_SOURCE", "INSERT_DESTINATION", "INSERT_TRANSFORMATION"}

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
