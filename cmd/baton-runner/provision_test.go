package main

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestRevokeOfAccessHeldThroughAGroup: a grant that inspect shows only
// `via` a group membership cannot be revoked by its own ID; revoke fails,
// changes nothing, and names the membership and the group's grant, and
// the membership it names is revoked as printed.
func TestRevokeOfAccessHeldThroughAGroup(t *testing.T) {
	_, sim, url := writableSim(t, 30, 0)
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url}
	if res := run(t, dir, env, "sync"); res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	var inherited, both map[string]string
	for _, g := range jsonRows(t, dir, "inspect", "grants", "-o", "json") {
		switch {
		case !strings.HasPrefix(g["principal"], "user:"):
		case strings.HasPrefix(g["via"], "direct "):
			both = g
		case g["via"] != "" && !strings.Contains(g["via"], " "):
			inherited = g
		}
	}
	if inherited == nil || both == nil {
		t.Fatalf("the sync holds no grant held only through one group (%v) or none held both directly and through one (%v)", inherited, both)
	}
	membershipEnt := inherited["via"]
	groupKey := strings.TrimSuffix(membershipEnt, ":member")
	membership := membershipEnt + ":" + inherited["principal"]
	groupGrant := inherited["entitlement"] + ":" + groupKey
	before := sim.Snapshot()

	res := run(t, dir, env, "revoke", "--grant", inherited["grant"])
	if res.code == 0 {
		t.Fatalf("revoking a grant held through %s exited 0:\n%s", membershipEnt, res.stdout)
	}
	for _, want := range []string{"only through " + membershipEnt, "nothing was changed", "--grant " + membership, "--grant " + groupGrant} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if strings.Contains(res.stdout, "nothing changed") || strings.Contains(res.stdout, "done") {
		t.Errorf("stdout claims an outcome: %s", res.stdout)
	}
	if n := strings.Count(strings.TrimSpace(res.stderr), "\n"); n > 0 {
		t.Errorf("the error takes %d lines, want one:\n%s", n+1, res.stderr)
	}
	if !reflect.DeepEqual(before, sim.Snapshot()) {
		t.Error("the refused revoke changed the workspace")
	}

	// Held both ways, the direct grant is revoked, and revoke says what
	// still gives the access.
	res = run(t, dir, env, "revoke", "--grant", both["grant"])
	if still := strings.TrimPrefix(both["via"], "direct "); res.code != 0 || !strings.Contains(res.stdout, ": done; "+both["principal"]+" still has this access through "+still) {
		t.Errorf("revoke of a grant held directly and via %s: exit %d\n%s%s", still, res.code, res.stdout, res.stderr)
	}

	// The membership it names is revoked as printed, and the access goes
	// with it.
	if res := run(t, dir, env, "revoke", "--grant", membership); res.code != 0 || !strings.Contains(res.stdout, "done") {
		t.Fatalf("revoke --grant %s: exit %d\n%s%s", membership, res.code, res.stdout, res.stderr)
	}
	group := sim.Snapshot().GroupByID(strings.TrimPrefix(groupKey, "group:"))
	if slices.Contains(group.MemberIDs, strings.TrimPrefix(inherited["principal"], "user:")) {
		t.Fatalf("%s is still in %s", inherited["principal"], groupKey)
	}
	if res := run(t, dir, env, "sync", "-f", "after.c1z"); res.code != 0 {
		t.Fatalf("second sync exited %d: %s", res.code, res.stderr)
	}
	for _, g := range jsonRows(t, dir, "inspect", "grants", "-f", "after.c1z", "-o", "json", "--principal", inherited["principal"]) {
		if g["grant"] == inherited["grant"] {
			t.Errorf("after the membership was revoked %s still holds %s (via %q)", inherited["principal"], g["grant"], g["via"])
		}
	}
}

