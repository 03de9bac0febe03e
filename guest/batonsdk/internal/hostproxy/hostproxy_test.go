package hostproxy_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest/batonsdk/internal/hostproxy"
)

// host is a fake of the host's egress: it records what reaches it and
// answers with answer.
type host struct {
	mu     sync.Mutex
	got    []abi.HTTPRequest
	answer func(abi.HTTPRequest) abi.HTTPResponse
}

func (h *host) send(reqs []abi.HTTPRequest) []abi.HTTPResponse {
	h.mu.Lock()
	h.got = append(h.got, reqs...)
	h.mu.Unlock()
	out := make([]abi.HTTPResponse, len(reqs))
	for i, r := range reqs {
		out[i] = h.answer(r)
	}
	return out
}

func echo(r abi.HTTPRequest) abi.HTTPResponse {
	return abi.HTTPResponse{Status: 200, Headers: map[string][]string{"Content-Type": {"text/plain"}},
		Body: []byte(r.Method + " " + r.Origin + r.Path + " " + string(r.Body))}
}

// client is a connector's HTTP client as uhttp builds it: its own
// transport, with the proxy and the guest's roots.
func client(t *testing.T, h *host) (*http.Client, *hostproxy.Proxy) {
	t.Helper()
	p, err := hostproxy.Listen("127.0.0.1:0", h.send)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Serve() }()
	t.Cleanup(func() { _ = p.Close() })
	u, _ := url.Parse(p.URL())
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: p.Roots()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, p
}

func TestRequestsReachTheHostWithTheirOrigin(t *testing.T) {
	h := &host{answer: echo}
	c, _ := client(t, h)
	for _, tc := range []struct{ method, url, body, want string }{
		{"GET", "https://api.demo.test/v1/users?limit=2&page_token=a%2Fb", "", "GET https://api.demo.test/v1/users?limit=2&page_token=a%2Fb "},
		{"POST", "https://auth.demo.test:8443/oauth/token", "grant_type=client_credentials", "POST https://auth.demo.test:8443/oauth/token grant_type=client_credentials"},
		{"PUT", "http://plain.demo.test:8080/v1/groups/g1/members/u1", "", "PUT http://plain.demo.test:8080/v1/groups/g1/members/u1 "},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+abi.SecretPlaceholder("api-key"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != tc.want {
			t.Errorf("%s %s: %d %q, want 200 %q", tc.method, tc.url, resp.StatusCode, b, tc.want)
		}
	}
	for _, r := range h.got {
		if got := r.Headers["Authorization"]; !slices.Equal(got, []string{"Bearer " + abi.SecretPlaceholder("api-key")}) {
			t.Errorf("%s: Authorization %q reached the host, want the connector's", r.Path, got)
		}
		for k := range r.Headers {
			if strings.HasPrefix(k, "Proxy-") {
				t.Errorf("%s: the proxy's own header %s reached the host", r.Path, k)
			}
		}
	}
}

// A connection is reused: the second request to a host makes no new
// CONNECT and no new certificate, so it costs no handshake.
func TestATunnelCarriesManyRequests(t *testing.T) {
	h := &host{answer: echo}
	c, _ := client(t, h)
	var conns int
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			conns++
		}
	}}
	for i := range 5 {
		req, _ := http.NewRequest("GET", "https://api.demo.test/v1/users?page="+string(rune('0'+i)), nil)
		resp, err := c.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
			t.Fatalf("request %d: TLS %+v, want TLS 1.3 to the proxy", i, resp.TLS)
		}
		if resp.TLS.NegotiatedProtocol == "h2" {
			t.Fatal("the proxy negotiated HTTP/2; it serves HTTP/1.1 only")
		}
	}
	if len(h.got) != 5 || conns != 1 {
		t.Fatalf("%d requests reached the host over %d connections, want 5 over 1", len(h.got), conns)
	}
}

func TestHostRefusalsReachTheConnectorAsHTTP(t *testing.T) {
	retry := time.Now().Add(3 * time.Second)
	h := &host{answer: func(r abi.HTTPRequest) abi.HTTPResponse {
		switch r.Path {
		case "/denied":
			return abi.HTTPResponse{Error: abi.Errorf(abi.CodeEgressDenied, "egress denied: origin https://evil.test is not allowed")}
		case "/limited":
			return abi.HTTPResponse{Error: &abi.Error{Code: abi.CodeRateLimited, Message: "upstream rate limit", RetryAfter: &retry}}
		default:
			return abi.HTTPResponse{Error: abi.Errorf(abi.CodeUnavailable, "connection refused")}
		}
	}}
	c, _ := client(t, h)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/denied", 403, "origin https://evil.test is not allowed"},
		{"/limited", 429, "upstream rate limit"},
		{"/down", 502, "connection refused"},
	} {
		resp, err := c.Get("https://evil.test" + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) || !strings.Contains(resp.Header.Get("Proxy-Status"), "baton-runner") {
			t.Errorf("%s: %d %q (Proxy-Status %q), want %d with %q", tc.path, resp.StatusCode, b, resp.Header.Get("Proxy-Status"), tc.status, tc.body)
		}
		if tc.status == 429 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After on a rate-limited answer", tc.path)
		}
	}
}

// Requests in flight together each get their own answer, however the
// batcher groups them.
func TestConcurrentRequestsGetTheirOwnAnswers(t *testing.T) {
	h := &host{answer: echo}
	c, _ := client(t, h)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/item/" + string(rune('a'+i))
			resp, err := c.Get("https://api.demo.test" + path)
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "GET https://api.demo.test" + path + " "; string(b) != want {
				errs <- string(b) + " != " + want
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if len(h.got) != n {
		t.Fatalf("%d requests reached the host, want %d", len(h.got), n)
	}
}
