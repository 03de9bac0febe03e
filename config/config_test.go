package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"

	"github.com/baton-runner/baton-runner/host/synclimits"
)

// fakeSecret is recognisable in any output; tests assert it never appears
// in an error.
const fakeSecret = "sk_live_FAKE9x7Q2mZ"

// minimal is the smallest valid file; the line numbers in tests that append
// to it count from its 11 lines.
const minimal = `[connectors.segment]
wasm = "embedded:segment"

[[tenants]]
name = "acme"
connector = "segment"
token = "env:ACME_TOKEN"
mode = "sync"
  [tenants.sync]
  interval = "1h"
  output = "acme.c1z"
`

// errorStrings parses src as runner.toml and returns its error
// strings, checking that each is an *Error and none holds the fake secret.
func errorStrings(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse("runner.toml", []byte(src))
	if err == nil {
		return nil
	}
	errs := Errors(err)
	var n int
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		n = len(u.Unwrap())
	}
	if len(errs) == 0 || len(errs) != n {
		t.Fatalf("error is not a join of *Error: %T %v", err, err)
	}
	if strings.Contains(err.Error(), fakeSecret) {
		t.Fatalf("error contains the secret:\n%v", err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// wantErrors checks that parsing src fails with at least the errors want,
// each matched in full.
func wantErrors(t *testing.T, src string, want ...string) {
	t.Helper()
	got := errorStrings(t, src)
	if got == nil {
		t.Fatalf("Parse accepted:\n%s", src)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing error\n  %s\ngot:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse(filepath.Join(t.TempDir(), "runner.toml"), []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestExampleFileLoads(t *testing.T) {
	c, err := Load("../runner.toml")
	if err != nil {
		t.Fatalf("Load(../runner.toml): %v", err)
	}
	root, _ := filepath.Abs("..")
	if c.Path != filepath.Join(root, "runner.toml") {
		t.Errorf("Path = %q", c.Path)
	}
	if c.Runtime.Listen != "127.0.0.1:9090" || c.Runtime.MemoryLimitMiB != 256 || c.Runtime.CallTimeout != 2*time.Minute || c.Runtime.InstancesPerTenant != 2 || c.Runtime.MaxConcurrentSyncs != 2 {
		t.Errorf("Runtime = %+v", c.Runtime)
	}
	if got := c.Connectors["segment"]; got != (Connector{Name: "segment", Wasm: "embedded:segment", Kind: KindABI}) {
		t.Errorf("connector = %+v", got)
	}
	if len(c.Tenants) != 2 {
		t.Fatalf("%d tenants", len(c.Tenants))
	}
	for _, tn := range c.Tenants {
		if tn.BaseURL != "http://127.0.0.1:8765" || tn.Token != EnvRef("SIM_TOKEN") || tn.Mode != ModeSync || tn.Sync == nil || tn.Service != nil {
			t.Errorf("tenant %+v", tn)
			continue
		}
		if tn.Sync.Interval != 5*time.Minute || tn.Sync.Output != filepath.Join(root, "out", tn.Name+".c1z") {
			t.Errorf("tenant %s sync %+v", tn.Name, *tn.Sync)
		}
	}
	a, _ := c.Tenant("sim-a")
	b, _ := c.Tenant("sim-b")
	if a.Limits.Timeout != time.Hour || a.Limits.RequestBudget != 100000 || a.Limits.MaxPages != synclimits.DefaultMaxPages {
		t.Errorf("sim-a limits = %+v", a.Limits)
	}
	if b.Limits != (synclimits.Limits{}.WithDefaults()) {
		t.Errorf("sim-b limits = %+v, want the defaults", b.Limits)
	}
	// The simulator's token makes the example's secrets resolve.
	t.Setenv("SIM_TOKEN", "sim-token")
	if err := c.CheckSecrets(); err != nil {
		t.Errorf("CheckSecrets: %v", err)
	}
}

// The commented-out service tenant and baton-sdk connector in runner.toml
// must be valid too, or operators who uncomment them start from a broken
// example.
func TestExampleServiceTenantIsValid(t *testing.T) {
	data, err := os.ReadFile("../runner.toml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "# [[tenants]]") })
	if start < 0 {
		t.Fatal("no commented-out [[tenants]] in runner.toml")
	}
	for i := start; i < len(lines); i++ {
		lines[i] = strings.TrimPrefix(strings.TrimPrefix(lines[i], "#"), " ")
	}
	c, err := Parse("../runner.toml", []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("with the service tenant uncommented: %v", err)
	}
	tn, ok := c.Tenant("acme-prod")
	if !ok || tn.Mode != ModeService || tn.Service == nil || tn.BaseURL != "https://api.segmentapis.com" ||
		tn.Service.ClientSecret != EnvRef("ACME_C1_CLIENT_SECRET") || tn.Token != FileRef("/run/secrets/acme-segment-token") {
		t.Errorf("service tenant = %+v", tn)
	}
	sdk, ok := c.Tenant("demo-staging")
	if !ok || c.Connectors["demo"].Kind != KindBatonSDK || len(sdk.Origins) != 2 || sdk.Origins[1].ConnectTo != "127.0.0.1:8443" ||
		sdk.Config["demo-client-secret"].Ref != EnvRef("DEMO_CLIENT_SECRET") || sdk.Config["demo-client-id"].Value != "demo-client" {
		t.Errorf("baton-sdk tenant = %+v", sdk)
	}
	schema := Schema{Name: "baton-demo", Fields: []Field{
		{Name: "demo-client-id", Type: FieldString, Required: true},
		{Name: "demo-client-secret", Type: FieldString, Secret: true, Required: true},
		{Name: "api-key", Type: FieldString, Secret: true, Required: true},
	}}
	if err := c.CheckSchemas(map[string]Schema{"demo": schema}); err != nil {
		t.Errorf("the baton-sdk tenant against a schema of its fields: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	limits := synclimits.Limits{Timeout: synclimits.DefaultTimeout, MaxPages: synclimits.DefaultMaxPages, MaxEmptyPages: synclimits.DefaultMaxEmptyPages,
		MaxItems: synclimits.DefaultMaxItems, MaxDepth: synclimits.DefaultMaxDepth, MaxC1ZBytes: synclimits.DefaultMaxC1ZBytes, MaxInFlight: synclimits.DefaultMaxInFlight}
	want := Runtime{CacheDir: DefaultCacheDir(), MemoryLimitMiB: 256, CallTimeout: 2 * time.Minute, InstancesPerTenant: 2, MaxConcurrentSyncs: 2,
		StorageEngine: c1zstore.EnginePebble, Limits: limits}
	if c.Runtime != want {
		t.Errorf("Runtime = %+v, want %+v", c.Runtime, want)
	}
	tn := c.Tenants[0]
	if tn.BaseURL != "https://api.segmentapis.com" || tn.Provisioning || tn.RequestsPerMinute != 0 || tn.Limits != limits || tn.EntitlementIDs != "role-id" {
		t.Errorf("tenant = %+v", tn)
	}
}

// A connector under another name running the embedded Segment module gets
// Segment's default origin; one running a file gets none.
func TestDefaultBaseURLByModule(t *testing.T) {
	src := strings.Replace(minimal, "[connectors.segment]", "[connectors.seg-eu]", 1)
	src = strings.Replace(src, `connector = "segment"`, `connector = "seg-eu"`, 1)
	if c := mustParse(t, src); c.Tenants[0].BaseURL != "https://api.segmentapis.com" {
		t.Errorf("BaseURL = %q", c.Tenants[0].BaseURL)
	}
	if DefaultBaseURL("segment") != "https://api.segmentapis.com" || DefaultBaseURL("seg-eu") != "" {
		t.Errorf("DefaultBaseURL = %q, %q", DefaultBaseURL("segment"), DefaultBaseURL("seg-eu"))
	}
	src = strings.Replace(src, `"embedded:segment"`, `"custom.wasm"`, 1)
	wantErrors(t, src, `runner.toml:4: tenants[0].base_url: is required: connector "seg-eu" has no default API origin`)
}

func TestTenantSettings(t *testing.T) {
	src := strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nprovisioning = true\nrequests_per_minute = 600\nrequest_budget = 100000\nbase_url = \"https://eu1.api.segmentapis.com\"", 1)
	tn := mustParse(t, src).Tenants[0]
	if !tn.Provisioning || tn.RequestsPerMinute != 600 || tn.Limits.RequestBudget != 100000 || tn.BaseURL != "https://eu1.api.segmentapis.com" {
		t.Errorf("tenant = %+v", tn)
	}
}

// entitlement_ids takes the two schemes and names them when it is wrong.
func TestEntitlementIDs(t *testing.T) {
	for _, v := range []string{"role-id", "baton-segment"} {
		src := strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nentitlement_ids = \""+v+"\"", 1)
		if got := mustParse(t, src).Tenants[0].EntitlementIDs; got != v {
			t.Errorf("entitlement_ids = %q: got %q", v, got)
		}
	}
	src := strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nentitlement_ids = \"baton_segment\"", 1)
	wantErrors(t, src, `runner.toml:9: tenants[0].entitlement_ids: must be "role-id" (the default: role IDs) or "baton-segment" (the IDs of ConductorOne's baton-segment connector), not "baton_segment"`)
	src = strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nentitlement_ids = true", 1)
	wantErrors(t, src, `runner.toml:9: tenants[0].entitlement_ids: must be a string, not a boolean`)
}

// Sync limits set in [runtime] apply to every tenant; a tenant's own key
// replaces that one limit only.
func TestSyncLimitsInherit(t *testing.T) {
	src := `[runtime]
sync_timeout = "3h"
max_pages = 5000
max_empty_pages = 40
max_items = 90000
max_depth = 3
max_c1z_mib = 512
request_budget = 7000
max_in_flight = 2
` + minimal + `[[tenants]]
name = "big"
connector = "segment"
token = "env:B"
mode = "sync"
sync_timeout = "30m"
max_items = 123456
max_empty_pages = 1000
request_budget = 0
max_in_flight = 8
  [tenants.sync]
  interval = "1h"
  output = "big.c1z"
`
	c := mustParse(t, src)
	runtime := synclimits.Limits{Timeout: 3 * time.Hour, MaxPages: 5000, MaxEmptyPages: 40, MaxItems: 90000, MaxDepth: 3, MaxC1ZBytes: 512 << 20, RequestBudget: 7000, MaxInFlight: 2}
	if c.Runtime.Limits != runtime {
		t.Errorf("runtime limits = %+v, want %+v", c.Runtime.Limits, runtime)
	}
	if got := c.Tenants[0].Limits; got != runtime {
		t.Errorf("acme inherits %+v, want %+v", got, runtime)
	}
	big := runtime
	big.Timeout, big.MaxItems, big.MaxEmptyPages, big.RequestBudget, big.MaxInFlight = 30*time.Minute, 123456, 1000, 0, 8
	if got := c.Tenants[1].Limits; got != big {
		t.Errorf("big has %+v, want %+v", got, big)
	}
}

func TestSyncLimitRanges(t *testing.T) {
	wantErrors(t, `[runtime]
sync_timeout = "30s"
max_pages = 0
max_items = -1
max_depth = 65
max_c1z_mib = 8
request_budget = -5
max_in_flight = 0
max_empty_pages = 0
`+minimal,
		"runner.toml:2: runtime.sync_timeout: must be between 1m0s and 168h0m0s, not 30s",
		"runner.toml:3: runtime.max_pages: must be between 1 and 1000000000, not 0",
		"runner.toml:4: runtime.max_items: must be between 1 and 10000000000, not -1",
		"runner.toml:5: runtime.max_depth: must be between 1 and 64, not 65",
		"runner.toml:6: runtime.max_c1z_mib: must be between 16 and 1048576, not 8",
		"runner.toml:7: runtime.request_budget: must be between 0 and 2147483647, not -5",
		"runner.toml:8: runtime.max_in_flight: must be between 1 and 64, not 0",
		"runner.toml:9: runtime.max_empty_pages: must be between 1 and 1000000000, not 0",
	)
	wantErrors(t, strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nmax_depth = \"deep\"\nsync_timeout = \"8d\"", 1),
		"runner.toml:9: tenants[0].max_depth: must be an integer, not a string",
		`runner.toml:10: tenants[0].sync_timeout: must be a duration such as "90s", "5m" or "1h", not "8d"`,
	)
	wantErrors(t, strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nsync_timeout = \"200h\"", 1),
		"runner.toml:9: tenants[0].sync_timeout: must be between 1m0s and 168h0m0s, not 200h0m0s",
	)
}

// A syntax error on a secret-bearing line does not quote the line, which
// may hold a pasted secret; elsewhere toml's message keeps no word of the
// value either.
func TestSyntaxErrorsHideValues(t *testing.T) {
	svc := strings.Replace(minimal, `mode = "sync"`, `mode = "service"`, 1)[:strings.Index(minimal, "  [tenants.sync]")+3]
	for _, src := range []string{
		svc + "  [tenants.service]\n  client_id = \"x\"\n  client_secret = " + fakeSecret + "\n",
		svc + "  [tenants.service]\n  client_id = \"x\"\n  client_secret = \"" + fakeSecret + "\n",
		strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\napi_key = "+fakeSecret, 1),
		strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nnote = abc"+fakeSecret, 1),
	} {
		got := errorStrings(t, src) // fails on the secret
		if len(got) != 1 || !strings.Contains(got[0], "invalid TOML") {
			t.Errorf("errors = %v", got)
		}
	}
}

func TestErrorsOfSingleError(t *testing.T) {
	e := &Error{File: "f", Msg: "m"}
	if got := Errors(e); len(got) != 1 || got[0] != e {
		t.Errorf("Errors = %v", got)
	}
	if got := Errors(errors.New("x")); got != nil {
		t.Errorf("Errors(plain) = %v", got)
	}
}

func TestRuntimeSettings(t *testing.T) {
	c := mustParse(t, `[runtime]
cache_dir = "cache"
memory_limit_mib = 512
call_timeout = "90s"
instances_per_tenant = 4
listen = ":9090"
storage_engine = "pebble"
process_memory_mib = 2048
`+minimal)
	dir := filepath.Dir(c.Path)
	want := Runtime{CacheDir: filepath.Join(dir, "cache"), MemoryLimitMiB: 512, CallTimeout: 90 * time.Second, InstancesPerTenant: 4, MaxConcurrentSyncs: 2, Listen: ":9090",
		ProcessMemoryMiB: 2048, StorageEngine: c1zstore.EnginePebble, Limits: synclimits.Limits{}.WithDefaults()}
	if c.Runtime != want {
		t.Errorf("Runtime = %+v, want %+v", c.Runtime, want)
	}
	if c.Tenants[0].Sync.Output != filepath.Join(dir, "acme.c1z") {
		t.Errorf("Output = %q", c.Tenants[0].Sync.Output)
	}
}

func TestPathsRelativeToConfigFile(t *testing.T) {
	src := strings.Replace(minimal, `"embedded:segment"`, `"../modules/segment.wasm"`, 1)
	src = strings.Replace(src, `"env:ACME_TOKEN"`, `"file:secrets/acme"`, 1)
	c, err := Parse("/etc/br/runner.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Connectors["segment"].Wasm != "/etc/modules/segment.wasm" {
		t.Errorf("Wasm = %q", c.Connectors["segment"].Wasm)
	}
	if c.Tenants[0].Token != FileRef("/etc/br/secrets/acme") {
		t.Errorf("Token = %v", c.Tenants[0].Token)
	}
	if c.Tenants[0].Sync.Output != "/etc/br/acme.c1z" {
		t.Errorf("Output = %q", c.Tenants[0].Sync.Output)
	}
	if c.Path != "/etc/br/runner.toml" {
		t.Errorf("Path = %q", c.Path)
	}
}

func TestRules(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown top-level key", "[runtme]\nlisten = \"\"\n" + minimal,
			[]string{"runner.toml:1: runtme: unknown key; the keys of the file are connectors, runtime, tenants"}},
		{"unknown runtime key", "[runtime]\nmemory_limit = 5\n" + minimal,
			[]string{"runner.toml:2: runtime.memory_limit: unknown key; the keys of [runtime] are cache_dir, call_timeout, instances_per_tenant, listen, max_c1z_mib, max_concurrent_syncs, max_depth, max_empty_pages, max_in_flight, max_items, max_pages, memory_limit_mib, process_memory_mib, request_budget, storage_engine, sync_timeout"}},
		{"unknown connector key", strings.Replace(minimal, "wasm =", "sha = 1\nwasm =", 1),
			[]string{"runner.toml:2: connectors.segment.sha: unknown key; the keys of a connector are kind, sha256, wasm"}},
		{"unknown tenant key", minimal + "[[tenants]]\nname = \"b\"\nconnector = \"segment\"\ntokn = \"env:B\"\nmode = \"sync\"\n",
			[]string{
				"runner.toml:15: tenants[1].tokn: unknown key; the keys of a tenant are base_url, connector, entitlement_ids, max_c1z_mib, max_depth, max_empty_pages, max_in_flight, max_items, max_pages, mode, name, provisioning, request_budget, requests_per_minute, service, sync, sync_timeout, token",
				"runner.toml:12: tenants[1].token: is required: a reference to the API token, \"env:VAR\" or \"file:/path\"",
				"runner.toml:12: tenants[1].sync: is required when mode = \"sync\": add a [tenants.sync] table",
			}},
		{"unknown sync key (quoted)", minimal + "  \"every day\" = true\n",
			[]string{`runner.toml:12: tenants[0].sync."every day": unknown key; the keys of [tenants.sync] are interval, output`}},
		{"unknown key in a dotted key", strings.Replace(minimal, "  [tenants.sync]\n", "sync.intervall = \"1h\"\n  [tenants.sync]\n", 1),
			[]string{"runner.toml:9: tenants[0].sync.intervall: unknown key; the keys of [tenants.sync] are interval, output"}},
		{"syntax error", strings.Replace(minimal, `name = "acme"`, `name = "acme`, 1),
			[]string{"runner.toml:5: invalid TOML: strings cannot contain newlines"}},
		{"duplicate key", strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nmode = \"sync\"", 1),
			[]string{"runner.toml:9: invalid TOML: Key 'tenants.mode' has already been defined."}},
		{"wrong types", "[runtime]\nmemory_limit_mib = \"256\"\ncall_timeout = 120\nlisten = false\n" +
			strings.Replace(strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nprovisioning = \"yes\"\nrequest_budget = 1.5", 1), `token = "env:ACME_TOKEN"`, `token = 12345`, 1),
			[]string{
				"runner.toml:2: runtime.memory_limit_mib: must be an integer, not a string",
				"runner.toml:3: runtime.call_timeout: must be a string, not an integer",
				"runner.toml:4: runtime.listen: must be a string, not a boolean",
				"runner.toml:11: tenants[0].token: must be a string, not an integer",
				"runner.toml:13: tenants[0].provisioning: must be true or false, not a string",
				"runner.toml:14: tenants[0].request_budget: must be an integer, not a float",
			}},
		{"table where a value belongs", strings.Replace(minimal, "  [tenants.sync]", "  [tenants.base_url]\n  x = 1\n  [tenants.sync]", 1),
			[]string{"runner.toml:9: tenants[0].base_url: must be a string, not a table"}},
		{"tenants not an array", "[connectors.segment]\nwasm = \"embedded:segment\"\n[tenants]\nname = \"a\"\n",
			[]string{"runner.toml:3: tenants: must be an array of tables, each starting with [[tenants]], not a table"}},
		{"duplicate tenant names", minimal + "[[tenants]]\nname = \"acme\"\nconnector = \"segment\"\ntoken = \"env:B\"\nmode = \"sync\"\nsync = { interval = \"1h\", output = \"b.c1z\" }\n",
			[]string{`runner.toml:13: tenants[1].name: duplicate tenant name "acme" (also tenants[0], line 5)`}},
		{"duplicate outputs", minimal + "[[tenants]]\nname = \"b\"\nconnector = \"segment\"\ntoken = \"env:B\"\nmode = \"sync\"\nsync = { interval = \"1h\", output = \"./acme.c1z\" }\n",
			[]string{`runner.toml:17: tenants[1].sync.output: same output file as tenants[0]; each tenant needs its own`}},
		{"bad tenant name", strings.Replace(minimal, `"acme"`, `"Acme_Prod"`, 1),
			[]string{`runner.toml:5: tenants[0].name: must be 1-63 of a-z, 0-9 and - (not starting with -), e.g. "acme-prod"`}},
		{"tenant name too long", strings.Replace(minimal, `"acme"`, `"`+strings.Repeat("a", 64)+`"`, 1),
			[]string{`runner.toml:5: tenants[0].name: must be 1-63 of a-z, 0-9 and - (not starting with -), e.g. "acme-prod"`}},
		{"undeclared connector", strings.Replace(minimal, `connector = "segment"`, `connector = "okta"`, 1),
			[]string{`runner.toml:6: tenants[0].connector: names no connector: declare [connectors.okta] (declared: segment)`}},
		{"no connectors", minimal[len("[connectors.segment]\nwasm = \"embedded:segment\"\n"):],
			[]string{`runner.toml:4: tenants[0].connector: names no connector: declare [connectors.segment] (the file declares none)`}},
		{"connector without wasm", strings.Replace(minimal, "wasm = \"embedded:segment\"", "", 1),
			[]string{`runner.toml:1: connectors.segment.wasm: is required: "embedded:<name>" or a path to a .wasm file`}},
		{"bad embedded name", strings.Replace(minimal, `"embedded:segment"`, `"embedded:"`, 1),
			[]string{`runner.toml:2: connectors.segment.wasm: must be "embedded:<name>" with a module name of a-z, 0-9 and -, or a path to a .wasm file`}},
		{"inline token", strings.Replace(minimal, `"env:ACME_TOKEN"`, `"`+fakeSecret+`"`, 1),
			[]string{`runner.toml:7: tenants[0].token: must be a secret reference, "env:VAR" or "file:/path"; inline secrets are not allowed (the value is not shown here)`}},
		{"inline token, unquoted", strings.Replace(minimal, `"env:ACME_TOKEN"`, fakeSecret, 1),
			[]string{`runner.toml:7: invalid TOML: the value is not valid TOML (not shown, as it may be a secret); quote it, and use a reference such as "env:VAR"`}},
		{"token with a bad env name", strings.Replace(minimal, `"env:ACME_TOKEN"`, `"env:1X"`, 1),
			[]string{`runner.toml:7: tenants[0].token: env: reference needs a variable name of letters, digits and _ not starting with a digit, e.g. env:SEGMENT_TOKEN`}},
		{"token with an empty file", strings.Replace(minimal, `"env:ACME_TOKEN"`, `"file:"`, 1),
			[]string{`runner.toml:7: tenants[0].token: file: reference needs a path, e.g. file:/run/secrets/segment-token`}},
		{"bad sha256", strings.Replace(minimal, "wasm =", "sha256 = \"abc123\"\nwasm =", 1),
			[]string{`runner.toml:2: connectors.segment.sha256: must be 64 hexadecimal digits (a SHA-256 as printed by sha256sum)`}},
		{"sha256 not hex", strings.Replace(minimal, "wasm =", "sha256 = \""+strings.Repeat("g", 64)+"\"\nwasm =", 1),
			[]string{`runner.toml:2: connectors.segment.sha256: must be 64 hexadecimal digits (a SHA-256 as printed by sha256sum)`}},
		{"unknown mode", strings.Replace(minimal, `mode = "sync"`, `mode = "daemon"`, 1),
			[]string{`runner.toml:8: tenants[0].mode: must be "sync" or "service", not "daemon"`}},
		{"missing mode", strings.Replace(minimal, "mode = \"sync\"\n", "", 1),
			[]string{`runner.toml:4: tenants[0].mode: is required: "sync" or "service"`}},
		{"missing sync section", strings.Split(minimal, "  [tenants.sync]")[0],
			[]string{`runner.toml:4: tenants[0].sync: is required when mode = "sync": add a [tenants.sync] table`}},
		{"service section in sync mode", minimal + "  [tenants.service]\n  client_id = \"x\"\n  client_secret = \"env:S\"\n",
			[]string{`runner.toml:12: tenants[0].service: is not allowed when mode = "sync": remove [tenants.service] or set mode = "service"`}},
		{"missing service section", strings.Replace(strings.Split(minimal, "  [tenants.sync]")[0], `"sync"`, `"service"`, 1),
			[]string{`runner.toml:4: tenants[0].service: is required when mode = "service": add a [tenants.service] table`}},
		{"sync section in service mode", strings.Replace(minimal, `mode = "sync"`, `mode = "service"`, 1) + "  [tenants.service]\n  client_id = \"x\"\n  client_secret = \"env:S\"\n",
			[]string{`runner.toml:9: tenants[0].sync: is not allowed when mode = "service": remove [tenants.sync] or set mode = "sync"`}},
		{"inline client secret", strings.Replace(minimal, `mode = "sync"`, `mode = "service"`, 1)[:strings.Index(minimal, "  [tenants.sync]")+3] +
			"  [tenants.service]\n  client_id = \"my-client\"\n  client_secret = \"" + fakeSecret + "\"\n",
			[]string{`runner.toml:11: tenants[0].service.client_secret: must be a secret reference, "env:VAR" or "file:/path"; inline secrets are not allowed (the value is not shown here)`}},
		{"service settings missing", strings.Replace(minimal, `mode = "sync"`, `mode = "service"`, 1)[:strings.Index(minimal, "  [tenants.sync]")+3] +
			"  [tenants.service]\n",
			[]string{
				`runner.toml:9: tenants[0].service.client_id: is required: the ConductorOne client id, or a reference "env:VAR" or "file:/path"`,
				`runner.toml:9: tenants[0].service.client_secret: is required: a reference to the ConductorOne client secret, "env:VAR" or "file:/path"`,
			}},
		{"bad duration", strings.Replace(minimal, `"1h"`, `"soon"`, 1),
			[]string{`runner.toml:10: tenants[0].sync.interval: must be a duration such as "90s", "5m" or "1h", not "soon"`}},
		{"interval too short", strings.Replace(minimal, `"1h"`, `"59s"`, 1),
			[]string{`runner.toml:10: tenants[0].sync.interval: must be at least 1m`}},
		{"missing interval and output", strings.Split(minimal, "  interval")[0],
			[]string{
				`runner.toml:9: tenants[0].sync.interval: is required: the time from one sync's start to the next, e.g. "1h" (at least 1m)`,
				`runner.toml:9: tenants[0].sync.output: is required: the c1z file to write, e.g. "out/acme-prod.c1z"`,
			}},
		{"call_timeout zero", "[runtime]\ncall_timeout = \"0s\"\n" + minimal,
			[]string{`runner.toml:2: runtime.call_timeout: must be greater than 0`}},
		{"call_timeout negative", "[runtime]\ncall_timeout = \"-1m\"\n" + minimal,
			[]string{`runner.toml:2: runtime.call_timeout: must be greater than 0`}},
		{"memory too small", "[runtime]\nmemory_limit_mib = 8\n" + minimal,
			[]string{`runner.toml:2: runtime.memory_limit_mib: must be between 16 and 4096, not 8`}},
		{"memory too large", "[runtime]\nmemory_limit_mib = 4097\n" + minimal,
			[]string{`runner.toml:2: runtime.memory_limit_mib: must be between 16 and 4096, not 4097`}},
		{"no instances", "[runtime]\ninstances_per_tenant = 0\n" + minimal,
			[]string{`runner.toml:2: runtime.instances_per_tenant: must be between 1 and 64, not 0`}},
		{"too many instances", "[runtime]\ninstances_per_tenant = 65\n" + minimal,
			[]string{`runner.toml:2: runtime.instances_per_tenant: must be between 1 and 64, not 65`}},
		{"no syncs at all", "[runtime]\nmax_concurrent_syncs = 0\n" + minimal,
			[]string{`runner.toml:2: runtime.max_concurrent_syncs: must be between 1 and 256, not 0`}},
		{"process memory budget too small", "[runtime]\nprocess_memory_mib = 64\n" + minimal,
			[]string{`runner.toml:2: runtime.process_memory_mib: must be 0 (no budget) or between 128 and 1048576, not 64`}},
		{"negative process memory budget", "[runtime]\nprocess_memory_mib = -1\n" + minimal,
			[]string{`runner.toml:2: runtime.process_memory_mib: must be 0 (no budget) or between 128 and 1048576, not -1`}},
		{"bad listen", "[runtime]\nlisten = \"9090\"\n" + minimal,
			[]string{`runner.toml:2: runtime.listen: must be host:port such as "127.0.0.1:9090" (or "" for no health and metrics server)`}},
		{"unknown storage engine", "[runtime]\nstorage_engine = \"rocksdb\"\n" + minimal,
			[]string{`runner.toml:2: runtime.storage_engine: unknown c1z storage engine "rocksdb": use "pebble" or "sqlite" (default "pebble")`}},
		{"negative rate", strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nrequests_per_minute = -1", 1),
			[]string{`runner.toml:9: tenants[0].requests_per_minute: must be between 0 and 2147483647, not -1`}},
		{"no tenants", "[connectors.segment]\nwasm = \"embedded:segment\"\n",
			[]string{`runner.toml: no tenants: add at least one [[tenants]] table`}},
		{"empty tenants array", "tenants = []\n[connectors.segment]\nwasm = \"embedded:segment\"\n",
			[]string{`runner.toml:1: tenants: no tenants: add at least one [[tenants]] table`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErrors(t, tc.src, tc.want...) })
	}
}

