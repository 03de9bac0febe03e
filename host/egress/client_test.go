package egress

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/egresshook"
)

func TestNewRejectsBadBaseURL(t *testing.T) {
	tests := []struct{ base, want string }{
		{"", "base URL is empty"},
		{"api.segmentapis.com", "no scheme and host"},
		{"localhost:8080", "no scheme and host"},
		{"ftp://api.segmentapis.com", `scheme "ftp", which is not supported`},
		{"https://api.segmentapis.com/v1", "has a path"},
		{"https://api.segmentapis.com?x=1", "query or fragment"},
		{"https://api.segmentapis.com#f", "query or fragment"},
		{"https://user:hunter2@api.segmentapis.com", "contains user info"},
		{"http://api.segmentapis.com", "use https://api.segmentapis.com"},
		{"http://10.0.0.5:8080", "only for a loopback host"},
		{"https://api.segmentapis.com:0", "out of range"},
		{"https://api.segmentapis.com:70000", "out of range"},
		{"https://[::1", "not a valid URL"},
		{"https://:443", "empty host"},
	}
	for _, tt := range tests {
		_, err := New(Config{BaseURL: tt.base})
		if err == nil {
			t.Errorf("New(%q) succeeded, want error containing %q", tt.base, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) = %q, want it to contain %q", tt.base, err, tt.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q) error leaks the password: %q", tt.base, err)
		}
	}
}

func TestNewOrigin(t *testing.T) {
	tests := []struct{ base, want string }{
		{"https://api.segmentapis.com", "https://api.segmentapis.com:443"},
		{"https://API.SegmentAPIs.com/", "https://api.segmentapis.com:443"},
		{"https://eu1.api.segmentapis.com:8443", "https://eu1.api.segmentapis.com:8443"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://localhost:9000", "http://localhost:9000"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://127.0.0.1", "http://127.0.0.1:80"},
		{"https://10.1.2.3", "https://10.1.2.3:443"},
	}
	for _, tt := range tests {
		c, err := New(Config{BaseURL: tt.base})
		if err != nil {
			t.Errorf("New(%q): %v", tt.base, err)
			continue
		}
		if got := c.Origin(); got != tt.want {
			t.Errorf("New(%q).Origin() = %q, want %q", tt.base, got, tt.want)
		}
	}
}

func TestNewRejectsTokenWithControlChars(t *testing.T) {
	_, err := New(Config{BaseURL: "https://api.segmentapis.com", Token: secret.New(testToken + "\r\nX-Evil: 1")})
	if err == nil || !strings.Contains(err.Error(), "token contains control characters") {
		t.Fatalf("New with CRLF token: err = %v", err)
	}
	noLeak(t, "New error", err.Error())
}

func TestTokenInjectionAndHeaderFiltering(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, nil)
	resp := env.c.Do(context.Background(), abi.HTTPRequest{
		Method: http.MethodPost,
		Path:   "/users/u1/permissions?x=1",
		Headers: map[string][]string{
			"authorization":       {"Bearer guest-token"},
			"AUTHORIZATION":       {"Basic Z3Vlc3Q="},
			"Proxy-Authorization": {"Basic eA=="},
			"Cookie":              {"session=1"},
			"Host":                {"evil.test"},
			"Connection":          {"keep-alive, X-Hop"},
			"X-Hop":               {"1"},
			"Keep-Alive":          {"timeout=5"},
			"Transfer-Encoding":   {"chunked"},
			"Upgrade":             {"h2c"},
			"Te":                  {"trailers"},
			"X-Echo":              {"prefix " + testToken + " suffix"},
			"User-Agent":          {"guest/1.0"},
			"Accept-Encoding":     {"br"},
			"X-Request-Id":        {"r-1", "r-2"},
		},
		Body: []byte(`{"a":1}`),
	})
	wantStatus(t, resp, 200)

	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if v := got.Header.Values("Authorization"); len(v) != 1 || v[0] != "Bearer "+testToken {
		t.Errorf("Authorization = %q, want the injected bearer token only", v)
	}
	for _, h := range []string{"Proxy-Authorization", "Cookie", "X-Hop", "Keep-Alive", "Upgrade", "X-Echo"} {
		if v := got.Header.Values(h); len(v) != 0 {
			t.Errorf("header %s reached the server: %q", h, v)
		}
	}
	if got.Host != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("Host = %q, want the origin's", got.Host)
	}
	if v := got.Header.Get("User-Agent"); v != "baton-runner" {
		t.Errorf("User-Agent = %q", v)
	}
	if v := got.Header.Get("Content-Type"); v != "application/json" {
		t.Errorf("Content-Type = %q, want application/json default for a body", v)
	}
	if v := got.Header.Get("Accept"); v != "application/json" {
		t.Errorf("Accept = %q, want application/json default", v)
	}
	if v := got.Header.Values("X-Request-Id"); len(v) != 2 {
		t.Errorf("X-Request-Id = %q, want both values passed through", v)
	}
	if v := got.Header.Get("Accept-Encoding"); v == "br" {
		t.Errorf("guest Accept-Encoding reached the server")
	}
	if string(got.Body) != `{"a":1}` || got.RawQuery != "x=1" || got.Path != "/users/u1/permissions" {
		t.Errorf("server saw %s ?%s body %q", got.Path, got.RawQuery, got.Body)
	}
}

