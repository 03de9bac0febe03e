package segment

import (
	"encoding/json"
	"strings"

	"github.com/baton-runner/baton-runner/guest/internal/jsonscan"
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
	s := scan{jsonscan.Scanner{B: body}}
	var u *user
	ok := s.object([]string{"data"}, func(string) bool {
		return s.object([]string{"user"}, func(string) bool {
			u = &user{}
			return s.user(u)
		})
	}) && s.End()
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
	s := scan{jsonscan.Scanner{B: body}}
	var users []user
	found := false
	ok := s.object([]string{"data"}, func(string) bool {
		return s.object([]string{key, "pagination"}, func(k string) bool {
			if k == "pagination" {
				if s.Null() {
					return true
				}
				return s.object([]string{"current", "next"}, func(k string) bool {
					if k == "current" {
						return s.str(&p.Current)
					}
					return s.str(&p.Next)
				})
			}
			found = !s.Null()
			return found && list(&s, &users, s.user)
		})
	}) && s.End()
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
	s := scan{jsonscan.Scanner{B: b}}
	var out []permission
	if !s.list(&out, s.permission) || !s.End() {
		return nil, false
	}
	return out, true
}

// scan reads a document already known to be valid JSON.
type scan struct{ jsonscan.Scanner }

// str reads a string field; null leaves it empty, as encoding/json leaves
// a string it meets null for unchanged.
func (s *scan) str(dst *string) bool {
	if s.Null() {
		return true
	}
	v, ok := s.RawString()
	*dst = v
	return ok
}

// skip passes over one value of the (valid) document.
func (s *scan) skip() bool {
	s.Space()
	if s.P >= len(s.B) {
		return false
	}
	switch s.B[s.P] {
	case '"':
		s.P++
		for s.P < len(s.B) {
			switch s.B[s.P] {
			case '\\':
				s.P += 2
				continue
			case '"':
				s.P++
				return true
			}
			s.P++
		}
		return false
	case '{', '[':
		depth := 0
		for s.P < len(s.B) {
			switch s.B[s.P] {
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
					s.P++
					return true
				}
			}
			s.P++
		}
		return false
	}
	for s.P < len(s.B) {
		switch s.B[s.P] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return true
		}
		s.P++
	}
	return true
}

// object reads an object, calling field for each member whose key is one
// of known and skipping the others. A known key seen twice, or a key that
// matches a known one only without regard to case (encoding/json would
// decode it into that field), fails.
func (s *scan) object(known []string, field func(key string) bool) bool {
	if !s.Consume('{') {
		return false
	}
	if s.Consume('}') {
		return true
	}
	var seen uint32
	for {
		key, ok := s.RawString()
		if !ok || !s.Consume(':') {
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
		if s.Consume(',') {
			continue
		}
		return s.Consume('}')
	}
}

// list reads an array of items into dst: nil for null, empty for [].
func list[T any](s *scan, dst *[]T, item func(*T) bool) bool {
	if s.Null() {
		*dst = nil
		return true
	}
	if !s.Consume('[') {
		return false
	}
	out := []T{}
	if !s.Consume(']') {
		for {
			var v T
			if !item(&v) {
				return false
			}
			out = append(out, v)
			if s.Consume(',') {
				continue
			}
			if !s.Consume(']') {
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
	if s.Null() {
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
	if s.Null() {
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
	if s.Null() {
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
