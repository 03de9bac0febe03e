package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/host/synclimits"
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
			&cli.StringFlag{Name: "entitlement", Required: true, Usage: "entitlement ID, e.g. group:<groupId>:member or source:<sourceId>:<roleId>"},
			&cli.StringFlag{Name: "principal-type", Required: true, Usage: "user, group, or invite (group membership only)"},
			&cli.StringFlag{Name: "principal", Required: true, Usage: "principal ID"},
		}, runtimeFlags(), logFlags()),
		Action: func(c *cli.Context) error {
			pt := c.String("principal-type")
			if pt != "user" && pt != "group" && pt != "invite" {
				return fmt.Errorf("--principal-type must be user, group or invite, not %q", pt)
			}
			what := fmt.Sprintf("%s to %s:%s", c.String("entitlement"), pt, c.String("principal"))
			return provision(c, "grant "+what, func(t *tenant.Tenant) (tenant.Outcome, error) {
				return t.Grant(c.Context, c.String("file"), c.String("entitlement"), pt, c.String("principal"))
			})
		},
	}
}

func revokeCommand() *cli.Command {
	return &cli.Command{
		Name:  "revoke",
		Usage: "revoke a grant through the sandboxed connector",
		Flags: concat(tenantFlags(), []cli.Flag{
			c1zFlag(),
			&cli.StringFlag{Name: "grant", Required: true, Usage: "grant ID, e.g. group:<groupId>:member:user:<userId>"},
		}, runtimeFlags(), logFlags()),
		Action: func(c *cli.Context) error {
			return provision(c, "revoke "+c.String("grant"), func(t *tenant.Tenant) (tenant.Outcome, error) {
				return t.Revoke(c.Context, c.String("file"), c.String("grant"))
			})
		},
	}
}

// provision runs one grant or revoke and reports its outcome.
func provision(c *cli.Context, what string, do func(*tenant.Tenant) (tenant.Outcome, error)) error {
	if _, err := os.Stat(c.String("file")); err != nil {
		return fmt.Errorf("%s: cannot read %s (run `baton-runner sync` first; provisioning looks entitlements and principals up in its c1z): %w", what, c.String("file"), err)
	}
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	// Grant and revoke run no sync, so they take no sync limits.
	t, closeTenant, err := openTenant(c.Context, c, logger, c.String("token"), c.String("base-url"), synclimits.Limits{})
	if err != nil {
		return err
	}
	defer closeTenant()
	outcome, err := do(t)
	if err != nil {
		return explainProvisionError(what, err)
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
}

func explainProvisionError(what string, err error) error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unimplemented:
		return fmt.Errorf("%s: not supported: the connector provisions group membership (group:<id>:member, users and pending invites), "+
			"workspace roles (role:<roleId>:member) and roles on sources, warehouses, spaces and functions; "+
			"workspace membership is managed in Segment\n  detail: %s", what, st.Message())
	case codes.NotFound:
		return fmt.Errorf("%s: not found: %s (is the ID in the c1z? `baton-runner inspect` lists counts; re-sync if it is new)", what, st.Message())
	}
	return explain(what, err)
}
