package inspect

import (
	"strings"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
)

// TestEntitlementIDTable: a sync of either scheme shows each scoped role
// entitlement under both IDs (a collision's newer role with its id
// appended), other entitlements and roles the sync lacks under their one
// ID, and --entitlement finds an entitlement by either.
func TestEntitlementIDTable(t *testing.T) {
	roles := []*v2.Resource{
		res("role", "1Admin", "Source Admin"), res("role", "2Twin", "Source admin"),
		res("role", "3Nameless", "3Nameless"), res("group", "eng", "Eng"), res("source", "s1", "Web"),
	}
	want := map[string][2]string{
		"group:eng:member": {"group:eng:member", "group:eng:member"},
		"admin":            {"source:s1:1Admin", "source:s1:source_admin"},
		"twin":             {"source:s1:2Twin", "source:s1:source_admin_2Twin"},
		"nameless":         {"source:s1:3Nameless", "source:s1:3Nameless"},
		"not in the sync":  {"source:s1:9Gone", "source:s1:9Gone"},
	}
	for scheme, slugs := range map[string][]string{
		"role-id":       {"1Admin", "2Twin", "3Nameless", "9Gone"},
		"baton-segment": {"source_admin", "source_admin_2Twin", "3Nameless", "9Gone"},
	} {
		s := &Snapshot{Resources: roles, Entitlements: []*v2.Entitlement{ent("group", "eng", "member")}}
		for _, slug := range slugs {
			s.Entitlements = append(s.Entitlements, ent("source", "s1", slug))
		}
		tab, err := s.EntitlementIDTable("", "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(tab.Columns[:3], " "); got != "entitlement role_id_scheme baton_segment_scheme" {
			t.Fatalf("columns %v", tab.Columns)
		}
		rows := map[string][2]string{}
		for _, r := range tab.Rows {
			rows[r[1]] = [2]string{r[1], r[2]}
			if r[0] != r[1] && r[0] != r[2] {
				t.Errorf("%s: row %v shows neither ID as the entitlement's", scheme, r)
			}
		}
		for what, w := range want {
			if rows[w[0]] != w {
				t.Errorf("%s: %s: got %v, want %v", scheme, what, rows[w[0]], w)
			}
		}
		for _, w := range want {
			for _, id := range w {
				one, err := s.EntitlementIDTable("", "", id)
				if err != nil || len(one.Rows) != 1 || one.Rows[0][1] != w[0] {
					t.Errorf("%s: --entitlement %s: %v, %v", scheme, id, one, err)
				}
			}
		}
		if _, err := s.EntitlementIDTable("", "", "source:s1:source_owner"); err == nil || !strings.Contains(err.Error(), "no entitlement in this sync has that ID in either scheme") {
			t.Errorf("%s: an unknown ID: %v", scheme, err)
		}
	}
}
