//go:build !wasip1

// Provisioning tests against the simulator, over real HTTP.

package segment

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/internal/provmodel"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// recHTTP records the requests the connector sends (with bodies, which the
// simulator's records lack) and passes them on.
type recHTTP struct {
	inner guest.HTTP
	mu    sync.Mutex
	reqs  []abi.HTTPRequest
}

func (h *recHTTP) Do(ctx context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	h.mu.Lock()
	h.reqs = append(h.reqs, req)
	h.mu.Unlock()
	return h.inner.Do(ctx, req)
}

// writes returns "METHOD path body" of every non-GET request sent.
func (h *recHTTP) writes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.reqs {
		if r.Method != "GET" {
			out = append(out, strings.TrimSpace(r.Method+" "+r.Path+" "+string(r.Body)))
		}
	}
	return out
}

func (h *recHTTP) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reqs = nil
}

// provEnv is a simulator plus a connector environment on it.
type provEnv struct {
	t   *testing.T
	srv *segmentsim.Server
	rec *recHTTP
	testEnv
	m *provmodel.Model // for its principal and entitlement builders
}

// newProvEnv serves ws; writes are unlimited unless opts says otherwise.
func newProvEnv(t *testing.T, ws *segmentsim.Workspace, opts segmentsim.Options) *provEnv {
	t.Helper()
	if opts.WriteLimitPerMinute == 0 {
		opts.WriteLimitPerMinute = -1
	}
	srv := segmentsim.NewServer(ws, opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	rec := &recHTTP{inner: netHTTP{base: ts.URL, token: segmentsim.DefaultToken}}
	return &provEnv{t: t, srv: srv, rec: rec, testEnv: newTestEnv(rec), m: provmodel.New(srv.Snapshot())}
}

func (e *provEnv) grant(ent abi.EntitlementOn, p abi.Resource) (abi.GrantResult, error) {
	e.reset()
	return New().Grant(context.Background(), e.env, abi.GrantRequest{Entitlement: ent, Principal: p})
}

func (e *provEnv) revoke(ent abi.EntitlementOn, p abi.Resource) (abi.RevokeResult, error) {
	e.reset()
	return New().Revoke(context.Background(), e.env, abi.RevokeRequest{Entitlement: ent, Principal: p})
}

func (e *provEnv) reset() {
	e.srv.ResetRequests()
	e.rec.reset()
}

// writes returns "METHOD path?query" of every non-GET request the
// simulator served since the last call.
func (e *provEnv) writes() []string {
	var out []string
	for _, r := range e.srv.Requests() {
		if r.Method != "GET" {
			s := r.Method + " " + r.Path
			if r.RawQuery != "" {
				s += "?" + r.RawQuery
			}
			out = append(out, s)
		}
	}
	return out
}

func (e *provEnv) wantWrites(want ...string) {
	e.t.Helper()
	if got := e.writes(); !slices.Equal(got, want) {
		e.t.Fatalf("writes %q, want %q", got, want)
	}
}

// wantBodies checks the bodies of the writes, as "METHOD path body".
func (e *provEnv) wantBodies(want ...string) {
	e.t.Helper()
	if got := e.rec.writes(); !slices.Equal(got, want) {
		e.t.Fatalf("write bodies\n%q\nwant\n%q", got, want)
	}
}

func (e *provEnv) userPerms(id string) []segmentsim.Permission {
	return e.srv.Snapshot().UserByID(id).Permissions
}

func (e *provEnv) groupPerms(id string) []segmentsim.Permission {
	return e.srv.Snapshot().GroupByID(id).Permissions
}

// wantPerms compares permission sets exactly (labels and descriptions
// included), ignoring order.
func wantPerms(t *testing.T, got []segmentsim.Permission, want ...segmentsim.Permission) {
	t.Helper()
	g, w := provmodel.Tuples(got), provmodel.Tuples(want)
	if len(g) != len(w) {
		t.Fatalf("permissions %+v\nwant %+v", got, want)
	}
	for k := range w {
		if !g[k] {
			t.Fatalf("permissions %+v\nlack %+v", got, k)
		}
	}
}

// provFixture is a generated workspace with hand-set permissions on a few
// principals, so that each case is certain to exist.
type provFixture struct {
	ws                 *segmentsim.Workspace
	s0, s1, s2         *segmentsim.Source // s0: env=prod, team=data; s1: env=dev; s2: env=staging
	a, b, c            *segmentsim.User
	g                  *segmentsim.Group
	admin, ro, minimal string
	owner, custom      string
	fnAdmin            string
	teamData           segmentsim.Label
}

func res(id, typ string, labels ...segmentsim.Label) segmentsim.PermissionResource {
	if labels == nil {
		labels = []segmentsim.Label{}
	}
	return segmentsim.PermissionResource{ID: id, Type: typ, Labels: labels}
}

func newProvFixture() *provFixture {
	ws := segmentsim.Generate(segmentsim.DefaultConfig(30))
	f := &provFixture{ws: ws, s0: ws.Sources[0], s1: ws.Sources[1], s2: ws.Sources[2]}
	f.s0.Labels = []segmentsim.Label{{Key: "env", Value: "prod", Description: "Production traffic"}, {Key: "team", Value: "data"}}
	f.s1.Labels = []segmentsim.Label{{Key: "env", Value: "dev"}}
	f.s2.Labels = []segmentsim.Label{{Key: "env", Value: "staging"}}
	role := func(name string) string { return ws.RoleByName(name).ID }
	f.admin, f.ro, f.minimal = role(segmentsim.RoleSourceAdmin), role(segmentsim.RoleSourceReadOnly), role(segmentsim.RoleMinimalWorkspaceAccess)
	f.owner, f.custom, f.fnAdmin = role(segmentsim.RoleWorkspaceOwner), role(segmentsim.RoleCustomAuditor), role(segmentsim.RoleFunctionAdmin)
	f.teamData = segmentsim.Label{Key: "team", Value: "data", Description: "Data team"}
	wsr := res(ws.ID, "WORKSPACE")

	// a: every kind of entry next to one another.
	f.a = ws.Users[1]
	f.a.Permissions = []segmentsim.Permission{
		{RoleID: f.minimal, Resources: []segmentsim.PermissionResource{wsr}},
		{RoleID: f.admin, Resources: []segmentsim.PermissionResource{res(f.s0.ID, "SOURCE"), res(f.s1.ID, "SOURCE"), res(ws.ID, "WORKSPACE", f.teamData)}},
		{RoleID: f.ro, Resources: []segmentsim.PermissionResource{wsr}},
		{RoleID: f.custom, Labels: []segmentsim.Label{{Key: "env", Value: "prod"}}, Resources: []segmentsim.PermissionResource{wsr}},
	}
	// b: a single source grant.
	f.b = ws.Users[2]
	f.b.Permissions = []segmentsim.Permission{{RoleID: f.admin, Resources: []segmentsim.PermissionResource{res(f.s0.ID, "SOURCE")}}}
	// c: a workspace role, and a source role only by label.
	f.c = ws.Users[3]
	f.c.Permissions = []segmentsim.Permission{
		{RoleID: f.minimal, Resources: []segmentsim.PermissionResource{wsr}},
		{RoleID: f.admin, Resources: []segmentsim.PermissionResource{res(ws.ID, "WORKSPACE", segmentsim.Label{Key: "env", Value: "prod"})}},
	}
	f.g = ws.Groups[0]
	f.g.Permissions = []segmentsim.Permission{
		{RoleID: f.admin, Resources: []segmentsim.PermissionResource{res(ws.ID, "WORKSPACE", f.teamData)}},
		{RoleID: f.ro, Resources: []segmentsim.PermissionResource{res(f.s2.ID, "SOURCE")}},
	}
	return f
}

func TestProvisionMetadata(t *testing.T) {
	md := New().Metadata()
	if md.WritesPerMinute != 60 {
		t.Errorf("WritesPerMinute %d", md.WritesPerMinute)
	}
	want := map[string]bool{"workspace": false, "user": false, "group": true, "role": true, "source": true, "warehouse": true, "space": true, "function": true}
	for _, rt := range md.ResourceTypes {
		if rt.Provisionable != want[rt.ID] {
			t.Errorf("%s: Provisionable %v", rt.ID, rt.Provisionable)
		}
	}
}

func TestProvisionGroupMembership(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{})
	g := f.ws.Groups[1]
	var u *segmentsim.User
	for _, x := range f.ws.Users {
		if !slices.Contains(g.MemberIDs, x.ID) {
			u = x
			break
		}
	}
	ent := e.m.Entitlement("group", g.ID, "member")

	res, err := e.grant(ent, e.m.UserResource(u))
	if err != nil || res.AlreadyExists {
		t.Fatalf("grant: %+v, %v", res, err)
	}
	wantGrant := abi.Grant{Entitlement: abi.EntitlementRef{Resource: ent.Resource.ID, Slug: "member"}, Principal: abi.ResourceID{Type: "user", ID: u.ID}}
	if len(res.Grants) != 1 || res.Grants[0].Entitlement != wantGrant.Entitlement || res.Grants[0].Principal != wantGrant.Principal || len(res.Grants[0].ExpandFrom) != 0 {
		t.Fatalf("grants %+v", res.Grants)
	}
	e.wantWrites("POST /groups/" + g.ID + "/users")
	e.wantBodies(`POST /groups/` + g.ID + `/users {"emails":["` + u.Email + `"]}`)
	if !slices.Contains(e.srv.Snapshot().GroupByID(g.ID).MemberIDs, u.ID) {
		t.Fatal("not a member after grant")
	}

	// Idempotent, found by id.
	res, err = e.grant(ent, e.m.UserResource(u))
	if err != nil || !res.AlreadyExists || len(res.Grants) != 0 {
		t.Fatalf("second grant: %+v, %v", res, err)
	}
	e.wantWrites()

	// Found by email, case-insensitively, when the id is not Segment's.
	stale := e.m.UserResource(u)
	stale.ID.ID = "stale-id"
	stale.User.Emails = []string{strings.ToUpper(u.Email)}
	if res, err = e.grant(ent, stale); err != nil || !res.AlreadyExists {
		t.Fatalf("grant by email: %+v, %v", res, err)
	}
	e.wantWrites()

	// Revoke: singular path, emails.0=, no pagination.
	rres, err := e.revoke(ent, e.m.UserResource(u))
	if err != nil || rres.AlreadyRevoked {
		t.Fatalf("revoke: %+v, %v", rres, err)
	}
	e.wantWrites("DELETE /group/" + g.ID + "/users?emails.0=" + url.QueryEscape(u.Email))
	e.wantBodies("DELETE /group/" + g.ID + "/users?emails.0=" + url.QueryEscape(u.Email))
	if slices.Contains(e.srv.Snapshot().GroupByID(g.ID).MemberIDs, u.ID) {
		t.Fatal("still a member after revoke")
	}
	rres, err = e.revoke(ent, e.m.UserResource(u))
	if err != nil || !rres.AlreadyRevoked {
		t.Fatalf("second revoke: %+v, %v", rres, err)
	}
	e.wantWrites()
	// The other members are untouched.
	if got, want := e.srv.Snapshot().GroupByID(g.ID).MemberIDs, f.ws.Groups[1].MemberIDs; !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
}

