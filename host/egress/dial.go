package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Resolver looks up a host name's addresses. *net.Resolver implements it;
// tests inject a fake to map names to chosen addresses.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// denial is a refusal under the egress rules. It maps to CodeEgressDenied
// and is never retried.
type denial struct{ reason string }

func (d *denial) Error() string { return d.reason }

// dialError is a failure before any byte of the request left the host
// (resolution or connect), so retrying it is safe for every method.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

var (
	cgnat      = netip.MustParsePrefix("100.64.0.0/10")
	thisNet    = netip.MustParsePrefix("0.0.0.0/8")
	reserved4  = netip.MustParsePrefix("240.0.0.0/4") // incl. 255.255.255.255
	v4compat   = netip.MustParsePrefix("::/96")
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	errNoAddrs = errors.New("no addresses")
)

// ipClass returns why a is not a public unicast address, or "" if it is.
// IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4) is classified by
// the IPv4 address, since that is where the packets may end up.
func ipClass(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified() || thisNet.Contains(a):
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	case cgnat.Contains(a):
		return "carrier-grade NAT"
	case reserved4.Contains(a):
		return "reserved"
	case v4compat.Contains(a):
		return "IPv4-compatible IPv6"
	case nat64.Contains(a):
		b := a.As16()
		if c := ipClass(netip.AddrFrom4([4]byte(b[12:16]))); c != "" {
			return c + " (via NAT64)"
		}
	case sixToFour.Contains(a):
		b := a.As16()
		if c := ipClass(netip.AddrFrom4([4]byte(b[2:6]))); c != "" {
			return c + " (via 6to4)"
		}
	}
	return ""
}

// dialer is the Transport's DialContext. It connects only to the origin,
// resolves the name itself, refuses non-public addresses, and dials the
// address it checked rather than the name, so a second DNS answer
// (rebinding) cannot redirect the connection.
type dialer struct {
	origin   origin
	literal  netip.Addr // valid when the origin host is an IP literal
	resolver Resolver
	timeout  time.Duration
	// dial connects to an "ip:port"; a field so tests can route a public
	// address to a local test server.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func newDialer(o origin, r Resolver, timeout time.Duration) *dialer {
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
		// Unreachable while redirects are checked; kept so that no future
		// code path can make this Transport connect elsewhere.
		return nil, &denial{fmt.Sprintf("connection to %s is outside the API origin %s", addr, d.origin)}
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()

	ips, err := d.resolve(ctx, host)
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
