package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

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

// guestSettings returns the settings passed to a JSON-ABI guest with
// every call: the Segment guest's entitlement ID scheme when it is not the
// default. (A baton-sdk guest's are its fields, batonSDKConfig.)
func guestSettings(c *cli.Context) (map[string]string, error) {
	if err := refuseSet(c); err != nil {
		return nil, err
	}
	v := c.String("entitlement-ids")
	switch {
	case v == "" || v == segmentids.RoleID:
		// A command without the flag (demo) runs the default.
		return nil, nil
	case !slices.Contains(segmentids.Schemes, v):
		return nil, fmt.Errorf("--entitlement-ids %q: must be %q (the default) or %q", v, segmentids.RoleID, segmentids.BatonSegment)
	}
	return map[string]string{segmentids.Setting: v}, nil
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
