package egress

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
)

func TestIPClass(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"93.184.216.34", ""},
		{"2606:2800:220:1:248:1893:25c8:1946", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"::1", "loopback"},
		{"10.0.0.1", "private"},
		{"172.16.5.4", "private"},
		{"192.168.1.1", "private"},
		{"fd00::1", "private"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "link-local"},
		{"239.1.2.3", "multicast"},
		{"ff02::1", "link-local"},
		{"ff05::1", "multicast"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.254", "carrier-grade NAT"},
		{"255.255.255.255", "reserved"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:169.254.169.254", "link-local"},
		{"::127.0.0.1", "IPv4-compatible IPv6"},
		{"64:ff9b::a00:1", "private (via NAT64)"},
		{"64:ff9b::5db8:d822", ""},
		{"2002:a9fe:a9fe::1", "link-local (via 6to4)"},
		{"2002:5db8:d822::1", ""},
		// Ranges of the special-purpose registries missed before.
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.254", "benchmarking"},
		{"198.20.0.1", ""},
		{"198.17.255.254", ""},
		{"192.0.0.9", "IETF protocol assignment"},
		{"192.0.0.170", "IETF protocol assignment"},
		{"192.0.1.1", ""},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"2001:1::1", "IETF protocol assignment"},
		{"2001:200::1", ""},
		{"64:ff9b:1::a00:1", "local-use NAT64"},
		{"64:ff9b:1:ffff::5db8:d822", "local-use NAT64"},
		{"64:ff9b:2::1", "reserved"},
		{"198.51.100.7", "documentation"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"fec0::1", "site-local"},
		{"4000::1", "reserved"},
		{"64:ff9b::c612:1", "benchmarking (via NAT64)"},
	}
	for _, tt := range tests {
		if got := ipClass(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("ipClass(%s) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}

// TestEverySpecialRangeIsRefused: the first, the middle and the last
// address of every range of the table get its class (or, for NAT64 and
// 6to4, the class of the embedded address).
func TestEverySpecialRangeIsRefused(t *testing.T) {
	for _, r := range specialRanges {
		for _, a := range []netip.Addr{r.prefix.Masked().Addr(), middle(r.prefix), lastAddr(r.prefix)} {
			want := r.class
			if r.v4At > 0 {
				b := a.As16()
				want = ""
				if c := ipClass(netip.AddrFrom4([4]byte(b[r.v4At : r.v4At+4]))); c != "" {
					want = c + " (via " + r.class + ")"
				}
			} else if shadowed(r, a) {
				continue // a more specific range comes first
			}
			if got := ipClass(a); got != want {
				t.Errorf("%s in %s: class %q, want %q", a, r.prefix, got, want)
			}
		}
	}
}

// TestSpecialRangesOrder: no range is hidden inside an earlier one, which
// would make it dead.
func TestSpecialRangesOrder(t *testing.T) {
	for j, later := range specialRanges {
		for _, earlier := range specialRanges[:j] {
			if earlier.prefix.Bits() <= later.prefix.Bits() && earlier.prefix.Contains(later.prefix.Addr()) {
				t.Errorf("%s (%s) is inside the earlier %s (%s) and never matches", later.prefix, later.class, earlier.prefix, earlier.class)
			}
		}
	}
}

// shadowed reports whether a range listed before r holds a.
func shadowed(r specialRange, a netip.Addr) bool {
	for _, o := range specialRanges {
		if o.prefix == r.prefix {
			return false
		}
		if o.prefix.Contains(a) {
			return true
		}
	}
	return false
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// middle returns the address halfway through p: its first host bit set.
func middle(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	if i := p.Bits(); i < len(b)*8 {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// noDial makes any connection attempt fail the test: denials must happen
// before a socket is opened.
func noDial(t *testing.T) func(context.Context, string, string) (net.Conn, error) {
	return func(_ context.Context, _, addr string) (net.Conn, error) {
		t.Errorf("dialed %s; want refusal before connecting", addr)
		return nil, errors.New("unexpected dial")
	}
}

func TestPrivateAddressesDenied(t *testing.T) {
	tests := []struct {
		ips   []string
		class string
	}{
		{[]string{"127.0.0.1"}, "loopback"},
		{[]string{"::1"}, "loopback"},
		{[]string{"10.0.0.1"}, "private"},
		{[]string{"192.168.0.10"}, "private"},
		{[]string{"fd12::1"}, "private"},
		{[]string{"169.254.169.254"}, "link-local"},
		{[]string{"fe80::1%eth0"}, "link-local"},
		{[]string{"100.64.1.1"}, "carrier-grade NAT"},
		{[]string{"0.0.0.0"}, "unspecified"},
		{[]string{"239.1.1.1"}, "multicast"},
		{[]string{"::ffff:10.0.0.1"}, "private"},
		{[]string{"198.18.0.1"}, "benchmarking"},
		{[]string{"192.0.0.170"}, "IETF protocol assignment"},
		{[]string{"2001:0:4136:e378:8000:63bf:3fff:fdd2"}, "Teredo"},
		{[]string{"64:ff9b:1::a00:1"}, "local-use NAT64"},
		// One bad answer refuses the name, whatever its position.
		{[]string{"93.184.216.34", "10.0.0.1"}, "private"},
	}
	for _, tt := range tests {
		r := &fakeResolver{m: map[string][]string{"api.segment.test": tt.ips}}
		env := newTestClient(t, "https://api.segment.test", func(c *Config) { c.hooks.Resolver = r })
		env.c.dialer.dial = noDial(t)
		resp := env.c.Do(context.Background(), get("/users"))
		wantError(t, resp, abi.CodeEgressDenied, "api.segment.test resolves to")
		if !strings.Contains(resp.Error.Message, "a "+tt.class+" address") {
			t.Errorf("%v: message %q does not name class %q", tt.ips, resp.Error.Message, tt.class)
		}
		rec := env.audit.one(t)
		if rec.Denied == "" || rec.Attempts != 1 || len(env.clock.Sleeps()) != 0 {
			t.Errorf("%v: record = %+v (denials must not be retried)", tt.ips, rec)
		}
	}
}

func TestLoopbackLiteralOriginAllowed(t *testing.T) {
	// The operator configured the simulator's loopback address explicitly.
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, func(c *Config) {
		c.hooks.Resolver = &fakeResolver{err: errors.New("a literal origin must not be resolved")}
	})
	wantStatus(t, env.c.Do(context.Background(), get("/")), 200)
}

func TestLocalhostOriginAllowsOnlyLoopback(t *testing.T) {
	srv := newRecorder(t, nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	r := &fakeResolver{m: map[string][]string{"localhost": {"127.0.0.1"}}}
	env := newTestClient(t, "http://localhost:"+port, func(c *Config) { c.hooks.Resolver = r })
	wantStatus(t, env.c.Do(context.Background(), get("/")), 200)

	r2 := &fakeResolver{m: map[string][]string{"localhost": {"10.0.0.1"}}}
	env2 := newTestClient(t, "http://localhost:"+port, func(c *Config) { c.hooks.Resolver = r2 })
	env2.c.dialer.dial = noDial(t)
	wantError(t, env2.c.Do(context.Background(), get("/")), abi.CodeEgressDenied, "a private address")
}

func TestPublicAddressDialedByIPOverTLS(t *testing.T) {
	// The origin is a public name over https (HTTP/2). The resolver answers
	// a public address first and a loopback one afterwards (DNS rebinding);
	// the dialer must connect to the address it checked, never re-resolve
	// the name. The dial hook routes that public address to the local
	// test server, whose certificate is valid for example.com.
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken || r.Host != "example.com" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(r.Proto))
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)

	r := &rebindingResolver{first: "93.184.216.34", then: "127.0.0.1"}
	env := newTestClient(t, "https://example.com", func(c *Config) { c.hooks.Resolver = r })
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	env.c.transport.TLSClientConfig.RootCAs = pool

	var mu sync.Mutex
	var dialed []string
	env.c.dialer.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, ts.Listener.Addr().String())
	}

	resp := env.c.Do(context.Background(), get("/users"))
	wantStatus(t, resp, 200)
	if string(resp.Body) != "HTTP/2.0" {
		t.Errorf("proto = %q, want HTTP/2.0", resp.Body)
	}
	// A second request reuses the connection (one resolution, one dial).
	wantStatus(t, env.c.Do(context.Background(), get("/users")), 200)
	mu.Lock()
	got := append([]string(nil), dialed...)
	mu.Unlock()
	if len(got) != 1 || got[0] != "93.184.216.34:443" {
		t.Errorf("dialed %v, want exactly the checked IP [93.184.216.34:443]", got)
	}
	if rec := env.audit.all()[0]; rec.Host != "example.com:443" {
		t.Errorf("record host = %q", rec.Host)
	}

	// A fresh connection re-resolves, gets the rebinding answer, and is refused.
	env.c.transport.CloseIdleConnections()
	wantError(t, env.c.Do(context.Background(), get("/users")), abi.CodeEgressDenied, "127.0.0.1, a loopback address")
}

// rebindingResolver answers first once and then afterwards.
type rebindingResolver struct {
	mu          sync.Mutex
	n           int
	first, then string
}

func (r *rebindingResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	ip := r.then
	if r.n == 1 {
		ip = r.first
	}
	return []net.IPAddr{{IP: net.ParseIP(ip)}}, nil
}

func TestDialerRefusesOtherAddresses(t *testing.T) {
	d := newDialer(mustOrigin(t, "https://api.segment.test"), &fakeResolver{}, defaultDialTimeout)
	d.dial = noDial(t)
	for _, addr := range []string{"evil.test:443", "api.segment.test:80", "127.0.0.1:443", "garbage"} {
		_, err := d.DialContext(context.Background(), "tcp", addr)
		var den *denial
		if !errors.As(err, &den) || !strings.Contains(den.reason, "outside the API origin") {
			t.Errorf("DialContext(%s) = %v, want denial", addr, err)
		}
	}
}

func TestDialerNoAddresses(t *testing.T) {
	d := newDialer(mustOrigin(t, "https://api.segment.test"), &fakeResolver{}, defaultDialTimeout)
	d.dial = noDial(t)
	_, err := d.DialContext(context.Background(), "tcp", "api.segment.test:443")
	var de *dialError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "no addresses") {
		t.Errorf("DialContext = %v, want dialError", err)
	}
}
