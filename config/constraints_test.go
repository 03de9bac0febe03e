package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// constrained declares one constraint of each kind; base-url has a
// default, as a connector's API URL usually has.
var constrained = Schema{Name: "baton-x", Fields: []Field{
	{Name: "token", Type: FieldString, Secret: true},
	{Name: "client-id", Type: FieldString},
	{Name: "client-secret", Type: FieldString, Secret: true},
	{Name: "page-size", Type: FieldInt},
	{Name: "base-url", Type: FieldString, Default: "https://api.x.test"},
	{Name: "verbose", Type: FieldBool},
	{Name: "quiet", Type: FieldBool},
	{Name: "teams", Type: FieldStringSlice},
	{Name: "team-role", Type: FieldString},
}, Constraints: []Constraint{
	{Kind: ConstraintRequiredTogether, Fields: []string{"client-id", "client-secret"}},
	{Kind: ConstraintMutuallyExclusive, Fields: []string{"token", "client-secret"}},
	{Kind: ConstraintAtLeastOne, Fields: []string{"token", "client-id"}},
	{Kind: ConstraintDependentOn, Fields: []string{"page-size"}, Expected: []string{"base-url"}},
	{Kind: ConstraintMutuallyExclusive, Fields: []string{"verbose", "quiet"}},
	{Kind: ConstraintDependentOn, Fields: []string{"team-role"}, Expected: []string{"teams"}},
}}

// TestViolations: each kind as baton-sdk's field.Validate decides it: a
// zero value ("", false, 0, no items) is not set, a default is.
func TestViolations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]string
		want   string // kind set missing defaulted, each violation
	}{
		{"a token alone", map[string]string{"token": "t"}, ""},
		{"client credentials", map[string]string{"client-id": "c", "client-secret": "s"}, ""},
		{"nothing", map[string]string{}, "at_least_one [] [token client-id] []"},
		{"zero values are not set", map[string]string{"token": "", "client-id": "", "verbose": "false", "quiet": "true"},
			"at_least_one [] [token client-id] []"},
		{"half the credentials", map[string]string{"client-id": "c"}, "required_together [client-id] [client-secret] []"},
		{"a token and a client secret", map[string]string{"client-id": "c", "client-secret": "s", "token": "t"},
			"mutually_exclusive [token client-secret] [] []"},
		{"two bools true", map[string]string{"token": "t", "verbose": "true", "quiet": "1"}, "mutually_exclusive [verbose quiet] [] []"},
		{"a dependent without its field", map[string]string{"token": "t", "page-size": "50", "base-url": ""},
			"dependent_on [page-size] [base-url] []"},
		{"a dependent with its field by default", map[string]string{"token": "t", "page-size": "50"}, ""},
		{"an int zero is not set", map[string]string{"token": "t", "page-size": "0", "base-url": ""}, ""},
		{"an empty array is not set", map[string]string{"token": "t", "team-role": "admin", "teams": ""},
			"dependent_on [team-role] [teams] []"},
		{"an array", map[string]string{"token": "t", "team-role": "admin", "teams": "a,b"}, ""},
		{"several at once", map[string]string{"client-secret": "s", "token": "t", "verbose": "true", "quiet": "true"},
			"required_together [client-secret] [client-id] []; mutually_exclusive [token client-secret] [] []; mutually_exclusive [verbose quiet] [] []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range constrained.Violations(tc.values) {
				got = append(got, fmt.Sprintf("%s %v %v %v", v.Kind, v.Set, v.Missing, v.Defaulted))
			}
			if strings.Join(got, "; ") != tc.want {
				t.Errorf("Violations(%v):\n  %s\nwant\n  %s", tc.values, strings.Join(got, "; "), tc.want)
			}
		})
	}
}

