package segmentsim

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenerateDeterministic(t *testing.T) {
	cfg := DefaultConfig(500)
	a, b := marshal(t, Generate(cfg)), marshal(t, Generate(cfg))
	if !bytes.Equal(a, b) {
		t.Fatal("same Config produced different workspaces")
	}
	cfg.Seed = 2
	if bytes.Equal(a, marshal(t, Generate(cfg))) {
		t.Fatal("different seeds produced identical workspaces")
	}
}

func TestGenerateCounts(t *testing.T) {
	cfg := DefaultConfig(1000)
	if cfg.Groups != 50 || cfg.Sources != 20 || cfg.Warehouses != 2 || cfg.Spaces != 2 || cfg.FunctionsPerType != 2 ||
		!cfg.SpacesEnabled || !cfg.FunctionsEnabled || cfg.Seed != 1 {
		t.Fatalf("DefaultConfig(1000) = %+v", cfg)
	}
	if c := DefaultConfig(10); c.Groups != 3 || c.Sources != 3 {
		t.Fatalf("minimums not applied: %+v", c)
	}
	ws := Generate(cfg)
	if len(ws.Users) != 1000 || len(ws.Groups) != 50 || len(ws.Sources) != 20 || len(ws.Warehouses) != 2 ||
		len(ws.Spaces) != 2 || len(ws.Functions) != 10 || len(ws.Roles) != len(roleCatalogue) {
		t.Fatalf("counts: users %d groups %d sources %d warehouses %d spaces %d functions %d roles %d",
			len(ws.Users), len(ws.Groups), len(ws.Sources), len(ws.Warehouses), len(ws.Spaces), len(ws.Functions), len(ws.Roles))
	}
	if ws.Token != DefaultToken {
		t.Fatalf("token %q", ws.Token)
	}
	cfg.Token = "other"
	if Generate(cfg).Token != "other" {
		t.Fatal("Config.Token not carried into the workspace")
	}
}

