package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/config"
)

// testSchema has a field of each type, a required secret, and a field
// named as one of baton-runner's own flags.
var testSchema = config.Schema{Name: "baton-x", Fields: []config.Field{
	{Name: "domain", Type: config.FieldString, Required: true},
	{Name: "api-key", Type: config.FieldString, Secret: true, Required: true},
	{Name: "page-size", Type: config.FieldInt, Default: float64(100)},
	{Name: "verbose", Type: config.FieldBool},
	{Name: "teams", Type: config.FieldStringSlice},
	{Name: "instances", Type: config.FieldString},
}}

// runConnector parses args (after the command name) with the schema's
// flags added to a command that also has baton-runner's --instances, and
// returns what the guest would be given.
func runConnector(t *testing.T, requireAll bool, args ...string) (guestConfig, error) {
	t.Helper()
	return runSchema(t, testSchema, requireAll, args...)
}

// runSchema is runConnector with schema's fields.
func runSchema(t *testing.T, schema config.Schema, requireAll bool, args ...string) (guestConfig, error) {
	t.Helper()
	var got guestConfig
	own := func() []cli.Flag {
		return []cli.Flag{setFlag(), &cli.IntFlag{Name: "instances", EnvVars: []string{"BATON_INSTANCES"}}, &cli.StringFlag{Name: "token"}}
	}
	app := &cli.App{
		Flags: own(),
		Commands: []*cli.Command{{
			Name:  "sync",
			Flags: own(),
			Action: func(c *cli.Context) (err error) {
				got, err = schemaConfig(c, schema, requireAll)
				return err
			},
		}},
		Writer: &strings.Builder{}, ErrWriter: &strings.Builder{},
	}
	addConnectorFlags(app, schema)
	err := app.Run(append([]string{"baton-runner", "sync"}, args...))
	return got, err
}

// TestConnectorFlags: each field is a flag and a variable, typed as
// baton-sdk types it; the secret goes apart from the settings.
func TestConnectorFlags(t *testing.T) {
	t.Setenv("BATON_DOMAIN", "env.example.com")
	t.Setenv("BATON_TEAMS", "red,green")
	got, err := runConnector(t, true, "--domain", "x.example.com", "--api-key", "the-real-key", "--page-size", "50", "--verbose", "--teams", "blue", "--teams", "cyan,pink")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"domain": "x.example.com", "page-size": "50", "verbose": "true", "teams": "blue,cyan,pink"}
	if len(got.settings) != len(want) {
		t.Errorf("settings %v, want %v", got.settings, want)
	}
	for k, v := range want {
		if got.settings[k] != v {
			t.Errorf("settings[%s] = %q, want %q", k, got.settings[k], v)
		}
	}
	if s := got.secrets["api-key"]; s.Reveal() != "the-real-key" || len(got.secrets) != 1 {
		t.Errorf("secrets %v", got.secrets)
	}

	// The variables, and the defaults left to the guest.
	t.Setenv("BATON_API_KEY", "from-env")
	got, err = runConnector(t, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.settings["domain"] != "env.example.com" || got.settings["teams"] != "red,green" || got.secrets["api-key"].Reveal() != "from-env" {
		t.Errorf("from the environment: %v %v", got.settings, got.secrets)
	}
	if _, ok := got.settings["page-size"]; ok {
		t.Errorf("a field not given reached the guest: %v", got.settings)
	}
}

func TestConnectorFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing required", nil, "baton-x needs --domain (BATON_DOMAIN), --api-key (BATON_API_KEY)"},
		{"an int that is not", []string{"--domain", "d", "--api-key", "k", "--page-size", "many"}, `invalid value "many" for flag -page-size`},
		{"unknown flag", []string{"--colour", "blue"}, "flag provided but not defined: -colour"},
		{"the Segment guest's flag", []string{"--token", "t"}, "flag provided but not defined: -token"},
		{"--set of no field", []string{"--set", "colour=blue"}, `--set colour=…: baton-x has no field "colour"; its fields: api-key, domain, instances, page-size, teams, verbose`},
		{"an origin with a path", []string{"--domain", "d", "--api-key", "k", "--allow-origin", "https://api.x.test/v1"}, `--allow-origin https://api.x.test/… has a path`},
		{"connect-to of no allowed origin", []string{"--domain", "d", "--api-key", "k", "--allow-origin", "https://api.x.test", "--connect-to", "auth.x.test:443:127.0.0.1:8443"},
			`--connect-to "auth.x.test:443:127.0.0.1:8443" names auth.x.test:443, which is not the host:port of an allowed origin (https://api.x.test)`},
		{"ca-file without origins", []string{"--domain", "d", "--api-key", "k", "--ca-file", "ca.pem"}, "--ca-file is trusted for the allowed origins, and there are none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runConnector(t, true, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A secret is never quoted, even given where a name=value belongs.
	_, err := runConnector(t, true, "--set", "sk_live_PASTED")
	if err == nil || strings.Contains(err.Error(), "sk_live_PASTED") {
		t.Errorf("err = %v", err)
	}
}

