package inspect

import (
	"fmt"
	"sort"
	"strings"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	rs "github.com/conductorone/baton-sdk/pkg/types/resource"
)

// The explorer's queries. Resources are named TYPE:ID throughout (user:abc),
// the form grant's --principal takes too (a --principal here may be a bare
// ID as well); entitlement and grant IDs are printed whole, as grant and
// revoke take them.

// ResourceKey is the TYPE:ID name of a resource.
func ResourceKey(id *v2.ResourceId) string {
	return id.GetResourceType() + ":" + id.GetResource()
}

// ParseResourceKey splits TYPE:ID; flag names the option it came from, for
// the error.
func ParseResourceKey(flag, s string) (typ, id string, err error) {
	typ, id, ok := strings.Cut(s, ":")
	if !ok || typ == "" || id == "" {
		return "", "", fmt.Errorf("%s must be TYPE:ID, e.g. user:<userId> or group:<groupId>, not %q", flag, s)
	}
	return typ, id, nil
}

// index is a snapshot's lookups, built on first use.
type index struct {
	resources    map[string]*v2.Resource
	entitlements map[string]*v2.Entitlement
	types        []string
}

func (s *Snapshot) idx() *index {
	if s.index != nil {
		return s.index
	}
	x := &index{resources: map[string]*v2.Resource{}, entitlements: map[string]*v2.Entitlement{}}
	seen := map[string]bool{}
	for _, r := range s.Resources {
		x.resources[ResourceKey(r.GetId())] = r
		if t := r.GetId().GetResourceType(); !seen[t] {
			seen[t] = true
			x.types = append(x.types, t)
		}
	}
	sort.Strings(x.types)
	for _, e := range s.Entitlements {
		x.entitlements[e.GetId()] = e
	}
	s.index = x
	return x
}

// Resource returns the resource named TYPE:ID, if the sync holds it.
func (s *Snapshot) Resource(key string) (*v2.Resource, bool) {
	r, ok := s.idx().resources[key]
	return r, ok
}

// Entitlement returns the entitlement with this ID, if the sync holds it.
func (s *Snapshot) Entitlement(id string) (*v2.Entitlement, bool) {
	e, ok := s.idx().entitlements[id]
	return e, ok
}

func (s *Snapshot) checkType(typ string) error {
	if typ == "" {
		return nil
	}
	for _, t := range s.idx().types {
		if t == typ {
			return nil
		}
	}
	return fmt.Errorf("--resource-type %q: this sync holds no resources of that type; its types are %s", typ, strings.Join(s.idx().types, ", "))
}

// checkResource reports a TYPE:ID that is malformed or not in the sync, and
// how to find the right one.
func (s *Snapshot) checkResource(flag, key string) error {
	typ, _, err := ParseResourceKey(flag, key)
	if err != nil {
		return err
	}
	if _, ok := s.Resource(key); !ok {
		return fmt.Errorf("%s %s: no such resource in this sync; list them with `baton-runner inspect resources --resource-type %s`", flag, key, typ)
	}
	return nil
}

func (s *Snapshot) checkEntitlement(id string) error {
	if _, ok := s.Entitlement(id); !ok {
		return fmt.Errorf("--entitlement %s: no such entitlement in this sync; list them with `baton-runner inspect entitlements`", id)
	}
	return nil
}

// detail is the one fact that tells resources of a type apart for a person:
// a user's login (their e-mail address), else the description.
func detail(r *v2.Resource) string {
	if ut, err := rs.GetUserTrait(r); err == nil && ut != nil {
		if ut.GetLogin() != "" {
			return ut.GetLogin()
		}
		for _, e := range ut.GetEmails() {
			if e.GetIsPrimary() {
				return e.GetAddress()
			}
		}
	}
	return r.GetDescription()
}

func (s *Snapshot) name(key string) string {
	r, _ := s.Resource(key)
	return r.GetDisplayName()
}

// Holding says how a principal holds a grant: directly (the connector
// listed it) and/or through the entitlements baton-sdk expanded it from
// (a group's membership), sorted. Only a direct grant can be revoked
// itself; access held only through a group goes with the membership or
// with the group's own grant.
func Holding(g *v2.Grant) (direct bool, through []string) {
	for k := range g.GetSources().GetSources() {
		if k != g.GetEntitlement().GetId() {
			through = append(through, k)
		}
	}
	sort.Strings(through)
	return heldDirectly(g), through
}