func TestGuestContentTypeAndAcceptKept(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, nil)
	resp := env.c.Do(context.Background(), abi.HTTPRequest{
		Method: http.MethodPut, Path: "/x",
		Headers: map[string][]string{
			"content-type": {"application/vnd.segment.v1+json"},
			"accept":       {"application/vnd.segment.v1beta+json"},
		},
		Body: []byte(`{}`),
	})
	wantStatus(t, resp, 200)
	h := srv.requests()[0].Header
	if h.Get("Content-Type") != "application/vnd.segment.v1+json" || h.Get("Accept") != "application/vnd.segment.v1beta+json" {
		t.Errorf("guest Content-Type/Accept replaced: %v", h)
	}
}

func TestNoBodyNoContentType(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, nil)
	wantStatus(t, env.c.Do(context.Background(), get("/users")), 200)
	if v := srv.requests()[0].Header.Get("Content-Type"); v != "" {
		t.Errorf("GET without body got Content-Type %q", v)
	}
}

func TestZeroTokenSendsNoAuthorization(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, func(c *Config) { c.Token = secret.Secret{} })
	resp := env.c.Do(context.Background(), abi.HTTPRequest{
		Method: http.MethodGet, Path: "/", Headers: map[string][]string{"Authorization": {"Bearer guest"}, "X-Ok": {"1"}},
	})
	wantStatus(t, resp, 200)
	h := srv.requests()[0].Header
	if h.Get("Authorization") != "" || h.Get("X-Ok") != "1" {
		t.Errorf("headers = %v", h)
	}
}

func TestMalformedHeadersDenied(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, nil)
	for _, h := range []map[string][]string{
		{"X-Inject": {"a\r\nHost: evil.test"}},
		{"X-Nul": {"a\x00b"}},
		{"Bad Name": {"1"}},
		{"X-Colon:": {"1"}},
		{"": {"1"}},
	} {
		resp := env.c.Do(context.Background(), abi.HTTPRequest{Method: "GET", Path: "/", Headers: h})
		wantError(t, resp, abi.CodeEgressDenied, "header")
	}
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("server saw %d requests", n)
	}
}

func TestMethodDenied(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, nil)
	for _, m := range []string{"", "get", "TRACE", "CONNECT", "PROPFIND", "GET /evil HTTP/1.1\r\n"} {
		resp := env.c.Do(context.Background(), abi.HTTPRequest{Method: m, Path: "/"})
		wantError(t, resp, abi.CodeEgressDenied, "is not allowed")
	}
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		wantStatus(t, env.c.Do(context.Background(), abi.HTTPRequest{Method: m, Path: "/"}), 200)
	}
	if n := len(srv.requests()); n != 7 {
		t.Fatalf("server saw %d requests, want 7", n)
	}
	for _, r := range env.audit.all()[:6] {
		if r.Denied == "" || strings.ContainsAny(r.Method, "\r\n") {
			t.Errorf("denial record = %+v", r)
		}
	}
}

