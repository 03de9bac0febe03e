package demoapi_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/examples/baton-demo/demoapi"
)

// api is a demoapi server on a plain listener; requests name the host
// they are for in their Host header, as they would through the host's
// connect-to overrides.
type api struct {
	*demoapi.Server
	url string
}

func start(t *testing.T, opts demoapi.Options) *api {
	t.Helper()
	s := demoapi.New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &api{Server: s, url: ts.URL}
}

type response struct {
	status int
	body   map[string]any
}

// do sends a request for host and decodes the JSON answer, failing the
// test on anything else.
func (a *api) do(t *testing.T, host, method, path string, header http.Header, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, b)
	}
	r := response{status: resp.StatusCode}
	if err := json.Unmarshal(b, &r.body); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	return r
}

var form = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

func (a *api) token(t *testing.T) string {
	t.Helper()
	r := a.do(t, demoapi.DefaultAuthHost, "POST", "/oauth/token", form, "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret")
	tok, _ := r.body["access_token"].(string)
	if r.status != http.StatusOK || tok == "" || r.body["token_type"] != "Bearer" {
		t.Fatalf("token: %d %v", r.status, r.body)
	}
	return tok
}

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}, "X-Api-Key": {demoapi.DefaultAPIKey}}
}

// The token endpoint takes the client's credentials in HTTP Basic or in
// the form, as golang.org/x/oauth2 may send either, and refuses wrong ones
// with RFC 6749's invalid_client.
func TestToken(t *testing.T) {
	a := start(t, demoapi.Options{})
	basic := form.Clone()
	// x/oauth2 form-encodes both before Basic (RFC 6749 2.3.1).
	basic.Set("Authorization", "Basic "+basicAuth(url.QueryEscape("demo-client"), url.QueryEscape("demo-secret")))
	if r := a.do(t, demoapi.DefaultAuthHost, "POST", "/oauth/token", basic, "grant_type=client_credentials"); r.status != http.StatusOK || r.body["expires_in"] != float64(600) {
		t.Errorf("Basic: %d %v", r.status, r.body)
	}
	a.token(t) // in the form
	for name, tc := range map[string]struct {
		header http.Header
		body   string
		status int
		code   string
	}{
		"wrong secret in the form": {form, "grant_type=client_credentials&client_id=demo-client&client_secret=nope", 401, "invalid_client"},
		"wrong secret in Basic": {http.Header{"Content-Type": form["Content-Type"], "Authorization": {"Basic " + basicAuth("demo-client", "nope")}},
			"grant_type=client_credentials", 401, "invalid_client"},
		"no credentials": {form, "grant_type=client_credentials", 401, "invalid_client"},
		"another grant":  {form, "grant_type=password&client_id=demo-client&client_secret=demo-secret", 400, "unsupported_grant_type"},
	} {
		r := a.do(t, demoapi.DefaultAuthHost, "POST", "/oauth/token", tc.header, tc.body)
		if r.status != tc.status || r.body["error"] != tc.code || r.body["access_token"] != nil {
			t.Errorf("%s: %d %v, want %d %s", name, r.status, r.body, tc.status, tc.code)
		}
		if strings.Contains(r.body["error_description"].(string), "nope") {
			t.Errorf("%s: the error echoes the secret: %v", name, r.body)
		}
	}
	if got := a.Requests("/oauth/token"); got != 6 {
		t.Errorf("Requests(/oauth/token) = %d, want 6", got)
	}
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// Every API endpoint wants a live bearer token, the roles endpoints the
// API key too, and each host serves only its own part.
func TestAuthAndHosts(t *testing.T) {
	a := start(t, demoapi.Options{})
	tok := a.token(t)
	noKey := http.Header{"Authorization": {"Bearer " + tok}}
	for _, tc := range []struct {
		name, host, method, path string
		header                   http.Header
		status                   int
		code                     string
	}{
		{"no token", demoapi.DefaultAPIHost, "GET", "/v1/users", nil, 401, "invalid_token"},
		{"unknown token", demoapi.DefaultAPIHost, "GET", "/v1/users", http.Header{"Authorization": {"Bearer x"}}, 401, "invalid_token"},
		{"token", demoapi.DefaultAPIHost, "GET", "/v1/users", noKey, 200, ""},
		{"members, token", demoapi.DefaultAPIHost, "GET", "/v1/groups/g00/members", noKey, 200, ""},
		{"roles without the key", demoapi.DefaultAPIHost, "GET", "/v1/roles", noKey, 401, "invalid_api_key"},
		{"assignments without the key", demoapi.DefaultAPIHost, "GET", "/v1/roles/r00/assignments", noKey, 401, "invalid_api_key"},
		{"roles with the key but no token", demoapi.DefaultAPIHost, "GET", "/v1/roles", http.Header{"X-Api-Key": {demoapi.DefaultAPIKey}}, 401, "invalid_token"},
		{"roles with both", demoapi.DefaultAPIHost, "GET", "/v1/roles", bearer(tok), 200, ""},
		{"the API on the auth host", demoapi.DefaultAuthHost, "GET", "/v1/users", bearer(tok), 404, "not_found"},
		{"tokens on the API host", demoapi.DefaultAPIHost, "POST", "/oauth/token", form, 404, "not_found"},
		{"another host", "example.com", "GET", "/v1/users", bearer(tok), 421, "misdirected_request"},
		{"unknown route", demoapi.DefaultAPIHost, "GET", "/v1/nothing", bearer(tok), 404, "not_found"},
		{"unknown group", demoapi.DefaultAPIHost, "GET", "/v1/groups/g99/members", bearer(tok), 404, "group_not_found"},
		{"unknown role", demoapi.DefaultAPIHost, "GET", "/v1/roles/r99/assignments", bearer(tok), 404, "role_not_found"},
	} {
		r := a.do(t, tc.host, tc.method, tc.path, tc.header, "")
		if r.status != tc.status || (tc.code != "" && r.body["error"] != tc.code) {
			t.Errorf("%s: %d %v, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
		if tc.code != "" && r.body["message"] == "" {
			t.Errorf("%s: no message: %v", tc.name, r.body)
		}
	}
}

func TestTokenExpires(t *testing.T) {
	a := start(t, demoapi.Options{TokenTTL: time.Nanosecond})
	r := a.do(t, demoapi.DefaultAPIHost, "GET", "/v1/users", bearer(a.token(t)), "")
	if r.status != 401 || !strings.Contains(r.body["message"].(string), "expired") {
		t.Fatalf("an expired token: %d %v", r.status, r.body)
	}
}

// Lists page by page_token and limit; a token the list did not return
// and a limit out of range are refused.
func TestPaging(t *testing.T) {
	a := start(t, demoapi.Options{})
	h := bearer(a.token(t))
	var ids []string
	tokens := []string{""}
	for next := ""; ; {
		r := a.do(t, demoapi.DefaultAPIHost, "GET", "/v1/users?limit=50&page_token="+next, h, "")
		if r.status != 200 {
			t.Fatalf("%d %v", r.status, r.body)
		}
		for _, u := range r.body["items"].([]any) {
			ids = append(ids, u.(map[string]any)["id"].(string))
		}
		next = r.body["next_page_token"].(string)
		if next == "" {
			break
		}
		tokens = append(tokens, next)
	}
	var want []string
	for _, u := range a.Users() {
		want = append(want, u.ID)
	}
	if !reflect.DeepEqual(ids, want) || len(ids) != demoapi.DefaultUsers || !reflect.DeepEqual(tokens, []string{"", "50", "100"}) {
		t.Errorf("paged %d users with tokens %q, want %d", len(ids), tokens, len(want))
	}
	if r := a.do(t, demoapi.DefaultAPIHost, "GET", "/v1/groups", h, ""); len(r.body["items"].([]any)) != demoapi.DefaultGroups || r.body["next_page_token"] != "" {
		t.Errorf("groups: %v", r.body)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "page_token=-1", "page_token=121", "page_token=abc"} {
		if r := a.do(t, demoapi.DefaultAPIHost, "GET", "/v1/users?"+q, h, ""); r.status != 400 {
			t.Errorf("%s: %d %v", q, r.status, r.body)
		}
	}
}

// Adding and removing a member are idempotent and say whether they
// changed anything.
func TestMembership(t *testing.T) {
	a := start(t, demoapi.Options{})
	h := bearer(a.token(t))
	var outsider string
	for _, u := range a.Users() {
		if !isMember(a.Members("g01"), u.ID) {
			outsider = u.ID
			break
		}
	}
	before := len(a.Members("g01"))
	for i, want := range []bool{true, false} {
		r := a.do(t, demoapi.DefaultAPIHost, "PUT", "/v1/groups/g01/members/"+outsider, h, "")
		if r.status != 200 || r.body["changed"] != want || r.body["member"].(map[string]any)["user_id"] != outsider {
			t.Errorf("add %d: %d %v", i, r.status, r.body)
		}
		if !isMember(a.Members("g01"), outsider) || len(a.Members("g01")) != before+1 {
			t.Errorf("add %d: %s is not among %d members", i, outsider, len(a.Members("g01")))
		}
	}
	for i, want := range []bool{true, false} {
		r := a.do(t, demoapi.DefaultAPIHost, "DELETE", "/v1/groups/g01/members/"+outsider, h, "")
		if r.status != 200 || r.body["changed"] != want {
			t.Errorf("remove %d: %d %v", i, r.status, r.body)
		}
		if isMember(a.Members("g01"), outsider) || len(a.Members("g01")) != before {
			t.Errorf("remove %d: %s still a member", i, outsider)
		}
	}
	for path, code := range map[string]string{"/v1/groups/g99/members/u0001": "group_not_found", "/v1/groups/g01/members/nobody": "user_not_found"} {
		if r := a.do(t, demoapi.DefaultAPIHost, "PUT", path, h, ""); r.status != 404 || r.body["error"] != code {
			t.Errorf("PUT %s: %d %v", path, r.status, r.body)
		}
	}
}

// A user or group is read by ID; creating a user whose email (in any
// case) or login is taken answers that user and changes nothing; deleting
// a user ends its memberships and direct role assignments, and deleting
// it again is a 404.
func TestUserLifecycle(t *testing.T) {
	a := start(t, demoapi.Options{})
	h := bearer(a.token(t))
	if r := a.do(t, demoapi.DefaultAPIHost, "GET", "/v1/users/u0007", h, ""); r.status != 200 || r.body["login"] != a.Users()[7].Login {
		t.Errorf("GET user: %d %v", r.status, r.body)
	}
	if r := a.do(t, demoapi.DefaultAPIHost, "GET", "/v1/groups/g02", h, ""); r.status != 200 || r.body["name"] != a.Groups()[2].Name {
		t.Errorf("GET group: %d %v", r.status, r.body)
	}
	for path, code := range map[string]string{"/v1/users/nobody": "user_not_found", "/v1/groups/g99": "group_not_found"} {
		if r := a.do(t, demoapi.DefaultAPIHost, "GET", path, h, ""); r.status != 404 || r.body["error"] != code {
			t.Errorf("GET %s: %d %v", path, r.status, r.body)
		}
	}

	r := a.do(t, demoapi.DefaultAPIHost, "POST", "/v1/users", h, `{"email":"new.hire@acme.demo.test"}`)
	u, _ := r.body["user"].(map[string]any)
	if r.status != 201 || r.body["created"] != true || u["id"] != "u0120" || u["login"] != "new.hire" || u["status"] != "active" {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	n := len(a.Users())
	for _, body := range []string{`{"email":"NEW.HIRE@acme.demo.test","login":"other"}`, `{"email":"x@acme.demo.test","login":"new.hire"}`} {
		r := a.do(t, demoapi.DefaultAPIHost, "POST", "/v1/users", h, body)
		if u, _ := r.body["user"].(map[string]any); r.status != 200 || r.body["created"] != false || u["id"] != "u0120" || len(a.Users()) != n {
			t.Errorf("create %s again: %d %v (%d users, want %d)", body, r.status, r.body, len(a.Users()), n)
		}
	}
	for _, body := range []string{`{}`, `{"email":"nobody"}`, `{"email":"@acme.demo.test"}`, `not json`} {
		if r := a.do(t, demoapi.DefaultAPIHost, "POST", "/v1/users", h, body); r.status != 400 || r.body["error"] != "invalid_user" {
			t.Errorf("create %s: %d %v", body, r.status, r.body)
		}
	}

	var member string
	for _, m := range a.Members("g01") {
		member = m.UserID
	}
	if r := a.do(t, demoapi.DefaultAPIHost, "DELETE", "/v1/users/"+member, h, ""); r.status != 200 || r.body["changed"] != true {
		t.Fatalf("delete: %d %v", r.status, r.body)
	}
	if len(a.Users()) != n-1 || isMember(a.Members("g01"), member) {
		t.Errorf("after the delete: %d users, member of g01 %v", len(a.Users()), isMember(a.Members("g01"), member))
	}
	for _, rl := range a.Roles() {
		for _, as := range a.Assignments(rl.ID) {
			if as.PrincipalID == member {
				t.Errorf("role %s still assigned to the deleted %s", rl.ID, member)
			}
		}
	}
	if r := a.do(t, demoapi.DefaultAPIHost, "DELETE", "/v1/users/"+member, h, ""); r.status != 404 || r.body["error"] != "user_not_found" {
		t.Errorf("delete again: %d %v", r.status, r.body)
	}
}

func isMember(ms []demoapi.Member, id string) bool {
	for _, m := range ms {
		if m.UserID == id {
			return true
		}
	}
	return false
}

type snapshot struct {
	Users       []demoapi.User
	Groups      []demoapi.Group
	Roles       []demoapi.Role
	Members     map[string][]demoapi.Member
	Assignments map[string][]demoapi.Assignment
}

func snap(s *demoapi.Server) snapshot {
	out := snapshot{Users: s.Users(), Groups: s.Groups(), Roles: s.Roles(), Members: map[string][]demoapi.Member{}, Assignments: map[string][]demoapi.Assignment{}}
	for _, g := range out.Groups {
		out.Members[g.ID] = s.Members(g.ID)
	}
	for _, r := range out.Roles {
		out.Assignments[r.ID] = s.Assignments(r.ID)
	}
	return out
}

// The same options make the same organisation, so two servers reached at
// different addresses serve the same data; another seed another one.
func TestDeterministic(t *testing.T) {
	opts := demoapi.Options{Seed: 7, Users: 30, Groups: 10, Roles: 8, APIHost: "127.0.0.1"}
	a, b := snap(demoapi.New(opts)), snap(demoapi.New(demoapi.Options{Seed: 7, Users: 30, Groups: 10, Roles: 8}))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two servers of the same seed differ")
	}
	if c := snap(demoapi.New(demoapi.Options{Seed: 8, Users: 30, Groups: 10, Roles: 8})); reflect.DeepEqual(a.Members, c.Members) {
		t.Error("another seed made the same memberships")
	}
	if len(a.Users) != 30 || len(a.Groups) != 10 || len(a.Roles) != 8 {
		t.Errorf("%d users, %d groups, %d roles", len(a.Users), len(a.Groups), len(a.Roles))
	}
	names := map[string]bool{}
	for _, g := range a.Groups {
		names[g.Name] = true
	}
	if len(names) != 10 {
		t.Errorf("group names repeat: %v", names)
	}
	// What a sync needs to exercise expansion: each role held by a group.
	for _, r := range a.Roles {
		held := false
		for _, as := range a.Assignments[r.ID] {
			held = held || as.PrincipalType == "group"
		}
		if !held {
			t.Errorf("role %s is held by no group", r.ID)
		}
	}
}

// The certificates verify for the API and auth hosts and the loopback
// names a native client dials, and for nothing else.
func TestCerts(t *testing.T) {
	certs, err := demoapi.NewCerts()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(demoapi.New(demoapi.Options{}))
	ts.TLS = certs.ServerConfig()
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certs.CAPEM) {
		t.Fatal("CAPEM holds no certificate")
	}
	for name, ok := range map[string]bool{"api.demo.test": true, "auth.demo.test": true, "localhost": true, "": true, "evil.demo.test": false} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: name}}}
		resp, err := c.Get(ts.URL + "/v1/org") // the IP address itself when name is ""
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != ok {
			t.Errorf("server name %q: %v", name, err)
		}
	}
}
