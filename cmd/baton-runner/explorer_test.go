package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestExplorer finds IDs in a real sync's c1z the way an operator does
// before grant and revoke, and diffs two syncs around a grant.
func TestExplorer(t *testing.T) {
	ws := segmentsim.Generate(segmentsim.DefaultConfig(20))
	g := ws.Groups[0]
	var member, outsider string
	for _, u := range ws.Users {
		if slices.Contains(g.MemberIDs, u.ID) {
			member = u.ID
		} else {
			outsider = u.ID
		}
	}
	if member == "" || outsider == "" {
		t.Fatal("the generated workspace has no member and no outsider of its first group")
	}
	ts := httptest.NewServer(segmentsim.NewServer(ws, segmentsim.Options{WriteLimitPerMinute: -1}))
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + ts.URL}
	if res := run(t, dir, env, "sync", "-f", "before.c1z"); res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	ok := func(args ...string) string {
		t.Helper()
		res := run(t, dir, nil, args...)
		if res.code != 0 {
			t.Fatalf("%v exited %d: %s", args, res.code, res.stderr)
		}
		return res.stdout
	}
	fails := func(want string, args ...string) {
		t.Helper()
		res := run(t, dir, nil, args...)
		if res.code == 0 || !strings.Contains(res.stderr, want) {
			t.Errorf("%v: exit %d, stderr %q; want non-zero and %q", args, res.code, res.stderr, want)
		}
	}
	rows := func(args ...string) []map[string]string {
		t.Helper()
		var out []map[string]string
		// After the subcommand: options go before positional files.
		withJSON := append([]string{args[0], args[1], "-o", "json"}, args[2:]...)
		if err := json.Unmarshal([]byte(ok(withJSON...)), &out); err != nil {
			t.Fatalf("%v -o json: %v", args, err)
		}
		return out
	}

	users := rows("inspect", "resources", "-f", "before.c1z", "--resource-type", "user")
	if len(users) != len(ws.Users) {
		t.Errorf("inspect resources --resource-type user: %d rows, want %d", len(users), len(ws.Users))
	}
	var found bool
	for _, u := range users {
		found = found || u["resource"] == "user:"+member && u["detail"] != "" && u["display_name"] != ""
	}
	if !found {
		t.Errorf("user:%s with its name and e-mail not among %v", member, users)
	}

	ents := rows("inspect", "entitlements", "-f", "before.c1z", "--resource", "group:"+g.ID)
	if len(ents) != 1 || ents[0]["entitlement"] != "group:"+g.ID+":member" {
		t.Errorf("entitlements of group:%s = %v, want its member entitlement", g.ID, ents)
	}

	grants := rows("inspect", "grants", "-f", "before.c1z", "--entitlement", "group:"+g.ID+":member")
	// Members, and pending invites the group lists.
	if len(grants) != len(g.MemberIDs)+len(g.InviteEmails) {
		t.Errorf("grants of the group's membership: %d, want %d members and %d invites", len(grants), len(g.MemberIDs), len(g.InviteEmails))
	}

	// What the member holds through the group shows up with via naming it,
	// and the group's own grants are listed as who can access a resource.
	groupAccess := rows("inspect", "access", "-f", "before.c1z", "--principal", "group:"+g.ID)
	viaGroup := 0
	for _, a := range rows("inspect", "access", "-f", "before.c1z", "--principal", "user:"+member) {
		if strings.Contains(a["via"], "group:"+g.ID+":member") {
			viaGroup++
		}
	}
	if len(groupAccess) > 0 && viaGroup == 0 {
		t.Errorf("the group holds %d entitlements but its member holds none through it", len(groupAccess))
	}
	if len(groupAccess) > 0 {
		res := groupAccess[0]["resource"]
		var who []string
		for _, a := range rows("inspect", "access", "-f", "before.c1z", "--resource", res) {
			who = append(who, a["principal"]+" via "+a["via"])
		}
		if !slices.Contains(who, "group:"+g.ID+" via ") || !slices.Contains(who, "user:"+member+" via group:"+g.ID+":member") {
			t.Errorf("who can access %s: %v; want the group directly and its member through it", res, who)
		}
	}

	// CSV has a header and one line per row; the bare summary reads the
	// positional file rather than ignoring it.
	recs, err := csv.NewReader(strings.NewReader(ok("inspect", "resources", "-f", "before.c1z", "-o", "csv", "--resource-type", "group"))).ReadAll()
	if err != nil || len(recs) != len(ws.Groups)+1 || recs[0][0] != "resource" {
		t.Errorf("csv: %v, %v", recs, err)
	}
	if out := ok("inspect", "before.c1z"); !strings.Contains(out, "before.c1z (sync") {
		t.Errorf("inspect before.c1z did not summarise before.c1z:\n%s", out)
	}
	fails("nope.c1z", "inspect", "nope.c1z")
	if r := run(t, dir, []string{"BATON_FILE=elsewhere.c1z"}, "inspect", "before.c1z"); r.code != 0 || !strings.Contains(r.stdout, "before.c1z (sync") {
		t.Errorf("a positional file does not win over BATON_FILE: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	fails("not both", "inspect", "-f", "after.c1z", "before.c1z")
	var counts []map[string]string
	if err := json.Unmarshal([]byte(ok("inspect", "-o", "json", "before.c1z")), &counts); err != nil || len(counts) == 0 ||
		counts[len(counts)-1]["resource_type"] != "total" {
		t.Errorf("inspect -o json: %v %v", counts, err)
	}

	// Errors name the part that is wrong and how to look it up.
	fails("inspect resources --resource-type user", "inspect", "grants", "-f", "before.c1z", "--principal", "user:nobody")
	fails("must be TYPE:ID", "inspect", "access", "-f", "before.c1z", "--principal", "user:")
	fails("--principal nobody: no resource with that ID", "inspect", "access", "-f", "before.c1z", "--principal", "nobody")
	fails("inspect entitlements", "inspect", "grants", "-f", "before.c1z", "--entitlement", "group:nope:member")
	fails("its types are", "inspect", "resources", "-f", "before.c1z", "--resource-type", "robot")
	fails("--output must be one of", "inspect", "resources", "-f", "before.c1z", "-o", "yaml")

	// Diff: a grant between two syncs is the one change.
	if res := run(t, dir, env, "grant", "-f", "before.c1z", "--entitlement", "group:"+g.ID+":member", "--principal-type", "user", "--principal", outsider); res.code != 0 {
		t.Fatalf("grant exited %d: %s", res.code, res.stderr)
	}
	if res := run(t, dir, env, "sync", "-f", "after.c1z"); res.code != 0 {
		t.Fatalf("second sync exited %d: %s", res.code, res.stderr)
	}
	diff := rows("inspect", "diff", "before.c1z", "after.c1z")
	want := "group:" + g.ID + ":member:user:" + outsider
	var added bool
	for _, d := range diff {
		if d["change"] == "added" && d["kind"] == "grant" && d["id"] == want {
			added = true
		}
		if d["change"] == "removed" {
			t.Errorf("diff shows a removal after only a grant: %v", d)
		}
	}
	if !added {
		t.Errorf("diff lacks the added grant %s: %v", want, diff)
	}
	if out := ok("inspect", "diff", "after.c1z", "after.c1z"); strings.Count(out, "\n") != 1 {
		t.Errorf("a file diffed with itself shows changes:\n%s", out)
	}
	fails("OLD.c1z NEW.c1z", "inspect", "diff", "before.c1z")
	var after []map[string]string
	if err := json.Unmarshal([]byte(ok("inspect", "diff", "before.c1z", "after.c1z", "-o", "json")), &after); err != nil || len(after) != len(diff) {
		t.Errorf("inspect diff with -o json after the files: %v, %d rows, want %d", err, len(after), len(diff))
	}
}