// constrainedSchema declares a constraint of each kind.
var constrainedSchema = config.Schema{Name: "baton-x", Fields: []config.Field{
	{Name: "token", Type: config.FieldString, Secret: true},
	{Name: "client-id", Type: config.FieldString},
	{Name: "client-secret", Type: config.FieldString, Secret: true},
	{Name: "page-size", Type: config.FieldInt},
	{Name: "base-url", Type: config.FieldString, Default: "https://api.x.test"},
}, Constraints: []config.Constraint{
	{Kind: config.ConstraintRequiredTogether, Fields: []string{"client-id", "client-secret"}},
	{Kind: config.ConstraintMutuallyExclusive, Fields: []string{"token", "client-secret"}},
	{Kind: config.ConstraintAtLeastOne, Fields: []string{"token", "client-id"}},
	{Kind: config.ConstraintDependentOn, Fields: []string{"page-size"}, Expected: []string{"base-url"}},
}}

// TestConnectorConstraints: the constraints between a guest's fields
// hold as for its own binary, whether a field is a flag or a variable,
// and a broken one names the flags and variables involved, never a
// value; capabilities, which runs no operation, does not check them.
func TestConnectorConstraints(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"a token", nil, []string{"--token", "t"}, ""},
		{"client credentials", map[string]string{"BATON_CLIENT_SECRET": "s"}, []string{"--client-id", "c"}, ""},
		{"a page size with the default base URL", nil, []string{"--token", "t", "--page-size", "10"}, ""},
		{"no credential", nil, nil, "baton-x: one of --token (BATON_TOKEN) or --client-id (BATON_CLIENT_ID) is required"},
		{"half the client credentials", nil, []string{"--client-id", "c"},
			"baton-x: --client-id (BATON_CLIENT_ID) and --client-secret (BATON_CLIENT_SECRET) go together: --client-id (BATON_CLIENT_ID) is set without --client-secret (BATON_CLIENT_SECRET); give all of them or none"},
		{"a token and a client secret", map[string]string{"BATON_TOKEN": "sk_live_TOKEN"}, []string{"--client-id", "c", "--client-secret", "sk_live_SECRET"},
			"baton-x: --token (BATON_TOKEN) and --client-secret (BATON_CLIENT_SECRET) are mutually exclusive: give only one of them"},
		{"a page size without a base URL", nil, []string{"--token", "t", "--page-size", "10", "--base-url", ""},
			"baton-x: --page-size (BATON_PAGE_SIZE) needs --base-url (BATON_BASE_URL): give --base-url (BATON_BASE_URL) too, or leave out --page-size (BATON_PAGE_SIZE)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := runSchema(t, constrainedSchema, true, tc.args...)
			if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "sk_live") {
				t.Errorf("the error quotes a secret: %v", err)
			}
			if _, err := runSchema(t, constrainedSchema, false, tc.args...); err != nil {
				t.Errorf("without requireAll: %v", err)
			}
		})
	}
}

