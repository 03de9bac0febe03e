package segmentsim

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	const want = `{"errors":[{"type":"unauthorized","message":"Unauthorized","status":401}]}`
	for name, hdr := range map[string]string{
		"missing":      "",
		"wrong token":  "Bearer nope",
		"wrong scheme": "Basic " + DefaultToken,
		"no scheme":    DefaultToken,
	} {
		r := s.do(http.MethodGet, "/users", nil, "Authorization", hdr)
		if r.status != http.StatusUnauthorized || strings.TrimSpace(string(r.raw)) != want {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", name, ct)
		}
	}
	mustStatus(t, s.do(http.MethodGet, "/", nil, "Authorization", "bearer "+DefaultToken), http.StatusOK)

	recs := s.srv.Requests()
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	// The cases ran in map order, so check the recorded headers as a set.
	auths := map[string]int{}
	for _, rec := range recs {
		auths[rec.Authorization] = rec.Status
	}
	if auths["Bearer nope"] != 401 || auths["bearer "+DefaultToken] != 200 {
		t.Fatalf("records %+v", recs)
	}

	// A custom token replaces the default one.
	cfg := smallConfig()
	cfg.Token = "secret-1"
	c := newSim(t, cfg, Options{})
	mustStatus(t, c.get("/"), http.StatusOK)
	c.token = DefaultToken
	mustStatus(t, c.get("/"), http.StatusUnauthorized)
}

func TestContentTypes(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	for _, accept := range []string{"application/json", "application/vnd.segment.v1+json",
		"application/vnd.segment.v1beta+json", "application/vnd.segment.v1alpha+json", ""} {
		r := s.do(http.MethodGet, "/spaces", nil, "Accept", accept)
		mustStatus(t, r, http.StatusOK)
		if r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("content type %q", r.header.Get("Content-Type"))
		}
	}
	ws := s.srv.Snapshot()
	body := map[string]any{"emails": []string{ws.Users[0].Email}}
	for _, ct := range []string{"application/vnd.segment.v1+json", "application/vnd.segment.v1alpha+json", ""} {
		mustStatus(t, s.do(http.MethodPost, "/groups/"+ws.Groups[0].ID+"/users", body, "Content-Type", ct), http.StatusOK)
	}
}

