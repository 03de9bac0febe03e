package main

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestProvisioningErrorsAndRevokeWithoutResync: each wrong part of a grant
// or revoke is named with the explorer command that finds the right ID, no
// message carries rpc chains or internal names, and a grant is revocable by
// its ID straight after it was made.
func TestProvisioningErrorsAndRevokeWithoutResync(t *testing.T) {
	ws := segmentsim.Generate(segmentsim.DefaultConfig(20))
	g := ws.Groups[0]
	var outsider string
	for _, u := range ws.Users {
		if !slices.Contains(g.MemberIDs, u.ID) {
			outsider = u.ID
		}
	}
	sim := segmentsim.NewServer(ws, segmentsim.Options{WriteLimitPerMinute: -1})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + ts.URL}
	if res := run(t, dir, env, "sync"); res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	ent := "group:" + g.ID + ":member"
	grantID := ent + ":user:" + outsider
	if res := run(t, dir, env, "grant", "--entitlement", ent, "--principal-type", "user", "--principal", outsider); res.code != 0 {
		t.Fatalf("grant exited %d: %s", res.code, res.stderr)
	}
	if res := run(t, dir, env, "revoke", "--grant", grantID); res.code != 0 || !strings.Contains(res.stdout, "done") {
		t.Fatalf("revoke right after the grant: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	if slices.Contains(sim.Snapshot().GroupByID(g.ID).MemberIDs, outsider) {
		t.Fatal("the revoked member is still in the group")
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing entitlement", []string{"grant", "--entitlement", "group:nope:member", "--principal-type", "user", "--principal", outsider},
			[]string{"entitlement group:nope:member is not in sync.c1z", "baton-runner inspect entitlements -f sync.c1z"}},
		{"malformed entitlement", []string{"grant", "--entitlement", "nope", "--principal-type", "user", "--principal", outsider},
			[]string{`entitlement ID "nope" is malformed`, "group:<groupId>:member"}},
		{"missing principal", []string{"grant", "--entitlement", ent, "--principal-type", "user", "--principal", "nobody"},
			[]string{"principal user:nobody is not in sync.c1z", "inspect resources -f sync.c1z --resource-type user"}},
		{"missing grantee", []string{"revoke", "--grant", ent + ":user:nobody"},
			[]string{"principal user:nobody is not in sync.c1z", "inspect resources"}},
		{"missing grant", []string{"revoke", "--grant", "group:nope:member:user:" + outsider},
			[]string{"grant group:nope:member:user:" + outsider + " is not in sync.c1z", "inspect grants"}},
		{"malformed grant", []string{"revoke", "--grant", "nope"},
			[]string{`grant ID "nope" is malformed`, "ENTITLEMENT_ID:PRINCIPAL_TYPE:PRINCIPAL_ID"}},
		{"refused by the connector", []string{"grant", "--entitlement", ent, "--principal-type", "group", "--principal", g.ID},
			[]string{"(InvalidArgument): group membership can only be granted to users"}},
		{"not a url", []string{"grant", "--base-url", "not a url", "--entitlement", ent, "--principal-type", "user", "--principal", outsider},
			[]string{`base URL "not a url" has no scheme and host`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, dir, env, tc.args...)
			if res.code == 0 {
				t.Fatalf("exited 0: %s", res.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
				}
			}
			for _, bad := range []string{"rpc error", "tenant default", "pebble", "baton_grant", "egress:"} {
				if strings.Contains(res.stderr, bad) {
					t.Errorf("stderr carries %q:\n%s", bad, res.stderr)
				}
			}
			if n := strings.Count(strings.TrimSpace(res.stderr), "\n"); n > 0 {
				t.Errorf("the error takes %d lines, want one:\n%s", n+1, res.stderr)
			}
		})
	}
}