func TestPathSmugglingDenied(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, nil)
	paths := []string{
		"//evil.test/x",
		"http://evil.test/",
		"https://evil.test",
		"evil.test/x",
		"/%2F%2Fevil.test",
		"/%2fevil.test",
		`\\evil`,
		`/\evil`,
		"/%5Cevil",
		"/@evil",
		"/users@evil.test/x",
		"/%40evil",
		"/x\r\nHost: evil.test",
		"/x HTTP/1.1\r\nX: y",
		"/x#frag",
		"/../x",
		"/a/%2e%2e/x",
		"/%zz",
		"",
	}
	for _, p := range paths {
		resp := env.c.Do(context.Background(), get(p))
		wantError(t, resp, abi.CodeEgressDenied, "path")
	}
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("server saw %d requests, want 0", n)
	}
	recs := env.audit.all()
	if len(recs) != len(paths) {
		t.Fatalf("got %d audit records, want one per denial (%d)", len(recs), len(paths))
	}
	for _, r := range recs {
		if r.Denied == "" || r.Attempts != 0 || strings.ContainsAny(r.Path, "\r\n") {
			t.Errorf("denial record = %+v", r)
		}
	}
}

// TestRedirectsReturnedUnfollowed: a 3xx, to another origin or to the
// origin itself, goes back to the guest with its Location (and no other
// header off the allowlist) and nothing else is requested.
func TestRedirectsReturnedUnfollowed(t *testing.T) {
	other := newRecorder(t, nil)
	for _, tt := range []struct {
		status int
		target func(srvURL string) string
	}{
		{http.StatusFound, func(string) string { return other.URL + "/steal" }},
		{http.StatusTemporaryRedirect, func(srvURL string) string { return srvURL + "/same-origin" }},
	} {
		var srvURL string
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Set-Cookie", "session=x")
			http.Redirect(w, r, tt.target(srvURL), tt.status)
		})
		srvURL = srv.URL
		env := newTestClient(t, srv.URL, nil)
		resp := env.c.Do(context.Background(), abi.HTTPRequest{Method: http.MethodPost, Path: "/start", Body: []byte("{}")})
		wantStatus(t, resp, tt.status)
		if loc := resp.Headers["Location"]; len(loc) != 1 || loc[0] != tt.target(srvURL) {
			t.Errorf("Location = %q, want %q", loc, tt.target(srvURL))
		}
		if _, ok := resp.Headers["Set-Cookie"]; ok {
			t.Errorf("headers = %v: Set-Cookie is not on the allowlist", resp.Headers)
		}
		if n := len(srv.requests()); n != 1 {
			t.Fatalf("%d: origin saw %d requests, want 1", tt.status, n)
		}
		if rec := env.audit.one(t); rec.Status != tt.status || rec.Attempts != 1 {
			t.Errorf("record = %+v", rec)
		}
	}
	if n := len(other.requests()); n != 0 {
		t.Fatalf("redirect target saw %d requests", n)
	}
}

