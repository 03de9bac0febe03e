package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
)

// A baton-sdk guest takes its configuration as its own binary does: each
// field of its schema is a flag, --<field> value, and a variable,
// BATON_<FIELD>. urfave/cli needs every flag before it parses the command
// line, so main compiles the --module guest first (prepareGuest) and adds
// its fields to the commands that run it (addConnectorFlags).

// setFlag passes a baton-sdk guest a field by name: the way to set a field
// whose name is one of baton-runner's own flags (--instances, the
// service's --client-id), which keep their meaning.
func setFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "set", Usage: "a baton-sdk guest's configuration field, as name=value (repeatable; the variable takes several, comma-separated); " +
		"every field is also its own flag, --name value, unless baton-runner has a flag of that name", EnvVars: []string{"BATON_SET"}}
}

// originFlags are a baton-sdk guest's network: the only API origins it may
// reach, and where to find them.
func originFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "allow-origin", Usage: "an API origin the connector may reach, https://host[:port] (repeatable); the first takes requests that name none. " +
			"Without it the connector has no network: every request is refused", EnvVars: []string{"BATON_ALLOW_ORIGIN"}, Category: connectorCategory},
		&cli.StringSliceFlag{Name: "connect-to", Usage: "HOST:PORT:ADDRESS:PORT as curl's --connect-to: dial ADDRESS:PORT for the allowed origin HOST:PORT, " +
			"whose name the request and the certificate check keep (repeatable)", EnvVars: []string{"BATON_CONNECT_TO"}, Category: connectorCategory},
		&cli.StringFlag{Name: "ca-file", Usage: "PEM bundle of CA certificates trusted, besides the system's, for the allowed origins (a fake or staging API's own CA)",
			EnvVars: []string{"BATON_CA_FILE"}, Category: connectorCategory},
	}
}

// revealFlag is the opt-in that hands the guest a secret's value, for a
// connector that computes with one (runner.toml's reveal_secrets).
func revealFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "reveal-secret", Usage: "a secret field whose value the connector receives instead of a placeholder, for one that computes with it " +
		"(signs a JWT with a private key); a weaker guarantee, see SECURITY.md (repeatable; the variable takes several, comma-separated)",
		EnvVars: []string{"BATON_REVEAL_SECRETS"}, Category: connectorCategory}
}

// connectorCategory groups the flags of a baton-sdk guest in help.
const connectorCategory = "connector"

// connectorCommands are the commands that run the --module guest with its
// configuration ("" is the bare command).
var connectorCommands = []string{"", "sync", "service", "grant", "revoke", "capabilities"}

// segmentFlags are the Segment guest's own; a baton-sdk guest has fields
// and origins in their place.
var segmentFlags = []string{"token", "base-url", "entitlement-ids"}

// addConnectorFlags gives each command of app that runs the guest the
// fields of schema as flags, and the origin flags, in place of the
// Segment guest's. A field named as one of the command's other flags is
// left to --set.
func addConnectorFlags(app *cli.App, schema config.Schema) {
	app.Flags = withConnectorFlags(app.Flags, schema)
	for _, c := range app.Commands {
		if slices.Contains(connectorCommands, c.Name) {
			c.Flags = withConnectorFlags(c.Flags, schema)
		}
	}
}

func withConnectorFlags(flags []cli.Flag, schema config.Schema) []cli.Flag {
	own := append(originFlags(), revealFlag())
	mine := map[string]bool{}
	for _, f := range own {
		mine[f.Names()[0]] = true
	}
	for _, f := range schema.Fields {
		mine[f.Name] = true
	}
	// A baton-sdk default the command ignores (acceptBatonDefaults) gives
	// way to the connector's field of the same name.
	out := slices.DeleteFunc(slices.Clone(flags), func(f cli.Flag) bool {
		_, ignored := notApplied[f]
		return slices.Contains(segmentFlags, f.Names()[0]) || (ignored && mine[f.Names()[0]])
	})
	taken := map[string]bool{}
	for _, f := range out {
		for _, n := range f.Names() {
			taken[n] = true
		}
	}
	out = append(out, own...)
	for _, f := range schema.Fields {
		if !taken[f.Name] {
			out = append(out, fieldFlag(schema.Name, f))
		}
	}
	return out
}

