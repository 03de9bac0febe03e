package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/baton-runner/baton-runner/host/secret"
)

// origin is the one scheme+host+port a Client may talk to.
type origin struct {
	scheme   string // "http" or "https"
	host     string // lower-case host name or IP literal, without brackets
	port     string // always set, the scheme's default when the URL had none
	hostport string // net.JoinHostPort(host, port)
	base     string // scheme://host[:port] as configured; guest paths are appended to it
}

// String returns "scheme://host:port".
func (o origin) String() string { return o.scheme + "://" + o.hostport }

// matches reports whether u names exactly this origin and carries no user
// info.
func (o origin) matches(u *url.URL) bool {
	if u == nil || u.User != nil || u.Opaque != "" {
		return false
	}
	return strings.ToLower(u.Scheme) == o.scheme &&
		strings.ToLower(u.Hostname()) == o.host &&
		portOrDefault(u) == o.port
}

func portOrDefault(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// BaseURLError is a base URL that New refuses.
type BaseURLError struct {
	// Shown is the URL as the operator typed it, with whatever may be a
	// credential (user info, path, query, a pasted token) left out.
	Shown string
	// Problem says what is wrong and how to fix it without quoting the
	// URL, so that a caller naming the setting otherwise (config: a file
	// position and key) can show it alone.
	Problem string
}

func (e *BaseURLError) Error() string {
	if e.Shown == "" {
		return "base URL " + e.Problem
	}
	return fmt.Sprintf("base URL %q %s", e.Shown, e.Problem)
}

// CheckBaseURL applies the rules New applies to Config.BaseURL, for callers
// that validate configuration before building a client. A refusal is a
// *BaseURLError.
func CheckBaseURL(raw string) error {
	_, err := parseBaseURL(raw, secret.Secret{})
	return err
}

// parseBaseURL validates Config.BaseURL. Its errors name the problem and the
// fix, because operators read them at start-up, and quote what the operator
// typed, with any user info, query values and the token itself masked: a
// credential pasted into the wrong setting must not reach the log.
func parseBaseURL(raw string, token secret.Secret) (origin, error) {
	const want = "want scheme://host[:port], e.g. https://api.segmentapis.com or http://127.0.0.1:8080 for a local simulator"
	if raw == "" {
		return origin{}, &BaseURLError{Problem: "is empty; " + want}
	}
	u, err := url.Parse(raw)
	refuse := func(format string, args ...any) (origin, error) {
		return origin{}, &BaseURLError{Shown: echo(raw, u, token), Problem: fmt.Sprintf(format, args...)}
	}
	if err != nil {
		// url.Parse quotes the whole input unmasked; report only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return refuse("is not a valid URL (%v); %s", err, want)
	}
	if u.User != nil {
		return refuse("contains user info (user:password@); remove it and pass the credential as the token")
	}
	if u.Scheme == "" || u.Opaque != "" || u.Host == "" {
		return refuse("has no scheme and host; %s", want)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return refuse("has scheme %q, which is not supported; use https (or http for a loopback simulator)", u.Scheme)
	}
	if (u.Path != "" && u.Path != "/") || u.RawPath != "" {
		return refuse("has a path; give only scheme://host[:port], the connector supplies every path")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "" {
		return refuse("has a query or fragment; give only scheme://host[:port]")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return refuse("has an empty host; %s", want)
	}
	port := portOrDefault(u)
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return refuse("has port %q, out of range 1-65535", port)
	}
	if u.Scheme == "http" && !isLoopbackHost(host) {
		return refuse("uses plain http, which is allowed only for a loopback host (127.0.0.1, ::1, localhost); use https://%s", u.Host)
	}
	return origin{
		scheme:   u.Scheme,
		host:     host,
		port:     port,
		hostport: net.JoinHostPort(host, port),
		base:     u.Scheme + "://" + strings.ToLower(u.Host),
	}, nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP
// literal: the hosts an operator may reach over plain http.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// buildURL appends the guest's path (and query) to the origin and proves the
// result still names that origin. The guest may only name a path: anything
// that a URL parser, a proxy or a server could read as a scheme, an
// authority or user info is refused. Messages never quote the path, since
// they reach the audit log and the query may hold personal data.
func buildURL(o origin, p string) (*url.URL, error) {
	if p == "" || p[0] != '/' {
		return nil, errors.New(`path must start with "/" (the guest names only a path on the API origin, never a scheme or host)`)
	}
	if strings.HasPrefix(p, "//") {
		return nil, errors.New(`path must not start with "//" (that names another host)`)
	}
	for i := 0; i < len(p); i++ {
		switch b := p[i]; {
		case b < 0x20 || b == 0x7f:
			return nil, errors.New("path contains a control character (CR, LF, NUL, ...)")
		case b == ' ':
			return nil, errors.New("path contains an unencoded space; percent-encode it as %20")
		case b == '\\':
			return nil, errors.New(`path contains "\" (some parsers read it as "/")`)
		case b == '#':
			return nil, errors.New(`path contains "#"; fragments are never sent to a server`)
		}
	}
	rawPath, _, _ := strings.Cut(p, "?")
	if strings.Contains(rawPath, "@") {
		return nil, errors.New(`path contains "@" (it can smuggle user info); percent-encode it in the query if it is data`)
	}
	decoded, err := url.PathUnescape(rawPath)
	if err != nil {
		return nil, errors.New("path has an invalid percent-encoding")
	}
	if strings.HasPrefix(decoded, "//") {
		return nil, errors.New(`path decodes to one starting with "//" (that names another host)`)
	}
	for i := 0; i < len(decoded); i++ {
		if b := decoded[i]; b < 0x20 || b == 0x7f || b == '\\' || b == '@' {
			return nil, errors.New(`path decodes to a control character, "\" or "@"`)
		}
	}
	for seg := range strings.SplitSeq(decoded, "/") {
		if seg == "." || seg == ".." {
			return nil, errors.New(`path contains a "." or ".." segment`)
		}
	}
	u, err := url.Parse(o.base + p)
	if err != nil {
		return nil, errors.New("path does not form a valid URL with the API origin")
	}
	if !o.matches(u) || u.Fragment != "" {
		return nil, fmt.Errorf("path would leave the API origin %s", o)
	}
	return u, nil
}

// echo is raw as the operator typed it, for an error message, except what
// may be a credential pasted into the wrong setting: a URL is shown as its
// scheme and host, with "…" for any user info, path, query or fragment; a
// string that is no URL is shown only when it reads as a host name or as
// words (a token is neither); and the token is masked wherever it appears.
func echo(raw string, u *url.URL, token secret.Secret) string {
	var shown string
	switch {
	case u != nil && u.Scheme != "" && u.Host != "":
		shown = u.Scheme + "://"
		if u.User != nil {
			shown += "…@"
		}
		shown += u.Host
		if (u.Path != "" && u.Path != "/") || u.RawPath != "" || u.Opaque != "" {
			shown += "/…"
		}
		if u.RawQuery != "" || u.ForceQuery {
			shown += "?…"
		}
		if u.Fragment != "" || u.RawFragment != "" {
			shown += "#…"
		}
	case strings.ContainsAny(raw, " \t") || looksLikeHost(raw):
		shown = raw
	default:
		return fmt.Sprintf("(%d characters, not shown in case they are a credential)", len(raw))
	}
	if !token.IsZero() {
		shown = strings.ReplaceAll(shown, token.Reveal(), "<token>")
	}
	return shown
}

var hostLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// looksLikeHost reports whether s is host[:port] with a dotted DNS name,
// localhost or an IP address: what an operator types forgetting the scheme.
func looksLikeHost(s string) bool {
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if _, err := strconv.Atoi(port); err != nil {
			return false
		}
		host = h
	}
	if host == "localhost" || net.ParseIP(host) != nil {
		return true
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// requestOrigin reads abi.HTTPRequest.Origin, "scheme://host[:port]", with
// scheme and host in any case and the scheme's default port implied, so
// that String compares origins; ok is false for anything else.
func requestOrigin(raw string) (o origin, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return origin{}, false
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), portOrDefault(u)
	if (scheme != "http" && scheme != "https") || host == "" || port == "" {
		return origin{}, false
	}
	hostport := net.JoinHostPort(host, port)
	return origin{scheme: scheme, host: host, port: port, hostport: hostport, base: scheme + "://" + hostport}, true
}

// shown is the origin as an operator writes it: scheme://host, with the
// port only when it is not the scheme's default.
func (o origin) shown() string {
	if o.port == portOrDefault(&url.URL{Scheme: o.scheme}) {
		return o.scheme + "://" + strings.TrimSuffix(o.hostport, ":"+o.port)
	}
	return o.String()
}

// originRefusal says why a request naming raw as its origin is refused
// and how the operator allows it; o is raw read by requestOrigin, valid
// when ok. fields are the secret placeholders the request carried, which
// were not substituted.
func originRefusal(raw string, o origin, ok bool, allowed, fields []string) string {
	var msg string
	if ok {
		shown := logSafe(o.shown())
		msg = fmt.Sprintf("origin %s is not among the tenant's allowed origins (%s); allow it with origins = [%q] in the tenant's table or --allow-origin %s",
			shown, strings.Join(allowed, ", "), shown, shown)
	} else {
		msg = fmt.Sprintf("origin %q is not scheme://host[:port] with scheme http or https", logSafe(raw))
	}
	if len(fields) > 0 {
		msg += fmt.Sprintf("; the request carried secret placeholder(s) for field(s) %s, not substituted", strings.Join(fields, ", "))
	}
	return msg
}
