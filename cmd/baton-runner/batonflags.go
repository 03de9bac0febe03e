package main

import (
	"fmt"
	"strings"

	"github.com/conductorone/baton-sdk/pkg/field"
	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/host/localsync"
)

// Flags every baton connector takes, for what this binary does, built from
// baton-sdk's own field definitions (field.DefaultFields) so that their
// names, environment variables, defaults and help cannot drift from the
// connectors this binary stands in for.

// batonEnv is baton-sdk's environment variable for a field: viper's BATON
// prefix on the upper-cased name, dashes as underscores.
func batonEnv(name string) string {
	return "BATON_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// batonField returns baton-sdk's definition of a default field. A name
// baton-sdk no longer defines is a programming error, caught by the tests.
func batonField(name string) field.SchemaField {
	for _, f := range field.DefaultFields {
		if f.FieldName == name {
			return f
		}
	}
	panic(fmt.Sprintf("baton-sdk defines no default field %q", name))
}

// batonFlag is a cli flag for baton-sdk's field name, with its variable,
// default and description. usage, when set, replaces the description
// (baton-sdk's are written for every connector; ours can be concrete).
func batonFlag(name, usage string) cli.Flag {
	f := batonField(name)
	if usage == "" {
		usage = f.Description
	}
	env := []string{batonEnv(name)}
	var aliases []string
	if s := f.GetCLIShortHand(); s != "" {
		aliases = []string{s}
	}
	switch f.Variant {
	case field.BoolVariant:
		v, _ := f.DefaultValue.(bool)
		return &cli.BoolFlag{Name: name, Aliases: aliases, Value: v, Usage: usage, EnvVars: env}
	case field.IntVariant:
		v, _ := f.DefaultValue.(int)
		return &cli.IntFlag{Name: name, Aliases: aliases, Value: v, Usage: usage, EnvVars: env}
	case field.StringSliceVariant:
		return &cli.StringSliceFlag{Name: name, Aliases: aliases, Usage: usage, EnvVars: env}
	default:
		v, _ := f.DefaultValue.(string)
		return &cli.StringFlag{Name: name, Aliases: aliases, Value: v, Usage: usage, EnvVars: env}
	}
}

// oneShotFlags are baton's one-shot provisioning flags, on the bare
// command as on every baton connector.
func oneShotFlags() []cli.Flag {
	return []cli.Flag{
		batonFlag("grant-entitlement", "one-shot: grant this entitlement ID (with --grant-principal and --grant-principal-type), looked up in --file"),
		batonFlag("grant-principal", "one-shot: the principal to grant to, as inspect prints it (user:<userId>), or its bare ID with --grant-principal-type"),
		batonFlag("grant-principal-type", "one-shot: the principal's resource type, user, group or invite; not needed when --grant-principal is TYPE:ID"),
		batonFlag("revoke-grant", "one-shot: revoke this grant ID, looked up in --file"),
	}
}

// syncScopeFlags narrow a sync, under baton-sdk's names.
func syncScopeFlags() []cli.Flag {
	return []cli.Flag{
		batonFlag("sync-resource-types", "sync only these resource types (repeatable or comma-separated), e.g. user,group"),
		batonFlag("skip-entitlements-and-grants", "sync resources only"),
	}
}

// syncScope reads syncScopeFlags into the sync's options.
func syncScope(c *cli.Context, opts *localsync.Options) {
	for _, t := range c.StringSlice("sync-resource-types") {
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				opts.ResourceTypes = append(opts.ResourceTypes, s)
			}
		}
	}
	opts.SkipEntitlementsAndGrants = c.Bool("skip-entitlements-and-grants")
}

// healthCheckFlags are baton-sdk's health endpoint settings, for service
// mode (--health-port is this binary's older spelling).
func healthCheckFlags() []cli.Flag {
	return []cli.Flag{
		batonFlag("health-check", "serve /healthz and /readyz on --health-check-bind-address:--health-check-port"),
		batonFlag("health-check-port", ""),
		batonFlag("health-check-bind-address", ""),
	}
}

// healthAddr is where service mode serves its health endpoint, "" for
// nowhere: baton-sdk's --health-check settings, else --health-port on every
// interface.
func healthAddr(c *cli.Context) string {
	if c.Bool("health-check") {
		return fmt.Sprintf("%s:%d", c.String("health-check-bind-address"), c.Int("health-check-port"))
	}
	if p := c.Int("health-port"); p != 0 {
		return fmt.Sprintf(":%d", p)
	}
	return ""
}

// batonProvisioning runs the provisioning a bare command's baton flags ask for, as a
// baton connector would; ok is false when none was asked for.
func batonProvisioning(c *cli.Context) (ok bool, err error) {
	ent, revoke := c.String("grant-entitlement"), c.String("revoke-grant")
	switch {
	case ent != "" && revoke != "":
		return true, fmt.Errorf("--grant-entitlement and --revoke-grant are two operations: run them one at a time")
	case ent != "":
		p := c.String("grant-principal")
		if p == "" {
			return true, fmt.Errorf("--grant-entitlement needs --grant-principal: user:<userId> or group:<groupId> as inspect prints it (or the bare ID with --grant-principal-type); find them with `baton-runner inspect resources`")
		}
		return true, grantAction(c, ent, c.String("grant-principal-type"), p, "--grant-principal-type")
	case revoke != "":
		return true, revokeAction(c, revoke)
	case c.String("grant-principal") != "" || c.String("grant-principal-type") != "":
		return true, fmt.Errorf("--grant-principal and --grant-principal-type need --grant-entitlement")
	}
	return false, nil
}