// TestViolationDefaultSet: a default counts as set, and the message says
// so, since the operator did not write it.
func TestViolationDefaultSet(t *testing.T) {
	s := Schema{Name: "baton-x", Fields: []Field{
		{Name: "base-url", Type: FieldString, Default: "https://api.x.test"},
		{Name: "region", Type: FieldString},
	}, Constraints: []Constraint{{Kind: ConstraintMutuallyExclusive, Fields: []string{"base-url", "region"}}}}
	vs := s.Violations(map[string]string{"region": "eu"})
	if len(vs) != 1 {
		t.Fatalf("violations %+v, want the default base-url with region", vs)
	}
	got := vs[0].Describe(func(f string) string { return "--" + f })
	if want := "--base-url (set by its default) and --region are mutually exclusive: give only one of them"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

// TestInvalidConstraint: a relationship baton-sdk's constructors refused,
// or a kind this host does not know, fails every configuration, as
// baton-sdk's field.Validate does, and says it is the connector's bug.
func TestInvalidConstraint(t *testing.T) {
	for _, kind := range []string{ConstraintInvalid, "one_of_a_kind"} {
		s := Schema{Name: "baton-x", Fields: []Field{{Name: "a", Type: FieldString}, {Name: "b", Type: FieldString}},
			Constraints: []Constraint{{Kind: kind, Fields: []string{"a", "b"}}}}
		vs := s.Violations(map[string]string{"a": "x"})
		if len(vs) != 1 || vs[0].Kind != ConstraintInvalid ||
			!strings.Contains(vs[0].Describe(func(f string) string { return f }), "a bug of the connector") {
			t.Errorf("kind %q: %+v", kind, vs)
		}
	}
}

// TestConstraintProblems: each constraint a tenant's [tenants.config]
// breaks is a problem at [tenants.config]'s line, naming the keys; a
// reference counts as set, whatever it will read.
func TestConstraintProblems(t *testing.T) {
	src := `[connectors.x]
wasm = "x.wasm"
kind = "baton-sdk"

[[tenants]]
name = "acme"
connector = "x"
mode = "sync"
  [tenants.config]
  client-secret = "env:ACME_SECRET"
  token = "file:token.txt"
  verbose = true
  quiet = false
  page-size = 0
  [tenants.sync]
  interval = "1h"
  output = "acme.c1z"

[[tenants]]
name = "beta"
connector = "x"
mode = "sync"
  [tenants.sync]
  interval = "1h"
  output = "beta.c1z"
`
	c := mustParse(t, src)
	err := c.CheckSchemas(map[string]Schema{"x": constrained})
	var got []string
	for _, e := range Errors(err) {
		got = append(got, strings.TrimPrefix(e.Error(), filepath.Dir(c.Path)+"/"))
	}
	want := []string{
		"runner.toml:9: tenants[0].config: client-id and client-secret go together: client-secret is set without client-id; give all of them or none (a constraint of baton-x)",
		"runner.toml:9: tenants[0].config: token and client-secret are mutually exclusive: give only one of them (a constraint of baton-x)",
		"runner.toml:19: tenants[1].config: one of token or client-id is required (a constraint of baton-x)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestRevealSecrets: reveal_secrets names secret fields the tenant's
// [tenants.config] sets; anything else is a problem at its entry.
func TestRevealSecrets(t *testing.T) {
	src := strings.Replace(batonSDK, `ca_file = "ca.pem"`, `ca_file = "ca.pem"
reveal_secrets = ["api-key"]`, 1)
	c := mustParse(t, src)
	if got := c.Tenants[0].RevealSecrets; !slices.Equal(got, []string{"api-key"}) {
		t.Errorf("RevealSecrets = %q", got)
	}
	if err := c.CheckSchemas(map[string]Schema{"demo": demoSchema}); err != nil {
		t.Errorf("CheckSchemas: %v", err)
	}

	schema := demoSchema
	schema.Fields = append(slices.Clone(schema.Fields), Field{Name: "signing-key", Type: FieldString, Secret: true})
	c = mustParse(t, strings.Replace(batonSDK, `ca_file = "ca.pem"`, `ca_file = "ca.pem"
reveal_secrets = ["api-key", "domain", "colour", "signing-key"]`, 1))
	var got []string
	for _, e := range Errors(c.CheckSchemas(map[string]Schema{"demo": schema})) {
		got = append(got, strings.TrimPrefix(e.Error(), filepath.Dir(c.Path)+"/"))
	}
	want := []string{
		`runner.toml:12: tenants[0].reveal_secrets[1]: domain is not a secret field of baton-x: the guest receives its value already; reveal_secrets names secret fields only (its secret fields are api-key, signing-key)`,
		`runner.toml:12: tenants[0].reveal_secrets[2]: baton-x has no field "colour"; its secret fields are api-key, signing-key`,
		`runner.toml:12: tenants[0].reveal_secrets[3]: reveals signing-key, which [tenants.config] does not set: add signing-key = "env:VAR" (or "file:/path") there, or remove it here`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	wantErrors(t, strings.Replace(batonSDK, `ca_file = "ca.pem"`, `ca_file = "ca.pem"
reveal_secrets = ["api-key", "api-key"]`, 1),
		`runner.toml:12: tenants[0].reveal_secrets[1]: names api-key twice`)
	wantErrors(t, strings.Replace(batonSDK, `ca_file = "ca.pem"`, `ca_file = "ca.pem"
reveal_secrets = "api-key"`, 1),
		`runner.toml:12: tenants[0].reveal_secrets: must be an array of strings, not a string`)
	// The Segment connector's token is never revealed.
	wantErrors(t, strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nreveal_secrets = [\"token\"]", 1),
		`runner.toml:9: tenants[0].reveal_secrets: is a key of baton-sdk connectors' tenants only; connector "segment" is not one (its [connectors.segment] has no kind = "baton-sdk")`)
}
