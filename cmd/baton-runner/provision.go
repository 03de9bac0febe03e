package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"

	"github.com/baton-runner/baton-runner/host/tenant"
)

func c1zFlag() cli.Flag {
	return &cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: "sync.c1z", Usage: "c1z of an earlier sync, where entitlements and principals are looked up", EnvVars: []string{"BATON_FILE"}}
}

func grantCommand() *cli.Command {
	return &cli.Command{
		Name:  "grant",
		Usage: "grant an entitlement to a user or group through the sandboxed connector",
		Flags: concat(tenantFlags(), []cli.Flag{
			c1zFlag(),
			&cli.StringFlag{Name: "entitlement", Required: true, Usage: "entitlement ID, e.g. group:<groupId>:member or source:<sourceId>:<roleId> (find it with `inspect entitlements`)", EnvVars: []string{"BATON_GRANT_ENTITLEMENT"}},
			&cli.StringFlag{Name: "principal-type", Required: true, Usage: "user, group, or invite (group membership only)", EnvVars: []string{"BATON_GRANT_PRINCIPAL_TYPE"}},
			&cli.StringFlag{Name: "principal", Required: true, Usage: "principal ID (find it with `inspect resources --resource-type user`)", EnvVars: []string{"BATON_GRANT_PRINCIPAL"}},
		}, runtimeFlags(), logFlags()),
		Action: func(c *cli.Context) error {
			return grantAction(c, c.String("entitlement"), c.String("principal-type"), c.String("principal"))
		},
	}
}

// grantAction grants; for grant and the bare command's --grant-entitlement.
func grantAction(c *cli.Context, entitlement, principalType, principal string) error {
	if principalType != "user" && principalType != "group" && principalType != "invite" {
		return fmt.Errorf("the principal type must be user, group or invite, not %q", principalType)
	}
	what := fmt.Sprintf("%s to %s:%s", entitlement, principalType, principal)
	return provision(c, "grant "+what, func(t *tenant.Tenant) (tenant.Outcome, error) {
		return t.Grant(c.Context, c.String("file"), entitlement, principalType, principal)
	})
}

// revokeAction revokes; for revoke and the bare command's --revoke-grant.
func revokeAction(c *cli.Context, grant string) error {
	return provision(c, "revoke "+grant, func(t *tenant.Tenant) (tenant.Outcome, error) {
		return t.Revoke(c.Context, c.String("file"), grant)
	})
}

func revokeCommand() *cli.Command {
	return &cli.Command{
		Name:  "revoke",
		Usage: "revoke a grant through the sandboxed connector",
		Flags: concat(tenantFlags(), []cli.Flag{
			c1zFlag(),
			&cli.StringFlag{Name: "grant", Required: true, Usage: "grant ID, e.g. group:<groupId>:member:user:<userId> (find it with `inspect grants`)", EnvVars: []string{"BATON_REVOKE_GRANT"}},
		}, runtimeFlags(), logFlags()),
		Action: func(c *cli.Context) error {
			return revokeAction(c, c.String("grant"))
		},
	}
}

// provision runs one grant or revoke and reports its outcome.
func provision(c *cli.Context, what string, do func(*tenant.Tenant) (tenant.Outcome, error)) error {
	if _, err := os.Stat(c.String("file")); err != nil {
		return fmt.Errorf("%s: cannot read %s (run `baton-runner sync` first; provisioning looks entitlements and principals up in its c1z): %w", what, c.String("file"), err)
	}
	return withTenant(c, func(t *tenant.Tenant, logger *zap.Logger) error {
		outcome, err := do(t)
		if err != nil {
			return explainProvisionError(what, c.String("file"), err)
		}
		switch outcome {
		case tenant.AlreadyGranted:
			fmt.Printf("%s: already held, nothing changed\n", what)
		case tenant.AlreadyRevoked:
			fmt.Printf("%s: not held, nothing changed\n", what)
		default:
			fmt.Printf("%s: done\n", what)
		}
		logger.Debug("provisioning finished", zap.String("what", what), zap.Int("outcome", int(outcome)))
		return nil
	})
}

func explainProvisionError(what, file string, err error) error {
	if le, ok := asLookup(err); ok {
		return explainLookup(what, file, le)
	}
	msg, code := oneSentence(err, what)
	switch code {
	case codes.Unimplemented:
		return fmt.Errorf("%s: not supported: the connector provisions group membership (group:<id>:member, users and pending invites), "+
			"workspace roles (role:<roleId>:member) and roles on sources, warehouses, spaces and functions; "+
			"workspace membership is managed in Segment (%s)", what, msg)
	case codes.NotFound:
		return fmt.Errorf("%s: Segment has no such object any more: %s; it may have been deleted since the sync: run `baton-runner sync`, then look the ID up with `baton-runner inspect`", what, msg)
	}
	return explain(what, err)
}
