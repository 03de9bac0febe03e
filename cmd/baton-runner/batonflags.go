package main

import (
	"fmt"
	"os"
	"slices"
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

// batonOperations are baton-sdk's default fields that ask for an operation
// rather than tune one. A command that does not do the operation refuses
// it on its command line: ignoring it would do something else (a sync,
// say) in its place.
var batonOperations = []string{
	"grant-entitlement", "revoke-grant", "create-account-email", "create-account-login", "create-account-profile",
	"delete-resource", "sync-resources",
	"create-ticket", "bulk-create-ticket", "get-ticket", "list-ticket-schemas", "rotate-credentials",
	"event-feed", "diff-syncs", "compact-syncs", "invoke-action", "list-action-schemas", "list-resource-actions",
	"invoke-resource-action", "external-resource-c1z",
}

// batonHints say what stands in for a baton-sdk setting this binary does
// not take.
var batonHints = map[string]string{
	"workers":       "sync workers follow --instances",
	"parallel-sync": "sync workers follow --instances",
}

// notApplied maps each flag acceptBatonDefaults added to the baton-sdk
// field it stands for.
var notApplied = map[cli.Flag]string{}

// acceptBatonDefaults lets every command of app take every one of
// baton-sdk's default flags, as a baton connector's commands do, so that a
// baton invocation or environment carried over is not refused for a flag
// that changes nothing here. What a command does not use is hidden from its
// help and, when given, named in one warning (see checkBatonDefaults).
func acceptBatonDefaults(app *cli.App) {
	used := map[string]bool{}
	var collect func([]cli.Flag, []*cli.Command)
	collect = func(flags []cli.Flag, cmds []*cli.Command) {
		for _, f := range flags {
			for _, n := range f.Names() {
				used[n] = true
			}
		}
		for _, c := range cmds {
			collect(c.Flags, c.Subcommands)
		}
	}
	collect(app.Flags, app.Commands)
	app.Flags, app.Action = withBatonDefaults(app.Flags, app.Action, used)
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.Flags, c.Action = withBatonDefaults(c.Flags, c.Action, used)
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

// withBatonDefaults adds the default fields flags lacks, hidden and without
// environment variables (checkBatonDefaults reads those), and checks them
// before action runs. used is every flag name of the binary.
func withBatonDefaults(flags []cli.Flag, action cli.ActionFunc, used map[string]bool) ([]cli.Flag, cli.ActionFunc) {
	taken := map[string]bool{}
	for _, f := range flags {
		for _, n := range f.Names() {
			taken[n] = true
		}
	}
	out := slices.Clone(flags)
	for _, f := range field.DefaultFields {
		if taken[f.FieldName] {
			continue
		}
		var aliases []string
		if s := f.GetCLIShortHand(); s != "" && !taken[s] {
			aliases = []string{s}
		}
		var fl cli.Flag
		switch f.Variant {
		case field.BoolVariant:
			fl = &cli.BoolFlag{Name: f.FieldName, Aliases: aliases, Hidden: true}
		case field.IntVariant:
			fl = &cli.IntFlag{Name: f.FieldName, Aliases: aliases, Hidden: true}
		case field.StringSliceVariant:
			fl = &cli.StringSliceFlag{Name: f.FieldName, Aliases: aliases, Hidden: true}
		default:
			fl = &cli.StringFlag{Name: f.FieldName, Aliases: aliases, Hidden: true}
		}
		notApplied[fl] = f.FieldName
		out = append(out, fl)
	}
	if action == nil {
		return out, nil
	}
	return out, func(c *cli.Context) error {
		if err := checkBatonDefaults(c, used); err != nil {
			return err
		}
		return action(c)
	}
}

// checkBatonDefaults refuses an operation given to a command that does not
// do it, and warns once, on one line, about every other baton-sdk flag
// given to a command that does not use it and every BATON_* variable of a
// field no command uses. The variables of fields some command does use are
// not mentioned: an environment is shared by all of them.
func checkBatonDefaults(c *cli.Context, used map[string]bool) error {
	var path, ignored, refused []string
	seen := map[string]bool{}
	lineage := c.Lineage()
	for _, x := range lineage {
		if x.Command == nil {
			continue
		}
		path = append([]string{x.Command.Name}, path...)
		for _, fl := range x.Command.Flags {
			name, ok := notApplied[fl]
			if !ok || !x.IsSet(name) || seen[name] {
				continue
			}
			seen[name] = true
			if slices.Contains(batonOperations, name) {
				refused = append(refused, "--"+name)
			} else {
				ignored = append(ignored, withHint("--"+name, name))
			}
		}
	}
	cmd := strings.Join(path, " ")
	slices.Sort(ignored)
	for _, r := range refused {
		if !used[strings.TrimPrefix(r, "--")] {
			return fmt.Errorf("%s asks for an operation of baton-sdk that baton-runner does not do; nothing was done", r)
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("%s is not an option of `%s` but an operation of the bare command: run `baton-runner %s …`; nothing was done", refused[0], cmd, refused[0])
	}
	var env []string
	for _, f := range field.DefaultFields {
		if v, ok := os.LookupEnv(batonEnv(f.FieldName)); ok && v != "" && !used[f.FieldName] {
			env = append(env, withHint(batonEnv(f.FieldName), f.FieldName))
		}
	}
	slices.Sort(env)
	ignored = append(ignored, env...)
	if len(ignored) > 0 {
		fmt.Fprintf(os.Stderr, "baton-runner: warning: ignoring baton-sdk settings that `%s` does not use: %s\n", cmd, strings.Join(ignored, ", "))
	}
	return nil
}

func withHint(s, name string) string {
	if h := batonHints[name]; h != "" {
		return s + " (" + h + ")"
	}
	return s
}
