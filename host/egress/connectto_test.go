package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/localca"
)

// testPKI is a CA of the test's own and a server certificate it signed,
// for names no public CA would sign, so that only RootCAs can make a
// client trust it.
type testPKI struct {
	caPEM []byte
	pool  *x509.CertPool
	leaf  tls.Certificate
}

func newPKI(t *testing.T, names ...string) testPKI {
	t.Helper()
	ca, err := localca.New("egress test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server(names...)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	return testPKI{caPEM: ca.PEM, pool: pool, leaf: leaf}
}

// newTLSOrigin starts an HTTPS (HTTP/2) server on loopback presenting the
// PKI's certificate, as a fake of a hard-coded API origin.
func newTLSOrigin(t *testing.T, pki testPKI, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{pki.leaf}}
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes tests make
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// noResolve fails any resolution: with ConnectTo set to an IP, the
// origin's name must never be looked up.
var noResolve = &fakeResolver{err: errors.New("the origin's name must not be resolved")}

func TestConnectToReachesTheFakeAsTheOrigin(t *testing.T) {
	pki := newPKI(t, "api.demo.test")
	var seen struct{ host, serverName, proto string }
	ts := newTLSOrigin(t, pki, func(w http.ResponseWriter, r *http.Request) {
		seen.host, seen.serverName, seen.proto = r.Host, r.TLS.ServerName, r.Proto
		_, _ = w.Write([]byte(`{}`))
	})
	env := newTestClient(t, "https://api.demo.test", func(c *Config) {
		c.ConnectTo = ts.Listener.Addr().String()
		c.RootCAs = pki.pool
		c.hooks.Resolver = noResolve
	})
	wantStatus(t, env.c.Do(context.Background(), get("/users")), 200)
	if seen.host != "api.demo.test" || seen.serverName != "api.demo.test" || seen.proto != "HTTP/2.0" {
		t.Errorf("server saw Host %q, SNI %q, %s; want the origin's name over HTTP/2", seen.host, seen.serverName, seen.proto)
	}
	if rec := env.audit.one(t); rec.Host != "api.demo.test:443" {
		t.Errorf("audit host = %q, want the origin's", rec.Host)
	}
}

// TestConnectToStillVerifiesTheOrigin: the fake's certificate must be
// valid for the origin's name under RootCAs; the connect-to address
// changes where the client connects, not whom it trusts.
func TestConnectToStillVerifiesTheOrigin(t *testing.T) {
	pki := newPKI(t, "api.demo.test")
	ts := newTLSOrigin(t, pki, func(w http.ResponseWriter, r *http.Request) {})
	for _, tc := range []struct {
		name, base string
		roots      *x509.CertPool
	}{
		{"system roots only", "https://api.demo.test", nil},
		{"another CA", "https://api.demo.test", newPKI(t, "api.demo.test").pool},
		{"certificate for another name", "https://other.demo.test", pki.pool},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestClient(t, tc.base, func(c *Config) {
				c.ConnectTo = ts.Listener.Addr().String()
				c.ConnectToSetting = "--connect-to"
				c.RootCAs = tc.roots
				c.hooks.Resolver = noResolve
			})
			resp := env.c.Do(context.Background(), get("/"))
			wantError(t, resp, abi.CodeFailedPrecondition, "does not verify")
			wantError(t, resp, abi.CodeFailedPrecondition, "(the connect-to address of "+tc.base+":443)")
			wantError(t, resp, abi.CodeFailedPrecondition, "check --connect-to and the CA bundle")
		})
	}
}

// TestConnectToNameMayResolveToLoopback: the operator's connect-to name is
// dialed whatever its addresses' class, while the origin's own name would
// be refused for the same answer.
func TestConnectToNameMayResolveToLoopback(t *testing.T) {
	pki := newPKI(t, "api.demo.test")
	ts := newTLSOrigin(t, pki, func(w http.ResponseWriter, r *http.Request) {})
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	r := &fakeResolver{m: map[string][]string{"fake-api": {"127.0.0.1"}, "api.demo.test": {"127.0.0.1"}}}
	env := newTestClient(t, "https://api.demo.test", func(c *Config) {
		c.ConnectTo = "fake-api:" + port
		c.RootCAs = pki.pool
		c.hooks.Resolver = r
	})
	wantStatus(t, env.c.Do(context.Background(), get("/")), 200)

	plain := newTestClient(t, "https://api.demo.test", func(c *Config) { c.hooks.Resolver = r })
	wantError(t, plain.c.Do(context.Background(), get("/")), abi.CodeEgressDenied, "a loopback address")

	gone := newTestClient(t, "https://api.demo.test", func(c *Config) {
		c.ConnectTo = "fake-api:" + port
		c.ConnectToSetting = "connect_to of tenant demo"
		c.hooks.Resolver = &fakeResolver{err: &net.DNSError{Err: "no such host", Name: "fake-api", IsNotFound: true}}
	})
	resp := gone.c.Do(context.Background(), get("/"))
	wantError(t, resp, abi.CodeFailedPrecondition, "the host fake-api:"+port+" (the connect-to address of https://api.demo.test:443) does not exist")
	wantError(t, resp, abi.CodeFailedPrecondition, "check connect_to of tenant demo")
}

