package segmentsim

import (
	"net/http"
	"reflect"
	"testing"
)

type jm = map[string]any

func grantBody(roleID string, res ...jm) jm {
	rs := make([]any, len(res))
	for i, r := range res {
		rs[i] = r
	}
	return jm{"permissions": []any{jm{"roleId": roleID, "resources": rs}}}
}

// findPerm returns the model entry of role in perms.
func findPerm(perms []Permission, roleID string) *Permission {
	for i := range perms {
		if perms[i].RoleID == roleID {
			return &perms[i]
		}
	}
	return nil
}

func TestPostPermissionsIsAdditive(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()
	u := ws.Users[3] // Source Admin on one source + label-scoped WORKSPACE entry
	admin := ws.RoleByName(RoleSourceAdmin).ID
	before := findPerm(u.Permissions, admin)
	if before == nil || len(before.Resources) != 2 {
		t.Fatalf("fixture changed: %+v", u.Permissions)
	}
	var other string
	for _, src := range ws.Sources {
		if src.ID != before.Resources[0].ID {
			other = src.ID
			break
		}
	}
	r := s.do(http.MethodPost, "/users/"+u.ID+"/permissions", grantBody(admin, jm{"id": other, "type": "SOURCE"}))
	mustStatus(t, r, http.StatusOK)
	created := list(r.data(), "permissions")
	if len(created) != 1 {
		t.Fatalf("created %s", r.raw)
	}
	c := obj(created[0])
	if len(c["policyId"].(string)) != 27 || c["subjectId"] != u.ID || c["subjectType"] != "user" ||
		c["roleId"] != admin || c["roleName"] != RoleSourceAdmin || len(list(c, "resources")) != 1 {
		t.Fatalf("created policy %v", c)
	}

	after := s.srv.Snapshot().UserByID(u.ID)
	if len(after.Permissions) != len(u.Permissions) {
		t.Fatal("POST must merge into the existing role entry, not add one")
	}
	entry := findPerm(after.Permissions, admin)
	if len(entry.Resources) != 3 || !reflect.DeepEqual(entry.Resources[:2], before.Resources) {
		t.Fatalf("merged entry %+v", entry)
	}
	// Granting again is idempotent.
	mustStatus(t, s.do(http.MethodPost, "/users/"+u.ID+"/permissions", grantBody(admin, jm{"id": other, "type": "SOURCE"})), http.StatusOK)
	if got := findPerm(s.srv.Snapshot().UserByID(u.ID).Permissions, admin); len(got.Resources) != 3 {
		t.Fatalf("duplicate resource after re-grant: %+v", got)
	}
	// A new role adds a new entry; other entries (and their labels) untouched.
	ro := ws.RoleByName(RoleTrackingPlanReadOnly).ID
	mustStatus(t, s.do(http.MethodPost, "/users/"+u.ID+"/permissions", grantBody(ro, jm{"id": ws.ID, "type": "WORKSPACE"})), http.StatusOK)
	final := s.srv.Snapshot().UserByID(u.ID).Permissions
	if len(final) != len(u.Permissions)+1 || !reflect.DeepEqual(findPerm(final, admin).Resources, entry.Resources) {
		t.Fatalf("permissions %+v", final)
	}

	// Groups report subjectType "group".
	g := ws.Groups[1]
	r = s.do(http.MethodPost, "/groups/"+g.ID+"/permissions", grantBody(ro, jm{"id": ws.ID, "type": "WORKSPACE"}))
	mustStatus(t, r, http.StatusOK)
	if c := obj(list(r.data(), "permissions")[0]); c["subjectType"] != "group" || c["subjectId"] != g.ID {
		t.Fatalf("group policy %v", c)
	}
	if len(s.srv.Snapshot().GroupByID(g.ID).Permissions) != len(g.Permissions)+1 {
		t.Fatal("group grant not stored")
	}
}

