package segment

import (
	"reflect"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
)

func TestHasLabels(t *testing.T) {
	have := []label{{Key: "env", Value: "prod"}, {Key: "team", Value: "web"}}
	cases := []struct {
		want []label
		ok   bool
	}{
		{nil, true},
		{[]label{{Key: "env", Value: "prod"}}, true},
		{[]label{{Key: "env", Value: "prod"}, {Key: "team", Value: "web"}}, true},
		{[]label{{Key: "env", Value: "dev"}}, false},                               // value must match
		{[]label{{Key: "Env", Value: "prod"}}, false},                              // key is exact
		{[]label{{Key: "env", Value: "prod"}, {Key: "team", Value: "api"}}, false}, // all labels
		{[]label{{Key: "region", Value: "prod"}}, false},                           // key must exist
		{[]label{{Key: "env", Value: "prod"}, {Key: "env", Value: "prod"}}, true},  // duplicates fine
	}
	for _, c := range cases {
		if got := hasLabels(have, c.want); got != c.ok {
			t.Errorf("hasLabels(%v) = %v, want %v", c.want, got, c.ok)
		}
	}
}

var testSources = []source{
	{ID: "s1", Labels: []label{{Key: "env", Value: "prod"}, {Key: "team", Value: "web"}}},
	{ID: "s2", Labels: []label{{Key: "env", Value: "prod"}}},
	{ID: "s3", Labels: []label{{Key: "env", Value: "dev"}, {Key: "team", Value: "web"}}},
	{ID: "s4"},
}

func TestResolveTargets(t *testing.T) {
	perms := []permission{
		{RoleID: "rOwner", RoleName: "Workspace Owner", Resources: []permResource{{ID: "ws1", Type: "WORKSPACE", Labels: []label{}}}},
		{RoleID: "rSrc", RoleName: "Source Admin", Resources: []permResource{
			{ID: "s9", Type: "SOURCE"},
			{ID: "ws1", Type: "WORKSPACE", Labels: []label{{Key: "env", Value: "prod"}}},
		}},
		// Permission-level labels combine with resource-level ones.
		{RoleID: "rRO", RoleName: "Source Read-only", Labels: []label{{Key: "team", Value: "web"}}, Resources: []permResource{
			{ID: "ws1", Type: "WORKSPACE", Labels: []label{{Key: "env", Value: "dev"}}},
		}},
		{RoleID: "rNone", RoleName: "Source Read-only", Resources: []permResource{
			{ID: "ws1", Type: "WORKSPACE", Labels: []label{{Key: "env", Value: "staging"}}},
		}},
		{RoleID: "rWh", RoleName: "Warehouse Admin", Resources: []permResource{{ID: "w1", Type: "WAREHOUSE"}}},
		{RoleID: "rSp", RoleName: "Engage User", Resources: []permResource{{ID: "spa_1", Type: "space"}}},
		{RoleID: "rFn", RoleName: "Function Admin", Resources: []permResource{{ID: "sfnc_1", Type: "FUNCTION"}}},
		{RoleID: "rOdd", RoleName: "X", Resources: []permResource{{ID: "tp1", Type: "TRACKING_PLAN"}}},
		{RoleID: "", RoleName: "broken", Resources: []permResource{{ID: "ws1", Type: "WORKSPACE"}}},
	}
	if !needsSources(perms) {
		t.Fatal("needsSources = false with label grants")
	}
	if needsSources(perms[:1]) {
		t.Fatal("needsSources = true without label grants")
	}
	logs := &logSink{}
	got := resolveTargets(perms, testSources, logger(logs.logger()))
	want := []target{
		{RoleID: "rOwner", RoleName: "Workspace Owner"},
		{RoleID: "rSrc", RoleName: "Source Admin", Type: typeSource, ID: "s9"},
		{RoleID: "rSrc", RoleName: "Source Admin", Type: typeSource, ID: "s1"},
		{RoleID: "rSrc", RoleName: "Source Admin", Type: typeSource, ID: "s2"},
		{RoleID: "rRO", RoleName: "Source Read-only", Type: typeSource, ID: "s3"},
		{RoleID: "rWh", RoleName: "Warehouse Admin", Type: typeWarehouse, ID: "w1"},
		{RoleID: "rSp", RoleName: "Engage User", Type: typeSpace, ID: "spa_1"},
		{RoleID: "rFn", RoleName: "Function Admin", Type: typeFunction, ID: "sfnc_1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resolveTargets:\n got %+v\nwant %+v", got, want)
	}
	if !logs.contains(0, "matches no source") {
		t.Error("no debug log for a label grant matching no source")
	}
	if !logs.contains(2, "TRACKING_PLAN") {
		t.Error("no warning for an unsupported resource type")
	}
}

func TestGrantsForDedupAndExpand(t *testing.T) {
	g := abi.ResourceID{Type: typeGroup, ID: "g1"}
	expand := []abi.EntitlementRef{{Resource: g, Slug: memberSlug}}
	targets := []target{
		{RoleID: "r1"},
		{RoleID: "r1"},
		{RoleID: "r2", Type: typeSource, ID: "s1"},
		{RoleID: "r2", Type: typeSource, ID: "s1"},
		{RoleID: "r2", Type: typeSource, ID: "s2"},
	}
	got := grantsFor(g, targets, expand, nil)
	want := []abi.Grant{
		{Entitlement: abi.EntitlementRef{Resource: abi.ResourceID{Type: typeRole, ID: "r1"}, Slug: memberSlug}, Principal: g, ExpandFrom: expand},
		{Entitlement: abi.EntitlementRef{Resource: abi.ResourceID{Type: typeSource, ID: "s1"}, Slug: "r2"}, Principal: g, ExpandFrom: expand},
		{Entitlement: abi.EntitlementRef{Resource: abi.ResourceID{Type: typeSource, ID: "s2"}, Slug: "r2"}, Principal: g, ExpandFrom: expand},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("grantsFor:\n got %+v\nwant %+v", got, want)
	}
}
