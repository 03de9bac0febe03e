package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/connectorstore"
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
			&cli.StringFlag{Name: "entitlement", Required: true, Usage: "entitlement ID as inspect entitlements prints it, e.g. group:<groupId>:member or source:<sourceId>:<roleId>", EnvVars: []string{"BATON_GRANT_ENTITLEMENT"}},
			&cli.StringFlag{Name: "principal-type", Usage: "user, group, or invite (group membership only); not needed when --principal is TYPE:ID", EnvVars: []string{"BATON_GRANT_PRINCIPAL_TYPE"}},
			&cli.StringFlag{Name: "principal", Required: true, Usage: "principal as inspect resources prints it, e.g. user:<userId>, or its bare ID with --principal-type", EnvVars: []string{"BATON_GRANT_PRINCIPAL"}},
		}, runtimeFlags(), logFlags()),
		Action: func(c *cli.Context) error {
			return grantAction(c, c.String("entitlement"), c.String("principal-type"), c.String("principal"), "--principal-type")
		},
	}
}

// principalTypes are the resource types a grant can go to.
var principalTypes = []string{"user", "group", "invite"}

// principalArg reads a principal given as inspect prints it, TYPE:ID, or
// as a bare ID with its type apart (typeFlag), as baton's
// --grant-principal and --grant-principal-type take it.
func principalArg(typ, p, typeFlag string) (string, string, error) {
	if typ != "" && !slices.Contains(principalTypes, typ) {
		return "", "", fmt.Errorf("the principal type must be user, group or invite, not %q", typ)
	}
	t, id, typed := strings.Cut(p, ":")
	switch {
	case typed && slices.Contains(principalTypes, t):
		if typ != "" && typ != t {
			return "", "", fmt.Errorf("the principal %s is a %s, but %s says %s: drop %s or give the bare ID", p, t, typeFlag, typ, typeFlag)
		}
		return t, id, nil
	case typ != "":
		return typ, p, nil
	case typed:
		return "", "", fmt.Errorf("the principal type must be user, group or invite, not %q (in %s)", t, p)
	}
	return "", "", fmt.Errorf("the principal %q has no type: give it as inspect prints it (user:<userId>, group:<groupId> or invite:<email>), or add %s", p, typeFlag)
}

// grantAction grants; for grant and the bare command's --grant-entitlement.
func grantAction(c *cli.Context, entitlement, principalType, principal, typeFlag string) error {
	principalType, principal, err := principalArg(principalType, principal, typeFlag)
	if err != nil {
		return err
	}
	what, file := fmt.Sprintf("grant %s to %s:%s", entitlement, principalType, principal), c.String("file")
	if err := c1zReadable(what, file); err != nil {
		return err
	}
	var workspaces []*v2.Resource
	if err := withC1Z(c.Context, file, func(st connectorstore.Reader) (err error) {
		workspaces, err = c1zWorkspaces(c.Context, st)
		return err
	}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return provision(c, what, "", workspaces, func(t *tenant.Tenant) (tenant.Outcome, error) {
		return t.Grant(c.Context, c.String("file"), entitlement, principalType, principal)
	})
}

// revokeAction revokes; for revoke and the bare command's --revoke-grant.
// A grant the c1z shows held only through groups is refused before the
// connector is asked, naming the grants to revoke instead.
func revokeAction(c *cli.Context, grant string) error {
	what, file := "revoke "+grant, c.String("file")
	if err := c1zReadable(what, file); err != nil {
		return err
	}
	var h *holding
	var workspaces []*v2.Resource
	if err := withC1Z(c.Context, file, func(st connectorstore.Reader) (err error) {
		if workspaces, err = c1zWorkspaces(c.Context, st); err != nil {
			return err
		}
		h, err = readHolding(c.Context, st, grant)
		return err
	}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if h != nil && !h.direct {
		return h.inheritedOnly(what, file)
	}
	return provision(c, what, h.stillHeld(), workspaces, func(t *tenant.Tenant) (tenant.Outcome, error) {
		return t.Revoke(c.Context, file, grant)
	})
}

func revokeCommand() *cli.Command {
	return &cli.Command{
		Name:  "revoke",
		Usage: "revoke a grant through the sandboxed connector",
		Flags: concat(tenantFlags(), []cli.Flag{
			c1zFlag(),
			&cli.StringFlag{Name: "grant", Required: true, Usage: "grant ID as inspect grants prints it, e.g. group:<groupId>:member:user:<userId>", EnvVars: []string{"BATON_REVOKE_GRANT"}},
		}, runtimeFlags(), logFlags()),
		Action: func(c *cli.Context) error {
			return revokeAction(c, c.String("grant"))
		},
	}
}

// c1zReadable checks that the c1z provisioning looks IDs up in is there.
func c1zReadable(what, file string) error {
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("%s: cannot read %s (run `baton-runner sync` first; provisioning looks entitlements and principals up in its c1z): %w", what, file, err)
	}
	return nil
}

// provision runs one grant or revoke and reports its outcome; note, if
// any, is added to the line of a change. workspaces are those of the c1z,
// which must include the tenant's.
func provision(c *cli.Context, what, note string, workspaces []*v2.Resource, do func(*tenant.Tenant) (tenant.Outcome, error)) error {
	return withTenant(c, func(t *tenant.Tenant, logger *zap.Logger) error {
		if err := sameWorkspace(c.Context, t, c.String("file"), workspaces, logger); err != nil {
			return fmt.Errorf("%s: %w; nothing was changed", what, err)
		}
		outcome, err := do(t)
		if err != nil {
			return explainProvisionError(what, c.String("file"), err)
		}
		switch outcome {
		case tenant.AlreadyGranted:
			fmt.Printf("%s: already held, nothing changed\n", what)
		case tenant.AlreadyRevoked:
			fmt.Printf("%s: not held, nothing changed%s\n", what, note)
		default:
			fmt.Printf("%s: done%s\n", what, note)
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
