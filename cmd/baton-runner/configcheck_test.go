package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// TestConfigCheckAgreesWithServe: config check takes --config (and
// BATON_CONFIG) like serve, and refuses a module serve would refuse.
func TestConfigCheckAgreesWithServe(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "evil.wasm")
	if err := os.WriteFile(notWasm, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := "[connectors.segment]\nwasm = \"" + notWasm + "\"\n" + tenantTOML("alpha", "http://127.0.0.1:1")
	path := filepath.Join(dir, "runner.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"SIM_TOKEN=x"}
	for _, args := range [][]string{{"config", "check", "--config", path}, {"config", "check", path}} {
		res := run(t, dir, env, args...)
		if res.code == 0 || !strings.Contains(res.stderr, "segment") || !strings.Contains(res.stderr, "serve would refuse") {
			t.Errorf("%v with a non-wasm module: exit %d, stderr %s", args, res.code, res.stderr)
		}
	}
	if res := run(t, dir, append(env, "BATON_CONFIG="+path), "config", "check"); res.code == 0 || !strings.Contains(res.stderr, "serve would refuse") {
		t.Errorf("BATON_CONFIG: exit %d, stderr %s", res.code, res.stderr)
	}
	good := writeConfig(t, dir, freePort(t), tenantTOML("alpha", "http://127.0.0.1:1"))
	if res := run(t, dir, env, "config", "check", "--config", good); res.code != 0 || !strings.Contains(res.stdout, "ok, 1 tenant(s), 1 module(s) compiled") {
		t.Errorf("config check --config %s: exit %d\n%s%s", good, res.code, res.stdout, res.stderr)
	}
	if res := run(t, dir, env, "config", "check"); res.code == 0 || !strings.Contains(res.stderr, "--config") {
		t.Errorf("config check without a file: exit %d, stderr %s", res.code, res.stderr)
	}
}

// TestConfigCheckBatonSDKTenant: config check compiles a baton-sdk
// connector's module and checks each tenant's [tenants.config] against its
// schema, whichever its fields are: a complete one passes, an unknown field
// is reported at its line, and a forgotten kind = "baton-sdk" is named.
func TestConfigCheckBatonSDKTenant(t *testing.T) {
	module := wasmbuild.Module(t, "examples/baton-demo/wasm")
	m, err := sandbox.Compile(t.Context(), sandbox.Config{Wasm: mustRead(t, module)})
	if err != nil {
		t.Fatal(err)
	}
	schema, err := config.ParseSchema(m.BatonSDKSchema())
	_ = m.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var fields strings.Builder
	var env []string
	for _, f := range schema.Fields {
		switch {
		case !f.Required:
		case f.Secret:
			fmt.Fprintf(&fields, "  %s = \"env:DEMO_%d\"\n", f.Name, len(env))
			env = append(env, fmt.Sprintf("DEMO_%d=x", len(env)))
		case f.Type == config.FieldBool:
			fmt.Fprintf(&fields, "  %s = true\n", f.Name)
		case f.Type == config.FieldInt:
			fmt.Fprintf(&fields, "  %s = 1\n", f.Name)
		case f.Type == config.FieldStringSlice:
			fmt.Fprintf(&fields, "  %s = [\"a\"]\n", f.Name)
		default:
			fmt.Fprintf(&fields, "  %s = \"a\"\n", f.Name)
		}
	}
	dir := t.TempDir()
	write := func(kind, extra string) string {
		body := fmt.Sprintf(`[connectors.demo]
wasm = %q
%s
[[tenants]]
name = "acme"
connector = "demo"
mode = "sync"
origins = ["https://api.demo.test"]
connect_to = ["api.demo.test:443:127.0.0.1:1"]
  [tenants.config]
%s%s  [tenants.sync]
  interval = "1h"
  output = "acme.c1z"
`, module, kind, fields.String(), extra)
		path := filepath.Join(dir, "runner.toml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	path := write(`kind = "baton-sdk"`, "")
	if res := run(t, dir, env, "config", "check", path); res.code != 0 || !strings.Contains(res.stdout, "ok, 1 tenant(s), 1 module(s) compiled") {
		t.Fatalf("a complete [tenants.config]: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	line := 11 + strings.Count(fields.String(), "\n")
	res := run(t, dir, env, "config", "check", write(`kind = "baton-sdk"`, "  colour = \"blue\"\n"))
	want := fmt.Sprintf("%s:%d: tenants[0].config.colour: unknown field; the fields of %s are %s", path, line, schema.Name, strings.Join(schema.FieldNames(), ", "))
	if res.code == 0 || !strings.Contains(res.stderr, want) {
		t.Errorf("an unknown field: exit %d, want %q in\n%s", res.code, want, res.stderr)
	}
	res = run(t, dir, env, "config", "check", write("", ""))
	want = fmt.Sprintf(`%s:10: tenants[0].config: is a key of baton-sdk connectors' tenants only; connector "demo" is not one (its [connectors.demo] has no kind = "baton-sdk")`, path)
	if res.code == 0 || !strings.Contains(res.stderr, want) {
		t.Errorf("kind not declared: exit %d, want %q in\n%s", res.code, want, res.stderr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
