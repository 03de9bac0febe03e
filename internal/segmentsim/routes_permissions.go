package segmentsim

import (
	"fmt"
	"net/http"
	"slices"
)

// permissionInput is PermissionInputV1. Extra keys (roleName, policyId,
// userId… that clients copy from GET responses or the 2022 examples) are
// ignored by encoding/json.
type permissionInput struct {
	RoleID    string          `json:"roleId"`
	Resources []resourceInput `json:"resources"`
	Labels    []Label         `json:"labels"`
}

type resourceInput struct {
	ID     string  `json:"id"`
	Type   string  `json:"type"`
	Labels []Label `json:"labels"`
}

var resourceTypes = []string{ResourceWorkspace, ResourceSource, ResourceWarehouse, ResourceSpace, ResourceFunction}

// validatePermissions checks inputs against the workspace and converts
// them; field names in errors are paths like permissions.0.resources.1.id.
// Callers hold s.mu.
func (s *Server) validatePermissions(prefix string, in []permissionInput) ([]Permission, *validationError) {
	out := make([]Permission, 0, len(in))
	for i, p := range in {
		f := fmt.Sprintf("%s.%d", prefix, i)
		switch {
		case p.RoleID == "":
			return nil, invalid(f+".roleId", "roleId is required")
		case s.idx.roleByID[p.RoleID] == nil:
			return nil, invalid(f+".roleId", "unknown roleId "+p.RoleID)
		case len(p.Resources) == 0:
			return nil, invalid(f+".resources", "resources must contain at least one resource")
		}
		if verr := validateLabels(f+".labels", p.Labels); verr != nil {
			return nil, verr
		}
		perm := Permission{RoleID: p.RoleID, Resources: make([]PermissionResource, 0, len(p.Resources))}
		if len(p.Labels) > 0 {
			perm.Labels = cloneLabels(p.Labels)
		}
		for j, res := range p.Resources {
			rf := fmt.Sprintf("%s.resources.%d", f, j)
			switch {
			case res.ID == "":
				return nil, invalid(rf+".id", "id is required")
			case res.Type == "":
				return nil, invalid(rf+".type", "type is required")
			case !slices.Contains(resourceTypes, res.Type):
				return nil, invalid(rf+".type", "type must be one of WORKSPACE, SOURCE, WAREHOUSE, SPACE, FUNCTION")
			case !s.idx.resources[res.Type][res.ID]:
				return nil, invalid(rf+".id", fmt.Sprintf("unknown %s resource %s", res.Type, res.ID))
			case len(res.Labels) > 0 && res.Type != ResourceWorkspace:
				// Labels only restrict workspace-wide grants; on an instance
				// they would be meaningless, so the strict fake refuses them.
				return nil, invalid(rf+".labels", "labels are only allowed on WORKSPACE resources")
			}
			if verr := validateLabels(rf+".labels", res.Labels); verr != nil {
				return nil, verr
			}
			perm.Resources = append(perm.Resources, PermissionResource{ID: res.ID, Type: res.Type, Labels: labelsOrEmpty(res.Labels)})
		}
		out = append(out, perm)
	}
	return out, nil
}

func validateLabels(field string, ls []Label) *validationError {
	for i, l := range ls {
		if l.Key == "" || l.Value == "" {
			return invalid(fmt.Sprintf("%s.%d", field, i), "labels need a key and a value")
		}
	}
	return nil
}

// writePermissions serves POST (additive) and PUT (replace) on
// /users/{id}/permissions and /groups/{id}/permissions.
func (s *Server) writePermissions(w http.ResponseWriter, r *http.Request, group bool, id string, replace bool) {
	var body struct {
		Permissions *[]permissionInput `json:"permissions"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var target *[]Permission
	subjectType := "user"
	if group {
		g := s.idx.groupByID[id]
		if g == nil {
			writeNotFound(w)
			return
		}
		target, subjectType = &g.Permissions, "group"
	} else {
		u := s.idx.userByID[id]
		if u == nil {
			writeNotFound(w)
			return
		}
		target = &u.Permissions
	}
	switch {
	case body.Permissions == nil:
		writeValidation(w, invalid("permissions", "permissions is required"))
		return
	case !replace && len(*body.Permissions) == 0:
		writeValidation(w, invalid("permissions", "permissions must contain at least one permission"))
		return
	}
	perms, verr := s.validatePermissions("permissions", *body.Permissions)
	if verr != nil {
		writeValidation(w, verr)
		return
	}
	if replace {
		// An empty list is accepted and removes every permission.
		*target = normalizePermissions(perms)
		writeData(w, http.StatusOK, map[string]any{"permissions": s.toWirePermissions(*target)})
		return
	}
	created := make([]wirePermission, 0, len(perms))
	for _, p := range perms {
		*target = mergePermission(*target, p)
		wp := s.toWirePermission(normalizePermissions([]Permission{p})[0])
		wp.PolicyID, wp.SubjectID, wp.SubjectType = s.ids.ksuid(), id, subjectType
		created = append(created, wp)
	}
	writeData(w, http.StatusOK, map[string]any{"permissions": created})
}