// TestPutPermissionsReplaces runs the correct revoke flow on group 0
// (label-scoped Source Admin + Warehouse Read-only): GET, drop one entry,
// PUT the rest, and check the label restriction survives.
func TestPutPermissionsReplaces(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()
	g := ws.Groups[0]
	admin := ws.RoleByName(RoleSourceAdmin).ID
	whRO := ws.RoleByName(RoleWarehouseDestReadOnly).ID

	cur := list(obj(s.get("/groups/" + g.ID).data()["userGroup"]), "permissions")
	var keep []any
	for _, p := range cur {
		if obj(p)["roleId"] != whRO {
			keep = append(keep, p) // roleName etc. are re-sent: the API ignores them
		}
	}
	if len(keep) != len(cur)-1 {
		t.Fatalf("fixture changed: %v", cur)
	}
	r := s.do(http.MethodPut, "/groups/"+g.ID+"/permissions", jm{"permissions": keep})
	mustStatus(t, r, http.StatusOK)
	full := list(r.data(), "permissions")
	if len(full) != len(keep) {
		t.Fatalf("PUT response %s", r.raw)
	}
	if _, ok := obj(full[0])["policyId"]; ok {
		t.Fatal("PUT response carries no policy metadata")
	}
	got := s.srv.Snapshot().GroupByID(g.ID).Permissions
	if findPerm(got, whRO) != nil {
		t.Fatal("entry not removed")
	}
	if a := findPerm(got, admin); a == nil || !reflect.DeepEqual(a.Resources, findPerm(g.Permissions, admin).Resources) ||
		len(a.Resources[0].Labels) == 0 {
		t.Fatalf("label-scoped entry changed: %+v", a)
	}

	// The buggy flow (PUT with labels dropped) is accepted and really widens
	// access — the simulator must make that observable.
	mustStatus(t, s.do(http.MethodPut, "/groups/"+g.ID+"/permissions", grantBody(admin, jm{"id": ws.ID, "type": "WORKSPACE"})), http.StatusOK)
	if a := findPerm(s.srv.Snapshot().GroupByID(g.ID).Permissions, admin); len(a.Resources[0].Labels) != 0 {
		t.Fatal("PUT did not replace")
	}

	// PUT merges repeated roles into one entry, as a later GET shows them.
	srcs := []jm{{"id": ws.Sources[0].ID, "type": "SOURCE"}, {"id": ws.Sources[1].ID, "type": "SOURCE"}}
	body := jm{"permissions": []any{
		jm{"roleId": admin, "resources": []any{srcs[0]}},
		jm{"roleId": admin, "resources": []any{srcs[1], srcs[0]}},
	}}
	r = s.do(http.MethodPut, "/groups/"+g.ID+"/permissions", body)
	mustStatus(t, r, http.StatusOK)
	if p := list(r.data(), "permissions"); len(p) != 1 || len(list(obj(p[0]), "resources")) != 2 {
		t.Fatalf("normalised set %s", r.raw)
	}

	// Empty list for a user removes everything.
	u := ws.Users[0]
	r = s.do(http.MethodPut, "/users/"+u.ID+"/permissions", jm{"permissions": []any{}})
	mustStatus(t, r, http.StatusOK)
	if p, ok := r.data()["permissions"].([]any); !ok || len(p) != 0 {
		t.Fatalf("empty PUT %s", r.raw)
	}
	if len(s.srv.Snapshot().UserByID(u.ID).Permissions) != 0 {
		t.Fatal("permissions not cleared")
	}
	up := list(obj(s.get("/users/" + u.ID).data()["user"]), "permissions")
	if up == nil || len(up) != 0 {
		t.Fatal("user permissions must be [] after clearing")
	}
}

