package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestCreateAccountFlags drives baton-sdk's create-account flags through
// the real binary: a new invite with initial roles and groups, the same
// email again (pending), and a member's email, each exiting 0 with one
// line.
func TestCreateAccountFlags(t *testing.T) {
	ws, sim, url := writableSim(t, 20, 0)
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url}
	role := ws.RoleByName(segmentsim.RoleMinimalWorkspaceAccess).ID
	g := ws.Groups[2]
	email := "cli.hire@example.test"

	res := run(t, dir, env, "--create-account-email", email,
		"--create-account-profile", `{"roles":["`+role+`"],"groups":["`+g.ID+`"]}`, "--create-account-resource-type", "invite")
	if res.code != 0 || !strings.Contains(res.stdout, "must accept the email invitation") || !strings.Contains(res.stdout, "invite:"+email) || strings.Count(res.stdout, "\n") != 1 {
		t.Fatalf("create: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	snap := sim.Snapshot()
	if !slices.Contains(snap.Invites, email) || len(snap.InvitePermissions[email]) != 1 || !slices.Contains(snap.GroupByID(g.ID).InviteEmails, email) {
		t.Fatalf("simulator after create: invites %v, permissions %+v, group invitees %v", snap.Invites, snap.InvitePermissions[email], snap.GroupByID(g.ID).InviteEmails)
	}
	// Again, on the sync subcommand and through the environment.
	res = run(t, dir, append(env, "BATON_CREATE_ACCOUNT_EMAIL="+email), "sync")
	if res.code != 0 || !strings.Contains(res.stdout, "already pending") {
		t.Fatalf("pending: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	u := ws.Users[0]
	res = run(t, dir, env, "--create-account-profile", `{"email":"`+u.Email+`"}`)
	if res.code != 0 || !strings.Contains(res.stdout, "already exists as user:"+u.ID) {
		t.Fatalf("member: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--create-account-profile", "{nope"}, "must be a JSON object"},
		{[]string{"--create-account-profile", `{"roles":["` + role + `"]}`}, "needs an email"},
		{[]string{"--create-account-email", "x@example.test", "--create-account-resource-type", "user"}, "accounts are created as resource type \"invite\""},
		{[]string{"--create-account-email", "x@example.test", "--delete-resource", "u"}, "one at a time"},
	} {
		if res := run(t, dir, env, tc.args...); res.code == 0 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %s; want failure saying %q", tc.args, res.code, res.stderr, tc.want)
		}
	}
	if n := len(sim.Snapshot().Invites); n != len(snap.Invites) {
		t.Errorf("%d invites after the refused commands, want %d", n, len(snap.Invites))
	}
}

// TestDeleteResourceFlags: a user and an invite deleted twice each through
// the real binary; the second run says the resource was already gone.
func TestDeleteResourceFlags(t *testing.T) {
	ws, sim, url := writableSim(t, 20, 0)
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url}
	u, inv := ws.Users[1], ws.Invites[0]
	for _, args := range [][]string{
		{"--delete-resource", u.ID, "--delete-resource-type", "user"},
		{"sync", "--delete-resource", inv, "--delete-resource-type", "invite"},
	} {
		if res := run(t, dir, env, args...); res.code != 0 || !strings.HasSuffix(res.stdout, ": done\n") {
			t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", args, res.code, res.stdout, res.stderr)
		}
		if res := run(t, dir, env, args...); res.code != 0 || !strings.Contains(res.stdout, "already gone, nothing changed") {
			t.Fatalf("%v again: exit %d\nstdout: %s\nstderr: %s", args, res.code, res.stdout, res.stderr)
		}
	}
	snap := sim.Snapshot()
	if snap.UserByID(u.ID) != nil || slices.Contains(snap.Invites, inv) {
		t.Fatal("the user or the invite is still in the simulator")
	}
	res := run(t, dir, append(env, "BATON_DELETE_RESOURCE="+ws.Groups[0].ID, "BATON_DELETE_RESOURCE_TYPE=group"))
	if res.code == 0 || !strings.Contains(res.stderr, "cannot be deleted") {
		t.Errorf("group delete: exit %d, stderr %s", res.code, res.stderr)
	}
	if res := run(t, dir, env, "--delete-resource", u.ID); res.code == 0 || !strings.Contains(res.stderr, "go together") {
		t.Errorf("delete without a type: exit %d, stderr %s", res.code, res.stderr)
	}
}

