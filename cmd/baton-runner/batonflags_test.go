package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conductorone/baton-sdk/pkg/field"
	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/internal/fakec1"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestBatonOneShotFlags: the bare binary takes baton-sdk's one-shot
// provisioning flags and variables, as a baton connector does, and
// --log-path writes the log to a file too.
func TestBatonOneShotFlags(t *testing.T) {
	ws, sim, url := writableSim(t, 20, 0)
	g := ws.Groups[0]
	var outsider string
	for _, u := range ws.Users {
		if !slices.Contains(g.MemberIDs, u.ID) {
			outsider = u.ID
		}
	}
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url}
	if res := run(t, dir, env, "sync"); res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	ent := "group:" + g.ID + ":member"
	logFile := filepath.Join(dir, "baton.log")
	res := run(t, dir, env, "--grant-entitlement", ent, "--grant-principal", outsider, "--grant-principal-type", "user", "--log-path", logFile, "--log-level", "debug")
	if res.code != 0 || !strings.Contains(res.stdout, "done") {
		t.Fatalf("--grant-entitlement: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if !slices.Contains(sim.Snapshot().GroupByID(g.ID).MemberIDs, outsider) {
		t.Fatal("the simulator does not show the granted member")
	}
	if log, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(log), "provisioning finished") {
		t.Errorf("--log-path file: %v\n%s", err, log)
	}
	res = run(t, dir, append(env, "BATON_REVOKE_GRANT="+ent+":user:"+outsider))
	if res.code != 0 || !strings.Contains(res.stdout, "done") {
		t.Fatalf("BATON_REVOKE_GRANT: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if slices.Contains(sim.Snapshot().GroupByID(g.ID).MemberIDs, outsider) {
		t.Fatal("the simulator still shows the revoked member")
	}
	if res := run(t, dir, env, "--grant-entitlement", ent); res.code == 0 || !strings.Contains(res.stderr, "--grant-principal") {
		t.Errorf("--grant-entitlement alone: exit %d, %s", res.code, res.stderr)
	}
}

// TestCapabilities prints what the connector can do, as baton connectors'
// capabilities command does, without a token, and with the flags a sync
// takes, as baton connectors accept theirs on every subcommand.
func TestCapabilities(t *testing.T) {
	if res := run(t, t.TempDir(), nil, "capabilities", "--token", "x", "--base-url", "http://127.0.0.1:1", "--entitlement-ids", "baton-segment"); res.code != 0 {
		t.Fatalf("capabilities with a sync's flags exited %d: %s", res.code, res.stderr)
	}
	res := run(t, t.TempDir(), nil, "capabilities")
	if res.code != 0 {
		t.Fatalf("capabilities exited %d: %s", res.code, res.stderr)
	}
	var caps struct {
		Type                     string `json:"@type"`
		ResourceTypeCapabilities []struct {
			ResourceType struct{ ID string }
			Capabilities []string
		}
	}
	if err := json.Unmarshal([]byte(res.stdout), &caps); err != nil {
		t.Fatalf("capabilities output is not JSON: %v\n%s", err, res.stdout)
	}
	if caps.Type != "type.googleapis.com/c1.connector.v2.ConnectorCapabilities" {
		t.Errorf("@type %q", caps.Type)
	}
	got := map[string][]string{}
	for _, rt := range caps.ResourceTypeCapabilities {
		got[rt.ResourceType.ID] = rt.Capabilities
	}
	if !slices.Contains(got["group"], "CAPABILITY_PROVISION") || slices.Contains(got["workspace"], "CAPABILITY_PROVISION") || !slices.Contains(got["user"], "CAPABILITY_SYNC") {
		t.Errorf("capabilities %v: want group provisionable, workspace not, user synced", got)
	}
}

// TestBatonHealthCheckFlags: service mode serves its health endpoint under
// baton-sdk's --health-check settings.
func TestBatonHealthCheckFlags(t *testing.T) {
	_, _, url := writableSim(t, 10, 0)
	c1 := fakec1.Start(t)
	port := freePort(t)
	env := append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url,
		"BATON_HEALTH_CHECK=true", fmt.Sprintf("BATON_HEALTH_CHECK_PORT=%d", port))
	p := start(t, env)
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	waitUntil(t, 30*time.Second, "/readyz on the --health-check-port", func() bool {
		code, _ := get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		return code == 200
	})
}

