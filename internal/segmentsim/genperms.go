package segmentsim

// Permission generation. Every kind of grant a connector has to understand
// (Segment's IAM permission model) is produced: workspace-wide roles, per-instance grants
// grouped into one entry per role, label-scoped WORKSPACE grants, legacy and
// custom roles. The first users and groups get a fixed schedule of kinds so
// each kind exists in any reasonably sized workspace regardless of the seed;
// the rest are random.

// permKind appends one kind of grant to perms (merging by role).
type permKind func(g *generator, perms []Permission) []Permission

func (g *generator) grant(perms []Permission, role string, res ...PermissionResource) []Permission {
	if len(res) == 0 {
		return perms
	}
	id, ok := g.roles[role]
	if !ok {
		panic("segmentsim: generator uses unknown role " + role) // a bug in this package
	}
	return mergePermission(perms, Permission{RoleID: id, Resources: res})
}

func (g *generator) workspaceRes(labels ...Label) PermissionResource {
	return PermissionResource{ID: g.ws.ID, Type: ResourceWorkspace, Labels: labelsOrEmpty(labels)}
}

func (g *generator) pick(names ...string) string { return names[g.r.IntN(len(names))] }

// some returns up to k distinct resources of one type drawn from n items.
func (g *generator) some(k, n int, typ string, id func(int) string) []PermissionResource {
	var out []PermissionResource
	for _, i := range g.distinct(k, n) {
		out = append(out, PermissionResource{ID: id(i), Type: typ, Labels: []Label{}})
	}
	return out
}

func (g *generator) sources(k int) []PermissionResource {
	return g.some(k, len(g.ws.Sources), ResourceSource, func(i int) string { return g.ws.Sources[i].ID })
}

func kindOwner(g *generator, p []Permission) []Permission {
	return g.grant(p, RoleWorkspaceOwner, g.workspaceRes())
}

func kindMinimal(g *generator, p []Permission) []Permission {
	return g.grant(p, RoleMinimalWorkspaceAccess, g.workspaceRes())
}

// kindSourceSpecific grants a source role on k specific sources, listed in
// one entry; role "" picks Source Admin or Read-only, k 0 picks 1–3.
func kindSourceSpecific(role string, k int) permKind {
	return func(g *generator, p []Permission) []Permission {
		r := role
		if r == "" {
			r = g.pick(RoleSourceAdmin, RoleSourceReadOnly)
		}
		n := k
		if n == 0 {
			n = 1 + g.r.IntN(3)
		}
		return g.grant(p, r, g.sources(n)...)
	}
}

// kindSourceLabels grants a source role on WORKSPACE restricted by a label,
// i.e. "all sources carrying env=prod" (or a team label); role "" picks
// Source Admin or Read-only.
func kindSourceLabels(role string) permKind {
	return func(g *generator, p []Permission) []Permission {
		r := role
		if r == "" {
			r = g.pick(RoleSourceAdmin, RoleSourceReadOnly)
		}
		l := Label{Key: "env", Value: "prod"}
		if g.r.Float64() < 0.4 {
			l = Label{Key: "team", Value: teams[g.r.IntN(len(teams))]}
		}
		return g.grant(p, r, g.workspaceRes(l))
	}
}

func kindSourceAll(g *generator, p []Permission) []Permission {
	return g.grant(p, RoleSourceReadOnly, g.workspaceRes())
}

func kindFunctions(g *generator, p []Permission) []Permission {
	fs := g.ws.Functions
	res := g.some(1+g.r.IntN(2), len(fs), ResourceFunction, func(i int) string { return fs[i].ID })
	return g.grant(p, g.pick(RoleFunctionAdmin, RoleFunctionReadOnly), res...)
}

func kindSpaces(g *generator, p []Permission) []Permission {
	sp := g.ws.Spaces
	res := g.some(1+g.r.IntN(2), len(sp), ResourceSpace, func(i int) string { return sp[i].ID })
	role := g.pick(RoleUnifyEngageAdmin, RoleUnifyEngageReadOnly, RoleUnifyReadOnly, RoleEngageUser, RolePersonasAdmin)
	return g.grant(p, role, res...)
}

func kindWarehouseWorkspace(g *generator, p []Permission) []Permission {
	return g.grant(p, g.pick(RoleWarehouseDestAdmin, RoleWarehouseDestReadOnly), g.workspaceRes())
}

