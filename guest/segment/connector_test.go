package segment

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

func TestMetadata(t *testing.T) {
	md := New().Metadata()
	if md.ABIVersion != abi.Version || md.DisplayName != "Segment" {
		t.Fatalf("%+v", md)
	}
	var ids []string
	traits := map[string][]abi.Trait{}
	for _, rt := range md.ResourceTypes {
		ids = append(ids, rt.ID)
		traits[rt.ID] = rt.Traits
	}
	want := []string{"workspace", "user", "invite", "group", "role", "source", "warehouse", "space", "function"}
	if !slices.Equal(ids, want) {
		t.Fatalf("types %v", ids)
	}
	for id, tr := range map[string]abi.Trait{"workspace": abi.TraitApp, "user": abi.TraitUser, "invite": abi.TraitUser, "group": abi.TraitGroup, "role": abi.TraitRole} {
		if !slices.Equal(traits[id], []abi.Trait{tr}) {
			t.Errorf("%s traits %v", id, traits[id])
		}
	}
	for _, id := range want[5:] {
		if len(traits[id]) != 0 {
			t.Errorf("%s has traits", id)
		}
	}
}

func TestValidateNeedsWorkspaceID(t *testing.T) {
	h := newFakeHTTP()
	h.json("/", 200, `{"data":{"workspace":{"id":"","name":"x"}}}`)
	e := newTestEnv(h)
	wantCode(t, New().Validate(context.Background(), e.env, abi.Call{}), abi.CodeUnavailable)
	h.json("/", 200, `{"data":{}}`)
	wantCode(t, New().Validate(context.Background(), e.env, abi.Call{}), abi.CodeUnavailable)
	h.json("/", 200, `{"data":{"workspace":{"id":"ws1","slug":"s","name":"n"}}}`)
	if err := New().Validate(context.Background(), e.env, abi.Call{}); err != nil {
		t.Fatal(err)
	}
}

// listAll follows page tokens, checking that each token is new.
func listAll(t *testing.T, env guest.Env, rt string, parent *abi.ResourceID) ([]abi.Resource, []string) {
	t.Helper()
	var out []abi.Resource
	var tokens []string
	tok := ""
	for {
		p, err := New().ListResources(context.Background(), env, abi.ListResourcesRequest{ResourceType: rt, Parent: parent, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Resources...)
		if p.NextPageToken == "" {
			return out, tokens
		}
		if slices.Contains(tokens, p.NextPageToken) || p.NextPageToken == tok {
			t.Fatalf("token %q repeated", p.NextPageToken)
		}
		tokens = append(tokens, p.NextPageToken)
		tok = p.NextPageToken
	}
}

func TestFunctionPhases(t *testing.T) {
	h := newFakeHTTP()
	h.json("/functions?resourceType=SOURCE&pagination.count=200", 200,
		`{"data":{"functions":[{"id":"sfnc_1","resourceType":"SOURCE","displayName":"A"}],"pagination":{"current":"MA==","next":"MQ=="}}}`)
	h.json("/functions?resourceType=SOURCE&pagination.count=200&pagination.cursor=MQ%3D%3D", 200,
		`{"data":{"functions":[{"id":"sfnc_2","displayName":""}],"pagination":{"current":"MQ=="}}}`)
	h.json("/functions?resourceType=DESTINATION&pagination.count=200", 200,
		`{"data":{"functions":[],"pagination":{"current":"MA=="}}}`)
	h.json("/functions?resourceType=INSERT_SOURCE&pagination.count=200", 422,
		`{"errors":[{"type":"ValidationFailure","message":"must be one of DESTINATION, SOURCE","field":"resourceType"}]}`)
	h.json("/functions?resourceType=INSERT_DESTINATION&pagination.count=200", 200,
		`{"data":{"functions":[{"id":"ifnd_1","resourceType":"INSERT_DESTINATION","displayName":"C","description":"d"}],"pagination":{"current":"MA=="}}}`)
	h.json("/functions?resourceType=INSERT_TRANSFORMATION&pagination.count=200", 200,
		`{"data":{"functions":[{"id":"itfn_1","resourceType":"INSERT_TRANSFORMATION","displayName":"D"}],"pagination":{"current":"MA=="}}}`)
	e := newTestEnv(h)
	got, tokens := listAll(t, e.env, typeFunction, ws1())
	if len(tokens) != 5 {
		t.Errorf("%d tokens, want 5", len(tokens))
	}
	var names []string
	for _, r := range got {
		names = append(names, r.DisplayName+"/"+r.Profile["resourceType"])
		if r.Parent == nil || *r.Parent != *ws1() {
			t.Errorf("parent %+v", r.Parent)
		}
	}
	want := []string{"A/SOURCE", "sfnc_2/SOURCE", "C/INSERT_DESTINATION", "D/INSERT_TRANSFORMATION"}
	if !slices.Equal(names, want) {
		t.Fatalf("functions %v, want %v", names, want)
	}
	if !e.logs.contains(guest.LogWarn, "INSERT_SOURCE") {
		t.Error("skipped type not logged")
	}
}

func TestFunctionsFeatureOffStopsEarly(t *testing.T) {
	h := newFakeHTTP()
	h.json("/functions?resourceType=SOURCE&pagination.count=200", 403,
		`{"errors":[{"type":"FeatureNotEnabled","message":"Functions is not enabled for this workspace"}]}`)
	e := newTestEnv(h)
	got, tokens := listAll(t, e.env, typeFunction, ws1())
	if len(got) != 0 || len(tokens) != 0 || len(h.requested()) != 1 {
		t.Fatalf("got %v, tokens %v, requests %v", got, tokens, h.requested())
	}
}

func TestSpacesFeatureOff(t *testing.T) {
	for _, tc := range []struct {
		status int
		msg    string
		off    bool
	}{
		{403, "Forbidden", true},
		{422, "Spaces feature is not enabled", true},
		{404, "Resource not found", false},
		{401, "Unauthorized", false},
	} {
		h := newFakeHTTP()
		b, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"type": "x", "message": tc.msg}}})
		h.json("/spaces?pagination.count=200", tc.status, string(b))
		e := newTestEnv(h)
		p, err := New().ListResources(context.Background(), e.env, abi.ListResourcesRequest{ResourceType: typeSpace, Parent: ws1()})
		if tc.off {
			if err != nil || len(p.Resources) != 0 || p.NextPageToken != "" {
				t.Errorf("%d %q: %+v, %v", tc.status, tc.msg, p, err)
			}
		} else if err == nil {
			t.Errorf("%d %q: no error", tc.status, tc.msg)
		}
	}
}

