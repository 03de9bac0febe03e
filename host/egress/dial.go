package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/baton-runner/baton-runner/internal/egresshook"
)

// denial is a refusal under the egress rules. It maps to CodeEgressDenied
// and is never retried.
type denial struct{ reason string }

func (d *denial) Error() string { return d.reason }

// dialError is a failure before any byte of the request left the host
// (resolution or connect), so retrying it is safe for every method.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

var errNoAddrs = errors.New("no addresses")

// specialRange is a range of addresses that is not public unicast.
type specialRange struct {
	prefix netip.Prefix
	class  string
	// v4At, when positive, is the byte offset of an IPv4 address embedded
	// in an IPv6 one (NAT64, 6to4): the range is allowed, and the embedded
	// address is checked instead, since that is where packets may end up.
	v4At int
}

func special(prefix, class string) specialRange {
	return specialRange{prefix: netip.MustParsePrefix(prefix), class: class}
}

// specialRanges is the one table of addresses the egress client refuses:
// every range of the IANA IPv4 and IPv6 Special-Purpose Address Registries
// (RFC 6890; https://www.iana.org/assignments/iana-ipv4-special-registry,
// https://www.iana.org/assignments/iana-ipv6-special-registry), including
// those marked globally reachable (anycast and AS112 infrastructure never
// hosts an API), plus multicast, IPv4 240/4 and, for IPv6, everything
// outside 2000::/3, the only space allocated for global unicast. The first
// matching range wins, so a range must come before any range containing
// it (TestSpecialRangesOrder checks).
var specialRanges = []specialRange{
	// IPv4.
	special("0.0.0.0/8", "unspecified"), // "this network", RFC 791
	special("10.0.0.0/8", "private"),    // RFC 1918
	special("100.64.0.0/10", "carrier-grade NAT"),
	special("127.0.0.0/8", "loopback"),
	special("169.254.0.0/16", "link-local"),
	special("172.16.0.0/12", "private"),
	special("192.0.0.0/24", "IETF protocol assignment"), // RFC 6890: DS-Lite, NAT64 discovery, PCP/TURN anycast
	special("192.0.2.0/24", "documentation"),            // TEST-NET-1
	special("192.31.196.0/24", "AS112"),
	special("192.52.193.0/24", "AMT"),
	special("192.88.99.0/24", "6to4 relay anycast"), // deprecated, RFC 7526
	special("192.168.0.0/16", "private"),
	special("192.175.48.0/24", "AS112"),
	special("198.18.0.0/15", "benchmarking"),    // RFC 2544
	special("198.51.100.0/24", "documentation"), // TEST-NET-2
	special("203.0.113.0/24", "documentation"),  // TEST-NET-3
	special("224.0.0.0/24", "link-local"),       // link-local multicast
	special("224.0.0.0/4", "multicast"),
	special("240.0.0.0/4", "reserved"), // incl. 255.255.255.255, limited broadcast

	// IPv6 (IPv4-mapped addresses are unmapped and checked as IPv4).
	special("::/128", "unspecified"),
	special("::1/128", "loopback"),
	special("::/96", "IPv4-compatible IPv6"), // deprecated, RFC 4291
	{prefix: netip.MustParsePrefix("64:ff9b::/96"), class: "NAT64", v4At: 12},
	special("64:ff9b:1::/48", "local-use NAT64"), // RFC 8215
	special("100::/64", "discard-only"),          // RFC 6666
	special("100:0:0:1::/64", "dummy prefix"),    // RFC 9780
	special("2001::/32", "Teredo"),
	special("2001:db8::/32", "documentation"),
	special("2001::/23", "IETF protocol assignment"), // benchmarking, ORCHID, AMT, AS112, anycast
	{prefix: netip.MustParsePrefix("2002::/16"), class: "6to4", v4At: 2},
	special("2620:4f:8000::/48", "AS112"),
	special("3fff::/20", "documentation"),       // RFC 9637
	special("5f00::/16", "segment routing SID"), // RFC 9602
	special("fc00::/7", "private"),              // unique local, RFC 4193
	special("fe80::/10", "link-local"),
	special("fec0::/10", "site-local"), // deprecated, RFC 3879
	special("ff02::/16", "link-local"), // link-local multicast
	special("ff00::/8", "multicast"),
	special("::/3", "reserved"), // not global unicast (2000::/3)
	special("4000::/2", "reserved"),
	special("8000::/1", "reserved"),
}

