package segmentsim

// index holds lookup maps over the workspace so that per-id requests stay
// O(1) on large generated workspaces. It is rebuilt after structural changes
// (users or invites added/removed); permission and membership edits happen
// on the pointed-to objects and need no rebuild.
type index struct {
	userByID    map[string]*User
	userByEmail map[string]*User // normalised email
	groupByID   map[string]*Group
	roleByID    map[string]*Role
	invites     map[string]string // normalised → stored spelling
	resources   map[string]map[string]bool
}

// reindex rebuilds s.idx; callers hold s.mu for writing (or are NewServer).
func (s *Server) reindex() {
	ws := s.ws
	ix := &index{
		userByID:    make(map[string]*User, len(ws.Users)),
		userByEmail: make(map[string]*User, len(ws.Users)),
		groupByID:   make(map[string]*Group, len(ws.Groups)),
		roleByID:    make(map[string]*Role, len(ws.Roles)),
		invites:     make(map[string]string, len(ws.Invites)),
		resources: map[string]map[string]bool{
			ResourceWorkspace: {ws.ID: true},
			ResourceSource:    {},
			ResourceWarehouse: {},
			ResourceSpace:     {},
			ResourceFunction:  {},
		},
	}
	for _, u := range ws.Users {
		ix.userByID[u.ID] = u
		ix.userByEmail[normEmail(u.Email)] = u
	}
	for _, g := range ws.Groups {
		ix.groupByID[g.ID] = g
	}
	for _, r := range ws.Roles {
		ix.roleByID[r.ID] = r
	}
	for _, e := range ws.Invites {
		ix.invites[normEmail(e)] = e
	}
	for _, x := range ws.Sources {
		ix.resources[ResourceSource][x.ID] = true
	}
	for _, x := range ws.Warehouses {
		ix.resources[ResourceWarehouse][x.ID] = true
	}
	// Spaces and functions of a workspace without the feature cannot be
	// granted on: they are invisible to the API.
	if ws.SpacesEnabled {
		for _, x := range ws.Spaces {
			ix.resources[ResourceSpace][x.ID] = true
		}
	}
	if ws.FunctionsEnabled {
		for _, x := range ws.Functions {
			ix.resources[ResourceFunction][x.ID] = true
		}
	}
	s.idx = ix
}
