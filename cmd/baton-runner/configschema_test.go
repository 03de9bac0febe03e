package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/runner"
)

// TestBatonSDKTenantSpec: a baton-sdk tenant's [tenants.config] becomes
// its spec's settings and secrets, references resolved, and its
// reveal_secrets the spec's Revealed, which serve hands to the tenant.
func TestBatonSDKTenantSpec(t *testing.T) {
	t.Setenv("ACME_KEY", "the-key")
	t.Setenv("ACME_SIGNING", "the-signing-key")
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "runner.toml"), []byte(`[connectors.x]
wasm = "x.wasm"
kind = "baton-sdk"

[[tenants]]
name = "acme"
connector = "x"
mode = "sync"
origins = ["https://api.x.test"]
reveal_secrets = ["signing-key"]
  [tenants.config]
  domain = "acme.example"
  api-key = "env:ACME_KEY"
  signing-key = "env:ACME_SIGNING"
  [tenants.sync]
  interval = "1h"
  output = "acme.c1z"
`))
	if err != nil {
		t.Fatal(err)
	}
	schema := config.Schema{Name: "baton-x", Fields: []config.Field{
		{Name: "domain", Type: config.FieldString},
		{Name: "api-key", Type: config.FieldString, Secret: true},
		{Name: "signing-key", Type: config.FieldString, Secret: true},
	}}
	if err := cfg.CheckSchemas(map[string]config.Schema{"x": schema}); err != nil {
		t.Fatal(err)
	}
	var ts runner.TenantSpec
	if err := batonSDKTenant(cfg, 0, schema, &ts); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ts.Revealed, []string{"signing-key"}) {
		t.Errorf("Revealed = %q, want [signing-key]", ts.Revealed)
	}
	if ts.Settings["domain"] != "acme.example" || len(ts.Settings) != 1 ||
		ts.Secrets["api-key"].Reveal() != "the-key" || ts.Secrets["signing-key"].Reveal() != "the-signing-key" {
		t.Errorf("settings %v, secrets %v", ts.Settings, ts.Secrets)
	}
}
