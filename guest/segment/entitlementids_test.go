//go:build !wasip1

package segment

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/internal/segmentids"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

var batonSegmentCall = abi.Call{Config: map[string]string{segmentids.Setting: segmentids.BatonSegment}}

// withSourceAdminTwin adds to ws a custom role whose name snake-cases
// like Source Admin's, with a higher id (a newer role), granted to a user
// on the first source; it returns the twin.
func withSourceAdminTwin(ws *segmentsim.Workspace) *segmentsim.Role {
	twin := &segmentsim.Role{ID: "zzSourceAdminTwin", Name: "Source admin", Description: "A custom role named like Source Admin."}
	ws.Roles = append(ws.Roles, twin)
	u := ws.Users[0]
	u.Permissions = append(u.Permissions, segmentsim.Permission{RoleID: twin.ID, Resources: []segmentsim.PermissionResource{res(ws.Sources[0].ID, "SOURCE")}})
	return twin
}

func serveSim(t *testing.T, ws *segmentsim.Workspace) *simEnv {
	t.Helper()
	srv := segmentsim.NewServer(ws, segmentsim.Options{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &simEnv{testEnv: newTestEnv(netHTTP{base: ts.URL, token: segmentsim.DefaultToken}), srv: srv, ws: srv.Snapshot()}
}

// TestBatonSegmentEntitlementIDs: with entitlement_ids = "baton-segment" a
// sync emits the entitlements and grants of the default scheme, except
// that each scoped role entitlement is named by the role's snake-cased
// name, the grants naming the same IDs; of two roles named alike, the
// older keeps the name and the newer gets its id appended, reported once.
func TestBatonSegmentEntitlementIDs(t *testing.T) {
	ws := segmentsim.Generate(segmentsim.DefaultConfig(60))
	twin := withSourceAdminTwin(ws)
	admin := ws.RoleByName(segmentsim.RoleSourceAdmin)
	if admin.ID >= twin.ID {
		t.Fatalf("the twin %s must sort after Source Admin %s", twin.ID, admin.ID)
	}
	def := serveSim(t, ws.Clone())
	bs := serveSim(t, ws.Clone())
	call := abi.Call{SyncID: "s1", Config: batonSegmentCall.Config}
	want, err := runSyncWith(t, New(), def, abi.Call{SyncID: "s1"}, abi.Call{SyncID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := runSyncWith(t, New(), bs, call, call)
	if err != nil {
		t.Fatal(err)
	}

	roles := make([]segmentids.Role, 0, len(ws.Roles))
	isRole := map[string]bool{}
	for _, r := range ws.Roles {
		roles = append(roles, segmentids.Role{ID: r.ID, Name: r.Name})
		isRole[r.ID] = true
	}
	names := segmentids.BatonSegmentNames(roles)
	rename := func(ref abi.EntitlementRef) abi.EntitlementRef {
		if slices.Contains(segmentids.ScopedTypes, ref.Resource.Type) {
			ref.Slug = names.Slug(ref.Slug)
		}
		return ref
	}
	var wantEnts, gotEnts []abi.EntitlementRef
	for ref := range want.ents {
		wantEnts = append(wantEnts, rename(ref))
	}
	for ref := range got.ents {
		gotEnts = append(gotEnts, ref)
		if slices.Contains(segmentids.ScopedTypes, ref.Resource.Type) && isRole[ref.Slug] {
			t.Errorf("entitlement %+v is named by a role id", ref)
		}
	}
	sortRefs := func(refs []abi.EntitlementRef) {
		slices.SortFunc(refs, func(a, b abi.EntitlementRef) int {
			return strings.Compare(a.Resource.Type+a.Resource.ID+a.Slug, b.Resource.Type+b.Resource.ID+b.Slug)
		})
	}
	sortRefs(wantEnts)
	sortRefs(gotEnts)
	if !slices.Equal(gotEnts, wantEnts) {
		t.Fatalf("entitlements differ from the default scheme's renamed:\n got %v\nwant %v", gotEnts, wantEnts)
	}
	var wantGrants, gotGrants []string
	for _, g := range want.grants {
		g.Entitlement = rename(g.Entitlement)
		wantGrants = append(wantGrants, grantKey(g))
	}
	for _, g := range got.grants {
		if _, ok := got.ents[g.Entitlement]; !ok {
			t.Errorf("grant %s names no listed entitlement", grantKey(g))
		}
		gotGrants = append(gotGrants, grantKey(g))
	}
	slices.Sort(wantGrants)
	slices.Sort(gotGrants)
	if !slices.Equal(gotGrants, wantGrants) {
		t.Fatalf("grants differ from the default scheme's renamed:\n got %v\nwant %v", gotGrants, wantGrants)
	}

	src := abi.ResourceID{Type: typeSource, ID: ws.Sources[0].ID}
	for _, slug := range []string{"source_admin", "source_read_only", "source_admin_" + twin.ID} {
		if _, ok := got.ents[abi.EntitlementRef{Resource: src, Slug: slug}]; !ok {
			t.Errorf("no entitlement source:%s:%s", src.ID, slug)
		}
	}
	twinGrant := "source:" + src.ID + ":source_admin_" + twin.ID + " -> user:" + ws.Users[0].ID
	if !slices.Contains(gotGrants, twinGrant) {
		t.Errorf("no grant %s", twinGrant)
	}
	if n := bs.logs.count(guest.LogWarn, "have the baton-segment entitlement name source_admin"); n != 1 {
		t.Errorf("the collision was reported %d times, want once: %v", n, bs.logs.msgs)
	}
	for _, want := range []string{`"Source Admin" (` + admin.ID + `), "Source admin" (` + twin.ID + `)`, "source_admin_<roleId>"} {
		if !bs.logs.contains(guest.LogWarn, want) {
			t.Errorf("the collision warning lacks %q: %v", want, bs.logs.msgs)
		}
	}
	if def.logs.count(guest.LogWarn, "baton-segment entitlement name") != 0 {
		t.Error("the default scheme reported a collision")
	}
}

// TestBatonSegmentProvisioning: grant and revoke take baton-segment's
// names (the suffixed one of a collision too) and role ids alike, whatever
// the setting, and act on the role they name; a slug no role has is
// NotFound for both (a revoke would otherwise call a renamed role "already
// revoked"), with nothing written.
func TestBatonSegmentProvisioning(t *testing.T) {
	for _, call := range []abi.Call{batonSegmentCall, {}} {
		t.Run(call.Config[segmentids.Setting]+"default", func(t *testing.T) {
			f := newProvFixture()
			twin := withSourceAdminTwin(f.ws)
			e := newProvEnv(t, f.ws, segmentsim.Options{})
			ctx := context.Background()
			grant := func(slug string, u *segmentsim.User) (abi.GrantResult, error) {
				e.reset()
				return New().Grant(ctx, e.env, abi.GrantRequest{Call: call, Entitlement: e.m.Entitlement("source", f.s2.ID, slug), Principal: e.m.UserResource(u)})
			}
			revoke := func(slug string, u *segmentsim.User) (abi.RevokeResult, error) {
				e.reset()
				return New().Revoke(ctx, e.env, abi.RevokeRequest{Call: call, Entitlement: e.m.Entitlement("source", f.s2.ID, slug), Principal: e.m.UserResource(u)})
			}
			holds := func(u *segmentsim.User, roleID string) bool {
				for _, p := range e.userPerms(u.ID) {
					if p.RoleID == roleID && slices.ContainsFunc(p.Resources, func(r segmentsim.PermissionResource) bool { return r.ID == f.s2.ID }) {
						return true
					}
				}
				return false
			}
			path := "/users/" + f.b.ID + "/permissions"

			gres, err := grant("source_admin", f.b)
			if err != nil || gres.AlreadyExists || len(gres.Grants) != 1 || gres.Grants[0].Entitlement.Slug != "source_admin" {
				t.Fatalf("grant source_admin: %+v, %v", gres, err)
			}
			e.wantBodies(`POST ` + path + ` {"permissions":[{"roleId":"` + f.admin + `","resources":[{"id":"` + f.s2.ID + `","type":"SOURCE"}]}]}`)
			if gres, err = grant(f.admin, f.b); err != nil || !gres.AlreadyExists {
				t.Fatalf("grant by the role id of what source_admin granted: %+v, %v", gres, err)
			}
			if gres, err = grant("source_admin_"+twin.ID, f.b); err != nil || gres.AlreadyExists || !holds(f.b, twin.ID) {
				t.Fatalf("grant of the twin by its suffixed name: %+v, %v", gres, err)
			}

			if rres, err := revoke("source_admin", f.b); err != nil || rres.AlreadyRevoked {
				t.Fatalf("revoke source_admin: %+v, %v", rres, err)
			}
			e.wantWrites("PUT " + path)
			if holds(f.b, f.admin) || !holds(f.b, twin.ID) {
				t.Fatalf("after revoking source_admin: %+v", e.userPerms(f.b.ID))
			}
			if rres, err := revoke(f.admin, f.b); err != nil || !rres.AlreadyRevoked {
				t.Fatalf("second revoke, by the role id: %+v, %v", rres, err)
			}
			if rres, err := revoke(twin.ID, f.b); err != nil || rres.AlreadyRevoked || holds(f.b, twin.ID) {
				t.Fatalf("revoke of the twin by its role id: %+v, %v", rres, err)
			}

			for _, slug := range []string{"source_owner", "Source Admin"} {
				_, err := grant(slug, f.b)
				if e := wantCode(t, err, abi.CodeNotFound); !strings.Contains(e.Message, "role "+slug+" does not exist in Segment (GET /roles has no role with that id or baton-segment name") {
					t.Errorf("grant %q: %v", slug, err)
				}
				e.wantWrites()
				_, err = revoke(slug, f.b)
				wantCode(t, err, abi.CodeNotFound)
				e.wantWrites()
			}
		})
	}
}

// TestEntitlementIDsSetting: an unknown value is refused by every export
// that names entitlements, before any request; "role-id", the default,
// may be given.
func TestEntitlementIDsSetting(t *testing.T) {
	h := newFakeHTTP()
	e := newTestEnv(h)
	ctx := context.Background()
	bad := abi.Call{Config: map[string]string{segmentids.Setting: "baton_segment"}}
	src := abi.Resource{ID: abi.ResourceID{Type: typeSource, ID: "s1"}, Parent: ws1()}
	user := abi.Resource{ID: abi.ResourceID{Type: typeUser, ID: "u1"}, Parent: ws1()}
	ent := abi.EntitlementOn{Resource: src, Slug: "source_admin"}
	conn := New()
	for name, err := range map[string]error{
		"validate": conn.Validate(ctx, e.env, bad),
		"entitlements": func() error {
			_, err := conn.ListEntitlements(ctx, e.env, abi.ListEntitlementsRequest{Call: bad, Resource: src})
			return err
		}(),
		"grants": func() error {
			_, err := conn.ListGrants(ctx, e.env, abi.ListGrantsRequest{Call: bad, Resource: user})
			return err
		}(),
		"grant": func() error {
			_, err := conn.Grant(ctx, e.env, abi.GrantRequest{Call: bad, Entitlement: ent, Principal: user})
			return err
		}(),
		"revoke": func() error {
			_, err := conn.Revoke(ctx, e.env, abi.RevokeRequest{Call: bad, Entitlement: ent, Principal: user})
			return err
		}(),
	} {
		if e := wantCode(t, err, abi.CodeInvalidArgument); !strings.Contains(e.Message, `entitlement_ids = "baton_segment": must be "role-id" (the default) or "baton-segment"`) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := h.requested(); len(got) != 0 {
		t.Errorf("requests sent with an invalid setting: %v", got)
	}
	for _, v := range []string{"", segmentids.RoleID} {
		cfg := map[string]string{}
		if v != "" {
			cfg[segmentids.Setting] = v
		}
		if on, err := batonSegmentIDs(cfg); on || err != nil {
			t.Errorf("%q: baton-segment %v, %v", v, on, err)
		}
	}
}