func TestProvisionMembershipPaging(t *testing.T) {
	ws := segmentsim.Generate(segmentsim.DefaultConfig(450))
	g := ws.Groups[0]
	g.MemberIDs = nil
	for _, u := range ws.Users {
		g.MemberIDs = append(g.MemberIDs, u.ID)
	}
	last := ws.Users[len(ws.Users)-1]
	e := newProvEnv(t, ws, segmentsim.Options{})
	ent := e.m.Entitlement("group", g.ID, "member")
	res, err := e.grant(ent, e.m.UserResource(last))
	if err != nil || !res.AlreadyExists {
		t.Fatalf("grant: %+v, %v", res, err)
	}
	pages := 0
	for _, r := range e.srv.Requests() {
		if r.Path == "/groups/"+g.ID+"/users" {
			pages++
		}
	}
	if pages != 3 {
		t.Fatalf("%d member pages read, want 3", pages)
	}
	if _, err := e.revoke(ent, e.m.UserResource(last)); err != nil {
		t.Fatal(err)
	}
	e.wantWrites("DELETE /group/" + g.ID + "/users?emails.0=" + url.QueryEscape(last.Email))
}

func TestProvisionMembershipErrors(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{})
	g := f.ws.Groups[1]
	ent := e.m.Entitlement("group", g.ID, "member")
	u := f.ws.Users[5]

	// A group as principal.
	_, err := e.grant(ent, e.m.GroupResource(f.g.ID))
	if ae := wantCode(t, err, abi.CodeInvalidArgument); !strings.Contains(ae.Message, "group membership can only be granted to users and invites; group:"+f.g.ID+" is a group") {
		t.Fatalf("message %q", ae.Message)
	}
	_, err = e.revoke(ent, e.m.GroupResource(f.g.ID))
	wantCode(t, err, abi.CodeInvalidArgument)
	if n := e.srv.RequestCount(); n != 0 {
		t.Fatalf("%d requests for an invalid principal", n)
	}

	// A user without an email is never a silent success.
	for _, trait := range []*abi.UserTrait{nil, {}, {Emails: []string{" "}, Login: ""}} {
		p := abi.Resource{ID: abi.ResourceID{Type: "user", ID: u.ID}, User: trait}
		_, err := e.grant(ent, p)
		if ae := wantCode(t, err, abi.CodeInvalidArgument); !strings.Contains(ae.Message, "user "+u.ID+" has no email") || !strings.Contains(ae.Message, "grant group:"+g.ID+":member to user:"+u.ID) {
			t.Fatalf("message %q", ae.Message)
		}
		_, err = e.revoke(ent, p)
		wantCode(t, err, abi.CodeInvalidArgument)
	}
	// Login alone is enough.
	if _, err := e.grant(ent, abi.Resource{ID: abi.ResourceID{Type: "user", ID: u.ID}, User: &abi.UserTrait{Login: u.Email}}); err != nil {
		t.Fatal(err)
	}

	// Unknown group.
	_, err = e.grant(e.m.Entitlement("group", "nogroup", "member"), e.m.UserResource(u))
	if ae := wantCode(t, err, abi.CodeNotFound); !strings.Contains(ae.Message, "group nogroup not found") {
		t.Fatalf("message %q", ae.Message)
	}

	// An email Segment does not know: its 422 surfaces with its message.
	stranger := abi.Resource{ID: abi.ResourceID{Type: "user", ID: "ghost"}, User: &abi.UserTrait{Emails: []string{"ghost@nowhere.test"}}}
	_, err = e.grant(ent, stranger)
	want := "grant group:" + g.ID + ":member to user:ghost: POST /groups/" + g.ID + "/users: 422 ValidationFailure: emails must belong to workspace users or pending invites (field emails)"
	if ae := wantCode(t, err, abi.CodeInvalidArgument); ae.Message != want {
		t.Fatalf("message\n%q\nwant\n%q", ae.Message, want)
	}

	// A DELETE that answers 200 without SUCCESS, or an error, is not a success.
	member := e.srv.Snapshot().UserByID(g.MemberIDs[0])
	e.srv.InjectStatus("DELETE", "/group/", 200, 1)
	_, err = e.revoke(ent, e.m.UserResource(member))
	if ae := wantCode(t, err, abi.CodeUnavailable); !strings.Contains(ae.Message, "not SUCCESS") {
		t.Fatalf("message %q", ae.Message)
	}
	e.srv.InjectStatus("DELETE", "/group/", 502, 1)
	_, err = e.revoke(ent, e.m.UserResource(member))
	wantCode(t, err, abi.CodeUnavailable)
	if !slices.Contains(e.srv.Snapshot().GroupByID(g.ID).MemberIDs, member.ID) {
		t.Fatal("member removed although the DELETE failed")
	}
}