// fieldFlag is the flag of a field, typed as baton-sdk's CLI types it: a
// bool is a switch, an int is checked, a string slice repeats or takes
// commas. A secret is a plain string flag whatever its type, so that a
// parse error cannot quote it.
func fieldFlag(connector string, f config.Field) cli.Flag {
	usage := f.Description
	if f.Required {
		usage += " (required)"
	}
	if f.Secret {
		usage += " (secret: the connector sees a placeholder, unless --reveal-secret names it; the host puts the value only into its requests to the allowed origins)"
	}
	env := []string{batonEnv(f.Name)}
	category := connectorCategory + " " + connector
	switch {
	case f.Secret:
		return &cli.StringFlag{Name: f.Name, Usage: usage, EnvVars: env, Category: category}
	case f.Type == config.FieldBool:
		v, _ := f.Default.(bool)
		return &cli.BoolFlag{Name: f.Name, Value: v, Usage: usage, EnvVars: env, Category: category}
	case f.Type == config.FieldInt:
		v, _ := f.Default.(float64) // JSON
		return &cli.IntFlag{Name: f.Name, Value: int(v), Usage: usage, EnvVars: env, Category: category}
	case f.Type == config.FieldStringSlice:
		fl := &cli.StringSliceFlag{Name: f.Name, Usage: usage, EnvVars: env, Category: category}
		if d, ok := f.Default.([]any); ok && len(d) > 0 {
			var vs []string
			for _, s := range d {
				vs = append(vs, fmt.Sprint(s))
			}
			fl.Value = cli.NewStringSlice(vs...)
		}
		return fl
	default:
		v, _ := f.Default.(string)
		return &cli.StringFlag{Name: f.Name, Value: v, Usage: usage, EnvVars: env, Category: category}
	}
}

// guestConfig is what a baton-sdk guest is given.
type guestConfig struct {
	settings map[string]string
	secrets  map[string]secret.Secret
	origins  []tenant.Origin
	// revealed are the secrets whose values the guest holds
	// (tenant.Config.Revealed).
	revealed []string
}

// apply gives tc what the guest is given.
func (gc guestConfig) apply(tc *tenant.Config) {
	tc.Settings, tc.Secrets, tc.Origins, tc.Revealed = gc.settings, gc.secrets, gc.origins, gc.revealed
}

// batonSDKConfig reads a baton-sdk guest's fields from their flags and
// variables, then --set, its origins and the secrets it is to hold.
// requireAll is false for a command that runs no operation
// (capabilities), which baton-sdk's own runs without the connector's
// required fields and constraints too. No error quotes a secret field's
// value.
func batonSDKConfig(c *cli.Context, m *sandbox.Module, requireAll bool) (guestConfig, error) {
	schema, err := config.ParseSchema(m.BatonSDKSchema())
	if err != nil {
		return guestConfig{}, err
	}
	return schemaConfig(c, schema, requireAll)
}

// schemaConfig is batonSDKConfig for the guest's schema.
func schemaConfig(c *cli.Context, schema config.Schema, requireAll bool) (guestConfig, error) {
	// The context of the command that defines a field's flag reads it:
	// a parent's flag of the same name may be baton-runner's own.
	defining := map[string]*cli.Context{}
	for _, x := range c.Lineage() {
		if x.Command == nil {
			continue
		}
		for _, f := range x.Command.Flags {
			name := f.Names()[0]
			if cf, ok := f.(cli.CategorizableFlag); ok && strings.HasPrefix(cf.GetCategory(), connectorCategory+" ") && defining[name] == nil {
				defining[name] = x
			}
		}
	}
	lookup := func(f config.Field) (string, bool) {
		x := defining[f.Name]
		if x == nil || !x.IsSet(f.Name) {
			// Not a flag (baton-runner has one of that name): only --set.
			return "", false
		}
		switch {
		case f.Secret:
			return x.String(f.Name), true
		case f.Type == config.FieldBool:
			return strconv.FormatBool(x.Bool(f.Name)), true
		case f.Type == config.FieldInt:
			return strconv.Itoa(x.Int(f.Name)), true
		case f.Type == config.FieldStringSlice:
			return strings.Join(x.StringSlice(f.Name), ","), true
		}
		return x.String(f.Name), true
	}
	origins, err := flagOrigins(c.StringSlice("allow-origin"), c.StringSlice("connect-to"), c.String("ca-file"))
	if err != nil {
		return guestConfig{}, err
	}
	values, err := fieldValues(schema, lookup, c.StringSlice("set"), requireAll)
	if err != nil {
		return guestConfig{}, err
	}
	gc := guestConfig{settings: map[string]string{}, secrets: map[string]secret.Secret{}, origins: origins}
	for _, f := range schema.Fields {
		v, ok := values[f.Name]
		switch {
		case !ok:
		case f.Secret:
			gc.secrets[f.Name] = secret.New(v)
		default:
			gc.settings[f.Name] = v
		}
	}
	if gc.revealed, err = revealed(schema, c.StringSlice("reveal-secret"), gc.secrets); err != nil {
		return guestConfig{}, err
	}
	return gc, nil
}

