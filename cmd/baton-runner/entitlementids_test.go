package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// idsSim serves a workspace with a custom role "Source admin" beside
// Source Admin (both baton-segment's source_admin; the custom one is the
// newer), and returns it with the role ids and a user who holds neither,
// directly or through a group.
func idsSim(t *testing.T) (sim *segmentsim.Server, url, admin, twin, user string) {
	t.Helper()
	ws := segmentsim.Generate(segmentsim.DefaultConfig(20))
	twin = "zzSourceAdminTwin"
	ws.Roles = append(ws.Roles, &segmentsim.Role{ID: twin, Name: "Source admin", Description: "A custom role named like Source Admin."})
	admin = ws.RoleByName(segmentsim.RoleSourceAdmin).ID
	hasAdmin := func(perms []segmentsim.Permission) bool {
		return slices.ContainsFunc(perms, func(p segmentsim.Permission) bool { return p.RoleID == admin })
	}
	inherits := map[string]bool{}
	for _, g := range ws.Groups {
		for _, m := range g.MemberIDs {
			inherits[m] = inherits[m] || hasAdmin(g.Permissions)
		}
	}
	for _, u := range ws.Users {
		if !hasAdmin(u.Permissions) && !inherits[u.ID] {
			user = u.ID
			break
		}
	}
	if user == "" {
		t.Fatal("every user holds Source Admin")
	}
	sim = segmentsim.NewServer(ws, segmentsim.Options{WriteLimitPerMinute: -1})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return sim, ts.URL, admin, twin, user
}

// holdsOn reports whether the simulator shows user holding role on source.
func holdsOn(sim *segmentsim.Server, user, role, source string) bool {
	for _, p := range sim.Snapshot().UserByID(user).Permissions {
		if p.RoleID == role && slices.ContainsFunc(p.Resources, func(r segmentsim.PermissionResource) bool { return r.ID == source }) {
			return true
		}
	}
	return false
}

// TestBatonSegmentEntitlementIDs: a sync with --entitlement-ids
// baton-segment names source roles as ConductorOne's baton-segment does
// (the newer of two roles named alike with its id appended, reported),
// inspect shows both IDs of one entitlement given either, and grant and
// revoke act on baton-segment IDs, with the flag or without it.
func TestBatonSegmentEntitlementIDs(t *testing.T) {
	sim, url, admin, twin, user := idsSim(t)
	src := sim.Snapshot().Sources[0].ID
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url}
	bsEnv := append(slices.Clone(env), "BATON_ENTITLEMENT_IDS=baton-segment")

	res := run(t, dir, env, "sync", "--entitlement-ids", "baton-segment")
	if res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	if n := strings.Count(res.stderr, "have the baton-segment entitlement name source_admin"); n != 1 || !strings.Contains(res.stderr, "("+twin+")") {
		t.Errorf("the collision was reported %d times, want once, naming the roles:\n%s", n, res.stderr)
	}
	var ids []string
	for _, e := range jsonRows(t, dir, "inspect", "entitlements", "-o", "json", "--resource", "source:"+src) {
		ids = append(ids, e["entitlement"])
	}
	for _, want := range []string{"source_admin", "source_admin_" + twin, "source_read_only"} {
		if !slices.Contains(ids, "source:"+src+":"+want) {
			t.Errorf("no entitlement source:%s:%s in %v", src, want, ids)
		}
	}
	if slices.Contains(ids, "source:"+src+":"+admin) {
		t.Errorf("an entitlement is named by the role id: %v", ids)
	}

	// One entitlement, found by either ID, shown with both.
	for _, id := range []string{"source:" + src + ":" + admin, "source:" + src + ":source_admin"} {
		rows := jsonRows(t, dir, "inspect", "entitlements", "-o", "json", "--entitlement", id)
		if len(rows) != 1 || rows[0]["entitlement"] != "source:"+src+":source_admin" ||
			rows[0]["role_id_scheme"] != "source:"+src+":"+admin || rows[0]["baton_segment_scheme"] != "source:"+src+":source_admin" {
			t.Errorf("inspect entitlements --entitlement %s: %v", id, rows)
		}
	}

	ent := "source:" + src + ":source_admin"
	if res := run(t, dir, bsEnv, "grant", "--entitlement", ent, "--principal", "user:"+user); res.code != 0 || res.stdout != "grant "+ent+" to user:"+user+": done\n" {
		t.Fatalf("grant %s: exit %d\n%s%s", ent, res.code, res.stdout, res.stderr)
	}
	if !holdsOn(sim, user, admin, src) {
		t.Fatal("the grant of source_admin did not give Source Admin")
	}
	// Without the setting too: the IDs are the c1z's.
	twinEnt := "source:" + src + ":source_admin_" + twin
	if res := run(t, dir, env, "grant", "--entitlement", twinEnt, "--principal", "user:"+user); res.code != 0 || !holdsOn(sim, user, twin, src) {
		t.Fatalf("grant %s: exit %d\n%s%s", twinEnt, res.code, res.stdout, res.stderr)
	}
	g := ent + ":user:" + user
	if res := run(t, dir, bsEnv, "revoke", "--grant", g); res.code != 0 || res.stdout != "revoke "+g+": done\n" {
		t.Fatalf("revoke %s: exit %d\n%s%s", g, res.code, res.stdout, res.stderr)
	}
	if holdsOn(sim, user, admin, src) || !holdsOn(sim, user, twin, src) {
		t.Fatal("the revoke of source_admin did not take Source Admin, or took the other role")
	}

	if res := run(t, dir, bsEnv, "sync", "-f", "after.c1z"); res.code != 0 {
		t.Fatalf("second sync exited %d: %s", res.code, res.stderr)
	}
	var grants []string
	for _, r := range jsonRows(t, dir, "inspect", "grants", "-f", "after.c1z", "-o", "json", "--principal", "user:"+user) {
		grants = append(grants, r["grant"])
	}
	if !slices.Contains(grants, twinEnt+":user:"+user) || slices.Contains(grants, g) {
		t.Errorf("after the grants and the revoke, %s holds %v", user, grants)
	}

	res = run(t, dir, env, "sync", "--entitlement-ids", "baton_segment", "-f", "bad.c1z")
	if res.code == 0 || !strings.Contains(res.stderr, `--entitlement-ids "baton_segment": must be "role-id" (the default) or "baton-segment"`) {
		t.Errorf("sync with a bad --entitlement-ids: exit %d\n%s", res.code, res.stderr)
	}
}