func TestBaseURL(t *testing.T) {
	for _, tc := range []struct{ url, err string }{
		{"https://api.segmentapis.com", ""},
		{"https://eu1.api.segmentapis.com/", ""},
		{"https://api.example.com:8443", ""},
		{"http://127.0.0.1:8765", ""},
		{"http://[::1]:8765", ""},
		{"http://localhost:8765", ""},
		{"http://example.com", "uses plain http, which is allowed only for a loopback host (127.0.0.1, ::1, localhost); use https://example.com"},
		{"http://10.0.0.5:8080", "uses plain http, which is allowed only for a loopback host (127.0.0.1, ::1, localhost); use https://10.0.0.5:8080"},
		{"ftp://example.com", `has scheme "ftp", which is not supported; use https (or http for a loopback simulator)`},
		{"https://", "has no scheme and host; want scheme://host[:port], e.g. https://api.segmentapis.com or http://127.0.0.1:8080 for a local simulator"},
		{"api.segmentapis.com", "has no scheme and host; want scheme://host[:port], e.g. https://api.segmentapis.com or http://127.0.0.1:8080 for a local simulator"},
		{"https://api.segmentapis.com/v1", "has a path; give only scheme://host[:port], the connector supplies every path"},
		{"https://api.segmentapis.com?x=1", "has a query or fragment; give only scheme://host[:port]"},
		{"https://api.segmentapis.com:99999", `has port "99999", out of range 1-65535`},
		{"https://u:" + fakeSecret + "@api.segmentapis.com", "contains user info (user:password@); remove it and pass the credential as the token"},
	} {
		src := strings.Replace(minimal, `mode = "sync"`, "mode = \"sync\"\nbase_url = \""+tc.url+"\"", 1)
		got := errorStrings(t, src)
		if tc.err == "" {
			if got != nil {
				t.Errorf("%s: %v", tc.url, got)
			}
			continue
		}
		want := "runner.toml:9: tenants[0].base_url: " + tc.err
		if !slices.Contains(got, want) {
			t.Errorf("%s:\n  got  %v\n  want %s", tc.url, got, want)
		}
	}
}