// revealed checks the --reveal-secret names: each a secret field of
// schema given a value (in secrets).
func revealed(schema config.Schema, names []string, secrets map[string]secret.Secret) ([]string, error) {
	var secretFields []string
	for _, f := range schema.Fields {
		if f.Secret {
			secretFields = append(secretFields, f.Name)
		}
	}
	which := "its secret fields: " + strings.Join(secretFields, ", ")
	if len(secretFields) == 0 {
		which = "it has no secret field"
	}
	var out []string
	for _, name := range names {
		f, known := schema.Field(name)
		_, given := secrets[name]
		switch {
		case !known:
			return nil, fmt.Errorf("--reveal-secret %s: %s has no field %q; %s", name, schema.Name, name, which)
		case !f.Secret:
			return nil, fmt.Errorf("--reveal-secret %s: %s is not a secret field of %s, the connector receives its value already (%s)", name, name, schema.Name, which)
		case !given:
			return nil, fmt.Errorf("--reveal-secret %s: no value is given for it: pass --%s or set %s", name, name, batonEnv(name))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// fieldValues reads every field of schema with lookup, then the --set
// values, and checks that --set names fields and, when requireAll, that
// the required ones are there and the schema's constraints hold, as
// baton-sdk's field.Validate checks them for the connector's own binary.
func fieldValues(schema config.Schema, lookup func(config.Field) (string, bool), sets []string, requireAll bool) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range schema.Fields {
		if v, ok := lookup(f); ok {
			out[f.Name] = v
		}
	}
	for _, kv := range sets {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			// kv may be a secret pasted without its name: not quoted.
			return nil, errors.New("--set takes name=value; one value has no '=' (not shown, in case it is a secret)")
		}
		if _, known := schema.Field(name); !known {
			return nil, fmt.Errorf("--set %s=…: %s has no field %q; its fields: %s", name, schema.Name, name, strings.Join(schema.FieldNames(), ", "))
		}
		out[name] = value
	}
	if !requireAll {
		return out, nil
	}
	var missing []string
	for _, f := range schema.Fields {
		if _, ok := out[f.Name]; f.Required && !ok {
			missing = append(missing, fmt.Sprintf("--%s (%s)", f.Name, batonEnv(f.Name)))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s needs %s", schema.Name, strings.Join(missing, ", "))
	}
	var broken []string
	for _, v := range schema.Violations(out) {
		broken = append(broken, v.Describe(func(f string) string { return fmt.Sprintf("--%s (%s)", f, batonEnv(f)) }))
	}
	if len(broken) > 0 {
		return nil, fmt.Errorf("%s: %s", schema.Name, strings.Join(broken, "; "))
	}
	return out, nil
}

// flagOrigins builds a baton-sdk guest's origins from --allow-origin,
// --connect-to and --ca-file, which runner.toml's origins, connect_to and
// ca_file mirror.
func flagOrigins(allow, connectTo []string, caFile string) ([]tenant.Origin, error) {
	var origins []tenant.Origin
	var urls []string
	for _, o := range allow {
		var be *egress.BaseURLError
		if err := egress.CheckBaseURL(o); errors.As(err, &be) {
			return nil, fmt.Errorf("--allow-origin %s %s", be.Shown, be.Problem)
		} else if err != nil {
			return nil, fmt.Errorf("--allow-origin: %w", err)
		}
		origins = append(origins, tenant.Origin{URL: o})
		urls = append(urls, o)
	}
	for _, spec := range connectTo {
		i, addr, problem := config.ParseConnectTo(spec, urls)
		if problem != "" {
			return nil, fmt.Errorf("--connect-to %s", problem)
		}
		origins[i].ConnectTo = addr
	}
	if caFile != "" {
		if len(origins) == 0 {
			return nil, errors.New("--ca-file is trusted for the allowed origins, and there are none: pass --allow-origin https://host")
		}
		pool, err := egress.LoadCABundle(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		for i := range origins {
			origins[i].RootCAs = pool
		}
	}
	return origins, nil
}

// refuseSet refuses --set for a guest that takes no configuration fields.
func refuseSet(c *cli.Context) error {
	if sets := c.StringSlice("set"); len(sets) > 0 {
		name, _, _ := strings.Cut(sets[0], "=")
		return fmt.Errorf("--set %s=…: this guest takes no configuration fields (only baton-sdk guests do)", name)
	}
	return nil
}

// unknownFlagHint adds to urfave's refusal of a flag the fields of the
// --module guest, which is what a mistyped connector flag usually is.
func unknownFlagHint(err error, g *preparedGuest) error {
	if err == nil || g == nil || !g.batonSDK || !strings.Contains(err.Error(), "flag provided but not defined") {
		return err
	}
	var flags []string
	for _, name := range g.schema.FieldNames() {
		flags = append(flags, "--"+name)
	}
	return fmt.Errorf("%w; %s takes %s, and --allow-origin, --connect-to, --ca-file, --reveal-secret (`baton-runner capabilities --module %s --help` describes them)",
		err, g.schema.Name, strings.Join(flags, ", "), g.key.path)
}
