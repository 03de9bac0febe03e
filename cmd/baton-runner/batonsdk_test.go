package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/examples/baton-demo/demoapi"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// TestSyncABatonSDKGuest: a connector written with baton-sdk syncs the
// demo API over TLS through the binary, with its configuration from its
// own flags and BATON_* variables, as its own binary takes them, and its
// network from --allow-origin, --connect-to and --ca-file; a missing
// required field and an unknown flag are named with how to set them, and
// neither secret appears in any output.
func TestSyncABatonSDKGuest(t *testing.T) {
	api := startDemoAPI(t)
	module := demoModule(t)
	dir := t.TempDir()
	flags := api.flags()
	res := run(t, dir, nil, "sync", "--module", module, "--api-key", demoapi.DefaultAPIKey, "-f", "demo.c1z")
	if res.code == 0 || !strings.Contains(res.stderr, "needs --demo-client-id (BATON_DEMO_CLIENT_ID), --demo-client-secret (BATON_DEMO_CLIENT_SECRET)") {
		t.Fatalf("without the client's credentials: exit %d, stderr %s", res.code, res.stderr)
	}
	res = run(t, dir, nil, append([]string{"sync", "--module", module, "--colour", "blue"}, flags...)...)
	if res.code == 0 || !strings.Contains(res.stderr, "flag provided but not defined: -colour; baton-demo takes --") ||
		!strings.Contains(res.stderr, "--demo-client-secret") || !strings.Contains(res.stderr, "--allow-origin") {
		t.Fatalf("unknown flag: exit %d, stderr %s", res.code, res.stderr)
	}
	// The client secret from the environment, the rest as flags.
	res = run(t, dir, []string{"BATON_DEMO_CLIENT_SECRET=" + demoapi.DefaultClientSecret},
		append([]string{"sync", "--module", module, "-f", "demo.c1z"}, slices.DeleteFunc(flags, func(f string) bool { return f == "--demo-client-secret" || f == demoapi.DefaultClientSecret })...)...)
	if res.code != 0 || !strings.Contains(res.stdout, "user") {
		t.Fatalf("sync: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	noDemoSecrets(t, "sync's output", res.stdout+res.stderr)
	checkDemoC1Z(t, filepath.Join(dir, "demo.c1z"), api)
	res = run(t, dir, nil, "inspect", "-f", filepath.Join(dir, "demo.c1z"))
	if want := regexp.MustCompile(fmt.Sprintf(`\buser +%d +0 +0\n`, demoSeed.Users)); res.code != 0 || !want.MatchString(res.stdout) {
		t.Errorf("inspect lacks %q:\n%s%s", want, res.stdout, res.stderr)
	}
}

// TestBatonSDKGuestFlags: with a baton-sdk --module, the commands that run
// it list its fields and the origin flags in help, in place of the Segment
// guest's --token and --base-url (the demo has a base-url field of its
// own), whichever its fields are; --connect-to
// must name an allowed origin.
func TestBatonSDKGuestFlags(t *testing.T) {
	module := wasmbuild.Module(t, "examples/baton-demo/wasm")
	dir := t.TempDir()
	for _, cmd := range []string{"sync", "grant", "revoke", "service", "capabilities"} {
		res := run(t, dir, nil, cmd, "--module", module, "--help")
		// The demo's own base-url field, not Segment's --base-url.
		if res.code != 0 || !strings.Contains(res.stdout, "connector baton-demo") || !strings.Contains(res.stdout, "--allow-origin") ||
			strings.Contains(res.stdout, "--token value") || !strings.Contains(res.stdout, "The API's base URL") {
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
