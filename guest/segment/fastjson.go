package segment

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Every user costs the guest a GET /users/{id} document and, in
// ListGrants, its permissions read back from the session. encoding/json's
// reflection is the guest's largest cost in WebAssembly, so those two
// documents are read here directly when they are plain: valid JSON whose
// fields of interest are spelled exactly, each once, with strings free of
// escapes. Anything else reports false and the caller decodes with
// encoding/json as before, so the result is always json.Unmarshal's
// (fastjson_test.go compares the two).

// decodeUserDoc decodes the user of a {"data":{"user":{…}}} body.
func decodeUserDoc(body []byte) (*user, bool) {
	if !json.Valid(body) {
		return nil, false
	}
	s := scan{b: body}
	var u *user
	ok := s.object([]string{"data"}, func(string) bool {
		return s.object([]string{"user"}, func(string) bool {
			u = &user{}
			return s.user(u)
		})
	}) && s.end()
	if !ok || u == nil {
		return nil, false
	}
	return u, true
}

// decodeUserPage decodes the users of a list page,
// {"data":{<key>:[user…],"pagination":{…}}}. key must hold an array;
// pagination may be absent or null.
func decodeUserPage(body []byte, key string) ([]user, pagination, bool) {
	var p pagination
	if key == "pagination" || !json.Valid(body) {
		return nil, p, false
	}
	s := scan{b: body}
	var users []user
	found := false
	ok := s.object([]string{"data"}, func(string) bool {
		return s.object([]string{key, "pagination"}, func(k string) bool {
			if k == "pagination" {
				if s.null() {
					return true
				}
				return s.object([]string{"current", "next"}, func(k string) bool {
					if k == "current" {
						return s.str(&p.Current)
					}
					return s.str(&p.Next)
				})
			}
			found = !s.null()
			return found && list(&s, &users, s.user)
		})
	}) && s.end()
	if !ok || !found {
		return nil, pagination{}, false
	}
	return users, p, true
}

// decodePermissions decodes a []permission as the session holds it.
func decodePermissions(b []byte) ([]permission, bool) {
	if !json.Valid(b) {
		return nil, false
	}
	s := scan{b: b}
	var out []permission
	if !s.list(&out, s.permission) || !s.end() {
		return nil, false
	}
	return out, true
}

// scan reads a document already known to be valid JSON.
type scan struct {
	b []byte
	p int
}

func (s *scan) space() {
	for s.p < len(s.b) {
		switch s.b[s.p] {
		case ' ', '\t', '\n', '\r':
			s.p++
		default:
			return
		}
	}
}

func (s *scan) consume(c byte) bool {
	s.space()
	if s.p < len(s.b) && s.b[s.p] == c {
		s.p++
		return true
	}
	return false
}

func (s *scan) end() bool {
	s.space()
	return s.p == len(s.b)
}

func (s *scan) null() bool {
	s.space()
	if len(s.b)-s.p >= 4 && string(s.b[s.p:s.p+4]) == "null" {
		s.p += 4
		return true
	}
	return false
}

// rawString reads a string free of escapes (valid JSON has no control
// characters in strings) and of valid UTF-8.
func (s *scan) rawString() (string, bool) {
	if !s.consume('"') {
		return "", false
	}
	start := s.p
	ascii := true
	for s.p < len(s.b) {
		switch c := s.b[s.p]; {
		case c == '"':
			v := s.b[start:s.p]
			s.p++
			if !ascii && !utf8.Valid(v) {
				return "", false
			}
			return string(v), true
		case c == '\\':
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.p++
	}
	return "", false
}

// str reads a string field; null leaves it empty, as encoding/json leaves
// a string it meets null for unchanged.
func (s *scan) str(dst *string) bool {
	if s.null() {
		return true
	}
	v, ok := s.rawString()
	*dst = v
	return ok
}

// skip passes over one value of the (valid) document.
func (s *scan) skip() bool {
	s.space()
	if s.p >= len(s.b) {
		return false
	}
	switch s.b[s.p] {
	case '"':
		s.p++
		for s.p < len(s.b) {
			switch s.b[s.p] {
			case '\\':
				s.p += 2
				continue
			case '"':
				s.p++
				return true
			}
			s.p++
		}
		return false
	case '{', '[':
		depth := 0
		for s.p < len(s.b) {
			switch s.b[s.p] {
			case '"':
				if !s.skip() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.p++
					return true
				}
			}
			s.p++
		}
		return false
	}
	for s.p < len(s.b) {
		switch s.b[s.p] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return true
		}
		s.p++
	}
	return true
}

// object reads an object, calling field for each member whose key is one
// of known and skipping the others. A known key seen twice, or a key that
// matches a known one only without regard to case (encoding/json would
// decode it into that field), fails.
func (s *scan) object(known []string, field func(key string) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	var seen uint32
	for {
		key, ok := s.rawString()
		if !ok || !s.consume(':') {
			return false
		}
		handled := false
		for i, k := range known {
			if key == k {
				if seen&(1<<i) != 0 || !field(key) {
					return false
				}
				seen |= 1 << i
				handled = true
				break
			}
			if strings.EqualFold(key, k) {
				return false
			}
		}
		if !handled && !s.skip() {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// list reads an array of items into dst: nil for null, empty for [].
func list[T any](s *scan, dst *[]T, item func(*T) bool) bool {
	if s.null() {
		*dst = nil
		return true
	}
	if !s.consume('[') {
		return false
	}
	out := []T{}
	if !s.consume(']') {
		for {
			var v T
			if !item(&v) {
				return false
			}
			out = append(out, v)
			if s.consume(',') {
				continue
			}
			if !s.consume(']') {
				return false
			}
			break
		}
	}
	*dst = out
	return true
}

func (s *scan) list(dst *[]permission, item func(*permission) bool) bool {
	return list(s, dst, item)
}

var (
	userKeys       = []string{"id", "name", "email", "permissions"}
	permissionKeys = []string{"roleId", "roleName", "resources", "labels"}
	resourceKeys   = []string{"id", "type", "labels"}
	labelKeys      = []string{"key", "value", "description"}
)

func (s *scan) user(u *user) bool {
	return s.object(userKeys, func(key string) bool {
		switch key {
		case "id":
			return s.str(&u.ID)
		case "name":
			return s.str(&u.Name)
		case "email":
			return s.str(&u.Email)
		}
		return list(s, &u.Permissions, s.permission)
	})
}

func (s *scan) permission(p *permission) bool {
	if s.null() {
		return true // encoding/json leaves a struct it meets null for as it was
	}
	return s.object(permissionKeys, func(key string) bool {
		switch key {
		case "roleId":
			return s.str(&p.RoleID)
		case "roleName":
			return s.str(&p.RoleName)
		case "resources":
			return list(s, &p.Resources, s.permResource)
		}
		return list(s, &p.Labels, s.label)
	})
}

func (s *scan) permResource(r *permResource) bool {
	if s.null() {
		return true
	}
	return s.object(resourceKeys, func(key string) bool {
		switch key {
		case "id":
			return s.str(&r.ID)
		case "type":
			return s.str(&r.Type)
		}
		return list(s, &r.Labels, s.label)
	})
}

func (s *scan) label(l *label) bool {
	if s.null() {
		return true
	}
	return s.object(labelKeys, func(key string) bool {
		switch key {
		case "key":
			return s.str(&l.Key)
		case "value":
			return s.str(&l.Value)
		}
		return s.str(&l.Description)
	})
}