// TestBatonSyncScopeFlags: --sync-resource-types and
// --skip-entitlements-and-grants narrow a sync as they do in baton.
func TestBatonSyncScopeFlags(t *testing.T) {
	url := simURL(t, 20)
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url}
	if res := run(t, dir, env, "sync", "-f", "types.c1z", "--sync-resource-types", "user,group"); res.code != 0 {
		t.Fatalf("sync --sync-resource-types: exit %d: %s", res.code, res.stderr)
	}
	var rows []map[string]string
	res := run(t, dir, nil, "inspect", "resources", "-f", "types.c1z", "-o", "json")
	if err := json.Unmarshal([]byte(res.stdout), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("inspect: %v %s %s", err, res.stdout, res.stderr)
	}
	for _, r := range rows {
		if typ, _, _ := strings.Cut(r["resource"], ":"); typ != "user" && typ != "group" {
			t.Errorf("--sync-resource-types user,group synced %s", r["resource"])
		}
	}
	if res := run(t, dir, append(env, "BATON_SKIP_ENTITLEMENTS_AND_GRANTS=true"), "-f", "bare.c1z"); res.code != 0 {
		t.Fatalf("BATON_SKIP_ENTITLEMENTS_AND_GRANTS: exit %d: %s", res.code, res.stderr)
	}
	res = run(t, dir, nil, "inspect", "grants", "-f", "bare.c1z", "-o", "json")
	if res.code != 0 || strings.TrimSpace(res.stdout) != "[]" {
		t.Errorf("grants of a sync without entitlements and grants: exit %d, %s %s", res.code, res.stdout, res.stderr)
	}
}

// TestFlagsBatonDefinesKeepItsNames: every root flag whose name baton-sdk
// also defines reads baton-sdk's environment variable and has its short
// name, so a baton connector's configuration means the same here.
func TestFlagsBatonDefinesKeepItsNames(t *testing.T) {
	defined := map[string]field.SchemaField{}
	for _, f := range field.DefaultFields {
		defined[f.FieldName] = f
	}
	shared := 0
	for _, fl := range concat(rootFlags(), healthCheckFlags()) {
		names := fl.Names()
		f, ok := defined[names[0]]
		if !ok {
			continue
		}
		shared++
		ev, _ := fl.(interface{ GetEnvVars() []string })
		if ev == nil || !slices.Contains(ev.GetEnvVars(), batonEnv(f.FieldName)) {
			t.Errorf("--%s does not read %s", f.FieldName, batonEnv(f.FieldName))
		}
		if s := f.GetCLIShortHand(); s != "" && !slices.Contains(names, s) {
			t.Errorf("--%s lacks baton's short name -%s", f.FieldName, s)
		}
	}
	if shared < 15 {
		t.Errorf("only %d flags shared with baton-sdk", shared)
	}
}

// allCommands lists app's commands, subcommands included, by path.
func allCommands(app *cli.App) map[string]*cli.Command {
	out := map[string]*cli.Command{}
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			out[prefix+c.Name] = c
			walk(prefix+c.Name+" ", c.Subcommands)
		}
	}
	walk("", app.Commands)
	return out
}

// TestFlagHelpIsRenderedAsWritten: urfave/cli takes a backticked word in a
// flag's usage for its value's name, so `inspect resources` in a usage
// showed as "--principal inspect resources --resource-type user"; every
// flag of every command shows its usage whole, after a plain "value".
func TestFlagHelpIsRenderedAsWritten(t *testing.T) {
	app := newApp()
	flags := map[string][]cli.Flag{"": app.Flags}
	for path, c := range allCommands(app) {
		flags[path] = c.Flags
		// Command usages are shown verbatim, backticks and all, which
		// reads as markup in a terminal.
		if strings.Contains(c.Usage, "`") {
			t.Errorf("%s: usage %q has backticks", path, c.Usage)
		}
	}
	for path, fs := range flags {
		for _, fl := range fs {
			usage := fl.(cli.DocGenerationFlag).GetUsage()
			if rendered := fl.String(); !strings.Contains(rendered, usage) {
				t.Errorf("%s --%s: help shows %q, not its usage %q", path, fl.Names()[0], rendered, usage)
			}
		}
	}

	// Through the binary, each command's help lists options as
	// "--name value", never with words of the usage in place of value.
	paths := []string{""}
	for path := range allCommands(app) {
		paths = append(paths, path)
	}
	for _, path := range paths {
		res := run(t, t.TempDir(), nil, append(strings.Fields(path), "--help")...)
		if res.code != 0 {
			t.Errorf("%s --help: exit %d: %s", path, res.code, res.stderr)
			continue
		}
		for _, line := range strings.Split(res.stdout, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "-") {
				continue
			}
			names, _, _ := strings.Cut(line, "  ")
			for _, w := range strings.Fields(strings.ReplaceAll(names, ",", " ")) {
				if !strings.HasPrefix(w, "-") && w != "value" && w != "[" && w != "]" {
					t.Errorf("%s --help: %q shows %q as the value", path, line, w)
					break
				}
			}
		}
	}
}