// heldDirectly says whether the connector listed g: a grant without
// sources, or one whose own entitlement is among them.
func heldDirectly(g *v2.Grant) bool {
	sources := g.GetSources().GetSources()
	if len(sources) == 0 {
		return true
	}
	_, direct := sources[g.GetEntitlement().GetId()]
	return direct
}

// via lists the entitlements a grant was expanded through (a user's grant
// held through a group's membership), or "" for a direct grant.
func via(g *v2.Grant) string {
	direct, through := Holding(g)
	if direct && len(through) > 0 {
		// Held both ways: revoking the direct grant leaves the access.
		through = append([]string{"direct"}, through...)
	}
	return strings.Join(through, " ")
}

// ResourceTable lists the resources, of one type if typ is set.
func (s *Snapshot) ResourceTable(typ string) (*Table, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	t := &Table{Columns: []string{"resource", "display_name", "detail", "parent"}}
	for _, r := range s.Resources {
		if typ != "" && r.GetId().GetResourceType() != typ {
			continue
		}
		parent := ""
		if r.GetParentResourceId() != nil {
			parent = ResourceKey(r.GetParentResourceId())
		}
		t.Rows = append(t.Rows, []string{ResourceKey(r.GetId()), r.GetDisplayName(), detail(r), parent})
	}
	sortRows(t)
	return t, nil
}

// EntitlementTable lists the entitlements, of resources of one type and/or
// of one resource (TYPE:ID, or a bare ID when the type is given or unique).
func (s *Snapshot) EntitlementTable(typ, resource string) (*Table, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	if resource != "" && !strings.Contains(resource, ":") {
		key, err := s.resolveBare("--resource", typ, resource)
		if err != nil {
			return nil, err
		}
		resource = key
	}
	if resource != "" {
		if err := s.checkResource("--resource", resource); err != nil {
			return nil, err
		}
	}
	t := &Table{Columns: []string{"entitlement", "display_name", "resource", "resource_name", "grantable_to"}}
	for _, e := range s.Entitlements {
		key := ResourceKey(e.GetResource().GetId())
		if typ != "" && e.GetResource().GetId().GetResourceType() != typ || resource != "" && key != resource {
			continue
		}
		var to []string
		for _, rt := range e.GetGrantableTo() {
			to = append(to, rt.GetId())
		}
		t.Rows = append(t.Rows, []string{e.GetId(), e.GetDisplayName(), key, s.name(key), strings.Join(to, " ")})
	}
	sortRows(t)
	return t, nil
}

