package guest

import (
	"slices"
	"unicode/utf8"

	"github.com/baton-runner/baton-runner/abi"
)

// The listing results are most of what a guest writes during a sync, and
// encoding/json pays for them in reflection, which is several times slower
// in WebAssembly than natively. These append-based encoders write the same
// bytes as json.Marshal for the same values (encode_test.go holds them to
// that), so the host cannot tell them apart.

// appendOK writes {"ok":<body>} around the document appended by body.
func appendOK(dst []byte, body func([]byte) []byte) []byte {
	dst = append(dst, `{"ok":`...)
	dst = body(dst)
	return append(dst, '}')
}

func appendResourcePage(dst []byte, p *abi.ResourcePage) []byte {
	dst = append(dst, `{"resources":`...)
	if p.Resources == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range p.Resources {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendResource(dst, &p.Resources[i])
		}
		dst = append(dst, ']')
	}
	return appendPageEnd(dst, p.NextPageToken)
}

func appendEntitlementPage(dst []byte, p *abi.EntitlementPage) []byte {
	dst = append(dst, `{"entitlements":`...)
	if p.Entitlements == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range p.Entitlements {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendEntitlement(dst, &p.Entitlements[i])
		}
		dst = append(dst, ']')
	}
	return appendPageEnd(dst, p.NextPageToken)
}

func appendGrantPage(dst []byte, p *abi.GrantPage) []byte {
	dst = append(dst, `{"grants":`...)
	if p.Grants == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range p.Grants {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendGrant(dst, &p.Grants[i])
		}
		dst = append(dst, ']')
	}
	return appendPageEnd(dst, p.NextPageToken)
}

func appendPageEnd(dst []byte, next string) []byte {
	if next != "" {
		dst = append(dst, `,"nextPageToken":`...)
		dst = appendString(dst, next)
	}
	return append(dst, '}')
}

func appendResourceID(dst []byte, id *abi.ResourceID) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, id.Type)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, id.ID)
	return append(dst, '}')
}

func appendResource(dst []byte, r *abi.Resource) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendResourceID(dst, &r.ID)
	if r.Parent != nil {
		dst = append(dst, `,"parent":`...)
		dst = appendResourceID(dst, r.Parent)
	}
	dst = append(dst, `,"displayName":`...)
	dst = appendString(dst, r.DisplayName)
	if r.Description != "" {
		dst = append(dst, `,"description":`...)
		dst = appendString(dst, r.Description)
	}
	if len(r.ChildTypes) > 0 {
		dst = append(dst, `,"childTypes":`...)
		dst = appendStrings(dst, r.ChildTypes)
	}
	if len(r.Profile) > 0 {
		dst = append(dst, `,"profile":{`...)
		// encoding/json sorts map keys.
		keys := make([]string, 0, len(r.Profile))
		for k := range r.Profile {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, r.Profile[k])
		}
		dst = append(dst, '}')
	}
	if u := r.User; u != nil {
		dst = append(dst, `,"user":{`...)
		sep := false
		if len(u.Emails) > 0 {
			dst = append(dst, `"emails":`...)
			dst = appendStrings(dst, u.Emails)
			sep = true
		}
		if u.Login != "" {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"login":`...)
			dst = appendString(dst, u.Login)
			sep = true
		}
		if u.Status != "" {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"status":`...)
			dst = appendString(dst, string(u.Status))
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendEntitlement(dst []byte, e *abi.Entitlement) []byte {
	dst = append(dst, `{"resource":`...)
	dst = appendResourceID(dst, &e.Resource)
	dst = append(dst, `,"slug":`...)
	dst = appendString(dst, e.Slug)
	dst = append(dst, `,"displayName":`...)
	dst = appendString(dst, e.DisplayName)
	if e.Description != "" {
		dst = append(dst, `,"description":`...)
		dst = appendString(dst, e.Description)
	}
	if len(e.GrantableTo) > 0 {
		dst = append(dst, `,"grantableTo":`...)
		dst = appendStrings(dst, e.GrantableTo)
	}
	return append(dst, '}')
}

func appendEntitlementRef(dst []byte, e *abi.EntitlementRef) []byte {
	dst = append(dst, `{"resource":`...)
	dst = appendResourceID(dst, &e.Resource)
	dst = append(dst, `,"slug":`...)
	dst = appendString(dst, e.Slug)
	return append(dst, '}')
}

func appendGrant(dst []byte, g *abi.Grant) []byte {
	dst = append(dst, `{"entitlement":`...)
	dst = appendEntitlementRef(dst, &g.Entitlement)
	dst = append(dst, `,"principal":`...)
	dst = appendResourceID(dst, &g.Principal)
	if len(g.ExpandFrom) > 0 {
		dst = append(dst, `,"expandFrom":[`...)
		for i := range g.ExpandFrom {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendEntitlementRef(dst, &g.ExpandFrom[i])
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendStrings writes a non-nil list of strings.
func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way json.Marshal does: HTML
// characters (<, >, &), control characters, U+2028 and U+2029 escaped,
// and each byte of invalid UTF-8 replaced by U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, `\b`...)
			case '\f':
				dst = append(dst, `\f`...)
			case '\n':
				dst = append(dst, `\n`...)
			case '\r':
				dst = append(dst, `\r`...)
			case '\t':
				dst = append(dst, `\t`...)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
