package inspect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/baton-runner/baton-runner/internal/segmentids"
)

// EntitlementIDTable is EntitlementTable with each entitlement's ID in
// both of the Segment connector's schemes (segmentids), whichever the
// sync used: role_id_scheme (source:<id>:<roleId>) and
// baton_segment_scheme (source:<id>:source_admin, ConductorOne's
// baton-segment connector's). entitlement, if set, keeps only the
// entitlement with that ID in either scheme, so that an ID from
// ConductorOne finds its entitlement in a sync of the other scheme.
//
// The names are computed from the role resources of the sync, as the
// guest computes them from the same role list. An entitlement of a role
// the sync does not hold is named by the role ID in both; entitlements
// that are not a role on a source, warehouse, space or function have one
// ID.
func (s *Snapshot) EntitlementIDTable(typ, resource, entitlement string) (*Table, error) {
	base, err := s.EntitlementTable(typ, resource)
	if err != nil {
		return nil, err
	}
	names := s.roleNames()
	t := &Table{Columns: slices.Insert(slices.Clone(base.Columns), 1, "role_id_scheme", "baton_segment_scheme")}
	for _, row := range base.Rows {
		byRoleID, bySegment := row[0], row[0]
		if e, ok := s.Entitlement(row[0]); ok && slices.Contains(segmentids.ScopedTypes, e.GetResource().GetId().GetResourceType()) {
			prefix := ResourceKey(e.GetResource().GetId()) + ":"
			if roleID, ok := names.Role(strings.TrimPrefix(row[0], prefix)); ok {
				byRoleID, bySegment = prefix+roleID, prefix+names.Slug(roleID)
			}
		}
		if entitlement != "" && entitlement != row[0] && entitlement != byRoleID && entitlement != bySegment {
			continue
		}
		t.Rows = append(t.Rows, slices.Insert(slices.Clone(row), 1, byRoleID, bySegment))
	}
	if entitlement != "" && len(t.Rows) == 0 {
		return nil, fmt.Errorf("--entitlement %s: no entitlement in this sync has that ID in either scheme (role-id, baton-segment); list them with `baton-runner inspect entitlements --id-schemes`", entitlement)
	}
	return t, nil
}

// roleNames is the baton-segment scheme of the sync's roles. A role
// without a name is listed under its ID (the guest's display name), and
// has no name here either.
func (s *Snapshot) roleNames() *segmentids.Names {
	var roles []segmentids.Role
	for _, r := range s.Resources {
		if id := r.GetId(); id.GetResourceType() == "role" {
			name := r.GetDisplayName()
			if name == id.GetResource() {
				name = ""
			}
			roles = append(roles, segmentids.Role{ID: id.GetResource(), Name: name})
		}
	}
	return segmentids.BatonSegmentNames(roles)
}