func TestPermissionValidation(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()
	u := "/users/" + ws.Users[5].ID + "/permissions"
	admin := ws.RoleByName(RoleSourceAdmin).ID
	src := jm{"id": ws.Sources[0].ID, "type": "SOURCE"}
	cases := []struct {
		name, method string
		body         any
		field        string
	}{
		{"missing permissions", http.MethodPut, jm{}, "permissions"},
		{"empty POST", http.MethodPost, jm{"permissions": []any{}}, "permissions"},
		{"missing roleId", http.MethodPost, jm{"permissions": []any{jm{"resources": []any{src}}}}, "permissions.0.roleId"},
		{"unknown roleId", http.MethodPost, grantBody("2NotARoleNotARoleNotARole00", src), "permissions.0.roleId"},
		{"missing resources", http.MethodPost, jm{"permissions": []any{jm{"roleId": admin}}}, "permissions.0.resources"},
		{"empty resources", http.MethodPut, grantBody(admin), "permissions.0.resources"},
		{"bad type", http.MethodPost, grantBody(admin, jm{"id": ws.Sources[0].ID, "type": "DESTINATION"}), "permissions.0.resources.0.type"},
		{"lower-case type", http.MethodPost, grantBody(admin, jm{"id": ws.Sources[0].ID, "type": "source"}), "permissions.0.resources.0.type"},
		{"missing type", http.MethodPost, grantBody(admin, jm{"id": ws.Sources[0].ID}), "permissions.0.resources.0.type"},
		{"missing id", http.MethodPost, grantBody(admin, jm{"type": "SOURCE"}), "permissions.0.resources.0.id"},
		{"unknown source", http.MethodPost, grantBody(admin, src, jm{"id": "nope", "type": "SOURCE"}), "permissions.0.resources.1.id"},
		{"type/id mismatch", http.MethodPost, grantBody(admin, jm{"id": ws.Sources[0].ID, "type": "WAREHOUSE"}), "permissions.0.resources.0.id"},
		{"wrong workspace", http.MethodPost, grantBody(admin, jm{"id": "otherWorkspace", "type": "WORKSPACE"}), "permissions.0.resources.0.id"},
		{"labels on instance", http.MethodPost, grantBody(admin, jm{"id": ws.Sources[0].ID, "type": "SOURCE", "labels": []any{jm{"key": "env", "value": "prod"}}}), "permissions.0.resources.0.labels"},
		{"empty label", http.MethodPost, grantBody(admin, jm{"id": ws.ID, "type": "WORKSPACE", "labels": []any{jm{"key": "env"}}}), "permissions.0.resources.0.labels.0"},
	}
	for _, c := range cases {
		r := s.do(c.method, u, c.body)
		if r.status != 422 || r.firstError()["field"] != c.field || r.firstError()["type"] != "ValidationFailure" {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	if !reflect.DeepEqual(s.srv.Snapshot().Users[5].Permissions, ws.Users[5].Permissions) {
		t.Fatal("a rejected write changed state")
	}
	// Extra keys copied from GET responses are ignored; empty labels on an
	// instance are fine.
	body := jm{"userId": ws.Users[5].ID, "permissions": []any{jm{"roleId": admin, "roleName": "whatever", "policyId": "x",
		"resources": []any{jm{"id": ws.Sources[0].ID, "type": "SOURCE", "labels": []any{}}}}}}
	mustStatus(t, s.do(http.MethodPost, u, body), http.StatusOK)

	// Spaces of a workspace whose feature is off are invisible, even if
	// they exist in the model.
	hidden := Generate(smallConfig())
	hidden.SpacesEnabled = false
	off := NewServer(hidden, Options{})
	offTS := &sim{t: t, srv: off, ts: httptestServer(t, off), token: DefaultToken}
	ue := ws.RoleByName(RoleUnifyEngageAdmin).ID
	r := offTS.do(http.MethodPost, "/users/"+hidden.Users[0].ID+"/permissions", grantBody(ue, jm{"id": hidden.Spaces[0].ID, "type": "SPACE"}))
	mustValidation(t, r, "permissions.0.resources.0.id")
	mustStatus(t, s.do(http.MethodPost, u, grantBody(ue, jm{"id": ws.Spaces[0].ID, "type": "SPACE"})), 200)
	// WAREHOUSE and FUNCTION instances are grantable.
	mustStatus(t, s.do(http.MethodPost, u, grantBody(ws.RoleByName(RoleWarehouseDestAdmin).ID, jm{"id": ws.Warehouses[0].ID, "type": "WAREHOUSE"})), 200)
	mustStatus(t, s.do(http.MethodPost, u, grantBody(ws.RoleByName(RoleFunctionAdmin).ID, jm{"id": ws.Functions[0].ID, "type": "FUNCTION"})), 200)
}

func TestMergePermission(t *testing.T) {
	env := []Label{{Key: "env", Value: "prod"}}
	list := []Permission{{RoleID: "a", Resources: []PermissionResource{{ID: "w", Type: ResourceWorkspace, Labels: env}}}}
	list = mergePermission(list, Permission{RoleID: "a", Resources: []PermissionResource{
		{ID: "w", Type: ResourceWorkspace}, // different scope: no labels
		{ID: "w", Type: ResourceWorkspace, Labels: []Label{{Key: "env", Value: "prod", Description: "d"}}}, // same scope
	}})
	if len(list) != 1 || len(list[0].Resources) != 2 {
		t.Fatalf("%+v", list)
	}
	list = mergePermission(list, Permission{RoleID: "b", Resources: []PermissionResource{{ID: "s", Type: ResourceSource}, {ID: "s", Type: ResourceSource}}})
	if len(list) != 2 || len(list[1].Resources) != 1 {
		t.Fatalf("%+v", list)
	}
}
