package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conductorone/baton-sdk/pkg/field"

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
// capabilities command does, without a token.
func TestCapabilities(t *testing.T) {
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
