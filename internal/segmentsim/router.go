package segmentsim

import "net/http"

// route dispatches to the handlers. The table is exactly the Public API's
// routes a connector uses (docs.segmentapis.com):
// anything else, including DELETE/PUT on the plural /groups/{id}/users (the
// real paths are singular /group/{id}/users), is 404.
func (s *Server) route(w http.ResponseWriter, r *http.Request, segs []string, ok bool) {
	if !ok {
		writeNotFound(w)
		return
	}
	m := r.Method
	get, post, put, del := m == http.MethodGet, m == http.MethodPost, m == http.MethodPut, m == http.MethodDelete
	switch len(segs) {
	case 0:
		if get {
			s.getWorkspace(w, r)
			return
		}
	case 1:
		switch segs[0] {
		case "users":
			switch {
			case get:
				s.listUsers(w, r)
				return
			case del:
				s.deleteUsers(w, r)
				return
			}
		case "invites":
			switch {
			case get:
				s.listInvites(w, r)
				return
			case post:
				s.createInvites(w, r)
				return
			case del:
				s.deleteInvites(w, r)
				return
			}
		case "groups":
			if get {
				s.listGroups(w, r)
				return
			}
		case "roles":
			if get {
				s.listRoles(w, r)
				return
			}
		case "sources":
			if get {
				s.listSources(w, r)
				return
			}
		case "warehouses":
			if get {
				s.listWarehouses(w, r)
				return
			}
		case "spaces":
			if get {
				s.listSpaces(w, r)
				return
			}
		case "functions":
			if get {
				s.listFunctions(w, r)
				return
			}
		}
	case 2:
		switch {
		case segs[0] == "users" && get:
			s.getUser(w, r, segs[1])
			return
		case segs[0] == "groups" && get:
			s.getGroup(w, r, segs[1])
			return
		}
	case 3:
		id := segs[1]
		switch segs[0] + "/" + segs[2] {
		case "users/groups":
			if get {
				s.listUserGroups(w, r, id)
				return
			}
		case "users/permissions", "groups/permissions":
			if post || put {
				s.writePermissions(w, r, segs[0] == "groups", id, put)
				return
			}
		case "groups/users":
			switch {
			case get:
				s.listGroupUsers(w, r, id)
				return
			case post:
				s.addGroupUsers(w, r, id)
				return
			}
		case "groups/invites":
			if get {
				s.listGroupInvites(w, r, id)
				return
			}
		case "group/users":
			switch {
			case del:
				s.removeGroupUsers(w, r, id)
				return
			case put:
				s.replaceGroupUsers(w, r, id)
				return
			}
		}
	}
	writeNotFound(w)
}