// TestInspectIDsRoundTripIntoProvisioning: the IDs inspect prints are
// what grant and revoke take, as printed: a principal as TYPE:ID (no
// --principal-type needed) or bare with its type, an entitlement, and the
// grant IDs of inspect grants and inspect access.
func TestInspectIDsRoundTripIntoProvisioning(t *testing.T) {
	ws, sim, url := writableSim(t, 20, 0)
	g := ws.Groups[0]
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url}
	if res := run(t, dir, env, "sync"); res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	var outsider string
	for _, u := range jsonRows(t, dir, "inspect", "resources", "-o", "json", "--resource-type", "user") {
		if !slices.Contains(g.MemberIDs, strings.TrimPrefix(u["resource"], "user:")) {
			outsider = u["resource"]
		}
	}
	ents := jsonRows(t, dir, "inspect", "entitlements", "-o", "json", "--resource", "group:"+g.ID)
	if outsider == "" || len(ents) != 1 {
		t.Fatalf("no outsider of group %s (%q) or not one entitlement of it: %v", g.ID, outsider, ents)
	}
	ent := ents[0]["entitlement"]
	bare := strings.TrimPrefix(outsider, "user:")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"grant", "--entitlement", ent, "--principal-type", "group", "--principal", outsider}, "but --principal-type says group"},
		{[]string{"grant", "--entitlement", ent, "--principal", bare}, "has no type"},
		{[]string{"grant", "--entitlement", ent, "--principal", "robot:" + bare}, "user, group or invite"},
		{[]string{"--grant-entitlement", ent, "--grant-principal", bare}, "--grant-principal-type"},
	} {
		if res := run(t, dir, env, tc.args...); res.code == 0 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want non-zero and %q", tc.args, res.code, res.stderr, tc.want)
		}
	}

	// TYPE:ID as inspect prints it, without --principal-type.
	res := run(t, dir, env, "grant", "--entitlement", ent, "--principal", outsider)
	if res.code != 0 || res.stdout != "grant "+ent+" to "+outsider+": done\n" {
		t.Fatalf("grant --principal %s: exit %d\n%s%s", outsider, res.code, res.stdout, res.stderr)
	}
	// The same, bare with its type, and through baton's one-shot flags.
	if res := run(t, dir, env, "grant", "--entitlement", ent, "--principal-type", "user", "--principal", bare); res.code != 0 || !strings.Contains(res.stdout, "already held") {
		t.Errorf("grant of a bare ID: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res := run(t, dir, env, "--grant-entitlement", ent, "--grant-principal", outsider); res.code != 0 || !strings.Contains(res.stdout, "already held") {
		t.Errorf("--grant-principal %s: exit %d\n%s%s", outsider, res.code, res.stdout, res.stderr)
	}
	if res := run(t, dir, env, "sync"); res.code != 0 {
		t.Fatalf("re-sync exited %d: %s", res.code, res.stderr)
	}

	// The grant ID inspect grants prints (for the principal as TYPE:ID or
	// bare) and inspect access prints revokes it.
	var fromGrants, fromAccess string
	for _, p := range []string{outsider, bare} {
		for _, r := range jsonRows(t, dir, "inspect", "grants", "-o", "json", "--principal", p) {
			if r["entitlement"] == ent {
				fromGrants = r["grant"]
			}
		}
	}
	for _, r := range jsonRows(t, dir, "inspect", "access", "-o", "json", "--principal", outsider) {
		if r["entitlement"] == ent {
			fromAccess = r["grant"]
		}
	}
	if fromGrants == "" || fromGrants != fromAccess {
		t.Fatalf("inspect grants shows grant %q, inspect access %q", fromGrants, fromAccess)
	}
	if res := run(t, dir, env, "revoke", "--grant", fromAccess); res.code != 0 || res.stdout != "revoke "+fromAccess+": done\n" {
		t.Fatalf("revoke --grant %s: exit %d\n%s%s", fromAccess, res.code, res.stdout, res.stderr)
	}
	if slices.Contains(sim.Snapshot().GroupByID(g.ID).MemberIDs, bare) {
		t.Error("the simulator still shows the revoked member")
	}
}

// jsonRows runs an inspect command with -o json in dir and decodes it.
func jsonRows(t *testing.T, dir string, args ...string) []map[string]string {
	t.Helper()
	res := run(t, dir, nil, args...)
	var rows []map[string]string
	if res.code != 0 {
		t.Fatalf("%v: exit %d: %s", args, res.code, res.stderr)
	}
	if err := json.Unmarshal([]byte(res.stdout), &rows); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, res.stdout)
	}
	return rows
}

// TestProvisioningWithAnotherWorkspacesC1Z: a grant or revoke looked up in
// the c1z of one workspace but sent with the token of another is refused
// before anything is written, naming both workspaces, rather than failing
// as if the IDs had been deleted since the sync.
func TestProvisioningWithAnotherWorkspacesC1Z(t *testing.T) {
	wsA, _, urlA := writableSim(t, 20, 0)
	cfg := segmentsim.DefaultConfig(20)
	cfg.Seed = 2
	wsB := segmentsim.Generate(cfg)
	if wsA.ID == wsB.ID {
		t.Fatal("the two simulated workspaces have one ID")
	}
	simB := segmentsim.NewServer(wsB, segmentsim.Options{WriteLimitPerMinute: -1})
	tsB := httptest.NewServer(simB)
	t.Cleanup(tsB.Close)
	dir := t.TempDir()
	if res := run(t, dir, []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + urlA}, "sync", "-f", "a.c1z"); res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	g := wsA.Groups[0]
	var outsider string
	for _, u := range wsA.Users {
		if !slices.Contains(g.MemberIDs, u.ID) {
			outsider = u.ID
		}
	}
	envB := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + tsB.URL}
	before := simB.Snapshot()
	for _, args := range [][]string{
		{"grant", "-f", "a.c1z", "--entitlement", "group:" + g.ID + ":member", "--principal", "user:" + outsider},
		{"revoke", "-f", "a.c1z", "--grant", "group:" + g.ID + ":member:user:" + g.MemberIDs[0]},
	} {
		res := run(t, dir, envB, args...)
		if res.code == 0 {
			t.Errorf("%v with the other workspace's token exited 0: %s", args, res.stdout)
			continue
		}
		for _, want := range []string{"a.c1z is a sync of " + `"` + wsA.Name + `" (workspace:` + wsA.ID + ")", "reach " + `"` + wsB.Name + `" (workspace:` + wsB.ID + ")", "nothing was changed"} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, res.stderr)
			}
		}
		if strings.Contains(res.stderr, "deleted since the sync") {
			t.Errorf("%v: the other workspace is taken for deletions:\n%s", args, res.stderr)
		}
	}
	if !reflect.DeepEqual(before, simB.Snapshot()) {
		t.Error("the other workspace was changed")
	}
}
