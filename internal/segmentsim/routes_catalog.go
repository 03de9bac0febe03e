package segmentsim

import (
	"net/http"
	"slices"
)

// GET / — the workspace of the token; clients use it as a credential check.
func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	writeData(w, http.StatusOK, map[string]any{
		"workspace": map[string]string{"id": s.ws.ID, "slug": s.ws.Slug, "name": s.ws.Name},
	})
}

// GET /roles
func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) {
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	writePage(w, "roles", s.ws.Roles, p, func(r *Role) wireRole {
		return wireRole{ID: r.ID, Name: r.Name, Description: r.Description}
	})
}

// GET /sources
func (s *Server) listSources(w http.ResponseWriter, r *http.Request) {
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	writePage(w, "sources", s.ws.Sources, p, s.toWireSource)
}

// GET /warehouses
func (s *Server) listWarehouses(w http.ResponseWriter, r *http.Request) {
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	writePage(w, "warehouses", s.ws.Warehouses, p, s.toWireWarehouse)
}

// GET /spaces — alpha endpoint, only with the Spaces feature.
func (s *Server) listSpaces(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	enabled := s.ws.SpacesEnabled
	s.mu.RUnlock()
	if !enabled {
		writeFeatureNotEnabled(w, "Spaces")
		return
	}
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	writePage(w, "spaces", s.ws.Spaces, p, func(sp *Space) wireSpace {
		return wireSpace{ID: sp.ID, Slug: sp.Slug, Name: sp.Name}
	})
}

// validFunctionTypes is the current resourceType enum.
var validFunctionTypes = []string{
	FunctionDestination, FunctionInsertDestination, FunctionInsertSource, FunctionInsertTransformation, FunctionSource,
}

// GET /functions?resourceType=… — resourceType is required.
func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	enabled := s.ws.FunctionsEnabled
	s.mu.RUnlock()
	if !enabled {
		writeFeatureNotEnabled(w, "Functions")
		return
	}
	q, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	rt := q.Get("resourceType")
	switch {
	case rt == "":
		writeValidation(w, invalid("resourceType", "resourceType is required"))
		return
	case !slices.Contains(validFunctionTypes, rt):
		writeValidation(w, invalid("resourceType", "resourceType must be one of DESTINATION, INSERT_DESTINATION, INSERT_SOURCE, INSERT_TRANSFORMATION, SOURCE"))
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var fns []*Function
	for _, f := range s.ws.Functions {
		if f.ResourceType == rt {
			fns = append(fns, f)
		}
	}
	writePage(w, "functions", fns, p, s.toWireFunction)
}
