package segmentsim

import (
	"net/http"
	"slices"
)

// GET /users — accepted users only, without permissions.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	writePage(w, "users", s.ws.Users, p, toWireUser)
}

// GET /users/{id} — with permissions.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.idx.userByID[id]
	if u == nil {
		writeNotFound(w)
		return
	}
	writeData(w, http.StatusOK, map[string]any{"user": wireUserWithPermissions{
		wireUser: toWireUser(u), Permissions: s.toWirePermissions(u.Permissions),
	}})
}

// GET /users/{id}/groups — the groups the user is a member of.
func (s *Server) listUserGroups(w http.ResponseWriter, r *http.Request, id string) {
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.idx.userByID[id] == nil {
		writeNotFound(w)
		return
	}
	var groups []*Group
	for _, g := range s.ws.Groups {
		if slices.Contains(g.MemberIDs, id) {
			groups = append(groups, g)
		}
	}
	writePage(w, "groups", groups, p, func(g *Group) wireGroupName { return wireGroupName{ID: g.ID, Name: g.Name} })
}

// DELETE /users?userIds.0=… — removes users from the workspace and from
// every group. All ids must exist, otherwise nothing is deleted (422).
func (s *Server) deleteUsers(w http.ResponseWriter, r *http.Request) {
	q, ok := parseQuery(w, r)
	if !ok {
		return
	}
	ids, verr := queryArray(q, "userIds")
	if verr != nil {
		writeValidation(w, verr)
		return
	}
	if len(ids) == 0 {
		writeValidation(w, invalid("userIds", "userIds is required"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var unknown []string
	drop := map[string]bool{}
	for _, id := range ids {
		if s.idx.userByID[id] == nil {
			unknown = append(unknown, id)
		}
		drop[id] = true
	}
	if len(unknown) > 0 {
		writeValidation(w, &validationError{Field: "userIds", Message: "unknown user ids", Data: map[string]any{"userIds": unknown}})
		return
	}
	s.ws.Users = slices.DeleteFunc(s.ws.Users, func(u *User) bool { return drop[u.ID] })
	for _, g := range s.ws.Groups {
		g.MemberIDs = slices.DeleteFunc(g.MemberIDs, func(id string) bool { return drop[id] })
	}
	s.reindex()
	writeSuccessStatus(w)
}
