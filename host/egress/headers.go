package egress

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// droppedRequestHeaders are guest headers the host owns: credentials, the
// target, hop-by-hop headers, and framing/encoding that net/http manages
// (a guest Accept-Encoding would turn off transparent gzip and hand the
// guest compressed bytes without their Content-Encoding).
var droppedRequestHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Cookie2": true, "Host": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Accept-Encoding": true,
}

// guestCredentialHeaders are the dropped headers a guest that
// authenticates itself (Config.GuestCredentials) sends: its own
// credentials, to an origin it may reach anyway.
var guestCredentialHeaders = map[string]bool{"Authorization": true, "Cookie": true}

// requestHeaders builds the outgoing headers from the guest's. Dropped
// headers go silently; malformed ones refuse the request, since net/http
// would otherwise fail it with a less clear error.
func (c *Client) requestHeaders(in map[string][]string, hasBody bool) (http.Header, error) {
	tok := c.token.Reveal()
	// Headers named in Connection are hop-by-hop too.
	hop := map[string]bool{}
	for name, vals := range in {
		if http.CanonicalHeaderKey(name) != "Connection" {
			continue
		}
		for _, v := range vals {
			for f := range strings.SplitSeq(v, ",") {
				hop[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
			}
		}
	}
	out := http.Header{}
	for name, vals := range in {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("header name %q is not a valid HTTP token", logSafe(name))
		}
		k := http.CanonicalHeaderKey(name)
		if (droppedRequestHeaders[k] && !(c.guestAuth && guestCredentialHeaders[k])) || hop[k] || (tok != "" && strings.Contains(name, tok)) {
			continue
		}
		for _, v := range vals {
			if !validHeaderValue(v) {
				return nil, fmt.Errorf("value of header %q contains a control character (CR, LF, NUL, ...)", k)
			}
		}
		if tok != "" && slices.ContainsFunc(vals, func(v string) bool { return strings.Contains(v, tok) }) {
			continue
		}
		out[k] = append(out[k], vals...)
	}
	c.setAuth(out)
	out.Set("User-Agent", userAgent)
	if hasBody && out.Get("Content-Type") == "" {
		out.Set("Content-Type", "application/json")
	}
	if out.Get("Accept") == "" {
		out.Set("Accept", "application/json")
	}
	return out, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters other than tab, which would
// split or corrupt the header block.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// responseHeaderAllowlist is what the guest sees of upstream headers (Go's
// canonical spelling): the content type, Segment's rate-limit headers and
// pagination links. Never cookies or anything else.
var responseHeaderAllowlist = []string{
	"Content-Type", "X-Ratelimit-Consumed", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Retry-After", "Link",
}

// responseHeaderDenylist is what a guest that authenticates itself
// (Config.GuestCredentials) does not see of upstream headers: hop-by-hop
// and framing headers, which describe the host's connection, not the
// guest's (the body it gets is already decompressed and whole). It sees
// the rest, since a connector written for any API may page, cache or
// back off by headers of that API's own (X-Total-Count, ETag, a vendor's
// rate-limit headers), and its cookies are its own credentials.
var responseHeaderDenylist = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Content-Encoding": true, "Alt-Svc": true,
}

// guestResponseHeaders is filterResponseHeaders for a guest that
// authenticates itself.
func guestResponseHeaders(h http.Header) map[string][]string {
	hop := map[string]bool{}
	for _, v := range h.Values("Connection") {
		for f := range strings.SplitSeq(v, ",") {
			hop[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	out := map[string][]string{}
	for k, v := range h {
		if !responseHeaderDenylist[k] && !hop[k] {
			out[k] = slices.Clone(v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func filterResponseHeaders(status int, h http.Header) map[string][]string {
	out := map[string][]string{}
	keep := func(k string) {
		if v := h.Values(k); len(v) > 0 {
			out[k] = slices.Clone(v)
		}
	}
	for _, k := range responseHeaderAllowlist {
		keep(k)
	}
	if status >= 300 && status < 400 {
		// An unfollowed 3xx is returned "as is"; without Location the
		// guest could not tell where it points.
		keep("Location")
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
