package segment

import (
	"context"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
)

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
