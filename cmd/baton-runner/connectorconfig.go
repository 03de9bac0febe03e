package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
)

// setFlag passes a baton-sdk guest its configuration, one field at a
// time; each field can also come from BATON_<FIELD> as with the
// connector's own binary.
func setFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "set", Usage: "a baton-sdk guest's configuration field, as name=value (repeatable; the variable takes several, comma-separated); BATON_<NAME> works too, as with the connector's own binary", EnvVars: []string{"BATON_SET"}}
}

// schemaField is a field of a baton-sdk guest's schema (batonsdk.SchemaField).
type schemaField struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	Secret   bool   `json:"secret"`
}

// secretPlaceholder is what a baton-sdk guest receives for a field its
// schema marks secret (docs/ABI.md).
func secretPlaceholder(field string) string { return abi.SecretPlaceholder(field) }

// connectorSettings returns a baton-sdk guest's configuration from --set
// and BATON_* variables, checked against the guest's schema: an unknown
// field and a missing required one are named with how to set them. Other
// guests take no configuration this way (nil).
func connectorSettings(c *cli.Context, m *sandbox.Module) (map[string]string, error) {
	if m.Kind() != sandbox.GuestBatonSDK {
		if sets := c.StringSlice("set"); len(sets) > 0 {
			return nil, fmt.Errorf("--set %s: this guest takes no configuration fields (only baton-sdk guests do)", sets[0])
		}
		return nil, nil
	}
	var schema guestSchema
	if err := json.Unmarshal(m.BatonSDKSchema(), &schema); err != nil {
		return nil, fmt.Errorf("reading the guest's configuration schema: %w", err)
	}
	return schema.settings(os.LookupEnv, c.StringSlice("set"))
}

// guestSchema is a baton-sdk guest's schema (batonsdk.Schema).
type guestSchema struct {
	Name   string        `json:"name"`
	Fields []schemaField `json:"fields"`
}

// settings reads the fields from the environment (lookup) and then from
// --set values, checks them against the schema, and puts a placeholder
// in place of each secret.
func (schema guestSchema) settings(lookup func(string) (string, bool), sets []string) (map[string]string, error) {
	known := map[string]bool{}
	out := map[string]string{}
	for _, f := range schema.Fields {
		known[f.Name] = true
		if v, ok := lookup(envName(f.Name)); ok {
			out[f.Name] = v
		}
	}
	for _, kv := range sets {
		name, value, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("--set %q: want name=value", kv)
		case !known[name]:
			return nil, fmt.Errorf("--set %s: %s has no field %q; its fields: %s", kv, schema.Name, name, fieldList(schema.Fields))
		}
		out[name] = value
	}
	var missing []string
	for _, f := range schema.Fields {
		_, ok := out[f.Name]
		switch {
		case f.Required && !ok:
			missing = append(missing, fmt.Sprintf("--set %s=… (or %s)", f.Name, envName(f.Name)))
		case f.Secret && ok:
			out[f.Name] = secretPlaceholder(f.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s needs %s", schema.Name, strings.Join(missing, ", "))
	}
	return out, nil
}

// envName is the variable baton-sdk reads for a field: BATON_ and the name
// upper-cased, dashes as underscores.
func envName(field string) string {
	return "BATON_" + strings.ToUpper(strings.ReplaceAll(field, "-", "_"))
}

func fieldList(fields []schemaField) string {
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
