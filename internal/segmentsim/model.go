package segmentsim

// Resource types a permission can be granted on (PermissionResource.Type).
const (
	ResourceWorkspace = "WORKSPACE"
	ResourceSource    = "SOURCE"
	ResourceWarehouse = "WAREHOUSE"
	ResourceSpace     = "SPACE"
	ResourceFunction  = "FUNCTION"
)

// Function resource types accepted by GET /functions?resourceType=….
const (
	FunctionDestination          = "DESTINATION"
	FunctionInsertDestination    = "INSERT_DESTINATION"
	FunctionInsertSource         = "INSERT_SOURCE"
	FunctionInsertTransformation = "INSERT_TRANSFORMATION"
	FunctionSource               = "SOURCE"
)

// functionTypes lists the function resource types in generation order; the
// id prefix is what real Segment uses for functions of that type.
var functionTypes = []struct{ Type, Prefix string }{
	{FunctionSource, "sfnc_"},
	{FunctionDestination, "dfn_"},
	{FunctionInsertDestination, "ifnd_"},
	{FunctionInsertSource, "ifns_"},
	{FunctionInsertTransformation, "itfn_"},
}

// Workspace is the simulator's whole state. Generate builds one; NewServer
// takes ownership of it and mutates it on writes; Server.Snapshot returns a
// deep copy. It is exported so that tests can assert on it directly.
type Workspace struct {
	ID, Slug, Name string
	// Token is the bearer token the server accepts ("" means DefaultToken).
	// It lives here, not in Options, because Config carries it and NewServer
	// only sees the Workspace.
	Token      string
	Users      []*User
	Groups     []*Group
	Roles      []*Role
	Sources    []*Source
	Warehouses []*Warehouse
	Spaces     []*Space
	Functions  []*Function
	// Invites are the emails of pending workspace invites, in creation order.
	Invites []string
	// InvitePermissions are the permissions a pending invite was sent with
	// (POST /invites), keyed by the invite's email as stored in Invites;
	// the invitee gets them on accepting. Absent = none.
	InvitePermissions map[string][]Permission
	// SpacesEnabled and FunctionsEnabled are the workspace's feature flags;
	// when false the corresponding list endpoint answers 403
	// FeatureNotEnabled.
	SpacesEnabled, FunctionsEnabled bool
}

// Label is a key/value tag on a source or on a WORKSPACE permission resource,
// where it restricts the grant to resources carrying that label.
type Label struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
}

// PermissionResource is one resource a role is granted on. Type is one of
// the Resource* constants; ID is the workspace, source, warehouse, space or
// function id. Labels is an empty, non-nil slice when there are none in all
// data Generate and the server produce, mirroring the API's "labels":[].
type PermissionResource struct {
	ID, Type string
	Labels   []Label
}

// Permission is one role granted on a list of resources. A principal has at
// most one Permission per RoleID: further resources of the same role are
// merged into that entry, as Segment does.
type Permission struct {
	RoleID    string
	Resources []PermissionResource
	// Labels are permission-level labels (rare; nil when absent).
	Labels []Label
}

// User is an accepted workspace member. Name may be "".
type User struct {
	ID, Name, Email string
	Permissions     []Permission
}

// Group is a user group. MemberIDs are ids of users; InviteEmails are emails
// of pending invites that belong to the group. memberCount in responses is
// the sum of both.
type Group struct {
	ID, Name     string
	MemberIDs    []string
	InviteEmails []string
	Permissions  []Permission
}

// Role is an entry of the role catalogue (GET /roles).
type Role struct {
	ID, Name, Description string
}

// Source is a Segment source. CatalogName is the catalog entry it was
// created from (e.g. "Javascript") and becomes metadata.name in responses.
type Source struct {
	ID, Slug, Name string
	Enabled        bool
	Labels         []Label
	CatalogName    string
}

// Warehouse is a warehouse destination. Name is the instance name, served
// only as settings.name; Type is the catalog entry (e.g. "Snowflake"),
// served as metadata.name.
type Warehouse struct {
	ID, Name, Type string
	Enabled        bool
}

// Space is a Unify/Engage space (id prefixed spa_).
type Space struct {
	ID, Slug, Name string
}

// Function is a custom function; ResourceType is one of the Function*
// constants and determines the id prefix.
type Function struct {
	ID, ResourceType, DisplayName, Description string
}

// Clone returns a deep copy of ws; nothing is shared with the original.
func (ws *Workspace) Clone() *Workspace {
	if ws == nil {
		return nil
	}
	c := *ws
	c.Users = cloneSlice(ws.Users, func(u *User) *User {
		cu := *u
		cu.Permissions = clonePermissions(u.Permissions)
		return &cu
	})
	c.Groups = cloneSlice(ws.Groups, func(g *Group) *Group {
		cg := *g
		cg.MemberIDs = cloneStrings(g.MemberIDs)
		cg.InviteEmails = cloneStrings(g.InviteEmails)
		cg.Permissions = clonePermissions(g.Permissions)
		return &cg
	})
	c.Roles = cloneSlice(ws.Roles, func(r *Role) *Role { cr := *r; return &cr })
	c.Sources = cloneSlice(ws.Sources, func(s *Source) *Source {
		cs := *s
		cs.Labels = cloneLabels(s.Labels)
		return &cs
	})
	c.Warehouses = cloneSlice(ws.Warehouses, func(w *Warehouse) *Warehouse { cw := *w; return &cw })
	c.Spaces = cloneSlice(ws.Spaces, func(s *Space) *Space { cs := *s; return &cs })
	c.Functions = cloneSlice(ws.Functions, func(f *Function) *Function { cf := *f; return &cf })
	c.Invites = cloneStrings(ws.Invites)
	if ws.InvitePermissions != nil {
		c.InvitePermissions = make(map[string][]Permission, len(ws.InvitePermissions))
		for e, ps := range ws.InvitePermissions {
			c.InvitePermissions[e] = clonePermissions(ps)
		}
	}
	return &c
}

// UserByID returns the user with that id, or nil.
func (ws *Workspace) UserByID(id string) *User {
	for _, u := range ws.Users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// UserByEmail returns the user with that email (case-insensitive), or nil.
func (ws *Workspace) UserByEmail(email string) *User {
	key := normEmail(email)
	for _, u := range ws.Users {
		if normEmail(u.Email) == key {
			return u
		}
	}
	return nil
}

// GroupByID returns the group with that id, or nil.
func (ws *Workspace) GroupByID(id string) *Group {
	for _, g := range ws.Groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// RoleByName returns the role with that exact name, or nil.
func (ws *Workspace) RoleByName(name string) *Role {
	for _, r := range ws.Roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func cloneSlice[T any](in []*T, f func(*T) *T) []*T {
	if in == nil {
		return nil
	}
	out := make([]*T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func cloneStrings(in []string) []string {
	if in == nil {
		return nil
	}
	return append([]string{}, in...)
}

func cloneLabels(in []Label) []Label {
	if in == nil {
		return nil
	}
	return append([]Label{}, in...)
}

func clonePermissions(in []Permission) []Permission {
	if in == nil {
		return nil
	}
	out := make([]Permission, len(in))
	for i, p := range in {
		out[i] = Permission{RoleID: p.RoleID, Labels: cloneLabels(p.Labels)}
		if p.Resources != nil {
			out[i].Resources = make([]PermissionResource, len(p.Resources))
			for j, r := range p.Resources {
				out[i].Resources[j] = PermissionResource{ID: r.ID, Type: r.Type, Labels: cloneLabels(r.Labels)}
			}
		}
	}
	return out
}
