package segment

import "testing"

func TestRoleScope(t *testing.T) {
	cases := []struct {
		name  string
		scope string
		known bool
	}{
		{"Source Admin", typeSource, true},
		{"  source read-ONLY ", typeSource, true},
		{"Function Admin", typeFunction, true},
		{"Functions Read-only", typeFunction, true},
		{"Unify and Engage Admin", typeSpace, true},
		{"Unify  and   Engage Read-only", typeSpace, true},
		{"Personas User", typeSpace, true},
		{"Engage Read-only", typeSpace, true},
		{"Warehouse Destination Admin", typeWarehouse, true},
		{"Warehouse Read-only", typeWarehouse, true},
		{"Workspace Owner", "", true},
		{"Minimal Workspace Access", "", true},
		{"Tracking Plan Read-only", "", true},
		{"Identity Admin", "", true},
		{"End User Privacy Admin", "", true},
		// Whole-name matching: near misses and substrings are unknown.
		{"Source Admin (custom)", "", false},
		{"Sources Admin", "", false},
		{"Admin", "", false},
		{"Warehouse", "", false},
		{"Data Steward", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		scope, known := roleScope(c.name)
		if scope != c.scope || known != c.known {
			t.Errorf("roleScope(%q) = %q, %v; want %q, %v", c.name, scope, known, c.scope, c.known)
		}
	}
}

func TestRoleApplies(t *testing.T) {
	if !roleApplies("Source Admin", typeSource) {
		t.Error("Source Admin should apply to sources")
	}
	for _, typ := range []string{typeWarehouse, typeSpace, typeFunction, typeWorkspace, ""} {
		if roleApplies("Source Admin", typ) {
			t.Errorf("Source Admin should not apply to %q", typ)
		}
	}
	// Workspace-only roles apply to no resource type, not even "".
	if roleApplies("Workspace Owner", "") || roleApplies("Workspace Owner", typeSource) {
		t.Error("Workspace Owner must not be offered per resource")
	}
	if roleApplies("Custom Role", typeSource) {
		t.Error("unknown roles are not applicable by table")
	}
}

// Every table entry maps to a scoped type or "", and every key is in
// normalised form (otherwise it could never match).
func TestRoleTableWellFormed(t *testing.T) {
	for name, scope := range roleScopes {
		if normRoleName(name) != name {
			t.Errorf("table key %q is not normalised", name)
		}
		if scope != "" && typeNames[scope] == "" {
			t.Errorf("role %q scoped to unknown type %q", name, scope)
		}
	}
}