func TestCursorThatDoesNotAdvance(t *testing.T) {
	h := newFakeHTTP()
	h.json("/warehouses?pagination.count=200", 200, `{"data":{"warehouses":[],"pagination":{"current":"MA==","next":"Mg=="}}}`)
	h.json("/warehouses?pagination.count=200&pagination.cursor=Mg%3D%3D", 200, `{"data":{"warehouses":[],"pagination":{"current":"Mg==","next":"Mg=="}}}`)
	e := newTestEnv(h)
	p, err := New().ListResources(context.Background(), e.env, abi.ListResourcesRequest{ResourceType: typeWarehouse, Parent: ws1()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New().ListResources(context.Background(), e.env, abi.ListResourcesRequest{ResourceType: typeWarehouse, Parent: ws1(), PageToken: p.NextPageToken})
	ae := wantCode(t, err, abi.CodeUnavailable)
	if !strings.Contains(ae.Message, "pagination cursor did not advance") || !strings.Contains(ae.Message, "GET /warehouses") {
		t.Fatalf("message %q", ae.Message)
	}
	if err := sameToken(`{"c":"x"}`, `{"c":"x"}`); err == nil {
		t.Fatal("sameToken accepted a repeated token")
	}
	if sameToken("", "") != nil || sameToken("a", "") != nil || sameToken("", "a") != nil {
		t.Fatal("sameToken rejected a valid pair")
	}
}

func TestBadPageTokens(t *testing.T) {
	e := newTestEnv(newFakeHTTP())
	for _, tok := range []string{"garbage", `{"p":-1}`, `{"p":9}`} {
		_, err := New().ListResources(context.Background(), e.env, abi.ListResourcesRequest{ResourceType: typeFunction, Parent: ws1(), PageToken: tok})
		wantCode(t, err, abi.CodeInvalidArgument)
	}
	_, err := New().ListGrants(context.Background(), e.env, abi.ListGrantsRequest{Resource: abi.Resource{ID: abi.ResourceID{Type: typeGroup, ID: "g"}}, PageToken: "{"})
	wantCode(t, err, abi.CodeInvalidArgument)
	_, err = New().ListResources(context.Background(), e.env, abi.ListResourcesRequest{ResourceType: "nope", Parent: ws1()})
	wantCode(t, err, abi.CodeInvalidArgument)
}

// Groups whose list item lacks permissions are fetched one by one (key
// userGroup); an explicit empty list is trusted; a group deleted meanwhile
// is skipped.
func TestGroupsWithoutPermissions(t *testing.T) {
	h := newFakeHTTP()
	h.json("/groups?pagination.count=100", 200, `{"data":{"userGroups":[
		{"id":"g1","name":"One","memberCount":2},
		{"id":"g2","name":"Two","memberCount":0,"permissions":[]},
		{"id":"g3","name":"Gone","memberCount":1,"permissions":null}],
		"pagination":{"current":"MA=="}}}`)
	h.json("/groups/g1", 200, `{"data":{"userGroup":{"id":"g1","name":"One","memberCount":2,"permissions":[
		{"roleId":"rX","roleName":"Mystery","resources":[{"id":"w9","type":"WAREHOUSE","labels":[]}]}]}}}`)
	e := newTestEnv(h)
	got, _ := listAll(t, e.env, typeGroup, ws1())
	if len(got) != 2 || got[0].Profile["memberCount"] != "2" || got[1].DisplayName != "Two" {
		t.Fatalf("%+v", got)
	}
	if !slices.Equal(h.requested(), []string{"/groups?pagination.count=100", "/groups/g1", "/groups/g3"}) {
		t.Fatalf("requests %v", h.requested())
	}
	var perms []permission
	if !(cache{s: e.session}).load(context.Background(), permKey(kindGroup, "g1"), &perms) || len(perms) != 1 {
		t.Fatalf("g1 permissions not cached: %+v", perms)
	}
	var extras []scopedRole
	(cache{s: e.session}).load(context.Background(), extrasKey(kindGroup, 0), &extras)
	if !slices.Equal(extras, []scopedRole{{Type: typeWarehouse, ID: "w9", Role: "rX", Name: "Mystery"}}) {
		t.Fatalf("extras %+v", extras)
	}
	var pages int
	if !(cache{s: e.session}).load(context.Background(), extrasPagesKey(kindGroup), &pages) || pages != 1 {
		t.Fatalf("pages %d", pages)
	}
}

// A permission entry without roleName is classified through the role list,
// and the resulting extra entitlement is named from it.
func TestRoleNameFromRoleList(t *testing.T) {
	h := newFakeHTTP()
	h.json("/users?pagination.count=100", 200, `{"data":{"users":[{"id":"u1","name":"","email":"bot@x.test"},{"id":"u2","name":"Gone","email":"g@x.test"}],"pagination":{"current":"MA=="}}}`)
	h.json("/users/u1", 200, `{"data":{"user":{"id":"u1","name":"","email":"bot@x.test","permissions":[
		{"roleId":"rS","resources":[{"id":"s1","type":"SOURCE"}]},
		{"roleId":"rC","resources":[{"id":"s1","type":"SOURCE"}]}]}}}`)
	h.json("/roles?pagination.count=200", 200, `{"data":{"roles":[
		{"id":"rS","name":"Source Admin","description":""},
		{"id":"rC","name":"Auditor","description":""}],"pagination":{"current":"MA=="}}}`)
	e := newTestEnv(h)
	users, _ := listAll(t, e.env, typeUser, ws1())
	if len(users) != 1 || users[0].DisplayName != "bot@x.test" {
		t.Fatalf("users %+v", users)
	}
	if !e.logs.contains(guest.LogWarn, "u2 disappeared") {
		t.Error("vanished user not logged")
	}
	p, err := New().ListEntitlements(context.Background(), e.env, abi.ListEntitlementsRequest{Resource: abi.Resource{ID: abi.ResourceID{Type: typeSource, ID: "s1"}, DisplayName: "Web"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range p.Entitlements {
		names = append(names, en.Slug+"="+en.DisplayName)
	}
	if !slices.Equal(names, []string{"rS=Source Admin on Web", "rC=Auditor on Web"}) {
		t.Fatalf("entitlements %v", names)
	}
	// Other sources offer the table roles only.
	p, _ = New().ListEntitlements(context.Background(), e.env, abi.ListEntitlementsRequest{Resource: abi.Resource{ID: abi.ResourceID{Type: typeSource, ID: "s2"}}})
	if len(p.Entitlements) != 1 || p.Entitlements[0].DisplayName != "Source Admin on s2" {
		t.Fatalf("%+v", p.Entitlements)
	}
	// /roles was read once for the whole sync.
	n := 0
	for _, r := range h.requested() {
		if strings.HasPrefix(r, "/roles") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("/roles read %d times", n)
	}
}

// A user listed without a parent finds the workspace through GET /; its
// grants need no request when the session has its permissions.
func TestUserGrantsFromSession(t *testing.T) {
	h := newFakeHTTP()
	h.json("/", 200, `{"data":{"workspace":{"id":"ws1","slug":"acme","name":"Acme"}}}`)
	h.json("/users?pagination.count=100", 200, `{"data":{"users":[{"id":"u1","name":"Dana","email":"d@x.test"}],"pagination":{"current":"MA=="}}}`)
	h.json("/users/u1", 200, `{"data":{"user":{"id":"u1","permissions":[
		{"roleId":"rO","roleName":"Workspace Owner","resources":[{"id":"ws1","type":"WORKSPACE","labels":[]}]},
		{"roleId":"rS","roleName":"Source Admin","resources":[{"id":"s1","type":"SOURCE"},{"id":"ws1","type":"WORKSPACE","labels":[{"key":"env","value":"prod"}]}]}]}}}`)
	h.json("/sources?pagination.count=200", 200, `{"data":{"sources":[
		{"id":"s1","slug":"web","name":"Web","labels":[{"key":"env","value":"prod"}]},
		{"id":"s2","slug":"app","name":"","labels":[{"key":"env","value":"prod"},{"key":"team","value":"x"}]},
		{"id":"s3","slug":"dev","labels":[{"key":"env","value":"dev"}]}],"pagination":{"current":"MA=="}}}`)
	e := newTestEnv(h)
	users, _ := listAll(t, e.env, typeUser, nil)
	if len(users) != 1 || users[0].Parent == nil || users[0].Parent.ID != "ws1" {
		t.Fatalf("%+v", users)
	}
	before := len(h.requested())
	p, err := New().ListGrants(context.Background(), e.env, abi.ListGrantsRequest{Resource: users[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.requested()) != before {
		t.Fatalf("grants made requests: %v", h.requested()[before:])
	}
	var got []string
	for _, g := range p.Grants {
		got = append(got, grantKey(g))
	}
	want := []string{
		"workspace:ws1:member -> user:u1",
		"role:rO:member -> user:u1",
		"source:s1:rS -> user:u1",
		"source:s2:rS -> user:u1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("grants\n got %v\nwant %v", got, want)
	}
	// Sources come from the session cache, in pages, with slug fallback.
	srcs, _ := listAll(t, e.env, typeSource, ws1())
	if len(srcs) != 3 || srcs[1].DisplayName != "app" || srcs[1].Profile["labels"] != "env=prod,team=x" {
		t.Fatalf("%+v", srcs)
	}
	n := 0
	for _, r := range h.requested() {
		if strings.HasPrefix(r, "/sources") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("/sources read %d times", n)
	}
	// Non-principals have no grants.
	for _, typ := range []string{typeWorkspace, typeRole, typeSource, typeWarehouse, typeSpace, typeFunction} {
		p, err := New().ListGrants(context.Background(), e.env, abi.ListGrantsRequest{Resource: abi.Resource{ID: abi.ResourceID{Type: typ, ID: "x"}}})
		if err != nil || len(p.Grants) != 0 || p.Grants == nil {
			t.Fatalf("%s: %+v %v", typ, p, err)
		}
	}
}

// failingSession errors on every call; the connector must still work.
type failingSession struct{}

func (failingSession) Get(context.Context, string) ([]byte, bool, error) {
	return nil, false, errors.New("session down")
}
func (failingSession) Set(context.Context, string, []byte) error { return errors.New("session down") }

func TestWithoutUsableSession(t *testing.T) {
	h := newFakeHTTP()
	h.json("/", 200, `{"data":{"workspace":{"id":"ws1","slug":"acme","name":"Acme"}}}`)
	h.json("/warehouses?pagination.count=200", 200, `{"data":{"warehouses":[
		{"id":"w1","metadata":{"name":"Snowflake"},"settings":{"name":"Analytics"}},
		{"id":"w2","metadata":{"name":"BigQuery"},"settings":{"name":42}},
		{"id":"w3","metadata":{"name":"Redshift"}}],"pagination":{"current":"MA=="}}}`)
	logs := &logSink{}
	for _, env := range []guest.Env{
		{HTTP: h},
		{HTTP: h, Session: failingSession{}, Log: logs.logger()},
	} {
		got, _ := listAll(t, env, typeWarehouse, nil)
		var names []string
		for _, r := range got {
			names = append(names, r.DisplayName+"|"+r.Profile["type"])
		}
		if !slices.Equal(names, []string{"Analytics|Snowflake", "BigQuery w2|BigQuery", "Redshift w3|Redshift"}) {
			t.Fatalf("%v", names)
		}
	}
	if !logs.contains(guest.LogWarn, "session down") {
		t.Error("session failure not logged")
	}
}

func TestCorruptSessionValueIsAMiss(t *testing.T) {
	h := newFakeHTTP()
	h.json("/roles?pagination.count=200", 200, `{"data":{"roles":[{"id":"r1","name":"Source Admin"}],"pagination":{"current":"MA=="}}}`)
	e := newTestEnv(h)
	_ = e.session.Set(context.Background(), rolesKey, []byte("{not json"))
	p, err := New().ListResources(context.Background(), e.env, abi.ListResourcesRequest{ResourceType: typeRole, Parent: ws1()})
	if err != nil || len(p.Resources) != 1 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestGroupGrantsPages(t *testing.T) {
	h := newFakeHTTP()
	h.json("/groups/g1/users?pagination.count=200", 200, `{"data":{"users":[{"id":"u1"},{"id":"u2"}],"pagination":{"current":"MA==","next":"Mg=="}}}`)
	h.json("/groups/g1/users?pagination.count=200&pagination.cursor=Mg%3D%3D", 200, `{"data":{"users":[{"id":"u3"}],"pagination":{"current":"Mg=="}}}`)
	h.json("/groups/g1", 200, `{"data":{"userGroup":{"id":"g1","name":"G","memberCount":3,"permissions":[
		{"roleId":"rF","roleName":"Function Admin","resources":[{"id":"sfnc_1","type":"FUNCTION"},{"id":"sfnc_1","type":"FUNCTION"}]}]}}}`)
	e := newTestEnv(h)
	g := abi.Resource{ID: abi.ResourceID{Type: typeGroup, ID: "g1"}}
	p1, err := New().ListGrants(context.Background(), e.env, abi.ListGrantsRequest{Resource: g})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := New().ListGrants(context.Background(), e.env, abi.ListGrantsRequest{Resource: g, PageToken: p1.NextPageToken})
	if err != nil || p2.NextPageToken != "" {
		t.Fatalf("%+v %v", p2, err)
	}
	var got []string
	for _, gr := range append(p1.Grants, p2.Grants...) {
		got = append(got, grantKey(gr))
	}
	want := []string{"group:g1:member -> user:u1", "group:g1:member -> user:u2", "function:sfnc_1:rF -> group:g1", "group:g1:member -> user:u3"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	if x := p1.Grants[2].ExpandFrom; len(x) != 1 || x[0] != (abi.EntitlementRef{Resource: g.ID, Slug: memberSlug}) {
		t.Fatalf("ExpandFrom %+v", x)
	}
	// A group deleted since listing has no grants rather than an error.
	p, err := New().ListGrants(context.Background(), e.env, abi.ListGrantsRequest{Resource: abi.Resource{ID: abi.ResourceID{Type: typeGroup, ID: "gone"}}})
	if err != nil || len(p.Grants) != 0 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestEntitlementShapes(t *testing.T) {
	e := newTestEnv(newFakeHTTP())
	get := func(r abi.Resource) []abi.Entitlement {
		p, err := New().ListEntitlements(context.Background(), e.env, abi.ListEntitlementsRequest{Resource: r})
		if err != nil {
			t.Fatal(err)
		}
		return p.Entitlements
	}
	ws := get(abi.Resource{ID: abi.ResourceID{Type: typeWorkspace, ID: "ws1"}, DisplayName: "Acme"})
	if len(ws) != 1 || ws[0].Slug != "member" || ws[0].DisplayName != "Member of Acme" || !slices.Equal(ws[0].GrantableTo, []string{"user"}) {
		t.Fatalf("%+v", ws)
	}
	gr := get(abi.Resource{ID: abi.ResourceID{Type: typeGroup, ID: "g1"}, DisplayName: "Eng"})
	if len(gr) != 1 || gr[0].DisplayName != "Member of Eng" || !slices.Equal(gr[0].GrantableTo, []string{"user", "invite"}) {
		t.Fatalf("%+v", gr)
	}
	ro := get(abi.Resource{ID: abi.ResourceID{Type: typeRole, ID: "r1"}, DisplayName: "Identity Admin"})
	if len(ro) != 1 || ro[0].DisplayName != "Identity Admin" || ro[0].Description != "Identity Admin on the whole workspace" || !slices.Equal(ro[0].GrantableTo, []string{"user", "group"}) {
		t.Fatalf("%+v", ro)
	}
	if u := get(abi.Resource{ID: abi.ResourceID{Type: typeUser, ID: "u1"}}); len(u) != 0 || u == nil {
		t.Fatalf("user entitlements %+v", u)
	}
}

func TestUserResourceFallbacks(t *testing.T) {
	r := userResource(user{ID: "u1"}, *ws1())
	if r.DisplayName != "u1" || r.User == nil || r.User.Emails != nil {
		t.Fatalf("%+v", r)
	}
}
