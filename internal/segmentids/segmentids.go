// Package segmentids names the Segment connector's entitlements of a role
// on one source, warehouse, space or function, in either of its two
// schemes, and maps the names back to roles. It is shared by the guest,
// which emits and parses the names, by runner.toml and the CLI, which
// choose the scheme, and by inspect, which shows both; it uses only the
// standard library so that the guest can import it.
//
// The default scheme uses the role ID as the entitlement's slug
// (source:<sourceId>:<roleId>): IDs never change and never collide. The
// baton-segment scheme uses the slug ConductorOne's baton-segment connector
// uses, the role name snake-cased (source:<sourceId>:source_admin), so that
// a ConductorOne app moving from that connector keeps its entitlement IDs,
// and with them its grants' history and the policies that name them.
package segmentids

import (
	"slices"
	"strings"
)

// Setting is the guest configuration key (runner.toml's tenant key) that
// chooses the scheme.
const Setting = "entitlement_ids"

// The schemes, as Setting's values.
const (
	RoleID       = "role-id"
	BatonSegment = "baton-segment"
)

// Schemes are Setting's valid values, the default first.
var Schemes = []string{RoleID, BatonSegment}

// ScopedTypes are the resource types whose role entitlements the schemes
// name differently; every other entitlement has the same ID in both.
var ScopedTypes = []string{"source", "warehouse", "space", "function"}

// Role is a Segment role as GET /roles lists it.
type Role struct {
	ID, Name string
}

// Snake is baton-segment's slug for a role name: what
// github.com/iancoleman/strcase v0.3.0's ToSnake, which baton-segment
// calls, returns. The guest takes no dependencies, so the algorithm is
// written out here; it works on bytes, like the original, so only ASCII
// letters change case. Words break at spaces, '_', '-' and '.', at a
// change between lower case, upper case and digits, and before the last
// capital of a run of capitals followed by a lower-case letter
// ("JSONData" is json_data). Runs of separators are not collapsed
// ("Read - only" is read___only).
func Snake(name string) string {
	s := strings.TrimSpace(name)
	var b strings.Builder
	b.Grow(len(s) + 2)
	for i := 0; i < len(s); i++ {
		c, k := s[i], class(s[i])
		lc := c
		if k == upper {
			lc += 'a' - 'A'
		}
		if i+1 < len(s) {
			next := class(s[i+1])
			if k != other && next != other && k != next {
				if k == upper && next == lower && i > 0 && class(s[i-1]) == upper {
					b.WriteByte('_')
				}
				b.WriteByte(lc)
				if k == lower || k == digit || next == digit {
					b.WriteByte('_')
				}
				continue
			}
		}
		switch c {
		case ' ', '_', '-', '.':
			b.WriteByte('_')
		default:
			b.WriteByte(lc)
		}
	}
	return b.String()
}

type charClass int

const (
	other charClass = iota
	upper
	lower
	digit
)

func class(c byte) charClass {
	switch {
	case 'A' <= c && c <= 'Z':
		return upper
	case 'a' <= c && c <= 'z':
		return lower
	case '0' <= c && c <= '9':
		return digit
	}
	return other
}

// Collision is a baton-segment slug that several roles' names share.
// baton-segment emitted one entitlement for all of them; here Roles[0],
// the role with the lowest ID, keeps the slug and each other role gets
// Slug_<its role ID>. Segment's role IDs are KSUIDs, which sort by
// creation time, so the oldest role keeps the slug and a role created
// later with the same name does not take it over.
type Collision struct {
	Slug  string
	Roles []Role
}

// Names is the baton-segment scheme for one role list.
type Names struct {
	slug map[string]string // role ID -> slug
	role map[string]string // slug, role ID or Slug_<role ID> -> role ID
	// Collisions are the slugs several roles share, by slug.
	Collisions []Collision
}

// BatonSegmentNames computes the baton-segment slugs of roles. The result
// does not depend on their order. Slugs are unique: a role whose name is
// empty, or whose slug would be another role's slug or ID (which only an
// ID that no snake-cased name can look like rules out), gets its own ID.
func BatonSegmentNames(roles []Role) *Names {
	sorted := slices.Clone(roles)
	slices.SortFunc(sorted, func(a, b Role) int { return strings.Compare(a.ID, b.ID) })
	sorted = slices.CompactFunc(sorted, func(a, b Role) bool { return a.ID == b.ID })

	n := &Names{slug: map[string]string{}, role: map[string]string{}}
	for _, r := range sorted {
		n.role[r.ID] = r.ID
	}
	claim := func(slug, id string) bool {
		if owner, taken := n.role[slug]; taken && owner != id {
			return false
		}
		n.role[slug] = id
		return true
	}
	bySlug := map[string][]Role{}
	var slugs []string
	for _, r := range sorted {
		s := Snake(r.Name)
		if s == "" {
			n.slug[r.ID] = r.ID
			continue
		}
		if bySlug[s] == nil {
			slugs = append(slugs, s)
		}
		bySlug[s] = append(bySlug[s], r)
	}
	slices.Sort(slugs)
	for _, s := range slugs {
		group := bySlug[s]
		for i, r := range group {
			want := s
			if i > 0 {
				want = s + "_" + r.ID
			}
			if claim(want, r.ID) {
				n.slug[r.ID] = want
			} else {
				n.slug[r.ID] = r.ID
			}
		}
		if len(group) > 1 {
			n.Collisions = append(n.Collisions, Collision{Slug: s, Roles: group})
		}
	}
	// A slug with the ID suffix stays valid once its collision is gone
	// (the older role deleted): the ID says which role it meant.
	for _, r := range sorted {
		if s := Snake(r.Name); s != "" {
			claim(s+"_"+r.ID, r.ID)
		}
	}
	return n
}

// Slug returns the baton-segment slug of the role with this ID; a role
// the list does not have keeps its ID, as in the default scheme. A nil
// *Names is the default scheme, where every slug is the role ID.
func (n *Names) Slug(roleID string) string {
	if n == nil {
		return roleID
	}
	if s, ok := n.slug[roleID]; ok {
		return s
	}
	return roleID
}

// Role returns the ID of the role a slug names: a role's baton-segment
// slug, its Slug_<role ID> form, or its role ID (an entitlement ID of the
// default scheme, or of a c1z synced before the scheme changed).
func (n *Names) Role(slug string) (roleID string, ok bool) {
	roleID, ok = n.role[slug]
	return roleID, ok
}