func TestProvisionResourceRoles(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{})
	a := e.m.UserResource(f.a)
	src := func(s *segmentsim.Source, role string) abi.EntitlementOn {
		return e.m.Entitlement("source", s.ID, role)
	}
	wsr := res(f.ws.ID, "WORKSPACE")
	path := "/users/" + f.a.ID + "/permissions"

	// Grant on a source not held: one additive POST of just that.
	gres, err := e.grant(src(f.s2, f.admin), a)
	if err != nil || gres.AlreadyExists || len(gres.Grants) != 1 || gres.Grants[0].Principal.ID != f.a.ID || gres.Grants[0].Entitlement.Slug != f.admin {
		t.Fatalf("grant: %+v, %v", gres, err)
	}
	e.wantWrites("POST " + path)
	e.wantBodies(`POST ` + path + ` {"permissions":[{"roleId":"` + f.admin + `","resources":[{"id":"` + f.s2.ID + `","type":"SOURCE"}]}]}`)
	if gres, err = e.grant(src(f.s2, f.admin), a); err != nil || !gres.AlreadyExists {
		t.Fatalf("second grant: %+v, %v", gres, err)
	}
	e.wantWrites()

	// Held only workspace-wide: the specific grant is still written.
	if gres, err = e.grant(src(f.s0, f.ro), a); err != nil || gres.AlreadyExists {
		t.Fatalf("grant over workspace-wide: %+v, %v", gres, err)
	}
	e.wantWrites("POST " + path)
	// Held only by label (s0 has team=data): also written.
	if gres, err = e.grant(e.m.Entitlement("source", f.s0.ID, f.admin), e.m.UserResource(f.c)); err != nil || gres.AlreadyExists {
		t.Fatalf("grant over label-scoped: %+v, %v", gres, err)
	}

	wantPerms(t, e.userPerms(f.a.ID),
		segmentsim.Permission{RoleID: f.minimal, Resources: []segmentsim.PermissionResource{wsr}},
		segmentsim.Permission{RoleID: f.admin, Resources: []segmentsim.PermissionResource{res(f.s0.ID, "SOURCE"), res(f.s1.ID, "SOURCE"), res(f.ws.ID, "WORKSPACE", f.teamData), res(f.s2.ID, "SOURCE")}},
		segmentsim.Permission{RoleID: f.ro, Resources: []segmentsim.PermissionResource{wsr, res(f.s0.ID, "SOURCE")}},
		segmentsim.Permission{RoleID: f.custom, Labels: []segmentsim.Label{{Key: "env", Value: "prod"}}, Resources: []segmentsim.PermissionResource{wsr}},
	)

	// Revoke one source: a PUT of everything else, labels and all, with
	// input fields only.
	rres, err := e.revoke(src(f.s1, f.admin), a)
	if err != nil || rres.AlreadyRevoked {
		t.Fatalf("revoke: %+v, %v", rres, err)
	}
	e.wantWrites("PUT " + path)
	body := e.rec.writes()[0]
	for _, bad := range []string{"roleName", "policyId", f.s1.ID} {
		if strings.Contains(body, bad) {
			t.Fatalf("PUT body contains %q: %s", bad, body)
		}
	}
	after := []segmentsim.Permission{
		{RoleID: f.minimal, Resources: []segmentsim.PermissionResource{wsr}},
		{RoleID: f.admin, Resources: []segmentsim.PermissionResource{res(f.s0.ID, "SOURCE"), res(f.ws.ID, "WORKSPACE", f.teamData), res(f.s2.ID, "SOURCE")}},
		{RoleID: f.ro, Resources: []segmentsim.PermissionResource{wsr, res(f.s0.ID, "SOURCE")}},
		{RoleID: f.custom, Labels: []segmentsim.Label{{Key: "env", Value: "prod"}}, Resources: []segmentsim.PermissionResource{wsr}},
	}
	wantPerms(t, e.userPerms(f.a.ID), after...)
	// s1 carries no team=data and nothing else grants it.
	if rres, err = e.revoke(src(f.s1, f.admin), a); err != nil || !rres.AlreadyRevoked {
		t.Fatalf("second revoke: %+v, %v", rres, err)
	}
	e.wantWrites()

	// Held exactly and by label: the exact grant goes, with a warning
	// that the label-scoped entry still gives the access.
	if rres, err = e.revoke(src(f.s0, f.admin), a); err != nil || rres.AlreadyRevoked {
		t.Fatalf("revoke s0: %+v, %v", rres, err)
	}
	e.wantWrites("PUT " + path)
	if !e.logs.contains(guest.LogWarn, "Source Admin on all sources with team=data") {
		t.Error("no warning about the remaining label-scoped access")
	}
	after[1].Resources = []segmentsim.PermissionResource{res(f.ws.ID, "WORKSPACE", f.teamData), res(f.s2.ID, "SOURCE")}
	wantPerms(t, e.userPerms(f.a.ID), after...)

	// Access only through broader entries: refused, nothing written.
	refused := func(ent abi.EntitlementOn, p abi.Resource, why string) {
		t.Helper()
		_, err := e.revoke(ent, p)
		ae := wantCode(t, err, abi.CodeFailedPrecondition)
		if !strings.Contains(ae.Message, why) || !strings.Contains(ae.Message, "revoke "+ent.Resource.ID.Type+":"+ent.Resource.ID.ID+":"+ent.Slug+" from "+p.ID.Type+":"+p.ID.ID) {
			t.Fatalf("message %q lacks %q", ae.Message, why)
		}
		e.wantWrites()
	}
	refused(src(f.s0, f.admin), a, "Source Admin on all sources with team=data")
	refused(src(f.s1, f.ro), a, "Source Read-only on all sources (the whole workspace)")
	refused(src(f.s0, f.custom), a, "Custom Auditor on all sources with env=prod")
	if rres, err = e.revoke(src(f.s1, f.custom), a); err != nil || !rres.AlreadyRevoked {
		t.Fatalf("custom on s1 (env=dev): %+v, %v", rres, err)
	}
	fn := e.m.Entitlement("function", f.ws.Functions[0].ID, f.fnAdmin)
	if rres, err = e.revoke(fn, a); err != nil || !rres.AlreadyRevoked {
		t.Fatalf("function role not held: %+v, %v", rres, err)
	}
	e.wantWrites()
	// A role whose entry is restricted by entry-level labels cannot be
	// granted on one more resource without inheriting them.
	_, err = e.grant(src(f.s1, f.custom), a)
	wantCode(t, err, abi.CodeFailedPrecondition)
	e.wantWrites()
	wantPerms(t, e.userPerms(f.a.ID), after...)

	// c: the grant made above goes; then only the label remains.
	c := e.m.UserResource(f.c)
	if rres, err = e.revoke(src(f.s0, f.admin), c); err != nil || rres.AlreadyRevoked {
		t.Fatalf("revoke c: %+v, %v", rres, err)
	}
	refused(src(f.s0, f.admin), c, "Source Admin on all sources with env=prod")
	if rres, err = e.revoke(src(f.s1, f.admin), c); err != nil || !rres.AlreadyRevoked {
		t.Fatalf("label does not match s1: %+v, %v", rres, err)
	}

	// The last permission: the PUT sends an empty list.
	if rres, err = e.revoke(src(f.s0, f.admin), e.m.UserResource(f.b)); err != nil || rres.AlreadyRevoked {
		t.Fatalf("revoke last: %+v, %v", rres, err)
	}
	e.wantBodies("PUT /users/" + f.b.ID + `/permissions {"permissions":[]}`)
	if p := e.userPerms(f.b.ID); len(p) != 0 {
		t.Fatalf("b still has %+v", p)
	}
}

