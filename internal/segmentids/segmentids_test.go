package segmentids

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestSnake: the slugs baton-segment gives role names (its version 2's
// snakeifyRoleName), the same as version 1's for Segment's own roles.
func TestSnake(t *testing.T) {
	for name, want := range map[string]string{
		"Source Admin":                "source_admin",
		"Source Read-only":            "source_read_only",
		"Unify and Engage Read-only":  "unify_and_engage_read_only",
		"Warehouse Destination Admin": "warehouse_destination_admin",
		"End User Privacy Admin":      "end_user_privacy_admin",
		"Engage User 2":               "engage_user_2",
		"Read - only":                 "read___only",
		" Padded ":                    "_padded_",
		"iOS Admin":                   "ios_admin",
		"JSONData":                    "jsondata",
		"Source_Admin":                "source_admin",
		"a.b-c d":                     "ab_c_d",
		"Foo: Bar (EU)":               "foo_bar_eu",
		"über Admin":                  "ber_admin",
		"":                            "",
	} {
		if got := Snake(name); got != want {
			t.Errorf("Snake(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestNamesCollisions: roles whose names snake-case alike are told apart
// deterministically: the lowest ID keeps the slug, the others get their ID
// appended, and every form maps back to its role.
func TestNamesCollisions(t *testing.T) {
	roles := []Role{
		{ID: "2ZzCustom", Name: "source-admin"},
		{ID: "1AbSource", Name: "Source Admin"},
		{ID: "2AbSourceRO", Name: "Source Read-only"},
		{ID: "3XyCustom", Name: "SOURCE ADMIN"}, // "source_admin" too
		{ID: "4Nameless", Name: " "},
	}
	n := BatonSegmentNames(roles)
	want := map[string]string{
		"1AbSource":   "source_admin",
		"2ZzCustom":   "source_admin_2ZzCustom",
		"3XyCustom":   "source_admin_3XyCustom",
		"2AbSourceRO": "source_read_only",
		"4Nameless":   "4Nameless",
	}
	for id, slug := range want {
		if got := n.Slug(id); got != slug {
			t.Errorf("Slug(%s) = %q, want %q", id, got, slug)
		}
		if got, ok := n.Role(slug); !ok || got != id {
			t.Errorf("Role(%q) = %q, %v; want %s", slug, got, ok, id)
		}
		if got, ok := n.Role(id); !ok || got != id {
			t.Errorf("Role(%q) (the role ID) = %q, %v", id, got, ok)
		}
	}
	wantColl := []Collision{{Slug: "source_admin", Roles: []Role{roles[1], roles[0], roles[3]}}}
	if !reflect.DeepEqual(n.Collisions, wantColl) {
		t.Errorf("collisions %+v, want %+v", n.Collisions, wantColl)
	}
	if got := n.Slug("unlisted"); got != "unlisted" {
		t.Errorf("an unlisted role's slug is %q, want its ID", got)
	}
	if _, ok := n.Role("no_such_role"); ok {
		t.Error("a slug no role has resolved")
	}

	// Order does not matter.
	rev := []Role{roles[4], roles[3], roles[2], roles[1], roles[0]}
	if !reflect.DeepEqual(BatonSegmentNames(rev), n) {
		t.Error("the result depends on the order of the roles")
	}

	// The oldest role gone, the next one takes the plain slug; its
	// suffixed slug, in a c1z synced before, still names it.
	after := BatonSegmentNames([]Role{roles[0], roles[2], roles[3]})
	if got := after.Slug("2ZzCustom"); got != "source_admin" {
		t.Errorf("after the collision shrank: Slug = %q", got)
	}
	if got, ok := after.Role("source_admin_2ZzCustom"); !ok || got != "2ZzCustom" {
		t.Errorf("the suffixed slug of a former collision resolves to %q, %v", got, ok)
	}
}

// TestNamesNeverAmbiguous: however names and IDs are chosen (a name that
// snake-cases to another role's ID, or to another's suffixed slug), every
// role gets its own slug and each slug and ID maps back to its role.
func TestNamesNeverAmbiguous(t *testing.T) {
	fixed := []Role{
		{ID: "abc", Name: "Source Admin"},
		{ID: "source_admin", Name: "Other"}, // an ID like a slug
		{ID: "x", Name: "ABC"},              // slug "abc", another role's ID
		{ID: "y", Name: "source admin x"},   // slug "source_admin_x"
		{ID: "z", Name: "Source_Admin"},
	}
	check := func(roles []Role) {
		t.Helper()
		n := BatonSegmentNames(roles)
		seen := map[string]string{}
		for _, r := range roles {
			s := n.Slug(r.ID)
			if other, dup := seen[s]; dup && other != r.ID {
				t.Fatalf("%+v: roles %s and %s share slug %q", roles, other, r.ID, s)
			}
			seen[s] = r.ID
			if got, ok := n.Role(s); !ok || got != r.ID {
				t.Fatalf("%+v: Role(%q) = %q, want %s", roles, s, got, r.ID)
			}
			if got, ok := n.Role(r.ID); !ok || got != r.ID {
				t.Fatalf("%+v: Role(%q) (an ID) = %q", roles, r.ID, got)
			}
		}
	}
	check(fixed)
	words := []string{"Source", "source", "Admin", "admin", "_", " ", "x", "abc", "Read-only"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var roles []Role
		for i := range 1 + rng.IntN(6) {
			name := ""
			for range rng.IntN(4) {
				name += words[rng.IntN(len(words))]
			}
			id := fmt.Sprint(i)
			if rng.IntN(3) == 0 {
				id = Snake(words[rng.IntN(len(words))]) + "_" + fmt.Sprint(rng.IntN(3))
			}
			roles = append(roles, Role{ID: id, Name: name})
		}
		check(uniqueIDs(roles))
	}
}

// uniqueIDs drops roles whose ID an earlier one has: Segment's
// role IDs are unique.
func uniqueIDs(roles []Role) []Role {
	seen := map[string]bool{}
	var out []Role
	for _, r := range roles {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}
