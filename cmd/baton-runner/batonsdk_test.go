package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// TestSyncABatonSDKGuest: a connector written with baton-sdk syncs through
// the binary with its configuration from its own flags and BATON_*
// variables, as its own binary takes them; a missing required field and
// an unknown flag are named with how to set them.
func TestSyncABatonSDKGuest(t *testing.T) {
	module := wasmbuild.Module(t, "examples/baton-demo/wasm")
	dir := t.TempDir()
	res := run(t, dir, nil, "sync", "--module", module, "-f", "demo.c1z")
	if res.code == 0 || !strings.Contains(res.stderr, "needs --org (BATON_ORG)") {
		t.Fatalf("without org: exit %d, stderr %s", res.code, res.stderr)
	}
	res = run(t, dir, []string{"BATON_ORG=acme"}, "sync", "--module", module, "--colour", "blue", "-f", "demo.c1z")
	if res.code == 0 || !strings.Contains(res.stderr, "flag provided but not defined: -colour; baton-demo takes --org, --users, and --allow-origin") {
		t.Fatalf("unknown flag: exit %d, stderr %s", res.code, res.stderr)
	}
	res = run(t, dir, []string{"BATON_ORG=acme"}, "sync", "--module", module, "--users", "5", "-f", "demo.c1z")
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

// TestBatonSDKGuestFlags: with a baton-sdk --module, the commands that run
// it list its fields and the origin flags in help, in place of the Segment
// guest's --token and --base-url, whichever its fields are; --connect-to
// must name an allowed origin.
func TestBatonSDKGuestFlags(t *testing.T) {
	module := wasmbuild.Module(t, "examples/baton-demo/wasm")
	dir := t.TempDir()
	for _, cmd := range []string{"sync", "grant", "revoke", "service", "capabilities"} {
		res := run(t, dir, nil, cmd, "--module", module, "--help")
		if res.code != 0 || !strings.Contains(res.stdout, "connector baton-demo") || !strings.Contains(res.stdout, "--allow-origin") || strings.Contains(res.stdout, "--base-url") {
			t.Errorf("%s --help: exit %d\n%s%s", cmd, res.code, res.stdout, res.stderr)
		}
	}
	res := run(t, dir, []string{"BATON_MODULE=" + module}, "sync", "--token", "x")
	if res.code == 0 || !strings.Contains(res.stderr, "flag provided but not defined: -token") {
		t.Errorf("--token of a baton-sdk guest: exit %d, stderr %s", res.code, res.stderr)
	}
	res = run(t, dir, nil, "sync", "--module", module, "--allow-origin", "https://api.demo.test", "--connect-to", "auth.demo.test:443:127.0.0.1:1")
	if res.code == 0 || !strings.Contains(res.stderr, `--connect-to "auth.demo.test:443:127.0.0.1:1" names auth.demo.test:443, which is not the host:port of an allowed origin (https://api.demo.test)`) {
		t.Errorf("--connect-to of no origin: exit %d, stderr %s", res.code, res.stderr)
	}
	// The Segment guest keeps its flags.
	res = run(t, dir, nil, "sync", "--help")
	if !strings.Contains(res.stdout, "--base-url") || strings.Contains(res.stdout, "--allow-origin") {
		t.Errorf("sync --help of the Segment guest:\n%s", res.stdout)
	}
}