func TestProvisionRevokeKeepsLabelsInBody(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{})
	if _, err := e.revoke(e.m.Entitlement("source", f.s1.ID, f.admin), e.m.UserResource(f.a)); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Permissions []map[string]any `json:"permissions"`
	}
	w := e.rec.writes()
	if len(w) != 1 {
		t.Fatalf("writes %q", w)
	}
	if err := json.Unmarshal([]byte(w[0][strings.IndexByte(w[0], '{'):]), &body); err != nil {
		t.Fatal(err)
	}
	want := `[{"resources":[{"id":"WS","type":"WORKSPACE"}],"roleId":"MIN"},` +
		`{"resources":[{"id":"S0","type":"SOURCE"},{"id":"WS","labels":[{"description":"Data team","key":"team","value":"data"}],"type":"WORKSPACE"}],"roleId":"ADMIN"},` +
		`{"resources":[{"id":"WS","type":"WORKSPACE"}],"roleId":"RO"},` +
		`{"labels":[{"key":"env","value":"prod"}],"resources":[{"id":"WS","type":"WORKSPACE"}],"roleId":"CUSTOM"}]`
	want = strings.NewReplacer(`"WS"`, `"`+f.ws.ID+`"`, `"S0"`, `"`+f.s0.ID+`"`, `"MIN"`, `"`+f.minimal+`"`, `"ADMIN"`, `"`+f.admin+`"`, `"RO"`, `"`+f.ro+`"`, `"CUSTOM"`, `"`+f.custom+`"`).Replace(want)
	got, _ := json.Marshal(body.Permissions)
	if string(got) != want {
		t.Fatalf("PUT permissions\n%s\nwant\n%s", got, want)
	}
}

