package egress

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/host/secret"
)

func mustOrigin(t testing.TB, base string) origin {
	t.Helper()
	o, err := parseBaseURL(base, secret.Secret{})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestBuildURLAccepts(t *testing.T) {
	o := mustOrigin(t, "https://api.segmentapis.com")
	tests := []struct{ path, want string }{
		{"/", "https://api.segmentapis.com/"},
		{"/users", "https://api.segmentapis.com/users"},
		{"/users?pagination.count=200&pagination.cursor=Mg%3D%3D", "https://api.segmentapis.com/users?pagination.count=200&pagination.cursor=Mg%3D%3D"},
		{"/users?pagination[count]=200", "https://api.segmentapis.com/users?pagination[count]=200"},
		{"/invites?email=a@b.test", "https://api.segmentapis.com/invites?email=a@b.test"},
		{"/users/abc%20def", "https://api.segmentapis.com/users/abc%20def"},
		{"/group/g1/users", "https://api.segmentapis.com/group/g1/users"},
		{"/a:b", "https://api.segmentapis.com/a:b"},
	}
	for _, tt := range tests {
		u, err := buildURL(o, tt.path)
		if err != nil {
			t.Errorf("buildURL(%q): %v", tt.path, err)
			continue
		}
		if u.String() != tt.want {
			t.Errorf("buildURL(%q) = %q, want %q", tt.path, u, tt.want)
		}
	}
}

func TestBuildURLRejects(t *testing.T) {
	o := mustOrigin(t, "http://127.0.0.1:8080")
	tests := []struct{ path, want string }{
		{"", `must start with "/"`},
		{"users", `must start with "/"`},
		{"http://evil.test/", `must start with "/"`},
		{"HTTPS://evil.test", `must start with "/"`},
		{"//evil.test/x", `must not start with "//"`},
		{"///evil.test", `must not start with "//"`},
		{`\\evil`, `must start with "/"`},
		{`/\evil`, `"\"`},
		{"/%2F%2Fevil.test", `decodes to one starting with "//"`},
		{"/%2fevil.test", `decodes to one starting with "//"`},
		{"/%5Cevil", `decodes to a control character, "\" or "@"`},
		{"/@evil", `contains "@"`},
		{"/x@evil.test:80/y", `contains "@"`},
		{"/%40evil", `decodes to a control character, "\" or "@"`},
		{"/x\r\nHost: evil.test", "control character"},
		{"/x\x00", "control character"},
		{"/x\x7f", "control character"},
		{"/%0d%0aX:1", `decodes to a control character`},
		{"/x y", "unencoded space"},
		{"/x#frag", `contains "#"`},
		{"/../x", `".." segment`},
		{"/a/%2e%2e/x", `".." segment`},
		{"/a/./x", `"." or ".." segment`},
		{"/%zz", "invalid percent-encoding"},
	}
	for _, tt := range tests {
		u, err := buildURL(o, tt.path)
		if err == nil {
			t.Errorf("buildURL(%q) = %q, want error", tt.path, u)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("buildURL(%q) error %q does not contain %q", tt.path, err, tt.want)
		}
	}
}

// checkSameOrigin fails unless u, and the URL net/http would build from its
// string form, name exactly o with an origin-form request target.
func checkSameOrigin(t testing.TB, o origin, p string, u *url.URL) {
	t.Helper()
	if !o.matches(u) || u.User != nil || u.Opaque != "" || u.Fragment != "" {
		t.Fatalf("buildURL(%q) = %q, outside origin %s", p, u, o)
	}
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		t.Fatalf("buildURL(%q) = %q, which net/http rejects: %v", p, u, err)
	}
	if !o.matches(req.URL) || req.Host != strings.TrimPrefix(o.base, o.scheme+"://") {
		t.Fatalf("buildURL(%q): net/http reads %q as host %q", p, u, req.Host)
	}
	ru := req.URL.RequestURI()
	if !strings.HasPrefix(ru, "/") || strings.HasPrefix(ru, "//") || strings.ContainsAny(ru, " \r\n\\") {
		t.Fatalf("buildURL(%q): request target %q", p, ru)
	}
}

func FuzzBuildURL(f *testing.F) {
	for _, s := range []string{
		"/", "/users", "/users?pagination.count=200&pagination.cursor=Mg%3D%3D",
		"/invites?email=a@b.test", "//evil.test/x", "http://evil.test/", "/%2F%2Fevil.test",
		`\\evil`, `/\evil`, "/@evil", "/x\r\nHost: evil", "/?@evil.test", "/%2e%2e/%2e%2e/x",
		"/.", "/;@evil", "/:80@evil", "/x?//evil.test", "/#@evil", "/%", "/\u00e9", "/\xff",
		"/x?y=%0d%0a", "/%252F%252Fevil",
	} {
		f.Add(s)
	}
	origins := []origin{
		mustOrigin(f, "https://api.segmentapis.com"),
		mustOrigin(f, "http://127.0.0.1:8080"),
		mustOrigin(f, "http://[::1]:9000"),
	}
	f.Fuzz(func(t *testing.T, p string) {
		for _, o := range origins {
			u, err := buildURL(o, p)
			if err != nil {
				continue
			}
			checkSameOrigin(t, o, p, u)
		}
	})
}

// TestBaseURLErrorsEchoTheInput: the operator sees what they typed, except
// the parts that may hold a credential.
func TestBaseURLErrorsEchoTheInput(t *testing.T) {
	tests := []struct{ base, want, hidden string }{
		{"not a url", `"not a url" has no scheme and host`, ""},
		{"api.segmentapis.com", `"api.segmentapis.com" has no scheme`, ""},
		{"https://bob:hunter2@api.segmentapis.com", `"https://…@api.segmentapis.com"`, "hunter2"},
		{"https://api.segmentapis.com?key=hunter2", `"https://api.segmentapis.com?…"`, "hunter2"},
		{"localhost:8080", `"localhost:8080" has no scheme`, ""},
		{"sekrit-token-value", "(18 characters, not shown in case they are a credential)", "sekrit-token-value"},
		{"another-secret-pasted-here", "not shown", "another-secret"},
		{"https://api.segmentapis.com/another-secret", `"https://api.segmentapis.com/…" has a path`, "another-secret"},
		{"https://api.segmentapis.com/sekrit-token-value", `"https://api.segmentapis.com/…" has a path`, "sekrit-token-value"},
		{"https://api.segmentapis.com#sekrit", `"https://api.segmentapis.com#…"`, "sekrit"},
	}
	for _, tt := range tests {
		_, err := parseBaseURL(tt.base, secret.New("sekrit-token-value"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseBaseURL(%q) = %v, want it to contain %s", tt.base, err, tt.want)
			continue
		}
		if tt.hidden != "" && strings.Contains(err.Error(), tt.hidden) {
			t.Errorf("parseBaseURL(%q) = %v: shows %q", tt.base, err, tt.hidden)
		}
	}
}