func TestResponseSizeCap(t *testing.T) {
	big := strings.Repeat("x", 2048)
	for _, chunked := range []bool{false, true} {
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			if chunked {
				_, _ = w.Write([]byte(big[:100]))
				w.(http.Flusher).Flush()
				_, _ = w.Write([]byte(big[100:]))
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			_, _ = w.Write([]byte(big))
		})
		env := newTestClient(t, srv.URL, func(c *Config) { c.MaxResponseBytes = 1024 })
		wantError(t, env.c.Do(context.Background(), get("/")), abi.CodeUnavailable, "response larger than 1024 bytes")
		if n := len(srv.requests()); n != 1 {
			t.Errorf("chunked=%v: oversized response retried (%d requests)", chunked, n)
		}
		if rec := env.audit.one(t); rec.Error == "" || rec.Status != 200 {
			t.Errorf("chunked=%v: record = %+v", chunked, rec)
		}

		// Exactly at the cap is fine.
		env2 := newTestClient(t, srv.URL, func(c *Config) { c.MaxResponseBytes = 2048 })
		resp := env2.c.Do(context.Background(), get("/"))
		wantStatus(t, resp, 200)
		if len(resp.Body) != 2048 {
			t.Errorf("body length %d", len(resp.Body))
		}
	}
}

func TestHEADWithLargeContentLength(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Length", "4096")
	})
	env := newTestClient(t, srv.URL, func(c *Config) { c.MaxResponseBytes = 1024 })
	resp := env.c.Do(context.Background(), abi.HTTPRequest{Method: http.MethodHead, Path: "/big"})
	wantStatus(t, resp, 200)
	if resp.Body != nil {
		t.Errorf("HEAD body = %q", resp.Body)
	}
}

func TestResponseHeaderAllowlist(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-RateLimit-Consumed", "3")
		h.Set("X-RateLimit-Remaining", "57")
		h.Set("X-RateLimit-Reset", "Tue, 04 Mar 2025 05:07:00 GMT")
		h.Set("Retry-After", "5")
		h.Add("Link", `</users?cursor=a>; rel="next"`)
		h.Set("Set-Cookie", "session=abc")
		h.Set("X-Internal-Secret", "s")
		h.Set("Location", "/elsewhere")
		h.Set("Server", "upstream/1.2")
		_, _ = w.Write([]byte(`{}`))
	})
	env := newTestClient(t, srv.URL, nil)
	resp := env.c.Do(context.Background(), get("/"))
	wantStatus(t, resp, 200)
	want := map[string]string{
		"Content-Type":          "application/json",
		"X-Ratelimit-Consumed":  "3",
		"X-Ratelimit-Remaining": "57",
		"X-Ratelimit-Reset":     "Tue, 04 Mar 2025 05:07:00 GMT",
		"Retry-After":           "5",
		"Link":                  `</users?cursor=a>; rel="next"`,
	}
	if len(resp.Headers) != len(want) {
		t.Errorf("headers = %v, want exactly %v", resp.Headers, want)
	}
	for k, v := range want {
		if got := resp.Headers[k]; len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func Test4xxReturnedAsResponse(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 409, 422} {
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{"errors":[{"type":"E%d"}]}`, status)
		})
		env := newTestClient(t, srv.URL, nil)
		resp := env.c.Do(context.Background(), get("/users/x"))
		wantStatus(t, resp, status)
		if want := fmt.Sprintf(`{"errors":[{"type":"E%d"}]}`, status); string(resp.Body) != want {
			t.Errorf("body = %q", resp.Body)
		}
		if resp.Headers["Content-Type"][0] != "application/json" {
			t.Errorf("headers = %v", resp.Headers)
		}
		if n := len(srv.requests()); n != 1 || len(env.clock.Sleeps()) != 0 {
			t.Errorf("%d retried: %d requests", status, n)
		}
	}
}

// failing returns a handler that answers status for the first n requests
// and 200 afterwards.
func failing(status, n int) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, i int) {
		if i <= n {
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{"errors":[{"status":%d}]}`, status)
			return
		}
		_, _ = w.Write([]byte(`{"data":"ok"}`))
	}
}

func Test5xxRetriedForIdempotentMethods(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "PUT", "DELETE", "OPTIONS"} {
		srv := newRecorder(t, failing(503, 2))
		env := newTestClient(t, srv.URL, nil)
		wantStatus(t, env.c.Do(context.Background(), abi.HTTPRequest{Method: m, Path: "/"}), 200)
		sleeps := env.clock.Sleeps()
		wantBackOff(t, m, sleeps, retryBase, 2)
		if rec := env.audit.one(t); rec.Attempts != 3 || rec.Status != 200 || rec.Duration != sum(sleeps) {
			t.Errorf("%s: record = %+v", m, rec)
		}
	}
}

