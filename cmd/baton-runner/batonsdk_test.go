package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// TestSyncABatonSDKGuest: a connector written with baton-sdk syncs through
// the binary with its configuration from --set and BATON_* variables, as
// its own binary takes them; a missing required field and an unknown one
// are named with how to set them.
func TestSyncABatonSDKGuest(t *testing.T) {
	module := wasmbuild.Module(t, "examples/baton-demo/wasm")
	dir := t.TempDir()
	res := run(t, dir, nil, "sync", "--module", module, "-f", "demo.c1z")
	if res.code == 0 || !strings.Contains(res.stderr, "--set org=") || !strings.Contains(res.stderr, "BATON_ORG") {
		t.Fatalf("without org: exit %d, stderr %s", res.code, res.stderr)
	}
	res = run(t, dir, []string{"BATON_ORG=acme"}, "sync", "--module", module, "--set", "colour=blue", "-f", "demo.c1z")
	if res.code == 0 || !strings.Contains(res.stderr, `no field "colour"`) || !strings.Contains(res.stderr, "org, users") {
		t.Fatalf("unknown field: exit %d, stderr %s", res.code, res.stderr)
	}
	res = run(t, dir, []string{"BATON_ORG=acme"}, "sync", "--module", module, "--set", "users=5", "-f", "demo.c1z")
	if res.code != 0 || !strings.Contains(res.stdout, "grants: 8 listed by the connector, 5 held through group membership") {
		t.Fatalf("sync: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = run(t, dir, nil, "inspect", "-f", filepath.Join(dir, "demo.c1z"))
	for _, want := range []string{"user          5", "team          3", "total         11             5      13"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("inspect lacks %q:\n%s", want, res.stdout)
		}
	}
}