func TestRoutes(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()

	d := s.get("/").data()
	if w := obj(d["workspace"]); w["id"] != ws.ID || w["slug"] != ws.Slug || w["name"] != ws.Name {
		t.Fatalf("workspace %v", d)
	}

	users := list(s.get("/users").data(), "users")
	if len(users) != len(ws.Users) {
		t.Fatalf("%d users", len(users))
	}
	for i, u := range users {
		m := obj(u)
		if m["id"] != ws.Users[i].ID || m["email"] != ws.Users[i].Email || m["name"] != ws.Users[i].Name {
			t.Fatalf("user %d: %v", i, m)
		}
		if _, ok := m["permissions"]; ok {
			t.Fatal("list users must omit permissions")
		}
		if _, ok := m["name"]; !ok {
			t.Fatal("name must be present even when empty")
		}
	}

	// User 3 has Source Admin on a source plus label-scoped on WORKSPACE.
	u := ws.Users[3]
	r := s.get("/users/" + u.ID)
	mustStatus(t, r, http.StatusOK)
	perms := list(obj(r.data()["user"]), "permissions")
	if len(perms) != len(u.Permissions) {
		t.Fatalf("permissions %v", perms)
	}
	var sawLabel bool
	for _, p := range perms {
		pm := obj(p)
		if pm["roleId"] == "" || pm["roleName"] == "" {
			t.Fatalf("permission %v", pm)
		}
		for _, res := range list(pm, "resources") {
			rm := obj(res)
			if _, ok := rm["labels"].([]any); !ok {
				t.Fatalf("resource labels must be an array: %v", rm)
			}
			if len(list(rm, "labels")) > 0 {
				sawLabel = true
			}
		}
	}
	if !sawLabel {
		t.Fatal("label-scoped resource not served")
	}

	// Groups: userGroups key with memberCount and permissions.
	r = s.get("/groups")
	groups := list(r.data(), "userGroups")
	if len(groups) != len(ws.Groups) {
		t.Fatalf("groups %s", r.raw)
	}
	for i, g := range groups {
		m := obj(g)
		want := len(ws.Groups[i].MemberIDs) + len(ws.Groups[i].InviteEmails)
		if m["id"] != ws.Groups[i].ID || m["memberCount"] != float64(want) || m["permissions"] == nil {
			t.Fatalf("group %v", m)
		}
	}
	g0 := ws.Groups[0]
	ug := obj(s.get("/groups/" + g0.ID).data()["userGroup"])
	if ug["id"] != g0.ID || len(list(ug, "permissions")) != len(g0.Permissions) {
		t.Fatalf("userGroup %v", ug)
	}
	gu := list(s.get("/groups/"+g0.ID+"/users").data(), "users")
	if len(gu) != len(g0.MemberIDs) || obj(gu[0])["id"] != g0.MemberIDs[0] {
		t.Fatalf("group users %v", gu)
	}
	gi := list(s.get("/groups/"+g0.ID+"/invites").data(), "emails")
	if len(gi) != len(g0.InviteEmails) || len(gi) == 0 || gi[0] != g0.InviteEmails[0] {
		t.Fatalf("group invites %v", gi)
	}
	// User 1 is in three groups.
	ugs := list(s.get("/users/"+ws.Users[1].ID+"/groups").data(), "groups")
	if len(ugs) != 3 || obj(ugs[0])["name"] == "" {
		t.Fatalf("user groups %v", ugs)
	}

	inv := list(s.get("/invites").data(), "invites")
	if len(inv) != len(ws.Invites) || inv[0] != ws.Invites[0] {
		t.Fatalf("invites %v", inv)
	}

	roles := list(s.get("/roles").data(), "roles")
	if len(roles) != len(ws.Roles) || obj(roles[0])["name"] != RoleWorkspaceOwner || obj(roles[0])["description"] == "" {
		t.Fatalf("roles %v", roles)
	}

	srcs := list(s.get("/sources").data(), "sources")
	if len(srcs) != len(ws.Sources) {
		t.Fatal("sources")
	}
	s0 := obj(srcs[0])
	for _, k := range []string{"id", "slug", "name", "workspaceId", "enabled", "writeKeys", "metadata", "settings", "labels"} {
		if _, ok := s0[k]; !ok {
			t.Fatalf("source lacks %s: %v", k, s0)
		}
	}
	if obj(s0["metadata"])["name"] != ws.Sources[0].CatalogName || len(list(s0, "labels")) != len(ws.Sources[0].Labels) {
		t.Fatalf("source %v", s0)
	}
	if obj(srcs[2])["name"] != "" {
		t.Fatalf("source 2 should have an empty name: %v", srcs[2])
	}

	whs := list(s.get("/warehouses").data(), "warehouses")
	if len(whs) != len(ws.Warehouses) {
		t.Fatal("warehouses")
	}
	w0 := obj(whs[0])
	if _, ok := w0["name"]; ok {
		t.Fatal("warehouse must not have a top-level name")
	}
	if obj(w0["settings"])["name"] != ws.Warehouses[0].Name || obj(w0["metadata"])["name"] != ws.Warehouses[0].Type {
		t.Fatalf("warehouse %v", w0)
	}

	sp := list(s.get("/spaces").data(), "spaces")
	if len(sp) != len(ws.Spaces) || obj(sp[0])["id"] != ws.Spaces[0].ID || obj(sp[0])["slug"] == "" {
		t.Fatalf("spaces %v", sp)
	}

	for _, ft := range functionTypes {
		fns := list(s.get("/functions?resourceType="+ft.Type).data(), "functions")
		if len(fns) != 2 {
			t.Fatalf("%s: %v", ft.Type, fns)
		}
		for _, f := range fns {
			fm := obj(f)
			if fm["resourceType"] != ft.Type || !strings.HasPrefix(fm["id"].(string), ft.Prefix) || fm["displayName"] == "" || fm["createdAt"] == "" {
				t.Fatalf("function %v", fm)
			}
		}
	}
	mustValidation(t, s.get("/functions"), "resourceType")
	mustValidation(t, s.get("/functions?resourceType=WEIRD"), "resourceType")
	mustValidation(t, s.get("/functions?resourceType=source"), "resourceType")
}

func TestFeaturesDisabled(t *testing.T) {
	cfg := smallConfig()
	cfg.SpacesEnabled, cfg.FunctionsEnabled = false, false
	s := newSim(t, cfg, Options{})
	for _, p := range []string{"/spaces", "/functions?resourceType=SOURCE", "/functions"} {
		r := s.get(p)
		mustStatus(t, r, http.StatusForbidden)
		if e := r.firstError(); e["type"] != "FeatureNotEnabled" || e["status"] != float64(403) {
			t.Fatalf("%s: %s", p, r.raw)
		}
	}
}