func Test5xxExhaustedReturnedAsResponse(t *testing.T) {
	srv := newRecorder(t, failing(500, 100))
	env := newTestClient(t, srv.URL, nil)
	resp := env.c.Do(context.Background(), get("/"))
	wantStatus(t, resp, 500)
	if string(resp.Body) != `{"errors":[{"status":500}]}` {
		t.Errorf("body = %q", resp.Body)
	}
	wantBackOff(t, "sleeps", env.clock.Sleeps(), retryBase, 3)
	if n := len(srv.requests()); n != 4 {
		t.Errorf("requests = %d, want 1 + 3 retries", n)
	}

	srv2 := newRecorder(t, failing(502, 100))
	env2 := newTestClient(t, srv2.URL, func(c *Config) { c.MaxRetries = -1 })
	wantStatus(t, env2.c.Do(context.Background(), get("/")), 502)
	if n := len(srv2.requests()); n != 1 {
		t.Errorf("MaxRetries=-1: requests = %d, want 1", n)
	}
}

func Test5xxNotRetriedForPOSTOrPATCH(t *testing.T) {
	for _, m := range []string{"POST", "PATCH"} {
		srv := newRecorder(t, failing(503, 1))
		env := newTestClient(t, srv.URL, nil)
		wantStatus(t, env.c.Do(context.Background(), abi.HTTPRequest{Method: m, Path: "/", Body: []byte("{}")}), 503)
		if n := len(srv.requests()); n != 1 || len(env.clock.Sleeps()) != 0 {
			t.Errorf("%s retried: %d requests", m, n)
		}
	}
}

// hangUp is a handler that drops the connection after reading the request:
// the request may have been processed, but no response arrives.
func hangUp(w http.ResponseWriter, _ *http.Request, _ int) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func TestTransportErrorRetriedOnlyWhenIdempotent(t *testing.T) {
	srv := newRecorder(t, hangUp)
	env := newTestClient(t, srv.URL, nil)
	wantError(t, env.c.Do(context.Background(), get("/users?email=a@b.test")), abi.CodeUnavailable, "GET /users")
	if n := len(srv.requests()); n != 4 {
		t.Errorf("GET: requests = %d, want 4", n)
	}
	rec := env.audit.one(t)
	if rec.Attempts != 4 || rec.Error == "" || strings.Contains(rec.Error, "a@b.test") {
		t.Errorf("GET record = %+v", rec)
	}

	srv2 := newRecorder(t, hangUp)
	env2 := newTestClient(t, srv2.URL, nil)
	wantError(t, env2.c.Do(context.Background(), abi.HTTPRequest{Method: "POST", Path: "/groups", Body: []byte("{}")}), abi.CodeUnavailable, "POST /groups")
	if n := len(srv2.requests()); n != 1 {
		t.Errorf("POST: requests = %d, want 1 (not retried once sent)", n)
	}
}

func TestConnectErrorRetriedEvenForPOST(t *testing.T) {
	// A refused connection means nothing was sent, so POST may retry too;
	// once the origin has answered, a refusal is the API restarting, not a
	// wrong base URL (TestUnreachableOriginFailsAtOnce).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	env := newTestClient(t, srv.URL, nil)
	wantStatus(t, env.c.Do(context.Background(), get("/")), 200)
	env.c.transport.CloseIdleConnections()
	srv.Close()
	wantError(t, env.c.Do(context.Background(), abi.HTTPRequest{Method: "POST", Path: "/groups", Body: []byte("{}")}), abi.CodeUnavailable, "POST /groups")
	wantBackOff(t, "sleeps", env.clock.Sleeps(), retryBase, 3)
	if rec := env.audit.all()[1]; rec.Attempts != 4 || rec.Status != 0 {
		t.Errorf("record = %+v", rec)
	}
}