// kindWarehouseOne is the rare per-warehouse grant the enum allows although
// the docs describe warehouse roles as workspace-wide.
func kindWarehouseOne(g *generator, p []Permission) []Permission {
	wh := g.ws.Warehouses
	res := g.some(1, len(wh), ResourceWarehouse, func(i int) string { return wh[i].ID })
	return g.grant(p, g.pick(RoleWarehouseDestAdmin, RoleWarehouseDestReadOnly), res...)
}

func kindCustom(g *generator, p []Permission) []Permission {
	return g.grant(p, RoleCustomAuditor, g.sources(1)...)
}

// kindMisc covers the WORKSPACE-only roles.
func kindMisc(g *generator, p []Permission) []Permission {
	role := g.pick(RoleTrackingPlanAdmin, RoleTrackingPlanReadOnly, RoleIdentityAdmin, RoleEndUserPrivacyAdmin)
	return g.grant(p, role, g.workspaceRes())
}

// userSchedule pins the first users to specific kinds (index → kinds).
var userSchedule = [][]permKind{
	{kindOwner},
	{kindMinimal, kindSourceSpecific(RoleSourceAdmin, 2)},
	{kindMinimal, kindSourceSpecific(RoleSourceReadOnly, 3)},
	// Source Admin on one source plus label-scoped on WORKSPACE: one entry
	// mixing both scopes, the case where revoking one resource must keep the
	// labels of the other.
	{kindMinimal, kindSourceSpecific(RoleSourceAdmin, 1), kindSourceLabels(RoleSourceAdmin)},
	{kindMinimal, kindFunctions},
	{kindMinimal, kindSpaces},
	{kindMinimal, kindWarehouseWorkspace},
	{kindMinimal, kindWarehouseOne},
	{kindMinimal, kindCustom},
	{kindMinimal, kindMisc},
	{kindMinimal, kindSourceAll},
}

// userExtras are the random extra grants with their probabilities.
var userExtras = []struct {
	p    float64
	kind permKind
}{
	{0.35, kindSourceSpecific("", 0)},
	{0.08, kindSourceLabels("")},
	{0.05, kindSourceAll},
	{0.08, kindFunctions},
	{0.10, kindSpaces},
	{0.06, kindWarehouseWorkspace},
	{0.02, kindWarehouseOne},
	{0.01, kindCustom},
	{0.04, kindMisc},
}

func (g *generator) userPermissions(i int) []Permission {
	perms := []Permission{}
	if i < len(userSchedule) {
		for _, k := range userSchedule[i] {
			perms = k(g, perms)
		}
	} else if g.r.Float64() < 0.02 {
		perms = kindOwner(g, perms)
	} else {
		if g.r.Float64() < 0.9 {
			perms = kindMinimal(g, perms)
		}
		for _, x := range userExtras {
			if g.r.Float64() < x.p {
				perms = x.kind(g, perms)
			}
		}
	}
	// Every user has at least one permission (a kind may have found no
	// resources, e.g. functions disabled).
	if len(perms) == 0 {
		perms = kindMinimal(g, perms)
	}
	return perms
}

var groupSchedule = [][]permKind{
	// Label-scoped entry next to an unrelated one: replacing one must keep
	// the other's scope intact.
	{func(g *generator, p []Permission) []Permission {
		return g.grant(p, RoleSourceAdmin, g.workspaceRes(Label{Key: "team", Value: "data"}))
	}, func(g *generator, p []Permission) []Permission {
		return g.grant(p, RoleWarehouseDestReadOnly, g.workspaceRes())
	}},
	{kindSourceSpecific(RoleSourceReadOnly, 2)},
	{kindSpaces, kindFunctions},
}

var groupKinds = []permKind{
	kindSourceLabels(""), kindSourceSpecific("", 0), kindSourceAll, kindWarehouseWorkspace,
	kindSpaces, kindFunctions, kindMisc,
}

func (g *generator) groupPermissions(i int) []Permission {
	perms := []Permission{}
	if i < len(groupSchedule) {
		for _, k := range groupSchedule[i] {
			perms = k(g, perms)
		}
	} else {
		for range 1 + g.r.IntN(2) {
			perms = groupKinds[g.r.IntN(len(groupKinds))](g, perms)
		}
	}
	if len(perms) == 0 {
		perms = kindMinimal(g, perms)
	}
	return perms
}