// TestEntitlementIDsInRunnerToml: entitlement_ids in a tenant's table
// reaches its guest; --entitlement-ids is refused beside --config, and a
// bad value is named by config check.
func TestEntitlementIDsInRunnerToml(t *testing.T) {
	_, url, admin, _, _ := idsSim(t)
	dir := t.TempDir()
	tenant := strings.Replace(tenantTOML("alpha", url), `mode = "sync"`, "mode = \"sync\"\nentitlement_ids = \"baton-segment\"", 1)
	body := "[connectors.segment]\nwasm = \"embedded:segment\"\n" + tenant + tenantTOML("beta", url)
	path := filepath.Join(dir, "runner.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"SIM_TOKEN=" + segmentsim.DefaultToken}
	if res := run(t, dir, env, "sync", "--config", path, "--all"); res.code != 0 {
		t.Fatalf("sync --all: exit %d\n%s", res.code, res.stderr)
	}
	slugs := func(file string) (names, roleIDs int) {
		for _, e := range jsonRows(t, dir, "inspect", "entitlements", "-f", file, "-o", "json", "--resource-type", "source") {
			switch {
			case strings.HasSuffix(e["entitlement"], ":source_admin"):
				names++
			case strings.HasSuffix(e["entitlement"], ":"+admin):
				roleIDs++
			}
		}
		return names, roleIDs
	}
	if names, ids := slugs(filepath.Join("out", "alpha.c1z")); names == 0 || ids != 0 {
		t.Errorf("alpha (baton-segment): %d source_admin entitlements, %d by role id", names, ids)
	}
	if names, ids := slugs(filepath.Join("out", "beta.c1z")); names != 0 || ids == 0 {
		t.Errorf("beta (default): %d source_admin entitlements, %d by role id", names, ids)
	}

	res := run(t, dir, env, "sync", "--config", path, "--all", "--entitlement-ids", "baton-segment")
	if res.code == 0 || !strings.Contains(res.stderr, "set entitlement_ids in the tenant's [[tenants]] table") {
		t.Errorf("sync --config with --entitlement-ids: exit %d\n%s", res.code, res.stderr)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(body, `"baton-segment"`, `"names"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	res = run(t, dir, env, "config", "check", path)
	if res.code == 0 || !strings.Contains(res.stderr, `tenants[0].entitlement_ids: must be "role-id" (the default: role IDs) or "baton-segment"`) {
		t.Errorf("config check of entitlement_ids = \"names\": exit %d\n%s", res.code, res.stderr)
	}
}