// TestRevealSecretFlag: --reveal-secret, or BATON_REVEAL_SECRETS, names
// secret fields given a value, which the tenant then reveals; anything
// else is refused, naming the connector's secret fields.
func TestRevealSecretFlag(t *testing.T) {
	got, err := runConnector(t, true, "--domain", "d", "--api-key", "k", "--reveal-secret", "api-key", "--reveal-secret", "api-key")
	if err != nil || !slices.Equal(got.revealed, []string{"api-key"}) {
		t.Errorf("--reveal-secret api-key: %q, %v", got.revealed, err)
	}
	if got, err = runConnector(t, true, "--domain", "d", "--api-key", "k"); err != nil || got.revealed != nil {
		t.Errorf("without --reveal-secret: %q, %v", got.revealed, err)
	}
	t.Setenv("BATON_REVEAL_SECRETS", "api-key")
	if got, err = runConnector(t, true, "--domain", "d", "--api-key", "k"); err != nil || !slices.Equal(got.revealed, []string{"api-key"}) {
		t.Errorf("BATON_REVEAL_SECRETS=api-key: %q, %v", got.revealed, err)
	}
	t.Setenv("BATON_REVEAL_SECRETS", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--reveal-secret", "domain"}, "--reveal-secret domain: domain is not a secret field of baton-x, the connector receives its value already (its secret fields: api-key)"},
		{[]string{"--reveal-secret", "colour"}, `--reveal-secret colour: baton-x has no field "colour"; its secret fields: api-key`},
		{[]string{"--reveal-secret", "api-key"}, "--reveal-secret api-key: no value is given for it: pass --api-key or set BATON_API_KEY"},
	} {
		if _, err := runConnector(t, false, append([]string{"--domain", "d"}, tc.args...)...); fmt.Sprint(err) != tc.want {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestConnectorFieldNamedAsOwnFlag: a field named as one of baton-runner's
// flags is set with --set; the flag and its variable keep their meaning.
func TestConnectorFieldNamedAsOwnFlag(t *testing.T) {
	t.Setenv("BATON_INSTANCES", "3")
	got, err := runConnector(t, false, "--set", "instances=many")
	if err != nil {
		t.Fatal(err)
	}
	if got.settings["instances"] != "many" {
		t.Errorf("settings %v", got.settings)
	}
	got, err = runConnector(t, false)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.settings["instances"]; ok {
		t.Errorf("BATON_INSTANCES, baton-runner's, reached the guest as its field: %q", v)
	}
}

// TestConnectorOrigins: --allow-origin, --connect-to and --ca-file become
// the tenant's origins, each with its address and the bundle's roots.
func TestConnectorOrigins(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, testCA(t), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := runConnector(t, false, "--allow-origin", "https://api.x.test", "--allow-origin", "https://auth.x.test:8443",
		"--connect-to", "auth.x.test:8443:127.0.0.1:9443", "--ca-file", ca)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.origins) != 2 || got.origins[0].URL != "https://api.x.test" || got.origins[0].ConnectTo != "" ||
		got.origins[1].URL != "https://auth.x.test:8443" || got.origins[1].ConnectTo != "127.0.0.1:9443" {
		t.Fatalf("origins %+v", got.origins)
	}
	for _, o := range got.origins {
		if o.RootCAs == nil {
			t.Errorf("%s has no roots of --ca-file", o.URL)
		}
	}
	t.Setenv("BATON_ALLOW_ORIGIN", "https://a.x.test,https://b.x.test")
	if got, err = runConnector(t, false); err != nil || len(got.origins) != 2 {
		t.Errorf("BATON_ALLOW_ORIGIN: %+v, %v", got.origins, err)
	}
}

// testCA returns a self-signed CA certificate in PEM.
func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestScanArgs: the command and the flags' values are found as urfave/cli
// will parse them: a flag's value is not a command, a bool takes none,
// and an argument ends the flags.
func TestScanArgs(t *testing.T) {
	app := newApp()
	for _, tc := range []struct {
		args   []string
		cmd    string
		module string
	}{
		{[]string{"sync", "--module", "x.wasm"}, "sync", "x.wasm"},
		{[]string{"--log-level", "debug", "--module=y.wasm", "grant", "--file", "sync"}, "grant", "y.wasm"},
		{[]string{"--module", "sync", "-f", "a.c1z"}, "", "sync"},
		{[]string{"--skip-entitlements-and-grants", "service", "--module", "z.wasm"}, "service", "z.wasm"},
		{[]string{"--workers", "4", "capabilities", "-module", "w.wasm"}, "capabilities", "w.wasm"},
		{[]string{"inspect", "diff", "a.c1z", "--module", "x.wasm"}, "inspect diff", ""},
		{[]string{"sync", "--", "--module", "x.wasm"}, "sync", ""},
	} {
		cmd, given := scanArgs(app, append([]string{"baton-runner"}, tc.args...))
		if cmd != tc.cmd || given["module"] != tc.module {
			t.Errorf("scanArgs(%q) = %q, module %q; want %q, %q", tc.args, cmd, given["module"], tc.cmd, tc.module)
		}
	}
}