// TestSyncResourcesFlag: --sync-resources writes a new c1z with the one
// user, and refuses to replace an existing file.
func TestSyncResourcesFlag(t *testing.T) {
	ws, _, url := writableSim(t, 30, 0)
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url}
	u := ws.Users[5]
	res := run(t, dir, env, "sync", "--sync-resources", "bid:r:workspace/"+ws.ID+"/user/"+u.ID, "-f", "one.c1z")
	if res.code != 0 || res.stdout != "synced user:"+u.ID+" into one.c1z\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	snap, err := inspect.Load(context.Background(), filepath.Join(dir, "one.c1z"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, r := range snap.Resources {
		if r.GetId().GetResourceType() == "user" {
			users++
			if r.GetId().GetResource() != u.ID {
				t.Errorf("user %s synced", r.GetId().GetResource())
			}
		}
	}
	if users != 1 {
		t.Errorf("%d users in the c1z, want 1", users)
	}
	for _, g := range snap.Grants {
		if g.GetPrincipal().GetId().GetResource() != u.ID {
			t.Errorf("grant %s is not the user's", g.GetId())
		}
	}
	res = run(t, dir, append(env, "BATON_SYNC_RESOURCES=bid:r:user/"+u.ID), "-f", "one.c1z")
	if res.code == 0 || !strings.Contains(res.stderr, "one.c1z exists") {
		t.Errorf("over an existing file: exit %d, stderr %s", res.code, res.stderr)
	}
	if res := run(t, dir, env, "--sync-resources", "user/"+u.ID, "-f", "two.c1z"); res.code == 0 || !strings.Contains(res.stderr, "not a baton resource bid") {
		t.Errorf("bad bid: exit %d, stderr %s", res.code, res.stderr)
	}
}

// TestDemoShowsAnInvite: the demo's summary names a pending invite and
// the group it is already in.
func TestDemoShowsAnInvite(t *testing.T) {
	res := run(t, t.TempDir(), nil, "demo", "--users", "30")
	if res.code != 0 || !strings.Contains(res.stdout, "pending invite newhire") || !strings.Contains(res.stdout, "already in group(s)") {
		t.Fatalf("demo: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
}

// TestGrantGroupToInvite: a pending invite synced into the c1z joins and
// leaves a group through grant and revoke.
func TestGrantGroupToInvite(t *testing.T) {
	ws, sim, url := writableSim(t, 20, 0)
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url}
	if res := run(t, dir, env, "sync"); res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	var g *segmentsim.Group
	inv := ws.Invites[len(ws.Invites)-1]
	for _, cand := range ws.Groups {
		if !slices.Contains(cand.InviteEmails, inv) {
			g = cand
		}
	}
	ent := "group:" + g.ID + ":member"
	args := []string{"grant", "--entitlement", ent, "--principal-type", "invite", "--principal", inv}
	if res := run(t, dir, env, args...); res.code != 0 || !strings.Contains(res.stdout, "done") {
		t.Fatalf("grant: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	if !slices.Contains(sim.Snapshot().GroupByID(g.ID).InviteEmails, inv) {
		t.Fatal("the invite did not join the group")
	}
	if res := run(t, dir, env, args...); res.code != 0 || !strings.Contains(res.stdout, "already held") {
		t.Fatalf("second grant: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	if res := run(t, dir, env, "sync"); res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	if res := run(t, dir, env, "revoke", "--grant", ent+":invite:"+inv); res.code != 0 || !strings.Contains(res.stdout, "done") {
		t.Fatalf("revoke: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	if slices.Contains(sim.Snapshot().GroupByID(g.ID).InviteEmails, inv) {
		t.Fatal("the invite is still in the group")
	}
}