// Every problem in a file is reported in one go, in file order.
func TestAllProblemsReported(t *testing.T) {
	src := `[runtime]
memory_limit_mib = 1
call_timeout = "never"

[connectors.segment]
wasm = "embedded:segment"
sha256 = "nope"

[[tenants]]
name = "a"
connector = "segment"
token = "` + fakeSecret + `"
mode = "sync"
  [tenants.sync]
  interval = "10s"
  output = "a.c1z"

[[tenants]]
name = "a"
connector = "segment"
token = "env:B"
mode = "service"
  [tenants.service]
  client_id = "id"
  client_secret = "` + fakeSecret + `"
  extra = 1
`
	want := []string{
		"runner.toml:2: runtime.memory_limit_mib: must be between 16 and 4096, not 1",
		`runner.toml:3: runtime.call_timeout: must be a duration such as "90s", "5m" or "1h", not "never"`,
		"runner.toml:7: connectors.segment.sha256: must be 64 hexadecimal digits (a SHA-256 as printed by sha256sum)",
		`runner.toml:12: tenants[0].token: must be a secret reference, "env:VAR" or "file:/path"; inline secrets are not allowed (the value is not shown here)`,
		"runner.toml:15: tenants[0].sync.interval: must be at least 1m",
		`runner.toml:19: tenants[1].name: duplicate tenant name "a" (also tenants[0], line 10)`,
		`runner.toml:25: tenants[1].service.client_secret: must be a secret reference, "env:VAR" or "file:/path"; inline secrets are not allowed (the value is not shown here)`,
		"runner.toml:26: tenants[1].service.extra: unknown key; the keys of [tenants.service] are client_id, client_secret",
	}
	got := errorStrings(t, src)
	if !slices.Equal(got, want) {
		t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// The joined error prints one problem per line.
	_, err := Parse("runner.toml", []byte(src))
	if err.Error() != strings.Join(want, "\n") {
		t.Errorf("Error() = %q", err.Error())
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 || e.Key != "runtime.memory_limit_mib" || e.File != "runner.toml" {
		t.Errorf("errors.As: %+v", e)
	}
}

func TestServiceMode(t *testing.T) {
	src := strings.Replace(minimal, `mode = "sync"`, `mode = "service"`, 1)[:strings.Index(minimal, "  [tenants.sync]")+3] +
		"  [tenants.service]\n  client_id = \"my-client-id\"\n  client_secret = \"file:/run/secrets/c1\"\n"
	c := mustParse(t, src)
	tn := c.Tenants[0]
	if tn.Sync != nil || tn.Service == nil || tn.Service.ClientID != LiteralRef("my-client-id") || tn.Service.ClientSecret != FileRef("/run/secrets/c1") {
		t.Fatalf("tenant = %+v", tn)
	}
	src = strings.Replace(src, `"my-client-id"`, `"env:C1_ID"`, 1)
	if c := mustParse(t, src); c.Tenants[0].Service.ClientID != EnvRef("C1_ID") {
		t.Errorf("ClientID = %v", c.Tenants[0].Service.ClientID)
	}
}

// Arrays of inline tables and inline sub-tables are TOML too, and their
// errors carry lines as well.
func TestInlineTables(t *testing.T) {
	src := `connectors = { segment = { wasm = "embedded:segment" } }
tenants = [
  { name = "a", connector = "segment", token = "env:A", mode = "sync", sync = { interval = "1h", output = "a.c1z" } },

  { name = "b", connector = "segment", token = "env:B", mode = "sync", sync = { interval = "1s", output = "b.c1z" } },
]
`
	wantErrors(t, src, "runner.toml:5: tenants[1].sync.interval: must be at least 1m")
	c := mustParse(t, strings.Replace(src, `"1s"`, `"1m"`, 1))
	if len(c.Tenants) != 2 || c.Tenants[1].Sync.Interval != time.Minute {
		t.Errorf("tenants = %+v", c.Tenants)
	}
}

func TestTenantLookup(t *testing.T) {
	c := mustParse(t, minimal)
	if tn, ok := c.Tenant("acme"); !ok || tn.Name != "acme" {
		t.Errorf("Tenant(acme) = %v, %v", tn, ok)
	}
	if _, ok := c.Tenant("nope"); ok {
		t.Error("Tenant(nope) found")
	}
}

func TestCheckSecrets(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "c1-secret")
	if err := os.WriteFile(secretFile, []byte(fakeSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := minimal + `[[tenants]]
name = "svc"
connector = "segment"
token = "env:SVC_TOKEN_UNSET_FOR_TEST"
mode = "service"
  [tenants.service]
  client_id = "literal-id"
  client_secret = "file:c1-missing"
`
	c, err := Parse(filepath.Join(dir, "runner.toml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACME_TOKEN", fakeSecret)
	os.Unsetenv("SVC_TOKEN_UNSET_FOR_TEST")
	err = c.CheckSecrets()
	errs := Errors(err)
	if len(errs) != 2 {
		t.Fatalf("CheckSecrets = %v", err)
	}
	file := filepath.Join(dir, "runner.toml")
	want := []string{
		file + `:15: tenants[1].token: tenant "svc": env:SVC_TOKEN_UNSET_FOR_TEST: environment variable SVC_TOKEN_UNSET_FOR_TEST is not set`,
		file + `:19: tenants[1].service.client_secret: tenant "svc": file:` + filepath.Join(dir, "c1-missing") + `: no such file or directory`,
	}
	for i, e := range errs {
		if e.Error() != want[i] {
			t.Errorf("error %d:\n  got  %s\n  want %s", i, e, want[i])
		}
	}
	if strings.Contains(err.Error(), fakeSecret) {
		t.Error("secret in error")
	}

	t.Setenv("ACME_TOKEN", "")
	t.Setenv("SVC_TOKEN_UNSET_FOR_TEST", fakeSecret)
	c.Tenants[1].Service.ClientSecret = FileRef(secretFile)
	err = c.CheckSecrets()
	if got := Errors(err); len(got) != 1 || got[0].Key != "tenants[0].token" || got[0].Msg != `tenant "acme": env:ACME_TOKEN: environment variable ACME_TOKEN is empty` {
		t.Errorf("CheckSecrets = %v", err)
	}
	t.Setenv("ACME_TOKEN", fakeSecret)
	if err := c.CheckSecrets(); err != nil {
		t.Errorf("CheckSecrets with everything set: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load = %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "runner.toml", Line: 14, Key: "tenants[2].sync.interval", Msg: "must be at least 1m"}, "runner.toml:14: tenants[2].sync.interval: must be at least 1m"},
		{Error{File: "runner.toml", Key: "tenants", Msg: "m"}, "runner.toml: tenants: m"},
		{Error{File: "runner.toml", Line: 3, Msg: "m"}, "runner.toml:3: m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