// TestUnreachableOriginFailsAtOnce: what only a different base URL can fix
// (a host that does not exist, a port where nothing listens, a server that
// does not speak TLS, a certificate not valid for the host) fails on the
// first attempt with FailedPrecondition, which baton-sdk does not retry
// either, and names the setting to change.
func TestUnreachableOriginFailsAtOnce(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(plain.Close)
	selfSigned := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(selfSigned.Close)
	nxdomain := &fakeResolver{err: &net.DNSError{Err: "no such host", Name: "api.segment.test", IsNotFound: true}}
	for _, tc := range []struct {
		name, url string
		resolver  *fakeResolver
		want      string
	}{
		{"no such host", "https://api.segment.test", nxdomain, "the host api.segment.test does not exist"},
		{"connection refused", "http://" + closed, nil, "nothing accepts connections at " + closed},
		{"https to plain HTTP", "https://" + plain.Listener.Addr().String(), nil, "does not speak TLS"},
		{"untrusted certificate", selfSigned.URL, nil, "TLS certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestClient(t, tc.url, func(c *Config) {
				c.BaseURLSetting = "--base-url"
				if tc.resolver != nil {
					c.hooks.Resolver = tc.resolver
				}
			})
			resp := env.c.Do(context.Background(), get("/"))
			wantError(t, resp, abi.CodeFailedPrecondition, tc.want)
			wantError(t, resp, abi.CodeFailedPrecondition, "check --base-url")
			if rec := env.audit.one(t); rec.Attempts != 1 || len(env.clock.Sleeps()) != 0 {
				t.Errorf("retried: %+v, slept %v", rec, env.clock.Sleeps())
			}
		})
	}
}

func TestContextCancellation(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	env := newTestClient(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	resp := env.c.Do(ctx, get("/slow"))
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Do took %v after cancel", d)
	}
	wantError(t, resp, abi.CodeUnavailable, "context canceled")
	if rec := env.audit.one(t); rec.Attempts != 1 || len(env.clock.Sleeps()) != 0 {
		t.Errorf("canceled request retried: %+v", rec)
	}

	// Already canceled: nothing is sent.
	wantError(t, env.c.Do(ctx, get("/slow")), abi.CodeUnavailable, "context canceled")
	if n := len(srv.requests()); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestContextCanceledDuringRateLimitWait(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.WriteHeader(429)
		_, _ = w.Write([]byte(`{"errors":[{"data":{"msBeforeNext":30000}}]}`))
	})
	// Real Sleep (nil): the wait must end when ctx does.
	env := newTestClient(t, srv.URL, func(c *Config) { c.hooks.Sleep = nil })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	resp := env.c.Do(ctx, get("/"))
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Do took %v after cancel", d)
	}
	wantError(t, resp, abi.CodeUnavailable, "context canceled")
}

func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush() // headers arrive, the body never completes
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	env := newTestClient(t, srv.URL, func(c *Config) {
		c.RequestTimeout = 100 * time.Millisecond
		c.MaxRetries = 1
	})
	resp := env.c.Do(context.Background(), get("/"))
	wantError(t, resp, abi.CodeUnavailable, "no complete response within 100ms")
	if rec := env.audit.one(t); rec.Attempts != 2 {
		t.Errorf("record = %+v, want the timeout retried once", rec)
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	env := newTestClient(t, srv.URL, func(c *Config) {
		c.ResponseHeaderTimeout = 50 * time.Millisecond
		c.MaxRetries = -1
	})
	wantError(t, env.c.Do(context.Background(), get("/")), abi.CodeUnavailable, "timeout awaiting response headers")
}