func TestProvisionWorkspaceRoles(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{})
	c := e.m.UserResource(f.c)
	owner := e.m.Entitlement("role", f.owner, "member")
	owner.Resource.Parent = nil // the workspace id then comes from GET /
	gres, err := e.grant(owner, c)
	if err != nil || gres.AlreadyExists || len(gres.Grants) != 1 || gres.Grants[0].Entitlement != (abi.EntitlementRef{Resource: owner.Resource.ID, Slug: "member"}) {
		t.Fatalf("grant: %+v, %v", gres, err)
	}
	e.wantBodies(`POST /users/` + f.c.ID + `/permissions {"permissions":[{"roleId":"` + f.owner + `","resources":[{"id":"` + f.ws.ID + `","type":"WORKSPACE"}]}]}`)
	if gres, err = e.grant(owner, c); err != nil || !gres.AlreadyExists {
		t.Fatalf("second grant: %+v, %v", gres, err)
	}
	e.wantWrites()

	// A label-scoped entry of a role is not the role on the workspace:
	// granting writes the workspace-wide one, revoking finds nothing.
	admin := e.m.Entitlement("role", f.admin, "member")
	if rres, err := e.revoke(admin, c); err != nil || !rres.AlreadyRevoked {
		t.Fatalf("revoke label-only workspace role: %+v, %v", rres, err)
	}
	e.wantWrites()

	rres, err := e.revoke(e.m.Entitlement("role", f.minimal, "member"), c)
	if err != nil || rres.AlreadyRevoked {
		t.Fatalf("revoke: %+v, %v", rres, err)
	}
	e.wantWrites("PUT /users/" + f.c.ID + "/permissions")
	wantPerms(t, e.userPerms(f.c.ID),
		segmentsim.Permission{RoleID: f.admin, Resources: []segmentsim.PermissionResource{res(f.ws.ID, "WORKSPACE", segmentsim.Label{Key: "env", Value: "prod"})}},
		segmentsim.Permission{RoleID: f.owner, Resources: []segmentsim.PermissionResource{res(f.ws.ID, "WORKSPACE")}},
	)
	if rres, err = e.revoke(e.m.Entitlement("role", f.minimal, "member"), c); err != nil || !rres.AlreadyRevoked {
		t.Fatalf("second revoke: %+v, %v", rres, err)
	}
	e.wantWrites()
}