// ipClass returns why a is not a public unicast address, or "" if it is.
func ipClass(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	if !a.IsValid() {
		return "invalid"
	}
	for _, r := range specialRanges {
		if !r.prefix.Contains(a) {
			continue
		}
		if r.v4At > 0 {
			b := a.As16()
			if c := ipClass(netip.AddrFrom4([4]byte(b[r.v4At : r.v4At+4]))); c != "" {
				return c + " (via " + r.class + ")"
			}
			return ""
		}
		return r.class
	}
	return ""
}

// dialer is the Transport's DialContext. It connects only to the origin,
// resolves the name itself, refuses non-public addresses, and dials the
// address it checked rather than the name, so a second DNS answer
// (rebinding) cannot redirect the connection.
//
// With Config.ConnectTo it dials that address instead, whatever its class:
// the operator chose it, as an IP-literal origin.
type dialer struct {
	origin   origin
	literal  netip.Addr // valid when the origin host is an IP literal
	connect  *connectTo // nil unless Config.ConnectTo is set
	resolver egresshook.Resolver
	timeout  time.Duration
	// dial connects to an "ip:port"; a field so tests can route a public
	// address to a local test server.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func newDialer(o origin, r egresshook.Resolver, timeout time.Duration) *dialer {
	if r == nil {
		r = net.DefaultResolver
	}
	d := &dialer{origin: o, resolver: r, timeout: timeout}
	d.literal, _ = netip.ParseAddr(o.host)
	nd := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	d.dial = nd.DialContext
	return d
}

// DialContext implements http.Transport.DialContext.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !strings.EqualFold(host, d.origin.host) || port != d.origin.port {
		// Unreachable while redirects are not followed; kept so that no
		// future code path can make this Transport connect elsewhere.
		return nil, &denial{fmt.Sprintf("connection to %s is outside the API origin %s", addr, d.origin)}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()

	resolve := d.resolve
	if d.connect != nil {
		host, port, resolve = d.connect.host, d.connect.port, d.resolveConnectTo
	}
	ips, err := resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var last error
	for _, ip := range ips {
		c, err := d.dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, &dialError{last}
}

// resolve returns the addresses to dial, or a denial if any of them is not
// allowed. One forbidden answer refuses the whole name: a public API has no
// reason to publish a private address, and mixing them is a rebinding trick.
func (d *dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if d.literal.IsValid() {
		// The operator configured this address explicitly (e.g. a local
		// simulator); it is dialed whatever its class.
		return []netip.Addr{d.literal}, nil
	}
	addrs, err := d.resolver.LookupIPAddr(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = errNoAddrs
	}
	if err != nil {
		return nil, &dialError{fmt.Errorf("resolve %s: %w", host, err)}
	}
	ips := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return nil, &denial{fmt.Sprintf("host %s resolved to an invalid address", host)}
		}
		ip = ip.Unmap().WithZone(a.Zone)
		class := ipClass(ip)
		// "localhost" is an explicit operator choice, but only for loopback.
		if class != "" && !(class == "loopback" && d.origin.host == "localhost") {
			return nil, &denial{fmt.Sprintf("host %s resolves to %s, a %s address; only public addresses may be reached (configure an IP literal or localhost BaseURL to use a local simulator)", host, ip, class)}
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// resolveConnectTo returns the addresses of Config.ConnectTo, all of them
// whatever their class.
func (d *dialer) resolveConnectTo(ctx context.Context, host string) ([]netip.Addr, error) {
	if d.connect.literal.IsValid() {
		return []netip.Addr{d.connect.literal}, nil
	}
	addrs, err := d.resolver.LookupIPAddr(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = errNoAddrs
	}
	if err != nil {
		return nil, &dialError{fmt.Errorf("resolve %s (the connect-to address of %s): %w", host, d.origin, err)}
	}
	ips := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return nil, &dialError{fmt.Errorf("connect-to host %s resolved to an invalid address", host)}
		}
		ips = append(ips, ip.Unmap().WithZone(a.Zone))
	}
	return ips, nil
}
