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

// Snake is baton-segment's slug for a role name: lower case, spaces and
// hyphens as underscores, every character but a-z, 0-9 and _ dropped
// ("Unify and Engage Read-only" is unify_and_engage_read_only). That is
// the rule of version 2 of ConductorOne's connector, the one its image
// runs now; version 1 snake-cased with strcase's ToSnake, which gives the
// same slug for every role name Segment ships and differs only for names
// with capitals inside a word, digits after letters or other punctuation
// ("iOS Admin": ios_admin, version 1 i_os_admin). The guest takes no
// dependencies, so the rule is written out here.
func Snake(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r == ' ' || r == '-':
			b.WriteByte('_')
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '_':
			b.WriteRune(r)
		}
	}
	return b.String()
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
// blank (listed under its ID, so that inspect, reading names from the
// resources, agrees), or whose slug would be another role's slug or ID
// (Segment's role IDs have capitals, which slugs do not), gets its own ID.
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
		if strings.TrimSpace(r.Name) == "" {
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
		if s := n.slug[r.ID]; s != r.ID {
			claim(Snake(r.Name)+"_"+r.ID, r.ID)
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