// TestBatonStandardFlagsAreAcceptedEverywhere: baton-sdk's default flags
// that baton-runner does not use are accepted by every command and named
// in one warning, as are their BATON_* variables; an operation asked of a
// command that does not do it is refused, not ignored.
func TestBatonStandardFlagsAreAcceptedEverywhere(t *testing.T) {
	dir := t.TempDir()
	app := newApp()
	cmds := allCommands(app)
	cmds[""] = &cli.Command{Action: app.Action}
	for path, c := range cmds {
		if c.Action == nil {
			continue
		}
		// A missing file or configuration fails after the flags are
		// read; what matters is how the flags are taken.
		args := append(strings.Fields(path), "--skip-full-sync", "--otel-collector-endpoint", "http://127.0.0.1:4317", "--workers", "4", "--ticketing", "--help")
		if res := run(t, dir, nil, args...); res.code != 0 || strings.Contains(res.stderr, "flag provided but not defined") {
			t.Errorf("%s: exit %d: %s", path, res.code, res.stderr)
		}
	}
	res := run(t, dir, []string{"BATON_WORKERS=4", "BATON_OTEL_TRACING_DISABLED=true", "BATON_LOG_LEVEL=debug"},
		"inspect", "--skip-full-sync", "-f", "missing.c1z", "--workers", "2", "--client-id", "x", "--ticketing")
	if res.code == 0 {
		t.Fatalf("inspect of a missing file exited 0: %s", res.stdout)
	}
	warning := "baton-runner: warning: ignoring baton-sdk settings that `baton-runner inspect` does not use: " +
		"--client-id, --skip-full-sync, --ticketing, --workers (sync workers follow --instances), BATON_OTEL_TRACING_DISABLED, BATON_WORKERS (sync workers follow --instances)\n"
	if !strings.HasPrefix(res.stderr, warning) || strings.Count(res.stderr, "warning") != 1 {
		t.Errorf("stderr:\n%s\nwant it to begin with the one warning\n%s", res.stderr, warning)
	}
	if strings.Contains(res.stderr, "BATON_LOG_LEVEL") {
		t.Errorf("the warning names BATON_LOG_LEVEL, which other commands use:\n%s", res.stderr)
	}

	// Flags before the command and after it make one warning.
	res = run(t, dir, nil, "--workers", "2", "sync", "--otel-collector-endpoint", "x", "--token", "t", "--base-url", "http://127.0.0.1:1", "-f", "x.c1z")
	if !strings.Contains(res.stderr, "`baton-runner sync` does not use: --otel-collector-endpoint, --workers") || strings.Count(res.stderr, "warning") != 1 {
		t.Errorf("stderr:\n%s\nwant one warning naming both", res.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "--rotate-credentials", "u1", "-f", "missing.c1z"}, "--rotate-credentials asks for an operation of baton-sdk that baton-runner does not do; nothing was done"},
		{[]string{"--event-feed", "x"}, "--event-feed asks for an operation"},
		{[]string{"sync", "--revoke-grant", "g", "--token", "t"}, "--revoke-grant is not an option of `baton-runner sync` but an operation of the bare command: run `baton-runner --revoke-grant …`"},
	} {
		res := run(t, dir, nil, tc.args...)
		if res.code == 0 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want non-zero and %q", tc.args, res.code, res.stderr, tc.want)
		}
	}
}

// TestVersionFromTheBuild: --version names the build, never the
// placeholder "dev" for a binary built from this checkout.
func TestVersionFromTheBuild(t *testing.T) {
	res := run(t, t.TempDir(), nil, "--version")
	v, ok := strings.CutPrefix(strings.TrimSpace(res.stdout), "baton-runner version ")
	if res.code != 0 || !ok {
		t.Fatalf("--version: exit %d: %q %s", res.code, res.stdout, res.stderr)
	}
	if strings.HasPrefix(v, "dev") {
		if _, err := exec.LookPath("git"); err == nil && exec.Command("git", "rev-parse", "--git-dir").Run() == nil {
			t.Errorf("--version of a binary built in a git checkout is %q", v)
		}
	}
	for _, tc := range []struct {
		stamp string
		bi    *debug.BuildInfo
		want  string
	}{
		{"v1.2.0-3-gabc1234-dirty", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "v1.2.0-3-gabc1234-dirty (go1.26.8)"},
		{"", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0 (go1.26.8)"},
		{"", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261207091100-b64789d1a2b3+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "b64789d1a2b3c4d5e6f7"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-12-07T09:11:00Z"}}},
			"v0.0.0-20261207091100-b64789d1a2b3+dirty (revision b64789d1a2b3c4d5e6f7 (modified), committed 2026-12-07T09:11:00Z, go1.26.8)"},
		{"", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "b64789d1a2b3c4d5e6f7"}}},
			"b64789d1a2b3 (go1.26.8)"},
		{"", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "dev (go1.26.8)"},
		{"", nil, "dev"},
	} {
		if got := describeVersion(tc.stamp, tc.bi); got != tc.want {
			t.Errorf("describeVersion(%q, %v) = %q, want %q", tc.stamp, tc.bi, got, tc.want)
		}
	}
}
