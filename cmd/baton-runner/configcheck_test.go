package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
