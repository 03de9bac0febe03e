package egress

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/secret"
)

// Placeholder is a secret configuration field as a baton-sdk guest sees
// it: Text, abi.SecretPlaceholder of the field, stands in the guest's
// requests for Value, which the Client puts in its place just before
// sending; Value in a response reaches the guest as Text.
type Placeholder struct {
	Text  string
	Value secret.Secret
}

const placeholderPrefix = abi.SecretPlaceholderPrefix

// secretSet is a Client's placeholders. A Client holds it by pointer: its
// echo and redact tables hold the values in plain strings, and fmt prints
// a nested pointer as an address.
type secretSet struct {
	// list is longest Text first, so that a placeholder that begins
	// another ("….key" and "….key_id") never takes its place.
	list []Placeholder
	// forms are the spellings of the values an API may echo (echoForms),
	// longest first; echo replaces them by their Text in responses,
	// redact by [REDACTED] in messages.
	forms        []string
	echo, redact *strings.Replacer
}

// newSecretSet checks the placeholders of a Config. A Text is not secret,
// but one that does not begin with the prefix may be a value given in
// the wrong field, so it is never quoted.
func newSecretSet(ps []Placeholder) (*secretSet, error) {
	s := &secretSet{list: slices.Clone(ps)}
	seen := map[string]bool{}
	for i, p := range ps {
		field, ok := strings.CutPrefix(p.Text, placeholderPrefix)
		if !ok {
			return nil, fmt.Errorf("secret placeholder %d does not begin with %q; build it with abi.SecretPlaceholder(field)", i+1, placeholderPrefix)
		}
		if field == "" || !unreserved(field) {
			return nil, fmt.Errorf("secret placeholder %q: the field name must be letters, digits, '-', '.', '_' or '~' (URL-unreserved, so that the placeholder reaches the host unchanged)", logSafe(p.Text))
		}
		if seen[p.Text] {
			return nil, fmt.Errorf("secret placeholder %q is given twice; give each secret field once", p.Text)
		}
		seen[p.Text] = true
	}
	slices.SortStableFunc(s.list, func(a, b Placeholder) int { return len(b.Text) - len(a.Text) })

	textOf := map[string]string{}
	for _, p := range s.list {
		v := p.Value.Reveal()
		if v == "" {
			continue
		}
		for _, f := range echoForms(v) {
			if _, dup := textOf[f]; !dup {
				textOf[f] = p.Text
				s.forms = append(s.forms, f)
			}
		}
	}
	slices.SortStableFunc(s.forms, func(a, b string) int { return len(b) - len(a) })
	var echo, redact []string
	for _, f := range s.forms {
		echo = append(echo, f, textOf[f])
		redact = append(redact, f, secret.Redacted)
	}
	s.echo, s.redact = strings.NewReplacer(echo...), strings.NewReplacer(redact...)
	return s, nil
}

// unreserved reports whether s is made of RFC 3986 unreserved characters.
func unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("-._~", b) >= 0) {
			return false
		}
	}
	return true
}

// at returns the placeholder s begins with, the longest if several do.
func (s *secretSet) at(in string) (Placeholder, bool) {
	for _, p := range s.list {
		if strings.HasPrefix(in, p.Text) {
			return p, true
		}
	}
	return Placeholder{}, false
}

// replace puts enc(value) in place of each placeholder in in, and counts
// them.
func (s *secretSet) replace(in string, enc func(string) string) (string, int) {
	if len(s.list) == 0 || !strings.Contains(in, placeholderPrefix) {
		return in, 0
	}
	var b strings.Builder
	n, pos := 0, 0
	for {
		i := strings.Index(in[pos:], placeholderPrefix)
		if i < 0 {
			break
		}
		at := pos + i
		p, ok := s.at(in[at:])
		if !ok {
			b.WriteString(in[pos : at+len(placeholderPrefix)])
			pos = at + len(placeholderPrefix)
			continue
		}
		b.WriteString(in[pos:at])
		b.WriteString(enc(p.Value.Reveal()))
		pos = at + len(p.Text)
		n++
	}
	if n == 0 {
		return in, 0
	}
	b.WriteString(in[pos:])
	return b.String(), n
}

// fields adds to set the field of each placeholder in in.
func (s *secretSet) fields(in string, set map[string]bool) {
	for pos := 0; ; {
		i := strings.Index(in[pos:], placeholderPrefix)
		if i < 0 {
			return
		}
		at := pos + i
		if p, ok := s.at(in[at:]); ok {
			set[strings.TrimPrefix(p.Text, placeholderPrefix)] = true
			pos = at + len(p.Text)
			continue
		}
		pos = at + len(placeholderPrefix)
	}
}

// requestFields lists the fields whose placeholders req carries anywhere:
// origin, path, header names and values (Basic credentials decoded),
// body of any type.
func (s *secretSet) requestFields(req abi.HTTPRequest) []string {
	set := map[string]bool{}
	s.fields(req.Origin, set)
	s.fields(req.Path, set)
	for k, vals := range req.Headers {
		s.fields(k, set)
		for _, v := range vals {
			s.fields(v, set)
			if raw, ok := basicCredentials(v); ok {
				s.fields(raw, set)
			}
		}
	}
	if bytes.Contains(req.Body, []byte(placeholderPrefix)) {
		s.fields(string(req.Body), set)
	}
	return sorted(set)
}

// substitution is a request as it is sent: the checked one with each
// placeholder replaced by its value.
type substitution struct {
	url    *url.URL
	header http.Header
	body   []byte
	n      int
}

