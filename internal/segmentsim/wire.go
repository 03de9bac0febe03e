package segmentsim

import (
	"hash/fnv"
	"strings"
	"time"
)

// Response shapes of the Public API (docs.segmentapis.com). They are separate from the model so
// the model stays convenient for tests while the JSON matches the API
// exactly, e.g. resource labels are always an array, never null.

type wireUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type wireUserWithPermissions struct {
	wireUser
	Permissions []wirePermission `json:"permissions"`
}

type wirePermission struct {
	PolicyID    string         `json:"policyId,omitempty"`
	RoleID      string         `json:"roleId"`
	RoleName    string         `json:"roleName"`
	SubjectID   string         `json:"subjectId,omitempty"`
	SubjectType string         `json:"subjectType,omitempty"`
	Resources   []wireResource `json:"resources"`
	Labels      []Label        `json:"labels,omitempty"`
}

type wireResource struct {
	ID     string  `json:"id"`
	Type   string  `json:"type"`
	Labels []Label `json:"labels"`
}

type wireGroupRef struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	MemberCount int    `json:"memberCount"`
}

type wireGroup struct {
	wireGroupRef
	Permissions []wirePermission `json:"permissions"`
}

type wireGroupName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type wireRole struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type wireLogos struct {
	Default string `json:"default"`
}

type wireSourceMetadata struct {
	ID                 string    `json:"id"`
	Slug               string    `json:"slug"`
	Name               string    `json:"name"`
	Description        string    `json:"description"`
	Logos              wireLogos `json:"logos"`
	Options            []any     `json:"options"`
	Categories         []string  `json:"categories"`
	IsCloudEventSource bool      `json:"isCloudEventSource"`
	Status             string    `json:"status"`
}

type wireSource struct {
	ID          string             `json:"id"`
	Slug        string             `json:"slug"`
	Name        string             `json:"name"`
	WorkspaceID string             `json:"workspaceId"`
	Enabled     bool               `json:"enabled"`
	WriteKeys   []string           `json:"writeKeys"`
	Metadata    wireSourceMetadata `json:"metadata"`
	Settings    map[string]any     `json:"settings"`
	Labels      []Label            `json:"labels"`
}

type wireWarehouseMetadata struct {
	ID          string    `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Logos       wireLogos `json:"logos"`
	Options     []any     `json:"options"`
}

// wireWarehouse has no top-level name on purpose: the instance name is only
// in settings.name, which is how the real API and the official Terraform
// provider carry it.
type wireWarehouse struct {
	ID          string                `json:"id"`
	WorkspaceID string                `json:"workspaceId"`
	Enabled     bool                  `json:"enabled"`
	Metadata    wireWarehouseMetadata `json:"metadata"`
	Settings    map[string]any        `json:"settings"`
}

type wireSpace struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

type wireFunction struct {
	ID           string `json:"id"`
	ResourceType string `json:"resourceType"`
	CreatedAt    string `json:"createdAt"`
	CreatedBy    string `json:"createdBy,omitempty"`
	DisplayName  string `json:"displayName"`
	Description  string `json:"description"`
	LogoURL      string `json:"logoUrl"`
	CatalogID    string `json:"catalogId"`
}

func logoURL(slug string) string { return "https://logos.example.test/" + slug + ".svg" }

func labelsOrEmpty(ls []Label) []Label {
	if ls == nil {
		return []Label{}
	}
	return cloneLabels(ls)
}

func toWireUser(u *User) wireUser { return wireUser{ID: u.ID, Name: u.Name, Email: u.Email} }

// Callers of the converters below hold s.mu (read or write).

func (s *Server) toWirePermissions(ps []Permission) []wirePermission {
	out := make([]wirePermission, 0, len(ps))
	for _, p := range ps {
		out = append(out, s.toWirePermission(p))
	}
	return out
}

func (s *Server) toWirePermission(p Permission) wirePermission {
	wp := wirePermission{RoleID: p.RoleID, Resources: make([]wireResource, 0, len(p.Resources))}
	if r := s.idx.roleByID[p.RoleID]; r != nil {
		wp.RoleName = r.Name
	}
	for _, r := range p.Resources {
		wp.Resources = append(wp.Resources, wireResource{ID: r.ID, Type: r.Type, Labels: labelsOrEmpty(r.Labels)})
	}
	if len(p.Labels) > 0 {
		wp.Labels = cloneLabels(p.Labels)
	}
	return wp
}

func groupRef(g *Group) wireGroupRef {
	return wireGroupRef{ID: g.ID, Name: g.Name, MemberCount: len(g.MemberIDs) + len(g.InviteEmails)}
}

func (s *Server) toWireGroup(g *Group) wireGroup {
	return wireGroup{wireGroupRef: groupRef(g), Permissions: s.toWirePermissions(g.Permissions)}
}

func (s *Server) toWireSource(src *Source) wireSource {
	cat := lookupCatalog(sourceCatalog, src.CatalogName)
	return wireSource{
		ID: src.ID, Slug: src.Slug, Name: src.Name, WorkspaceID: s.ws.ID, Enabled: src.Enabled,
		WriteKeys: []string{},
		Metadata: wireSourceMetadata{
			ID: cat.ID, Slug: cat.Slug, Name: cat.Name, Description: cat.Description,
			Logos: wireLogos{Default: logoURL(cat.Slug)}, Options: []any{}, Categories: []string{cat.Category},
			Status: "PUBLIC",
		},
		Settings: map[string]any{},
		Labels:   labelsOrEmpty(src.Labels),
	}
}

func (s *Server) toWireWarehouse(wh *Warehouse) wireWarehouse {
	cat := lookupCatalog(warehouseCatalog, wh.Type)
	return wireWarehouse{
		ID: wh.ID, WorkspaceID: s.ws.ID, Enabled: wh.Enabled,
		Metadata: wireWarehouseMetadata{
			ID: cat.ID, Slug: cat.Slug, Name: cat.Name, Description: cat.Description,
			Logos: wireLogos{Default: logoURL(cat.Slug)}, Options: []any{},
		},
		Settings: map[string]any{"name": wh.Name},
	}
}

// functionEpoch anchors the invented createdAt timestamps.
var functionEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *Server) toWireFunction(f *Function) wireFunction {
	// createdAt is derived from the id so it is stable without being stored.
	h := fnv.New64a()
	h.Write([]byte(f.ID))
	created := functionEpoch.Add(time.Duration(h.Sum64()%(500*24*60)) * time.Minute)
	wf := wireFunction{
		ID: f.ID, ResourceType: f.ResourceType, CreatedAt: created.Format("2006-01-02T15:04:05.000Z"),
		DisplayName: f.DisplayName, Description: f.Description, LogoURL: logoURL("function"),
	}
	if _, rest, ok := strings.Cut(f.ID, "_"); ok {
		wf.CatalogID = rest
	} else {
		wf.CatalogID = f.ID
	}
	if len(s.ws.Users) > 0 {
		wf.CreatedBy = s.ws.Users[0].ID
	}
	return wf
}
