package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/internal/segmentids"
)

// entitlementIDsFlag chooses the Segment guest's entitlement ID scheme for
// the commands configured by flags; runner.toml sets it per tenant
// (entitlement_ids).
func entitlementIDsFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "entitlement-ids",
		Value:   segmentids.RoleID,
		Usage:   "how a role on one source, warehouse, space or function is named: role-id (source:<id>:<roleId>) or baton-segment (source:<id>:source_admin, the IDs of ConductorOne's baton-segment connector, for an app migrating from it)",
		EnvVars: []string{"BATON_ENTITLEMENT_IDS"},
	}
}

// guestSettings returns the settings passed to the guest with every call:
// a baton-sdk guest's configuration fields, or the Segment guest's
// entitlement ID scheme when it is not the default.
func guestSettings(c *cli.Context, m *sandbox.Module) (map[string]string, error) {
	settings, err := connectorSettings(c, m)
	if err != nil {
		return nil, err
	}
	v := c.String("entitlement-ids")
	switch {
	case m.Kind() != sandbox.GuestABI:
		if c.IsSet("entitlement-ids") {
			return nil, errors.New("--entitlement-ids (BATON_ENTITLEMENT_IDS): only the Segment guest takes it, not a baton-sdk guest")
		}
		return settings, nil
	case v == "" || v == segmentids.RoleID:
		// A command without the flag (demo) runs the default.
		return settings, nil
	case !slices.Contains(segmentids.Schemes, v):
		return nil, fmt.Errorf("--entitlement-ids %q: must be %q (the default) or %q", v, segmentids.RoleID, segmentids.BatonSegment)
	}
	out := map[string]string{segmentids.Setting: v}
	maps.Copy(out, settings)
	return out, nil
}

// refuseEntitlementIDsWithConfig keeps --entitlement-ids from seeming to
// apply to runner.toml's tenants, whose scheme is their own
// entitlement_ids.
func refuseEntitlementIDsWithConfig(c *cli.Context) error {
	if c.IsSet("entitlement-ids") {
		return errors.New("--entitlement-ids (BATON_ENTITLEMENT_IDS) does not apply with --config: set entitlement_ids in the tenant's [[tenants]] table of runner.toml")
	}
	return nil
}