// apply substitutes the values into a request that passed every check,
// each encoded for where it stands. It refuses a placeholder it cannot
// encode for its place: in a body other than a form or JSON, or a value
// that cannot be sent in a header.
func (s *secretSet) apply(u *url.URL, h http.Header, body []byte) (substitution, error) {
	out := substitution{url: u, header: h, body: body}
	if len(s.list) == 0 {
		return out, nil
	}
	var err error
	var n int
	if out.url, n, err = s.substituteURL(u); err != nil {
		return out, err
	}
	out.n += n
	if out.header, n, err = s.substituteHeaders(h); err != nil {
		return out, err
	}
	out.n += n
	if out.body, n, err = s.substituteBody(h.Get("Content-Type"), body); err != nil {
		return out, err
	}
	out.n += n
	return out, nil
}

func (s *secretSet) substituteURL(u *url.URL) (*url.URL, int, error) {
	p, np := s.replace(u.EscapedPath(), url.PathEscape)
	q, nq := s.replace(u.RawQuery, url.QueryEscape)
	if np+nq == 0 {
		return u, 0, nil
	}
	raw := u.Scheme + "://" + u.Host + p
	if u.RawQuery != "" || u.ForceQuery {
		raw += "?" + q
	}
	v, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL, values included.
		return nil, 0, fmt.Errorf("the path with its secrets substituted does not form a valid URL")
	}
	return v, np + nq, nil
}

func (s *secretSet) substituteHeaders(h http.Header) (http.Header, int, error) {
	out := make(http.Header, len(h))
	n := 0
	for k, vals := range h {
		nv := make([]string, len(vals))
		for i, v := range vals {
			w, m := s.replaceHeader(k, v)
			if m > 0 && !validHeaderValue(w) {
				set := map[string]bool{}
				s.fields(v, set)
				if raw, ok := basicCredentials(v); ok {
					s.fields(raw, set)
				}
				return nil, 0, fmt.Errorf("the value of secret field %s contains a control character (CR, LF, NUL, ...) and cannot be sent in header %s; check how the secret was loaded (a trailing newline?)", joinSet(set), k)
			}
			nv[i] = w
			n += m
		}
		out[k] = nv
	}
	return out, n, nil
}

// replaceHeader substitutes raw values into a header value; in Basic
// credentials it decodes them first and encodes the result again.
func (s *secretSet) replaceHeader(k, v string) (string, int) {
	if k == "Authorization" {
		if raw, ok := basicCredentials(v); ok {
			if r, n := s.replace(raw, raw2raw); n > 0 {
				scheme, _, _ := strings.Cut(v, " ")
				return scheme + " " + base64.StdEncoding.EncodeToString([]byte(r)), n
			}
		}
	}
	return s.replace(v, raw2raw)
}

func raw2raw(v string) string { return v }

// basicCredentials decodes "Basic <base64>".
func basicCredentials(v string) (string, bool) {
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	return string(raw), err == nil
}

func (s *secretSet) substituteBody(contentType string, body []byte) ([]byte, int, error) {
	if !bytes.Contains(body, []byte(placeholderPrefix)) {
		return body, 0, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	var enc func(string) string
	switch {
	case err != nil:
	case mt == "application/x-www-form-urlencoded":
		enc = url.QueryEscape
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		enc = jsonEscape
	}
	if enc == nil {
		set := map[string]bool{}
		s.fields(string(body), set)
		if len(set) == 0 {
			return body, 0, nil
		}
		return nil, 0, fmt.Errorf("a secret placeholder (field %s) in a %q body; the host substitutes secrets only in form and JSON bodies (application/x-www-form-urlencoded, application/json)", joinSet(set), logSafe(contentType))
	}
	r, n := s.replace(string(body), enc)
	return []byte(r), n, nil
}

// echoForms are the spellings of v an API may echo: raw, as JSON escapes
// it (Go's encoder escapes HTML characters, PHP's "/"), and as query and
// path escape it.
func echoForms(v string) []string {
	html, _ := json.Marshal(v) // a string always encodes
	j := jsonEscape(v)
	return []string{v, j, string(html[1 : len(html)-1]), strings.ReplaceAll(j, "/", `\/`), url.QueryEscape(v), url.PathEscape(v)}
}

// jsonEscape is v as the inside of a JSON string. HTML characters stay
// as they are: the server reads the same string either way.
func jsonEscape(v string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a string always encodes
	out := b.String()
	return out[1 : len(out)-2] // the quotes and Encode's newline
}

// scrubBody replaces every value an API echoed by its placeholder.
func (s *secretSet) scrubBody(b []byte) []byte {
	if !s.anyForm(b) {
		return b
	}
	return []byte(s.echo.Replace(string(b)))
}

func (s *secretSet) anyForm(b []byte) bool {
	for _, f := range s.forms {
		if bytes.Contains(b, []byte(f)) {
			return true
		}
	}
	return false
}

// scrubHeaders does what scrubBody does in the headers the guest sees.
func (s *secretSet) scrubHeaders(h map[string][]string) {
	if len(s.forms) == 0 {
		return
	}
	for _, vals := range h {
		for i, v := range vals {
			vals[i] = s.echo.Replace(v)
		}
	}
}

// scrubMessage keeps every value out of a message for the guest or the
// audit log, as scrub does the token.
func (s *secretSet) scrubMessage(msg string) string {
	if len(s.forms) == 0 {
		return msg
	}
	return s.redact.Replace(msg)
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

func joinSet(set map[string]bool) string { return strings.Join(sorted(set), ", ") }