func TestProvisionGroupPrincipal(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{})
	g := e.m.GroupResource(f.g.ID)
	ent := e.m.Entitlement("source", f.s1.ID, f.admin)
	gres, err := e.grant(ent, g)
	if err != nil || gres.AlreadyExists || len(gres.Grants) != 1 {
		t.Fatalf("grant: %+v, %v", gres, err)
	}
	if x := gres.Grants[0].ExpandFrom; len(x) != 1 || x[0] != (abi.EntitlementRef{Resource: g.ID, Slug: "member"}) {
		t.Fatalf("group grant ExpandFrom %+v", x)
	}
	e.wantWrites("POST /groups/" + f.g.ID + "/permissions")
	if gres, err = e.grant(ent, g); err != nil || !gres.AlreadyExists {
		t.Fatalf("second grant: %+v, %v", gres, err)
	}
	wr := e.m.Entitlement("role", f.ws.Roles[0].ID, "member")
	if _, err = e.grant(wr, g); err != nil {
		t.Fatal(err)
	}
	rres, err := e.revoke(ent, g)
	if err != nil || rres.AlreadyRevoked {
		t.Fatalf("revoke: %+v, %v", rres, err)
	}
	e.wantWrites("PUT /groups/" + f.g.ID + "/permissions")
	wantPerms(t, e.groupPerms(f.g.ID),
		segmentsim.Permission{RoleID: f.admin, Resources: []segmentsim.PermissionResource{res(f.ws.ID, "WORKSPACE", f.teamData)}},
		segmentsim.Permission{RoleID: f.ro, Resources: []segmentsim.PermissionResource{res(f.s2.ID, "SOURCE")}},
		segmentsim.Permission{RoleID: f.ws.Roles[0].ID, Resources: []segmentsim.PermissionResource{res(f.ws.ID, "WORKSPACE")}},
	)
	// Group access by label is refused like a user's.
	_, err = e.revoke(e.m.Entitlement("source", f.s0.ID, f.admin), g)
	wantCode(t, err, abi.CodeFailedPrecondition)
}