func TestNotFound(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()
	g := ws.Groups[0].ID
	email := url.QueryEscape(ws.Users[0].Email)
	cases := []struct{ method, path string }{
		{http.MethodGet, "/nope"},
		{http.MethodGet, "/users/"},
		{http.MethodGet, "//users"},
		{http.MethodPost, "/users"},
		{http.MethodPatch, "/users/" + ws.Users[0].ID},
		{http.MethodDelete, "/groups/" + g + "/users?emails.0=" + email},
		{http.MethodPut, "/groups/" + g + "/users"},
		{http.MethodGet, "/group/" + g + "/users"},
		{http.MethodGet, "/users/unknown"},
		{http.MethodGet, "/users/unknown/groups"},
		{http.MethodGet, "/groups/unknown"},
		{http.MethodGet, "/groups/unknown/users"},
		{http.MethodGet, "/groups/unknown/invites"},
		{http.MethodDelete, "/group/unknown/users?emails.0=" + email},
		{http.MethodGet, "/functions/" + "sfnc_x"},
	}
	for _, c := range cases {
		var body any
		if c.method == http.MethodPut || c.method == http.MethodPost || c.method == http.MethodPatch {
			body = map[string]any{"emails": []string{ws.Users[0].Email}}
		}
		r := s.do(c.method, c.path, body)
		if r.status != http.StatusNotFound || r.firstError()["type"] != "NotFound" {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.raw)
		}
	}
	perms := map[string]any{"permissions": []any{}}
	mustNotFound(t, s.do(http.MethodPut, "/users/unknown/permissions", perms))
	mustNotFound(t, s.do(http.MethodPost, "/groups/unknown/permissions", perms))
	mustNotFound(t, s.do(http.MethodPost, "/groups/unknown/users", map[string]any{"emails": []string{ws.Users[0].Email}}))
	mustNotFound(t, s.do(http.MethodPut, "/group/unknown/users", map[string]any{"emails": []string{}}))
}

func TestBodyErrors(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	u := s.srv.Snapshot().Users[0].ID
	mustValidation(t, s.do(http.MethodPost, "/users/"+u+"/permissions", "{not json"), "body")
	mustValidation(t, s.do(http.MethodPost, "/users/"+u+"/permissions", " "), "body")
	mustValidation(t, s.do(http.MethodPost, "/users/"+u+"/permissions", `{"permissions":[{"roleId":5}]}`), "permissions.roleId")
	big := `{"permissions":[],"pad":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	r := s.do(http.MethodPut, "/users/"+u+"/permissions", big)
	mustStatus(t, r, http.StatusRequestEntityTooLarge)
}

func TestRequestAccounting(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	s.get("/users?pagination[count]=5")
	s.do(http.MethodDelete, "/groups/x/users", nil)
	recs := s.srv.Requests()
	if s.srv.RequestCount() != 2 || len(recs) != 2 {
		t.Fatalf("records %+v", recs)
	}
	if recs[0].Method != "GET" || recs[0].Path != "/users" || recs[0].RawQuery != "pagination[count]=5" ||
		recs[0].Status != 200 || recs[0].Authorization != "Bearer "+DefaultToken {
		t.Fatalf("record %+v", recs[0])
	}
	if recs[1].Status != 404 || recs[1].Method != "DELETE" {
		t.Fatalf("record %+v", recs[1])
	}
	s.srv.ResetRequests()
	if s.srv.RequestCount() != 0 || len(s.srv.Requests()) != 0 {
		t.Fatal("reset")
	}
}

func TestLatencyAndCancellation(t *testing.T) {
	s := newSim(t, smallConfig(), Options{Latency: 30 * time.Millisecond})
	start := time.Now()
	mustStatus(t, s.get("/"), http.StatusOK)
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("latency not applied")
	}

	slow := newSim(t, smallConfig(), Options{Latency: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, slow.ts.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	if _, err := slow.ts.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for slow.srv.RequestCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("cancelled request never finished: the latency timer ignores the context")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := slow.srv.Requests()[0].Status; st != statusClientClosed {
		t.Fatalf("status %d", st)
	}
}

// TestConcurrency hammers reads, writes and snapshots in parallel; run with
// -race.
func TestConcurrency(t *testing.T) {
	s := newSim(t, DefaultConfig(200), Options{WriteLimitPerMinute: -1})
	ws := s.srv.Snapshot()
	src, role := ws.Sources[0].ID, ws.RoleByName(RoleSourceReadOnly).ID
	// send is goroutine-safe: it reports with Errorf, never FailNow.
	send := func(method, path, body string) {
		req, _ := http.NewRequest(method, s.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+DefaultToken)
		res, err := s.ts.Client().Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s %s: %d", method, path, res.StatusCode)
		}
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := ws.Groups[i%len(ws.Groups)]
			u := ws.Users[i]
			for range 10 {
				send(http.MethodGet, "/groups?pagination.count=7", "")
				send(http.MethodPost, "/groups/"+g.ID+"/users", `{"emails":["`+u.Email+`"]}`)
				send(http.MethodDelete, "/group/"+g.ID+"/users?emails.0="+url.QueryEscape(u.Email), "")
				send(http.MethodPost, "/users/"+u.ID+"/permissions",
					`{"permissions":[{"roleId":"`+role+`","resources":[{"id":"`+src+`","type":"SOURCE"}]}]}`)
				_ = s.srv.Snapshot()
			}
		}()
	}
	wg.Wait()
	if n := s.srv.RequestCount(); n != 8*10*4 {
		t.Fatalf("%d requests recorded", n)
	}
}