func TestNewRefusesBadConnectTo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1", `--connect-to "127.0.0.1" is not host:port`},
		{"https://127.0.0.1:8443", `--connect-to "https://127.0.0.1:8443" is a URL`},
		{"fake-api:0", "out of range"},
		{"fake-api:70000", "out of range"},
		{"fake-api:https", "out of range"},
		{":8443", "has no host"},
		{"bad_host!.test:443", "neither an IP address nor a host name"},
		{"sk-live-0123456789abcdef", "(24 characters, not shown in case they are a credential) is not host:port"},
	} {
		_, err := New(Config{BaseURL: "https://api.demo.test", ConnectTo: tc.in, ConnectToSetting: "--connect-to"})
		var ce *ConnectToError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "--connect-to ") {
			t.Errorf("ConnectTo %q: error %v, want a *ConnectToError naming the setting and saying %q", tc.in, err, tc.want)
		}
		if strings.Contains(tc.in, "sk-") && strings.Contains(err.Error(), tc.in) {
			t.Errorf("ConnectTo %q quoted: %v", tc.in, err)
		}
	}
	for _, ok := range []string{"127.0.0.1:8443", "[::1]:8443", "fake-api:443", "staging.example.com:8443"} {
		if err := CheckConnectTo(ok); err != nil {
			t.Errorf("CheckConnectTo(%q) = %v", ok, err)
		}
	}
}

func TestLoadCABundle(t *testing.T) {
	pki := newPKI(t, "api.demo.test")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leaf, _ := x509.ParseCertificate(pki.leaf.Certificate[0])
	bundle := write("ca.pem", append([]byte("# the demo CA\n"), pki.caPEM...))
	pool, err := LoadCABundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "api.demo.test"}); err != nil {
		t.Errorf("the bundle's CA does not verify its certificate: %v", err)
	}

	block, _ := pem.Decode(pki.caPEM)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("not really")})
	for _, tc := range []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "nope.pem"), "reading the CA bundle: open " + filepath.Join(dir, "nope.pem")},
		{"empty", write("empty.pem", nil), "holds no PEM certificate"},
		{"a key in it", write("key.pem", append(pki.caPEM, keyPEM...)), `PEM block 2 is a "EC PRIVATE KEY", not a CERTIFICATE`},
		{"DER", write("ca.der", block.Bytes), "is a DER certificate; convert it to PEM"},
		{"broken certificate", write("bad.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})), "certificate 1 does not parse"},
	} {
		if _, err := LoadCABundle(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestGuestCredentials(t *testing.T) {
	srv := newRecorder(t, nil)
	req := abi.HTTPRequest{Method: http.MethodGet, Path: "/", Headers: map[string][]string{
		"Authorization": {"Bearer guest-own"}, "Cookie": {"s=1"}, "Proxy-Authorization": {"Basic eA=="}, "X-Api-Key": {"k"},
	}}
	guest := newTestClient(t, srv.URL, func(c *Config) { c.Token, c.GuestCredentials = secret.Secret{}, true })
	wantStatus(t, guest.c.Do(context.Background(), req), 200)
	dflt := newTestClient(t, srv.URL, func(c *Config) { c.Token = secret.Secret{} })
	wantStatus(t, dflt.c.Do(context.Background(), req), 200)

	got := srv.requests()
	if h := got[0].Header; h.Get("Authorization") != "Bearer guest-own" || h.Get("Cookie") != "s=1" || h.Get("Proxy-Authorization") != "" || h.Get("X-Api-Key") != "k" {
		t.Errorf("GuestCredentials client sent %v", h)
	}
	if h := got[1].Header; h.Get("Authorization") != "" || h.Get("Cookie") != "" || h.Get("X-Api-Key") != "k" {
		t.Errorf("default client sent %v", h)
	}

	_, err := New(Config{BaseURL: srv.URL, Token: secret.New(testToken), GuestCredentials: true})
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("New with a token and GuestCredentials: %v", err)
	}
}

// A guest that authenticates itself sees the API's own headers (paging,
// caching, a vendor's rate-limit headers, its cookies) but not those of
// the host's connection; a JSON-ABI guest sees only the allowlist.
func TestGuestCredentialsSeeTheAPIsHeaders(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		h := w.Header()
		h.Set("X-Total-Count", "42")
		h.Set("Etag", `"v1"`)
		h.Set("Set-Cookie", "s=2")
		h.Set("X-Hop", "x")
		h.Set("Connection", "X-Hop")
		h.Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
	req := abi.HTTPRequest{Method: http.MethodGet, Path: "/"}
	guest := newTestClient(t, srv.URL, func(c *Config) { c.Token, c.GuestCredentials = secret.Secret{}, true })
	got := http.Header(guest.c.Do(context.Background(), req).Headers)
	if got.Get("X-Total-Count") != "42" || got.Get("Etag") != `"v1"` || got.Get("Set-Cookie") != "s=2" || got.Get("Content-Type") != "application/json" {
		t.Errorf("guest-credential client passed %v, want the API's headers", got)
	}
	for _, k := range []string{"X-Hop", "Connection", "Content-Length"} {
		if got.Get(k) != "" {
			t.Errorf("guest-credential client passed %s: %v", k, got)
		}
	}
	dflt := newTestClient(t, srv.URL, func(c *Config) {})
	if got := http.Header(dflt.c.Do(context.Background(), req).Headers); got.Get("X-Total-Count") != "" || got.Get("Set-Cookie") != "" {
		t.Errorf("default client passed %v, want the allowlist only", got)
	}
}