func TestProvisionErrors(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{})
	a := e.m.UserResource(f.a)
	before := e.srv.Snapshot()

	// Unknown principals.
	nobody := abi.Resource{ID: abi.ResourceID{Type: "user", ID: "nope"}}
	_, err := e.grant(e.m.Entitlement("source", f.s2.ID, f.admin), nobody)
	if ae := wantCode(t, err, abi.CodeNotFound); !strings.Contains(ae.Message, "user nope not found") || !strings.Contains(ae.Message, "grant source:"+f.s2.ID+":"+f.admin+" to user:nope") {
		t.Fatalf("message %q", ae.Message)
	}
	_, err = e.revoke(e.m.Entitlement("role", f.admin, "member"), abi.Resource{ID: abi.ResourceID{Type: "group", ID: "nogroup"}})
	if ae := wantCode(t, err, abi.CodeNotFound); !strings.Contains(ae.Message, "group nogroup not found") {
		t.Fatalf("message %q", ae.Message)
	}

	// Unknown role.
	_, err = e.grant(e.m.Entitlement("source", f.s2.ID, "norole"), a)
	if ae := wantCode(t, err, abi.CodeNotFound); !strings.Contains(ae.Message, "role norole does not exist") {
		t.Fatalf("message %q", ae.Message)
	}
	e.wantWrites()

	// Segment's 422 surfaces with its message.
	_, err = e.grant(e.m.Entitlement("source", "src_missing", f.admin), a)
	want := "grant source:src_missing:" + f.admin + " to user:" + f.a.ID + ": POST /users/" + f.a.ID + "/permissions: 422 ValidationFailure: unknown SOURCE resource src_missing (field permissions.0.resources.0.id)"
	if ae := wantCode(t, err, abi.CodeInvalidArgument); ae.Message != want {
		t.Fatalf("message\n%q\nwant\n%q", ae.Message, want)
	}

	// 429 on a write: rate limited, with the time to retry.
	e.srv.InjectRateLimit("POST", "/users/", 1, 5000)
	t0 := time.Now()
	_, err = e.grant(e.m.Entitlement("source", f.s2.ID, f.admin), a)
	ae := wantCode(t, err, abi.CodeRateLimited)
	if ae.RetryAfter == nil || ae.RetryAfter.Before(t0.Add(4*time.Second)) || ae.RetryAfter.After(t0.Add(time.Minute)) {
		t.Fatalf("RetryAfter %v", ae.RetryAfter)
	}
	if !strings.Contains(ae.Message, "POST /users/"+f.a.ID+"/permissions: 429") {
		t.Fatalf("message %q", ae.Message)
	}

	// 5xx on the PUT of a revoke: an error, and nothing changed.
	e.srv.InjectStatus("PUT", "/users/", 503, 1)
	_, err = e.revoke(e.m.Entitlement("source", f.s1.ID, f.admin), a)
	wantCode(t, err, abi.CodeUnavailable)
	e.srv.InjectStatus("PUT", "/users/", 502, 1)
	_, err = e.revoke(e.m.Entitlement("source", f.s1.ID, f.admin), a)
	wantCode(t, err, abi.CodeUnavailable)
	e.srv.InjectStatus("POST", "/groups/", 403, 1)
	_, err = e.grant(e.m.Entitlement("source", f.s1.ID, f.admin), e.m.GroupResource(f.g.ID))
	wantCode(t, err, abi.CodePermissionDenied)
	e.srv.InjectStatus("POST", "/users/", 401, 1)
	_, err = e.grant(e.m.Entitlement("source", f.s2.ID, f.admin), a)
	wantCode(t, err, abi.CodeUnauthenticated)

	wantPerms(t, e.userPerms(f.a.ID), before.UserByID(f.a.ID).Permissions...)
	wantPerms(t, e.groupPerms(f.g.ID), before.GroupByID(f.g.ID).Permissions...)
}

func TestProvisionWriteLimit(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{WriteLimitPerMinute: 1})
	a := e.m.UserResource(f.a)
	if _, err := e.grant(e.m.Entitlement("source", f.s2.ID, f.admin), a); err != nil {
		t.Fatal(err)
	}
	_, err := e.revoke(e.m.Entitlement("source", f.s1.ID, f.admin), a)
	if ae := wantCode(t, err, abi.CodeRateLimited); ae.RetryAfter == nil {
		t.Fatalf("no RetryAfter: %v", ae)
	}
}