func TestAuditRecord(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"errors":[{"data":{"msBeforeNext":1500}}]}`))
			return
		}
		_, _ = w.Write([]byte(`{"data":{"users":[]}}`))
	})
	env := newTestClient(t, srv.URL, nil)
	start := env.clock.Now()
	resp := env.c.Do(context.Background(), abi.HTTPRequest{
		Method:  "GET",
		Path:    "/users?email=jane.doe@example.test&pagination.count=200",
		Headers: map[string][]string{"X-Trace": {"trace-value-123"}},
	})
	wantStatus(t, resp, 200)
	rec := env.audit.one(t)
	want := Record{
		Time:          start,
		Method:        "GET",
		Host:          strings.TrimPrefix(srv.URL, "http://"),
		Path:          "/users",
		Status:        200,
		Bytes:         int64(len(`{"data":{"users":[]}}`)),
		Duration:      1500 * time.Millisecond,
		Attempts:      2,
		RateLimitWait: 1500 * time.Millisecond,
	}
	if rec != want {
		t.Errorf("record =\n%+v\nwant\n%+v", rec, want)
	}
	b, _ := json.Marshal(rec)
	for _, s := range []string{testToken, "jane.doe", "example.test", "pagination", "trace-value-123", "users\":"} {
		if strings.Contains(string(b)+fmt.Sprintf("%+v", rec), s) {
			t.Errorf("record contains %q: %s", s, b)
		}
	}
}

func TestAuditRecordOnDenial(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, nil)
	env.c.Do(context.Background(), get("//evil.test/x?email=jane@example.test"))
	rec := env.audit.one(t)
	if rec.Denied == "" || rec.Error != "" || rec.Status != 0 || rec.Attempts != 0 || rec.Method != "GET" {
		t.Errorf("record = %+v", rec)
	}
	if strings.Contains(fmt.Sprintf("%+v", rec), "jane") {
		t.Errorf("record contains the query: %+v", rec)
	}
}

func TestAuditPathSanitized(t *testing.T) {
	long := "/" + strings.Repeat("é", 300)
	if got := auditPath(long); len(got) > maxAuditField || !strings.HasPrefix(got, "/é") {
		t.Errorf("auditPath(long) = %d bytes", len(got))
	}
	if got := auditPath("/a\r\nb\x00c?q=1#f"); got != "/a\uFFFD\uFFFDb\uFFFDc" {
		t.Errorf("auditPath = %q", got)
	}
}

func TestTokenScrubbedFromErrors(t *testing.T) {
	// A resolver error that (absurdly) embeds the token: the last-line
	// scrubbing must still keep it out of the guest's error and the log.
	r := &fakeResolver{err: fmt.Errorf("lookup failed near %s", testToken)}
	env := newTestClient(t, "https://api.segment.test", func(c *Config) { c.hooks.Resolver = r })
	resp := env.c.Do(context.Background(), get("/users"))
	wantError(t, resp, abi.CodeUnavailable, "[REDACTED]")
	noLeak(t, "error message", resp.Error.Error())
	rec := env.audit.one(t)
	noLeak(t, "record", fmt.Sprintf("%+v", rec))
	if rec.Attempts != 4 {
		t.Errorf("resolution failure not retried: %+v", rec)
	}
	if got := scrub("a "+testToken+" b", secret.New(testToken)); got != "a [REDACTED] b" {
		t.Errorf("scrub = %q", got)
	}
	if got := scrub("unchanged", secret.Secret{}); got != "unchanged" {
		t.Errorf("scrub with zero token = %q", got)
	}
}

func TestDoNeverPanics(t *testing.T) {
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, func(c *Config) { c.Audit = func(Record) { panic("sink broke") } })
	wantStatus(t, env.c.Do(context.Background(), get("/")), 200)
	var nilCtx context.Context
	wantStatus(t, env.c.Do(nilCtx, get("/")), 200)
	var nilClient *Client
	wantError(t, nilClient.Do(context.Background(), get("/")), abi.CodeUnavailable, "no client")
}

// TestConcurrentDo: concurrent requests, some retried, each get their own
// answer. The first attempt of every third request fails: failing every
// third attempt could fail one request more often than it retries.
func TestConcurrentDo(t *testing.T) {
	var mu sync.Mutex
	tried := map[string]bool{}
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		mu.Lock()
		first := !tried[r.URL.Path]
		tried[r.URL.Path] = true
		mu.Unlock()
		if i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/item/")); first && i%3 == 0 {
			w.WriteHeader(503)
			return
		}
		_, _ = w.Write([]byte(r.URL.Path))
	})
	env := newTestClient(t, srv.URL, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			p := fmt.Sprintf("/item/%d", i)
			resp := env.c.Do(context.Background(), get(p))
			if resp.Error != nil || resp.Status != 200 || string(resp.Body) != p {
				t.Errorf("Do(%s) = %+v", p, resp)
			}
		})
	}
	wg.Wait()
	recs := env.audit.all()
	attempts := 0
	for _, r := range recs {
		attempts += r.Attempts
	}
	if len(recs) != 20 || attempts != 27 {
		t.Errorf("%d audit records of %d attempts, want 20 of 27 (7 retried)", len(recs), attempts)
	}
}

func TestTransportIgnoresProxyEnvironment(t *testing.T) {
	// An HTTP(S)_PROXY would connect on our behalf and bypass the dialer's
	// IP checks; net/http caches the environment, so check the setting.
	env := newTestClient(t, "https://api.segmentapis.com", nil)
	if env.c.transport.Proxy != nil {
		t.Fatal("Transport.Proxy is set")
	}
	if env.c.hc.Jar != nil {
		t.Fatal("cookie jar set")
	}
}

func TestWritesArePaced(t *testing.T) {
	srv := newRecorder(t, nil)
	clock := newFakeClock()
	c, err := New(Config{BaseURL: srv.URL, WritesPerMinute: 60, hooks: egresshook.Hooks{Sleep: clock.Sleep, Now: clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, m := range []string{"POST", "GET", "PUT", "DELETE", "GET"} {
		if resp := c.Do(ctx, abi.HTTPRequest{Method: m, Path: "/x"}); resp.Error != nil {
			t.Fatal(resp.Error)
		}
	}
	// Three writes at 60/min: the second and third wait one second each
	// (the fake clock advances by what is slept); reads never wait.
	if got := clock.Sleeps(); len(got) != 2 || got[0] != time.Second || got[1] != time.Second {
		t.Errorf("sleeps = %v, want [1s 1s]", got)
	}
}

func TestRequestsArePaced(t *testing.T) {
	srv := newRecorder(t, nil)
	clock := newFakeClock()
	var mu sync.Mutex
	var held time.Duration
	c, err := New(Config{BaseURL: srv.URL, RequestsPerMinute: 120, hooks: egresshook.Hooks{Sleep: clock.Sleep, Now: clock.Now},
		OnHeld: func(d time.Duration) { mu.Lock(); held += d; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if resp := c.Do(context.Background(), abi.HTTPRequest{Method: "GET", Path: "/x"}); resp.Error != nil {
			t.Fatal(resp.Error)
		}
	}
	if got := clock.Sleeps(); len(got) != 2 || got[0] != 500*time.Millisecond || got[1] != 500*time.Millisecond {
		t.Errorf("sleeps = %v, want [500ms 500ms] at 120 requests a minute", got)
	}
	if held != time.Second {
		t.Errorf("OnHeld reported %s, want the 1s the requests were held", held)
	}
}

// TestHooksSetMerges: tests elsewhere set the clock and the resolver in
// separate calls; a later call must not undo an earlier one.
func TestHooksSetMerges(t *testing.T) {
	clock := newFakeClock()
	r := &fakeResolver{}
	var cfg Config
	egresshook.Set(&cfg, egresshook.Hooks{Resolver: r})
	egresshook.Set(&cfg, egresshook.Hooks{Sleep: clock.Sleep, Now: clock.Now})
	if cfg.hooks.Resolver != r || cfg.hooks.Sleep == nil || cfg.hooks.Now == nil {
		t.Fatalf("hooks = %+v, want all three set", cfg.hooks)
	}
}
