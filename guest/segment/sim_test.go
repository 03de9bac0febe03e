//go:build !wasip1

// Integration tests against the Segment API simulator, over real HTTP. They
// need sockets, hence the build constraint.

package segment

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// netHTTP is a test-only guest.HTTP over net/http. Like the host, it
// refuses anything but a relative path and injects the bearer token itself.
type netHTTP struct {
	base, token string
}

func (h netHTTP) Do(ctx context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	if !strings.HasPrefix(req.Path, "/") || strings.HasPrefix(req.Path, "//") {
		return abi.HTTPResponse{}, abi.Errorf(abi.CodeEgressDenied, "path %q is not relative", req.Path)
	}
	r, err := http.NewRequestWithContext(ctx, req.Method, h.base+req.Path, bytes.NewReader(req.Body))
	if err != nil {
		return abi.HTTPResponse{}, abi.Errorf(abi.CodeInvalidArgument, "%v", err)
	}
	for k, vs := range req.Headers {
		if strings.EqualFold(k, "Authorization") {
			continue
		}
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	r.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return abi.HTTPResponse{}, abi.Errorf(abi.CodeUnavailable, "%v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return abi.HTTPResponse{}, abi.Errorf(abi.CodeUnavailable, "%v", err)
	}
	return abi.HTTPResponse{Status: resp.StatusCode, Headers: resp.Header, Body: body}, nil
}

// simEnv is a simulator behind an httptest server plus a guest Env on it.
type simEnv struct {
	testEnv
	srv *segmentsim.Server
	ws  *segmentsim.Workspace // snapshot taken at start
}

func startSim(t *testing.T, cfg segmentsim.Config) *simEnv {
	t.Helper()
	srv := segmentsim.NewServer(segmentsim.Generate(cfg), segmentsim.Options{})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &simEnv{
		testEnv: newTestEnv(netHTTP{base: ts.URL, token: segmentsim.DefaultToken}),
		srv:     srv,
		ws:      srv.Snapshot(),
	}
}

// syncResult is everything one sync emitted.
type syncResult struct {
	resources []abi.Resource
	byID      map[abi.ResourceID]abi.Resource
	ents      map[abi.EntitlementRef]abi.Entitlement
	grants    []abi.Grant
	// pages counts the calls per resource type (resources) and per
	// resource (grants).
	resourcePages map[string]int
	grantPages    map[abi.ResourceID]int
}

// runSync drives a sync the way baton-sdk does: every resource (each type
// at the top level, following page tokens), then
// the entitlements of every resource, then the grants of every resource.
func runSync(t *testing.T, conn *Connector, e *simEnv) (*syncResult, error) {
	t.Helper()
	return runSyncWith(t, conn, e, abi.Call{SyncID: "s1"}, abi.Call{})
}

// runSyncWith is runSync with the Call of the resource listings and that
// of the entitlement and grant listings.
func runSyncWith(t *testing.T, conn *Connector, e *simEnv, listCall, call abi.Call) (*syncResult, error) {
	t.Helper()
	ctx := context.Background()
	res := &syncResult{
		byID:          map[abi.ResourceID]abi.Resource{},
		ents:          map[abi.EntitlementRef]abi.Entitlement{},
		resourcePages: map[string]int{},
		grantPages:    map[abi.ResourceID]int{},
	}
	list := func(rt string, parent *abi.ResourceID) error {
		token := ""
		for {
			page, err := conn.ListResources(ctx, e.env, abi.ListResourcesRequest{Call: listCall, ResourceType: rt, Parent: parent, PageToken: token})
			if err != nil {
				return err
			}
			res.resourcePages[rt]++
			for _, r := range page.Resources {
				if r.ID.Type != rt {
					t.Fatalf("asked for %s, got %+v", rt, r.ID)
				}
				if _, dup := res.byID[r.ID]; dup {
					t.Fatalf("resource %+v listed twice", r.ID)
				}
				res.byID[r.ID] = r
				res.resources = append(res.resources, r)
			}
			if page.NextPageToken == "" {
				return nil
			}
			if page.NextPageToken == token || res.resourcePages[rt] > 10000 {
				t.Fatalf("%s: page token did not advance: %q", rt, token)
			}
			token = page.NextPageToken
		}
	}
	for _, rt := range conn.Metadata().ResourceTypes {
		if err := list(rt.ID, nil); err != nil {
			return nil, err
		}
	}
	for _, r := range res.resources {
		page, err := conn.ListEntitlements(ctx, e.env, abi.ListEntitlementsRequest{Call: call, Resource: r})
		if err != nil {
			return nil, err
		}
		if page.NextPageToken != "" {
			t.Fatalf("entitlements of %+v paginated unexpectedly", r.ID)
		}
		for _, en := range page.Entitlements {
			ref := abi.EntitlementRef{Resource: en.Resource, Slug: en.Slug}
			if en.Resource != r.ID {
				t.Fatalf("entitlement %+v listed for %+v", ref, r.ID)
			}
			if _, dup := res.ents[ref]; dup {
				t.Fatalf("entitlement %+v emitted twice", ref)
			}
			res.ents[ref] = en
		}
	}
	for _, r := range res.resources {
		token := ""
		for {
			page, err := conn.ListGrants(ctx, e.env, abi.ListGrantsRequest{Call: call, Resource: r, PageToken: token})
			if err != nil {
				return nil, err
			}
			res.grantPages[r.ID]++
			res.grants = append(res.grants, page.Grants...)
			if page.NextPageToken == "" {
				break
			}
			if page.NextPageToken == token {
				t.Fatalf("grants of %+v: page token did not advance", r.ID)
			}
			token = page.NextPageToken
		}
	}
	return res, nil
}

func (r *syncResult) ofType(typ string) []abi.Resource {
	var out []abi.Resource
	for _, x := range r.resources {
		if x.ID.Type == typ {
			out = append(out, x)
		}
	}
	return out
}

// expectedGrants computes, independently of the connector, the role grants
// of one principal from the simulator's model.
func expectedGrants(ws *segmentsim.Workspace, perms []segmentsim.Permission, principal abi.ResourceID) map[string]bool {
	out := map[string]bool{}
	add := func(typ, id, slug string) {
		out[fmt.Sprintf("%s:%s:%s -> %s:%s", typ, id, slug, principal.Type, principal.ID)] = true
	}
	for _, p := range perms {
		for _, r := range p.Resources {
			switch r.Type {
			case segmentsim.ResourceWorkspace:
				labels := append(append([]segmentsim.Label{}, p.Labels...), r.Labels...)
				if len(labels) == 0 {
					add("role", p.RoleID, "member")
					continue
				}
				for _, s := range ws.Sources {
					all := true
					for _, l := range labels {
						if !slices.ContainsFunc(s.Labels, func(x segmentsim.Label) bool { return x.Key == l.Key && x.Value == l.Value }) {
							all = false
						}
					}
					if all {
						add("source", s.ID, p.RoleID)
					}
				}
			default:
				add(strings.ToLower(r.Type), r.ID, p.RoleID)
			}
		}
	}
	return out
}

func ceilDiv(n, d int) int { return max(1, (n+d-1)/d) }

// checkSync asserts a complete sync against the simulator's workspace.
func checkSync(t *testing.T, e *simEnv, res *syncResult) {
	t.Helper()
	ws := e.ws
	wsID := abi.ResourceID{Type: typeWorkspace, ID: ws.ID}

	// Resources.
	if got := res.ofType(typeWorkspace); len(got) != 1 || got[0].ID.ID != ws.ID || got[0].DisplayName != ws.Name || got[0].Profile["slug"] != ws.Slug {
		t.Fatalf("workspace resources: %+v", got)
	}
	for _, r := range res.resources {
		if r.ID.Type != typeWorkspace && (r.Parent == nil || *r.Parent != wsID) {
			t.Fatalf("%+v has parent %+v, want the workspace", r.ID, r.Parent)
		}
	}
	emptyNames := 0
	for _, u := range ws.Users {
		r, ok := res.byID[abi.ResourceID{Type: typeUser, ID: u.ID}]
		if !ok {
			t.Fatalf("user %s (%q) missing", u.ID, u.Email)
		}
		want := u.Name
		if want == "" {
			want = u.Email
			emptyNames++
		}
		if r.DisplayName != want || r.User == nil || r.User.Login != u.Email || !slices.Equal(r.User.Emails, []string{u.Email}) || r.User.Status != abi.UserStatusEnabled {
			t.Fatalf("user %s: %+v (trait %+v)", u.ID, r, r.User)
		}
	}
	if emptyNames == 0 {
		t.Fatal("the simulator generated no user with an empty name; the test lost its point")
	}
	if n := len(res.ofType(typeUser)); n != len(ws.Users) {
		t.Fatalf("%d users listed, want %d", n, len(ws.Users))
	}
	for _, g := range ws.Groups {
		r, ok := res.byID[abi.ResourceID{Type: typeGroup, ID: g.ID}]
		if !ok || r.DisplayName != g.Name || r.Profile["memberCount"] != fmt.Sprint(len(g.MemberIDs)+len(g.InviteEmails)) {
			t.Fatalf("group %s: %+v", g.ID, r)
		}
	}
	if n := len(res.ofType(typeGroup)); n != len(ws.Groups) {
		t.Fatalf("%d groups listed, want %d", n, len(ws.Groups))
	}
	for _, ro := range ws.Roles {
		r, ok := res.byID[abi.ResourceID{Type: typeRole, ID: ro.ID}]
		if !ok || r.DisplayName != ro.Name || r.Description != ro.Description {
			t.Fatalf("role %s: %+v", ro.ID, r)
		}
	}
	for _, s := range ws.Sources {
		r, ok := res.byID[abi.ResourceID{Type: typeSource, ID: s.ID}]
		want := s.Name
		if want == "" {
			want = s.Slug
		}
		if !ok || r.DisplayName != want || r.Profile["slug"] != s.Slug {
			t.Fatalf("source %s: %+v", s.ID, r)
		}
	}
	if n := len(res.ofType(typeSource)); n != len(ws.Sources) {
		t.Fatalf("%d sources listed, want %d", n, len(ws.Sources))
	}
	for _, w := range ws.Warehouses {
		r, ok := res.byID[abi.ResourceID{Type: typeWarehouse, ID: w.ID}]
		if !ok || r.DisplayName != w.Name || r.Profile["type"] != w.Type {
			t.Fatalf("warehouse %s (%q): %+v", w.ID, w.Name, r)
		}
	}
	for _, s := range ws.Spaces {
		if r, ok := res.byID[abi.ResourceID{Type: typeSpace, ID: s.ID}]; !ok || r.DisplayName != s.Name {
			t.Fatalf("space %s: %+v", s.ID, r)
		}
	}
	fnTypes := map[string]bool{}
	for _, f := range ws.Functions {
		r, ok := res.byID[abi.ResourceID{Type: typeFunction, ID: f.ID}]
		if !ok || r.DisplayName != f.DisplayName || r.Profile["resourceType"] != f.ResourceType {
			t.Fatalf("function %s: %+v", f.ID, r)
		}
		fnTypes[f.ResourceType] = true
	}
	if ws.FunctionsEnabled && len(fnTypes) != 5 {
		t.Fatalf("functions of %d types generated, want 5", len(fnTypes))
	}
	// Pending invites: id and name are the email, user trait, disabled.
	for _, inv := range ws.Invites {
		r, ok := res.byID[abi.ResourceID{Type: typeInvite, ID: inv}]
		if !ok || r.DisplayName != inv || r.User == nil || !slices.Equal(r.User.Emails, []string{inv}) || r.User.Status != abi.UserStatusPending || r.Parent == nil || *r.Parent != wsID {
			t.Fatalf("invite %s: %+v (trait %+v)", inv, r, r.User)
		}
	}
	if n := len(res.ofType(typeInvite)); n != len(ws.Invites) {
		t.Fatalf("%d invites listed, want %d", n, len(ws.Invites))
	}
	if n, want := len(res.resources), 1+len(ws.Users)+len(ws.Invites)+len(ws.Groups)+len(ws.Roles)+len(ws.Sources)+len(ws.Warehouses)+len(ws.Spaces)+len(ws.Functions); n != want {
		t.Fatalf("%d resources, want %d", n, want)
	}

	// Every grant points at an emitted entitlement; no grant is duplicated.
	got := map[string]abi.Grant{}
	for _, g := range res.grants {
		if _, ok := res.ents[g.Entitlement]; !ok {
			t.Fatalf("grant %s: entitlement not emitted by ListEntitlements", grantKey(g))
		}
		k := grantKey(g)
		if _, dup := got[k]; dup {
			t.Fatalf("grant %s emitted twice", k)
		}
		got[k] = g
	}

	// Expected grants, computed from the model.
	want := map[string]bool{}
	for _, u := range ws.Users {
		p := abi.ResourceID{Type: typeUser, ID: u.ID}
		want[fmt.Sprintf("workspace:%s:member -> user:%s", ws.ID, u.ID)] = true
		for k := range expectedGrants(ws, u.Permissions, p) {
			want[k] = true
		}
	}
	groupMember := map[string]abi.EntitlementRef{}
	for _, g := range ws.Groups {
		p := abi.ResourceID{Type: typeGroup, ID: g.ID}
		groupMember[g.ID] = abi.EntitlementRef{Resource: p, Slug: memberSlug}
		for _, m := range g.MemberIDs {
			want[fmt.Sprintf("group:%s:member -> user:%s", g.ID, m)] = true
		}
		for _, inv := range g.InviteEmails {
			want[fmt.Sprintf("group:%s:member -> invite:%s", g.ID, inv)] = true
		}
		for k := range expectedGrants(ws, g.Permissions, p) {
			want[k] = true
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("missing grant %s", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("unexpected grant %s", k)
		}
	}
	// Group role grants expand to the members; nothing else expands.
	labelGrants := 0
	for _, g := range res.grants {
		isGroupRole := g.Principal.Type == typeGroup
		switch {
		case isGroupRole && !(len(g.ExpandFrom) == 1 && g.ExpandFrom[0] == groupMember[g.Principal.ID]):
			t.Errorf("group grant %s has ExpandFrom %+v", grantKey(g), g.ExpandFrom)
		case !isGroupRole && len(g.ExpandFrom) != 0:
			t.Errorf("grant %s has ExpandFrom %+v", grantKey(g), g.ExpandFrom)
		}
		if g.Entitlement.Resource.Type == typeSource {
			labelGrants++
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// The custom role is not in the table: it has an entitlement exactly on
	// the sources where it is granted.
	custom := ws.RoleByName(segmentsim.RoleCustomAuditor)
	customOn := map[string]bool{}
	for k := range want {
		if strings.HasPrefix(k, "source:") && strings.Contains(k, ":"+custom.ID+" -> ") {
			customOn[strings.Split(k, ":")[1]] = true
		}
	}
	if len(customOn) == 0 {
		t.Fatal("the custom role is granted nowhere; the test lost its point")
	}
	for _, s := range ws.Sources {
		_, has := res.ents[abi.EntitlementRef{Resource: abi.ResourceID{Type: typeSource, ID: s.ID}, Slug: custom.ID}]
		if has != customOn[s.ID] {
			t.Errorf("source %s: custom role entitlement %v, granted %v", s.ID, has, customOn[s.ID])
		}
	}
	// A custom role is ordinary data, synced like any other: noted at
	// info, not a warning.
	if !e.logs.contains(guest.LogInfo, segmentsim.RoleCustomAuditor) || e.logs.contains(guest.LogWarn, segmentsim.RoleCustomAuditor) {
		t.Error("the custom role is not noted at info level (and only there)")
	}
	// Table roles: every source offers Source Admin; no source offers a
	// workspace-only role; every warehouse offers the warehouse roles.
	admin := ws.RoleByName(segmentsim.RoleSourceAdmin)
	owner := ws.RoleByName(segmentsim.RoleWorkspaceOwner)
	whAdmin := ws.RoleByName(segmentsim.RoleWarehouseDestAdmin)
	for _, s := range ws.Sources {
		sid := abi.ResourceID{Type: typeSource, ID: s.ID}
		en, ok := res.ents[abi.EntitlementRef{Resource: sid, Slug: admin.ID}]
		wantName := "Source Admin on " + res.byID[sid].DisplayName
		if !ok || en.DisplayName != wantName || !slices.Equal(en.GrantableTo, []string{typeUser, typeGroup}) {
			t.Fatalf("source %s: Source Admin entitlement %+v", s.ID, en)
		}
		if _, ok := res.ents[abi.EntitlementRef{Resource: sid, Slug: owner.ID}]; ok {
			t.Fatalf("source %s offers Workspace Owner", s.ID)
		}
	}
	for _, w := range ws.Warehouses {
		if _, ok := res.ents[abi.EntitlementRef{Resource: abi.ResourceID{Type: typeWarehouse, ID: w.ID}, Slug: whAdmin.ID}]; !ok {
			t.Fatalf("warehouse %s lacks %s", w.ID, whAdmin.Name)
		}
	}
	for _, ro := range ws.Roles {
		en := res.ents[abi.EntitlementRef{Resource: abi.ResourceID{Type: typeRole, ID: ro.ID}, Slug: memberSlug}]
		if en.DisplayName != ro.Name || en.Description != ro.Name+" on the whole workspace" {
			t.Fatalf("role %s entitlement %+v", ro.Name, en)
		}
	}
}

// wantRequests is the request budget: list pages, one GET /users/{id} per
// user, and GET / once.
func wantRequests(ws *segmentsim.Workspace) int {
	n := 1 // GET /
	n += ceilDiv(len(ws.Users), userCount) + len(ws.Users)
	n += ceilDiv(len(ws.Invites), listCount)
	n += ceilDiv(len(ws.Groups), groupCount)
	n += ceilDiv(len(ws.Roles), listCount)
	n += ceilDiv(len(ws.Sources), listCount)
	n += ceilDiv(len(ws.Warehouses), listCount)
	if ws.SpacesEnabled {
		n += ceilDiv(len(ws.Spaces), listCount)
	} else {
		n++ // the 403
	}
	if ws.FunctionsEnabled {
		perType := map[string]int{}
		for _, f := range ws.Functions {
			perType[f.ResourceType]++
		}
		for _, ft := range functionTypes {
			n += ceilDiv(perType[ft], listCount)
		}
	} else {
		n++ // the 403 ends function listing
	}
	for _, g := range ws.Groups {
		n += ceilDiv(len(g.MemberIDs), listCount) + ceilDiv(len(g.InviteEmails), listCount)
	}
	return n
}

func checkRequests(t *testing.T, e *simEnv) {
	t.Helper()
	reqs := e.srv.Requests()
	userGets := 0
	for _, r := range reqs {
		if r.Method != "GET" || r.Status != 200 && r.Status != 403 {
			t.Errorf("request %s %s?%s answered %d", r.Method, r.Path, r.RawQuery, r.Status)
		}
		if r.Authorization != "Bearer "+segmentsim.DefaultToken {
			t.Errorf("request %s has Authorization %q", r.Path, r.Authorization)
		}
		if strings.HasPrefix(r.Path, "/users/") {
			userGets++
		}
		if strings.HasPrefix(r.Path, "/groups/") && !strings.HasSuffix(r.Path, "/users") && !strings.HasSuffix(r.Path, "/invites") {
			t.Errorf("unexpected per-group request %s", r.Path)
		}
	}
	if userGets != len(e.ws.Users) {
		t.Errorf("%d GET /users/{id}, want one per user (%d)", userGets, len(e.ws.Users))
	}
	if want := wantRequests(e.ws); len(reqs) != want {
		counts := map[string]int{}
		for _, r := range reqs {
			p := r.Path
			if strings.HasPrefix(p, "/users/") {
				p = "/users/{id}"
			}
			if strings.HasPrefix(p, "/groups/") {
				p = "/groups/{id}/" + p[strings.LastIndex(p, "/")+1:]
			}
			counts[p]++
		}
		t.Errorf("%d requests, want %d: %v", len(reqs), want, counts)
	}
}

func TestSimFullSync(t *testing.T) {
	cases := map[string]segmentsim.Config{
		// Many groups and sources: group pages and the source cache span
		// several pages.
		"many groups": {Seed: 3, Users: 450, Groups: 130, Sources: 230, Warehouses: 3, Spaces: 3, FunctionsPerType: 3, SpacesEnabled: true, FunctionsEnabled: true},
		// Few large groups: member lists span several pages.
		"large groups": {Seed: 5, Users: 600, Groups: 3, Sources: 12, Warehouses: 2, Spaces: 2, FunctionsPerType: 2, SpacesEnabled: true, FunctionsEnabled: true},
		"default":      segmentsim.DefaultConfig(120),
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			e := startSim(t, cfg)
			res, err := runSync(t, New(), e)
			if err != nil {
				t.Fatal(err)
			}
			checkSync(t, e, res)
			checkRequests(t, e)
			if name == "large groups" {
				for _, g := range e.ws.Groups {
					if want := ceilDiv(len(g.MemberIDs), listCount) - 1 + ceilDiv(len(g.InviteEmails), listCount); res.grantPages[abi.ResourceID{Type: typeGroup, ID: g.ID}] != want {
						t.Errorf("group %s: %d grant pages, want %d", g.ID, res.grantPages[abi.ResourceID{Type: typeGroup, ID: g.ID}], want)
					}
				}
				if res.grantPages[abi.ResourceID{Type: typeGroup, ID: e.ws.Groups[0].ID}] < 2 {
					t.Error("member lists did not span pages")
				}
			}
		})
	}
}

func TestSimFeaturesOff(t *testing.T) {
	cfg := segmentsim.DefaultConfig(60)
	cfg.SpacesEnabled, cfg.FunctionsEnabled = false, false
	e := startSim(t, cfg)
	res, err := runSync(t, New(), e)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.ofType(typeSpace)) + len(res.ofType(typeFunction)); n != 0 {
		t.Fatalf("%d spaces and functions listed", n)
	}
	if !e.logs.contains(2, "spaces are not available") || !e.logs.contains(2, "functions are not available") {
		t.Error("feature-off not logged")
	}
	checkSync(t, e, res)
	checkRequests(t, e)
}

// A session that lost everything between phases costs requests, never
// correctness: grants refetch the principals' permissions.
func TestSimSessionEvictedBeforeGrants(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(150))
	conn := New()
	ctx := context.Background()
	ref, err := runSync(t, conn, e)
	if err != nil {
		t.Fatal(err)
	}
	e.session.delete("") // everything
	before := e.srv.RequestCount()
	var grants []abi.Grant
	for _, r := range ref.resources {
		tok := ""
		for {
			p, err := conn.ListGrants(ctx, e.env, abi.ListGrantsRequest{Resource: r, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			grants = append(grants, p.Grants...)
			if tok = p.NextPageToken; tok == "" {
				break
			}
		}
	}
	key := func(gs []abi.Grant) []string {
		var out []string
		for _, g := range gs {
			out = append(out, grantKey(g))
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(key(grants), key(ref.grants)) {
		t.Fatal("grants after eviction differ")
	}
	// Per user one GET /users/{id}, per group one GET /groups/{id}, the
	// member pages again, and the sources once for label grants.
	extra := e.srv.RequestCount() - before
	if extra > len(e.ws.Users)+2*len(e.ws.Groups)+ceilDiv(len(e.ws.Sources), listCount)+len(e.ws.Groups) {
		t.Fatalf("%d requests after eviction", extra)
	}
}

// Extras lost before entitlements: the table still yields the documented
// roles, and a warning says custom-role entitlements may be missing.
func TestSimExtrasEvicted(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(120))
	conn := New()
	ctx := context.Background()
	for _, rt := range []string{typeWorkspace, typeUser, typeGroup, typeRole, typeSource} {
		tok := ""
		for {
			p, err := conn.ListResources(ctx, e.env, abi.ListResourcesRequest{ResourceType: rt, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			if tok = p.NextPageToken; tok == "" {
				break
			}
		}
	}
	if !e.session.has(extrasPagesKey(kindUser)) || !e.session.has(extrasPagesKey(kindGroup)) {
		t.Fatal("extras page counts not recorded")
	}
	e.session.delete("extras:")
	src := e.ws.Sources[0]
	page, err := conn.ListEntitlements(ctx, e.env, abi.ListEntitlementsRequest{Resource: abi.Resource{ID: abi.ResourceID{Type: typeSource, ID: src.ID}, DisplayName: "S"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entitlements) != 2 { // Source Admin, Source Read-only
		t.Fatalf("entitlements %+v", page.Entitlements)
	}
	for _, s := range e.ws.Sources[1:] {
		if _, err := conn.ListEntitlements(ctx, e.env, abi.ListEntitlementsRequest{Resource: abi.Resource{ID: abi.ResourceID{Type: typeSource, ID: s.ID}}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.logs.count(2, "may be missing"); n != 1 {
		t.Errorf("%d warnings about missing extras, want 1", n)
	}
}

func TestSimBadToken(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(10))
	e.env.HTTP = netHTTP{base: e.env.HTTP.(netHTTP).base, token: "wrong"}
	err := New().Validate(context.Background(), e.env, abi.Call{})
	ae := wantCode(t, err, abi.CodeUnauthenticated)
	if !strings.Contains(ae.Message, "validate credentials (GET /): 401 unauthorized: the Segment API token was rejected") {
		t.Fatalf("message %q", ae.Message)
	}
	_, err = New().ListResources(context.Background(), e.env, abi.ListResourcesRequest{ResourceType: typeUser, Parent: &abi.ResourceID{Type: typeWorkspace, ID: e.ws.ID}})
	ae = wantCode(t, err, abi.CodeUnauthenticated)
	if !strings.HasPrefix(ae.Message, "list users (GET /users): 401 unauthorized: the Segment API token was rejected") {
		t.Fatalf("message %q", ae.Message)
	}
}

func TestSimValidate(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(10))
	if err := New().Validate(context.Background(), e.env, abi.Call{}); err != nil {
		t.Fatal(err)
	}
}

func TestSimInjectedFaults(t *testing.T) {
	ctx := context.Background()
	ws := func(e *simEnv) *abi.ResourceID { return &abi.ResourceID{Type: typeWorkspace, ID: e.ws.ID} }
	listUsers := func(e *simEnv) error {
		_, err := New().ListResources(ctx, e.env, abi.ListResourcesRequest{ResourceType: typeUser, Parent: ws(e)})
		return err
	}

	t.Run("503", func(t *testing.T) {
		e := startSim(t, segmentsim.DefaultConfig(10))
		e.srv.InjectStatus("GET", "/users", 503, 1)
		wantCode(t, listUsers(e), abi.CodeUnavailable)
	})
	t.Run("502 html on a user", func(t *testing.T) {
		e := startSim(t, segmentsim.DefaultConfig(10))
		e.srv.InjectStatus("GET", "/users/"+e.ws.Users[3].ID, 502, 1)
		ae := wantCode(t, listUsers(e), abi.CodeUnavailable)
		if !strings.Contains(ae.Message, "get user (GET /users/"+e.ws.Users[3].ID+"): 502 bad gateway") {
			t.Fatalf("message %q", ae.Message)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		e := startSim(t, segmentsim.DefaultConfig(10))
		e.srv.InjectMalformed("GET", "/groups", 1)
		_, err := New().ListResources(ctx, e.env, abi.ListResourcesRequest{ResourceType: typeGroup, Parent: ws(e)})
		ae := wantCode(t, err, abi.CodeUnavailable)
		if !strings.Contains(ae.Message, "list groups (GET /groups)") {
			t.Fatalf("message %q", ae.Message)
		}
	})
	t.Run("malformed workspace", func(t *testing.T) {
		e := startSim(t, segmentsim.DefaultConfig(10))
		e.srv.InjectMalformed("GET", "/", 1)
		wantCode(t, New().Validate(ctx, e.env, abi.Call{}), abi.CodeUnavailable)
	})
	t.Run("429", func(t *testing.T) {
		e := startSim(t, segmentsim.DefaultConfig(10))
		e.srv.InjectRateLimit("GET", "/roles", 1, 5000)
		_, err := New().ListResources(ctx, e.env, abi.ListResourcesRequest{ResourceType: typeRole, Parent: ws(e)})
		ae := wantCode(t, err, abi.CodeRateLimited)
		if ae.RetryAfter == nil {
			t.Fatal("no RetryAfter")
		}
		// The retry succeeds and caches the roles for the sync.
		if _, err := New().ListResources(ctx, e.env, abi.ListResourcesRequest{ResourceType: typeRole, Parent: ws(e)}); err != nil {
			t.Fatal(err)
		}
		if !e.session.has(rolesKey) {
			t.Fatal("roles not cached")
		}
	})
	t.Run("failure mid-sync", func(t *testing.T) {
		e := startSim(t, segmentsim.DefaultConfig(60))
		e.srv.InjectStatus("GET", "/groups/", 500, 1)
		_, err := runSync(t, New(), e)
		wantCode(t, err, abi.CodeUnavailable)
	})
}

// Listing a child type without a parent still works, finding the
// workspace through GET / once per sync.
func TestSimListWithoutParent(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(30))
	ctx := context.Background()
	for range 2 {
		p, err := New().ListResources(ctx, e.env, abi.ListResourcesRequest{ResourceType: typeWarehouse})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Resources) != len(e.ws.Warehouses) || p.Resources[0].Parent == nil || p.Resources[0].Parent.ID != e.ws.ID {
			t.Fatalf("%+v", p.Resources)
		}
	}
	roots := 0
	for _, r := range e.srv.Requests() {
		if r.Path == "/" {
			roots++
		}
	}
	if roots != 1 {
		t.Fatalf("GET / %d times", roots)
	}
}

// TestSyncWideListsDecodedOncePerSync: the source list that label-scoped
// grants need is read from the session once per sync and connector
// instance, not once per user (decoding it per user dominated sandboxed
// syncs); outside a sync nothing is memoised.
func TestSyncWideListsDecodedOncePerSync(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(200))
	conn := New()
	ctx := context.Background()
	users, _ := listAll(t, e.env, typeUser, nil)
	labelUsers := 0
	for _, u := range e.ws.Users {
		for _, p := range u.Permissions {
			for _, r := range p.Resources {
				if r.Type == segmentsim.ResourceWorkspace && (len(r.Labels) > 0 || len(p.Labels) > 0) {
					labelUsers++
				}
			}
		}
	}
	if labelUsers < 2 {
		t.Fatalf("only %d label-scoped permissions generated; the test needs several", labelUsers)
	}
	for _, syncID := range []string{"s1", ""} {
		e.session.mu.Lock()
		e.session.getsOf[sourcesKey] = 0
		e.session.mu.Unlock()
		for _, u := range users {
			if _, err := conn.ListGrants(ctx, e.env, abi.ListGrantsRequest{Call: abi.Call{SyncID: syncID}, Resource: u}); err != nil {
				t.Fatal(err)
			}
		}
		got := e.session.getsOf[sourcesKey]
		if syncID != "" && got > 1 {
			t.Errorf("sync %q: the source list was read %d times, want at most once", syncID, got)
		}
		if syncID == "" && got < 2 {
			t.Errorf("outside a sync the source list was read %d times: the memo must not apply", got)
		}
	}
}