func TestProvisionUnimplemented(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{})
	a := e.m.UserResource(f.a)
	cases := map[string]abi.EntitlementOn{
		"workspace membership is not provisionable: add users to the workspace in Segment": e.m.Entitlement("workspace", f.ws.ID, "member"),
		"users have no provisionable entitlements":                                         e.m.Entitlement("user", f.b.ID, "member"),
		`unknown role entitlement "admin"`:                                                 e.m.Entitlement("role", f.admin, "admin"),
		`unknown group entitlement "owner"`:                                                e.m.Entitlement("group", f.g.ID, "owner"),
		`entitlements on "tracking_plan" resources are not provisionable`:                  e.m.Entitlement("tracking_plan", "tp1", "x"),
	}
	for msg, ent := range cases {
		_, err := e.grant(ent, a)
		if ae := wantCode(t, err, abi.CodeUnimplemented); !strings.Contains(ae.Message, msg) {
			t.Errorf("grant: message %q lacks %q", ae.Message, msg)
		}
		_, err = e.revoke(ent, a)
		wantCode(t, err, abi.CodeUnimplemented)
	}
	if n := e.srv.RequestCount(); n != 0 {
		t.Fatalf("%d requests for unprovisionable entitlements", n)
	}
}

// TestProvisionIgnoresSessionCopy: a stale session copy of the principal's
// permissions neither decides a grant nor outlives a write.
func TestProvisionIgnoresSessionCopy(t *testing.T) {
	f := newProvFixture()
	e := newProvEnv(t, f.ws, segmentsim.Options{})
	key := permKey(kindUser, f.b.ID)
	stale := []permission{{RoleID: f.admin, Resources: []permResource{{ID: f.s2.ID, Type: "SOURCE"}}}}
	b, _ := json.Marshal(stale)
	_ = e.session.Set(context.Background(), key, b)
	gres, err := e.grant(e.m.Entitlement("source", f.s2.ID, f.admin), e.m.UserResource(f.b))
	if err != nil || gres.AlreadyExists {
		t.Fatalf("grant: %+v, %v", gres, err)
	}
	e.wantWrites("POST /users/" + f.b.ID + "/permissions")
	if v, _, _ := e.session.Get(context.Background(), key); string(v) != "null" {
		t.Fatalf("session copy after the write: %s", v)
	}
	// The next ListGrants reads the principal again and sees the grant.
	page, err := New().ListGrants(context.Background(), e.env, abi.ListGrantsRequest{Resource: e.m.UserResource(f.b)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range page.Grants {
		found = found || grantKey(g) == "source:"+f.s2.ID+":"+f.admin+" -> user:"+f.b.ID
	}
	if !found {
		t.Fatalf("grant not listed after provisioning: %+v", page.Grants)
	}
}

// TestProvisionModel applies random operation sequences and compares the
// simulator with the model after every step (package provmodel).
// Odd seeds run without a session, as the host provisions.
func TestProvisionModel(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		cfg := segmentsim.DefaultConfig(30)
		cfg.Seed = int64(seed)
		srv := segmentsim.NewServer(segmentsim.Generate(cfg), segmentsim.Options{WriteLimitPerMinute: -1})
		ts := httptest.NewServer(srv)
		te := newTestEnv(netHTTP{base: ts.URL, token: segmentsim.DefaultToken})
		if seed%2 == 1 {
			te.env.Session = nil
		}
		conn := New()
		exec := func(op provmodel.Op) (bool, error) {
			ctx := context.Background()
			switch op.Kind() {
			case "create-account":
				profile := map[string]any{"email": op.CreateAccount, "roles": anyList(op.Roles), "groups": anyList(op.Groups)}
				res, err := conn.CreateAccount(ctx, te.env, abi.CreateAccountRequest{ResourceType: typeInvite, Profile: profile})
				pending := res.Outcome == abi.AccountActionRequired && strings.Contains(res.Message, "already pending")
				return res.Outcome == abi.AccountAlreadyExists || pending, err
			case "delete":
				res, err := conn.DeleteResource(ctx, te.env, abi.DeleteResourceRequest{Resource: *op.Delete})
				return res.AlreadyDeleted, err
			}
			if !op.Grant {
				res, err := conn.Revoke(ctx, te.env, abi.RevokeRequest{Entitlement: op.Entitlement, Principal: op.Principal})
				return res.AlreadyRevoked, err
			}
			res, err := conn.Grant(ctx, te.env, abi.GrantRequest{Entitlement: op.Entitlement, Principal: op.Principal})
			if err == nil && !res.AlreadyExists {
				ref := abi.EntitlementRef{Resource: op.Entitlement.Resource.ID, Slug: op.Entitlement.Slug}
				if len(res.Grants) != 1 || res.Grants[0].Entitlement != ref || res.Grants[0].Principal != op.Principal.ID {
					t.Fatalf("%s: grants %+v", op, res.Grants)
				}
			}
			return res.AlreadyExists, err
		}
		provmodel.Run(t, seed, 60, srv, exec)
		ts.Close()
	}
}

// anyList is ids as a JSON-decoded profile holds them.
func anyList(ids []string) []any {
	out := []any{}
	for _, id := range ids {
		out = append(out, id)
	}
	return out
}
