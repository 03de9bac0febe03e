package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// batonSDK is a valid file with one baton-sdk tenant; tests append to or
// replace its lines, which they count from here.
const batonSDK = `[connectors.demo]
wasm = "demo.wasm"
kind = "baton-sdk"

[[tenants]]
name = "acme"
connector = "demo"
mode = "sync"
origins = ["https://api.demo.test", "https://auth.demo.test:8443"]
connect_to = ["api.demo.test:443:127.0.0.1:9443", "auth.demo.test:8443:[::1]:9444"]
ca_file = "ca.pem"
  [tenants.config]
  domain = "x.example"
  page-size = 50
  verbose = true
  teams = ["a", "b"]
  api-key = "env:ACME_KEY"
  [tenants.sync]
  interval = "1h"
  output = "acme.c1z"
`

// demoSchema is what the module of [connectors.demo] would export.
var demoSchema = Schema{Name: "baton-x", Fields: []Field{
	{Name: "domain", Type: FieldString, Required: true},
	{Name: "page-size", Type: FieldInt},
	{Name: "verbose", Type: FieldBool},
	{Name: "teams", Type: FieldStringSlice},
	{Name: "api-key", Type: FieldString, Secret: true, Required: true},
}}

func TestBatonSDKTenant(t *testing.T) {
	c := mustParse(t, batonSDK)
	dir := filepath.Dir(c.Path)
	if got := c.Connectors["demo"]; got.Kind != KindBatonSDK {
		t.Errorf("connector = %+v", got)
	}
	tn := c.Tenants[0]
	want := []Origin{{URL: "https://api.demo.test", ConnectTo: "127.0.0.1:9443"}, {URL: "https://auth.demo.test:8443", ConnectTo: "[::1]:9444"}}
	if !slices.Equal(tn.Origins, want) {
		t.Errorf("Origins = %+v, want %+v", tn.Origins, want)
	}
	if tn.CAFile != filepath.Join(dir, "ca.pem") || tn.BaseURL != "" || tn.Token != (SecretRef{}) {
		t.Errorf("CAFile %q, BaseURL %q, Token %v", tn.CAFile, tn.BaseURL, tn.Token)
	}
	wantConfig := map[string]FieldValue{
		"domain":    {Value: "x.example", Type: "a string"},
		"page-size": {Value: "50", Type: "an integer"},
		"verbose":   {Value: "true", Type: "a boolean"},
		"teams":     {Value: "a,b", Type: "an array"},
		"api-key":   {Ref: EnvRef("ACME_KEY"), Type: "a string"},
	}
	for k, v := range wantConfig {
		if tn.Config[k] != v {
			t.Errorf("Config[%s] = %+v, want %+v", k, tn.Config[k], v)
		}
	}
	if err := c.CheckSchemas(map[string]Schema{"demo": demoSchema}); err != nil {
		t.Errorf("CheckSchemas: %v", err)
	}
	t.Setenv("ACME_KEY", "")
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "tenants[0].config.api-key") {
		t.Errorf("CheckSecrets does not check the config's references: %v", err)
	}
}