func TestGenerateIDShapes(t *testing.T) {
	ws := Generate(DefaultConfig(200))
	b62 := regexp.MustCompile(`^[0-9A-Za-z]{22}$`)
	ksuid := regexp.MustCompile(`^[0-9A-Za-z]{27}$`)
	check := func(re *regexp.Regexp, id string) {
		t.Helper()
		if !re.MatchString(id) {
			t.Fatalf("id %q does not match %s", id, re)
		}
	}
	check(b62, ws.ID)
	seen := map[string]bool{}
	uniq := func(id string) {
		t.Helper()
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
	for _, u := range ws.Users {
		check(b62, u.ID)
		uniq(u.ID)
	}
	for _, g := range ws.Groups {
		check(b62, g.ID)
		uniq(g.ID)
	}
	for _, s := range ws.Sources {
		check(b62, s.ID)
		uniq(s.ID)
	}
	for _, w := range ws.Warehouses {
		check(b62, w.ID)
		uniq(w.ID)
	}
	for _, r := range ws.Roles {
		check(ksuid, r.ID)
		uniq(r.ID)
	}
	for _, s := range ws.Spaces {
		check(regexp.MustCompile(`^spa_[0-9A-Za-z]{22}$`), s.ID)
	}
	prefixes := map[string]string{FunctionSource: "sfnc_", FunctionDestination: "dfn_", FunctionInsertDestination: "ifnd_",
		FunctionInsertSource: "ifns_", FunctionInsertTransformation: "itfn_"}
	for _, f := range ws.Functions {
		check(regexp.MustCompile(`^`+prefixes[f.ResourceType]+`[0-9A-Za-z]{22}$`), f.ID)
	}
	// Role ids are global: they do not depend on the seed.
	cfg := DefaultConfig(10)
	cfg.Seed = 99
	if !reflect.DeepEqual(Generate(cfg).Roles, ws.Roles) {
		t.Fatal("role ids changed with the seed")
	}
}

// TestGenerateCoverage checks that DefaultConfig(1000) contains every kind
// of data a connector must handle.
func TestGenerateCoverage(t *testing.T) {
	ws := Generate(DefaultConfig(1000))
	roleName := map[string]string{}
	for _, r := range ws.Roles {
		roleName[r.ID] = r.Name
	}
	for _, name := range []string{RoleWorkspaceOwner, RoleMinimalWorkspaceAccess, RoleSourceAdmin, RoleSourceReadOnly,
		RoleFunctionAdmin, RoleFunctionReadOnly, RoleUnifyEngageAdmin, RoleUnifyEngageReadOnly, RoleUnifyReadOnly,
		RoleEngageUser, RolePersonasAdmin, RoleWarehouseDestAdmin, RoleWarehouseDestReadOnly, RoleTrackingPlanAdmin,
		RoleTrackingPlanReadOnly, RoleIdentityAdmin, RoleEndUserPrivacyAdmin, RoleCustomAuditor} {
		if ws.RoleByName(name) == nil {
			t.Errorf("role %q missing from the catalogue", name)
		}
	}

	kinds := map[string]int{}
	emails := map[string]bool{}
	var emptyNames int
	classify := func(prefix string, perms []Permission) {
		for _, p := range perms {
			name := roleName[p.RoleID]
			if name == "" {
				t.Fatalf("%s: permission with unknown role %s", prefix, p.RoleID)
			}
			counts := map[string]int{}
			for _, r := range p.Resources {
				counts[r.Type]++
				switch {
				case r.Type == ResourceWorkspace && r.ID != ws.ID:
					t.Fatalf("WORKSPACE resource with id %s", r.ID)
				case r.Type == ResourceWorkspace && len(r.Labels) > 0 && (name == RoleSourceAdmin || name == RoleSourceReadOnly):
					kinds[prefix+"source-label-scoped"]++
				case r.Type == ResourceWorkspace && (name == RoleWarehouseDestAdmin || name == RoleWarehouseDestReadOnly):
					kinds[prefix+"warehouse-workspace"]++
				case r.Type == ResourceWarehouse:
					kinds[prefix+"warehouse-specific"]++
				case r.Type == ResourceFunction && (name == RoleFunctionAdmin || name == RoleFunctionReadOnly):
					kinds[prefix+"function-specific"]++
				case r.Type == ResourceSpace:
					kinds[prefix+"space-specific"]++
				case r.Type == ResourceSource && name == RoleCustomAuditor:
					kinds[prefix+"custom-on-source"]++
				case r.Type == ResourceWorkspace && name == RoleWorkspaceOwner:
					kinds[prefix+"owner"]++
				case r.Type == ResourceWorkspace && name == RoleMinimalWorkspaceAccess:
					kinds[prefix+"minimal"]++
				}
			}
			if counts[ResourceSource] >= 2 && name == RoleSourceAdmin {
				kinds[prefix+"source-admin-multi"]++
			}
			if counts[ResourceSource] >= 2 && name == RoleSourceReadOnly {
				kinds[prefix+"source-readonly-multi"]++
			}
		}
		// One entry per role.
		seen := map[string]bool{}
		for _, p := range perms {
			if seen[p.RoleID] {
				t.Fatalf("%s: duplicate entry for role %s", prefix, roleName[p.RoleID])
			}
			seen[p.RoleID] = true
		}
	}
	groupsOf := map[string]int{}
	for _, g := range ws.Groups {
		for _, id := range g.MemberIDs {
			groupsOf[id]++
		}
		classify("group:", g.Permissions)
		if len(g.InviteEmails) > 0 {
			kinds["group-invitees"]++
		}
		if len(g.Permissions) == 0 {
			t.Fatalf("group %s has no permissions", g.Name)
		}
	}
	for _, u := range ws.Users {
		if len(u.Permissions) == 0 {
			t.Fatalf("user %s has no permissions", u.Email)
		}
		if emails[u.Email] {
			t.Fatalf("duplicate email %s", u.Email)
		}
		emails[u.Email] = true
		if u.Name == "" {
			emptyNames++
		}
		classify("user:", u.Permissions)
		if n := groupsOf[u.ID]; n > 3 {
			t.Fatalf("user in %d groups", n)
		}
		kinds["in-groups-"+string(rune('0'+groupsOf[u.ID]))]++
	}
	for _, k := range []string{"user:owner", "user:minimal", "user:source-admin-multi", "user:source-readonly-multi",
		"user:source-label-scoped", "user:function-specific", "user:space-specific", "user:warehouse-workspace",
		"user:warehouse-specific", "user:custom-on-source", "group:source-label-scoped", "group-invitees",
		"in-groups-0", "in-groups-1", "in-groups-2", "in-groups-3"} {
		if kinds[k] == 0 {
			t.Errorf("kind %s never generated", k)
		}
	}
	if emptyNames < 10 || emptyNames > 100 {
		t.Errorf("%d users with an empty name, want about 5%%", emptyNames)
	}
	if kinds["user:owner"] > 60 {
		t.Errorf("%d owners: should be few", kinds["user:owner"])
	}

	labelVals := map[string]map[string]bool{"env": {}, "team": {}}
	var emptySourceName bool
	for _, s := range ws.Sources {
		for _, l := range s.Labels {
			labelVals[l.Key][l.Value] = true
		}
		emptySourceName = emptySourceName || s.Name == ""
	}
	for _, v := range []string{"prod", "dev", "staging"} {
		if !labelVals["env"][v] {
			t.Errorf("no source with env=%s", v)
		}
	}
	if len(labelVals["team"]) == 0 || !emptySourceName {
		t.Errorf("team labels %v, empty source name %v", labelVals["team"], emptySourceName)
	}
	types := map[string]int{}
	for _, f := range ws.Functions {
		types[f.ResourceType]++
	}
	if len(types) != 5 {
		t.Errorf("function types %v", types)
	}
}

func TestGenerateFeaturesOff(t *testing.T) {
	cfg := DefaultConfig(300)
	cfg.SpacesEnabled, cfg.FunctionsEnabled = false, false
	ws := Generate(cfg)
	if len(ws.Spaces) != 0 || len(ws.Functions) != 0 || ws.SpacesEnabled || ws.FunctionsEnabled {
		t.Fatal("features off must generate no spaces/functions")
	}
	check := func(perms []Permission) {
		for _, p := range perms {
			for _, r := range p.Resources {
				if r.Type == ResourceSpace || r.Type == ResourceFunction {
					t.Fatalf("grant on %s with the feature off", r.Type)
				}
			}
		}
	}
	for _, u := range ws.Users {
		check(u.Permissions)
		if len(u.Permissions) == 0 {
			t.Fatal("user without permissions")
		}
	}
	for _, g := range ws.Groups {
		check(g.Permissions)
	}
}

func TestGenerateTinyAndEmpty(t *testing.T) {
	for n := range 13 {
		ws := Generate(DefaultConfig(n))
		for _, u := range ws.Users {
			if len(u.Permissions) == 0 {
				t.Fatalf("users=%d: user without permissions", n)
			}
		}
	}
	ws := Generate(Config{Users: -1})
	if len(ws.Users) != 0 || len(ws.Groups) != 0 || ws.ID == "" {
		t.Fatalf("empty config: %+v", ws)
	}
}

func TestClone(t *testing.T) {
	ws := Generate(DefaultConfig(50))
	c := ws.Clone()
	if !reflect.DeepEqual(ws, c) {
		t.Fatal("clone differs")
	}
	c.Users[0].Permissions[0].Resources[0].ID = "x"
	c.Groups[0].MemberIDs[0] = "x"
	c.Sources[0].Labels[0].Value = "x"
	if ws.Users[0].Permissions[0].Resources[0].ID == "x" || ws.Groups[0].MemberIDs[0] == "x" || ws.Sources[0].Labels[0].Value == "x" {
		t.Fatal("clone shares memory with the original")
	}
	if ws.UserByEmail(strings.ToUpper(ws.Users[3].Email)) != ws.Users[3] || ws.UserByID(ws.Users[2].ID) != ws.Users[2] ||
		ws.GroupByID(ws.Groups[1].ID) != ws.Groups[1] || ws.UserByID("nope") != nil {
		t.Fatal("lookup helpers")
	}
}

func TestGeneratedLabelsNeverNil(t *testing.T) {
	ws := Generate(DefaultConfig(100))
	for _, u := range ws.Users {
		for _, p := range u.Permissions {
			for _, r := range p.Resources {
				if r.Labels == nil {
					t.Fatalf("nil resource labels on %s", u.Email)
				}
			}
		}
	}
}
