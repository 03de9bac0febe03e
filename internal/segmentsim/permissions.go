package segmentsim

import (
	"slices"
	"strings"
)

// mergePermission adds p to list the way Segment stores policies: one entry
// per role, so resources of a role that already has an entry are appended to
// that entry, skipping resources it already lists (same type, id and
// labels). Permission-level labels are unioned. list is modified in place
// where possible and the result returned.
func mergePermission(list []Permission, p Permission) []Permission {
	for i := range list {
		if list[i].RoleID != p.RoleID {
			continue
		}
		for _, r := range p.Resources {
			if !slices.ContainsFunc(list[i].Resources, func(x PermissionResource) bool { return sameResource(x, r) }) {
				list[i].Resources = append(list[i].Resources, PermissionResource{ID: r.ID, Type: r.Type, Labels: cloneLabels(r.Labels)})
			}
		}
		for _, l := range p.Labels {
			if !slices.Contains(list[i].Labels, l) {
				list[i].Labels = append(list[i].Labels, l)
			}
		}
		return list
	}
	// New role for this principal: add a normalised copy so that duplicate
	// resources inside p itself collapse as well.
	fresh := Permission{RoleID: p.RoleID}
	list = append(list, fresh)
	return mergePermission(list, p)
}

// normalizePermissions rebuilds a permission set through mergePermission, so
// that a PUT listing the same role twice ends up as one entry, as a later GET
// would show it.
func normalizePermissions(in []Permission) []Permission {
	out := []Permission{}
	for _, p := range in {
		out = mergePermission(out, p)
	}
	return out
}

// sameResource reports whether two resources denote the same grant scope.
// Labels take part because {WORKSPACE, env=prod} and {WORKSPACE} are
// different scopes.
func sameResource(a, b PermissionResource) bool {
	return a.ID == b.ID && a.Type == b.Type && labelsKey(a.Labels) == labelsKey(b.Labels)
}

// labelsKey is an order-independent key of a label set (descriptions are
// informational and ignored).
func labelsKey(ls []Label) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Key + "\x00" + l.Value
	}
	slices.Sort(parts)
	return strings.Join(parts, "\x01")
}