// resolveBare finds the TYPE:ID of a resource given by its bare ID, as
// grant takes a principal; flag names the option it came from.
func (s *Snapshot) resolveBare(flag, typ, id string) (string, error) {
	var found []string
	for _, r := range s.Resources {
		if r.GetId().GetResource() == id && (typ == "" || r.GetId().GetResourceType() == typ) {
			found = append(found, ResourceKey(r.GetId()))
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("%s %s: no resource with that ID in this sync; list them with `baton-runner inspect resources`", flag, id)
	}
	return "", fmt.Errorf("%s %s is ambiguous (%s): give it as TYPE:ID", flag, id, strings.Join(found, ", "))
}

// resourceArg checks a resource given to flag as TYPE:ID or as a bare ID,
// and returns its TYPE:ID.
func (s *Snapshot) resourceArg(flag, r string) (string, error) {
	if !strings.Contains(r, ":") {
		return s.resolveBare(flag, "", r)
	}
	return r, s.checkResource(flag, r)
}

// GrantTable lists the grants, of one entitlement and/or to one principal
// (TYPE:ID, or a bare ID). Grants held through a group are listed with the group's
// membership entitlement under via.
func (s *Snapshot) GrantTable(entitlement, principal string) (*Table, error) {
	if entitlement != "" {
		if err := s.checkEntitlement(entitlement); err != nil {
			return nil, err
		}
	}
	if principal != "" {
		key, err := s.resourceArg("--principal", principal)
		if err != nil {
			return nil, err
		}
		principal = key
	}
	t := &Table{Columns: []string{"grant", "entitlement", "principal", "principal_name", "via"}}
	for _, g := range s.Grants {
		p := ResourceKey(g.GetPrincipal().GetId())
		if entitlement != "" && g.GetEntitlement().GetId() != entitlement || principal != "" && p != principal {
			continue
		}
		t.Rows = append(t.Rows, []string{g.GetId(), g.GetEntitlement().GetId(), p, s.name(p), via(g)})
	}
	sortRows(t)
	return t, nil
}

// AccessOf lists everything principal (TYPE:ID, or a bare ID) can access: each
// entitlement it holds, directly or through a group (via names the group
// membership it came through).
func (s *Snapshot) AccessOf(principal string) (*Table, error) {
	principal, err := s.resourceArg("--principal", principal)
	if err != nil {
		return nil, err
	}
	t := &Table{Columns: []string{"resource", "resource_name", "entitlement", "entitlement_name", "via", "grant"}}
	for _, g := range s.Grants {
		if ResourceKey(g.GetPrincipal().GetId()) != principal {
			continue
		}
		res := ResourceKey(g.GetEntitlement().GetResource().GetId())
		e, _ := s.Entitlement(g.GetEntitlement().GetId())
		t.Rows = append(t.Rows, []string{res, s.name(res), g.GetEntitlement().GetId(), e.GetDisplayName(), via(g), g.GetId()})
	}
	sortRows(t)
	return t, nil
}

// AccessTo lists who can access resource (TYPE:ID, or a bare ID): every principal holding
// one of its entitlements, directly or through a group.
func (s *Snapshot) AccessTo(resource string) (*Table, error) {
	resource, err := s.resourceArg("--resource", resource)
	if err != nil {
		return nil, err
	}
	t := &Table{Columns: []string{"principal", "principal_name", "entitlement", "entitlement_name", "via", "grant"}}
	for _, g := range s.Grants {
		if ResourceKey(g.GetEntitlement().GetResource().GetId()) != resource {
			continue
		}
		p := ResourceKey(g.GetPrincipal().GetId())
		e, _ := s.Entitlement(g.GetEntitlement().GetId())
		t.Rows = append(t.Rows, []string{p, s.name(p), g.GetEntitlement().GetId(), e.GetDisplayName(), via(g), g.GetId()})
	}
	sortRows(t)
	return t, nil
}

// Diff lists the resources and grants added and removed between two syncs:
// who gained or lost what, the question an access review asks.
func Diff(old, cur *Snapshot) *Table {
	t := &Table{Columns: []string{"change", "kind", "id", "name", "via"}}
	oldR, curR := map[string]*v2.Resource{}, map[string]*v2.Resource{}
	for _, r := range old.Resources {
		oldR[ResourceKey(r.GetId())] = r
	}
	for _, r := range cur.Resources {
		curR[ResourceKey(r.GetId())] = r
	}
	for k, r := range curR {
		if oldR[k] == nil {
			t.Rows = append(t.Rows, []string{"added", "resource", k, r.GetDisplayName(), ""})
		}
	}
	for k, r := range oldR {
		if curR[k] == nil {
			t.Rows = append(t.Rows, []string{"removed", "resource", k, r.GetDisplayName(), ""})
		}
	}
	oldG, curG := map[string]*v2.Grant{}, map[string]*v2.Grant{}
	for _, g := range old.Grants {
		oldG[g.GetId()] = g
	}
	for _, g := range cur.Grants {
		curG[g.GetId()] = g
	}
	grantName := func(s *Snapshot, g *v2.Grant) string {
		e, _ := s.Entitlement(g.GetEntitlement().GetId())
		return s.name(ResourceKey(g.GetPrincipal().GetId())) + " → " + e.GetDisplayName()
	}
	for k, g := range curG {
		if oldG[k] == nil {
			t.Rows = append(t.Rows, []string{"added", "grant", k, grantName(cur, g), via(g)})
		}
	}
	for k, g := range oldG {
		if curG[k] == nil {
			t.Rows = append(t.Rows, []string{"removed", "grant", k, grantName(old, g), via(g)})
		}
	}
	// Resources before grants, then by ID: a removed group and the grants
	// it took with it read together.
	sort.Slice(t.Rows, func(i, j int) bool {
		a, b := t.Rows[i], t.Rows[j]
		if a[1] != b[1] {
			return a[1] > b[1]
		}
		if a[2] != b[2] {
			return a[2] < b[2]
		}
		return a[0] < b[0]
	})
	return t
}

func sortRows(t *Table) {
	sort.SliceStable(t.Rows, func(i, j int) bool {
		a, b := t.Rows[i], t.Rows[j]
		for k := range a {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return false
	})
}