// TestBatonSDKSchemaProblems: each problem of a [tenants.config] against
// the schema is its own error at its line, and a secret written inline is
// refused without being quoted.
func TestBatonSDKSchemaProblems(t *testing.T) {
	src := strings.Replace(batonSDK, `  domain = "x.example"
  page-size = 50`, `  colour = "blue"
  page-size = "50"`, 1)
	src = strings.Replace(src, `api-key = "env:ACME_KEY"`, `api-key = "`+fakeSecret+`"`, 1)
	c := mustParse(t, src)
	err := c.CheckSchemas(map[string]Schema{"demo": demoSchema})
	if err == nil {
		t.Fatal("CheckSchemas accepted the file")
	}
	if strings.Contains(err.Error(), fakeSecret) {
		t.Fatalf("the error quotes the secret:\n%v", err)
	}
	var got []string
	for _, e := range Errors(err) {
		got = append(got, strings.TrimPrefix(e.Error(), filepath.Dir(c.Path)+"/"))
	}
	want := []string{
		"runner.toml:12: tenants[0].config.domain: is required by baton-x: add domain = … to [tenants.config]",
		"runner.toml:13: tenants[0].config.colour: unknown field; the fields of baton-x are api-key, domain, page-size, teams, verbose",
		"runner.toml:14: tenants[0].config.page-size: must be an integer (int field of baton-x), not a string",
		`runner.toml:17: tenants[0].config.api-key: is a secret field of baton-x: must be a secret reference, "env:VAR" or "file:/path"; inline secrets are not allowed (the value is not shown here)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestBatonSDKKindMismatch: a module of the other kind than the file
// declares is reported at its connector.
func TestBatonSDKKindMismatch(t *testing.T) {
	c := mustParse(t, batonSDK+"\n[connectors.segment]\nwasm = \"embedded:segment\"\n")
	err := c.CheckSchemas(map[string]Schema{"segment": demoSchema})
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Key+": "+e.Msg)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], `connectors.demo.kind: the module is not a baton-sdk connector`) ||
		!strings.HasPrefix(got[1], `connectors.segment: the module is a baton-sdk connector (baton-x): add kind = "baton-sdk"`) {
		t.Errorf("errors: %q", got)
	}
}

func TestBatonSDKTenantRules(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"token and base_url belong to the Segment connector", `mode = "sync"`, "mode = \"sync\"\ntoken = \"env:X\"\nbase_url = \"https://api.demo.test\"",
			[]string{
				`runner.toml:9: tenants[0].token: is not a key of a baton-sdk connector's tenant (connector "demo"): its credentials are fields of its [tenants.config], given as references ("env:VAR" or "file:/path")`,
				`runner.toml:10: tenants[0].base_url: is not a key of a baton-sdk connector's tenant (connector "demo"): list the API origins it may reach in origins = ["https://…"]`,
			}},
		{"an origin with a path", `"https://auth.demo.test:8443"]`, `"https://auth.demo.test:8443/v1"]`,
			[]string{`runner.toml:9: tenants[0].origins[1]: has a path; give only scheme://host[:port], the connector supplies every path`}},
		{"an origin twice", `"https://auth.demo.test:8443"]`, `"https://API.demo.test:443"]`,
			[]string{`runner.toml:9: tenants[0].origins[1]: is allowed twice`}},
		{"connect_to of no origin", `"auth.demo.test:8443:[::1]:9444"`, `"auth.demo.test:443:[::1]:9444"`,
			[]string{`runner.toml:10: tenants[0].connect_to[1]: "auth.demo.test:443:[::1]:9444" names auth.demo.test:443, which is not the host:port of an allowed origin (https://api.demo.test, https://auth.demo.test:8443)`}},
		{"connect_to malformed", `"auth.demo.test:8443:[::1]:9444"`, `"auth.demo.test:8443"`,
			[]string{`runner.toml:10: tenants[0].connect_to[1]: "auth.demo.test:8443": want HOST:PORT:ADDRESS:PORT as curl's --connect-to, e.g. api.example.com:443:127.0.0.1:8443`}},
		{"a value of no TOML type the connector takes", `verbose = true`, `verbose = 1.5`,
			[]string{`runner.toml:15: tenants[0].config.verbose: must be a string, an integer, a boolean or an array of strings, not a float`}},
		{"a reference that is not one", `api-key = "env:ACME_KEY"`, `api-key = "env:"`,
			[]string{`runner.toml:17: tenants[0].config.api-key: env: reference needs a variable name of letters, digits and _ not starting with a digit, e.g. env:SEGMENT_TOKEN`}},
		{"an unknown kind", `kind = "baton-sdk"`, `kind = "sdk"`,
			[]string{`runner.toml:3: connectors.demo.kind: must be "baton-sdk" (a connector written with baton-sdk) or "baton-runner" (the default: a guest of baton-runner's ABI, such as the Segment connector), not "sdk"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(batonSDK, tc.old, tc.new, 1)
			if src == batonSDK {
				t.Fatalf("%q is not in the file", tc.old)
			}
			wantErrors(t, src, tc.want...)
		})
	}
	// The Segment connector's tenants do not take a baton-sdk tenant's keys.
	wantErrors(t, strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\norigins = [\"https://x.test\"]", 1),
		`runner.toml:9: tenants[0].origins: is a key of baton-sdk connectors' tenants only; connector "segment" is not one (its [connectors.segment] has no kind = "baton-sdk")`)
}

func TestParseConnectTo(t *testing.T) {
	origins := []string{"https://a.test", "http://127.0.0.1:8080", "https://[::1]:9443"}
	for _, tc := range []struct {
		spec string
		i    int
		addr string
	}{
		{"a.test:443:10.0.0.1:8443", 0, "10.0.0.1:8443"},
		{"A.TEST:443:proxy.internal:443", 0, "proxy.internal:443"},
		{"127.0.0.1:8080:[::1]:1", 1, "[::1]:1"},
		{"[::1]:9443:127.0.0.1:9443", 2, "127.0.0.1:9443"},
		{"a.test:80:10.0.0.1:8443", -1, ""},
		{"a.test:443:10.0.0.1", -1, ""},
		{"a.test:443:10.0.0.1:0", -1, ""},
		{"a.test::10.0.0.1:1", -1, ""},
	} {
		i, addr, problem := ParseConnectTo(tc.spec, origins)
		if i != tc.i || addr != tc.addr || (i < 0) != (problem != "") {
			t.Errorf("ParseConnectTo(%q) = %d, %q, %q; want %d, %q", tc.spec, i, addr, problem, tc.i, tc.addr)
		}
	}
}
