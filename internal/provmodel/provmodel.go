// Package provmodel is a Model of Segment provisioning and a driver of
// random sequences of grants, revokes, account creations (invites) and
// deletions (of users and invites), checked against the simulator's state
// after every step. The Segment connector's tests run it natively; the
// host's tests run the same sequences through the sandboxed guest.
package provmodel

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// Op is one provisioning request, as the host would send it: a grant or
// revoke of Entitlement to Principal, or, when CreateAccount or Delete is
// set, that instead.
type Op struct {
	Grant       bool
	Entitlement abi.EntitlementOn
	Principal   abi.Resource
	// CreateAccount is the email to create an account (a Segment invite)
	// for, with Roles (role ids, workspace-wide) and Groups (group ids).
	CreateAccount string
	Roles, Groups []string
	// Delete is the user or invite to delete.
	Delete *abi.ResourceID
}

// Kind is "grant", "revoke", "create-account" or "delete".
func (op Op) Kind() string {
	switch {
	case op.CreateAccount != "":
		return "create-account"
	case op.Delete != nil:
		return "delete"
	case op.Grant:
		return "grant"
	}
	return "revoke"
}

func (op Op) String() string {
	switch op.Kind() {
	case "create-account":
		return fmt.Sprintf("create-account %s roles %v groups %v", op.CreateAccount, op.Roles, op.Groups)
	case "delete":
		return fmt.Sprintf("delete %s:%s", op.Delete.Type, op.Delete.ID)
	}
	verb := "revoke"
	if op.Grant {
		verb = "grant"
	}
	r := op.Entitlement.Resource.ID
	return fmt.Sprintf("%s %s:%s:%s / %s:%s", verb, r.Type, r.ID, op.Entitlement.Slug, op.Principal.ID.Type, op.Principal.ID.ID)
}

// Outcome is what an operation should do: change Segment, find it
// already done, or fail with Code (no write). Writes is the number of
// write requests it takes: one per change, except a create-account, which
// also writes once per requested group (also when the invite was already
// pending: joining is idempotent, and completes an interrupted create).
type Outcome struct {
	Changed bool
	Already bool
	Code    abi.Code
	Writes  int
}

func (o Outcome) String() string {
	switch {
	case o.Code != "":
		return "error " + string(o.Code)
	case o.Already:
		return "already"
	case o.Changed:
		return "changed"
	}
	return "nothing"
}

// Exec runs op through the code under test and reports whether it was
// already done (AlreadyExists / AlreadyRevoked / already deleted; for a
// create-account, AlreadyExists or an ActionRequired naming a pending
// invite) or its error.
type Exec func(op Op) (already bool, err error)

// Tuple is one resource of one permission entry, flattened: the Model
// keeps a principal's permissions as a set of these, which fixes every
// label and scope while ignoring entry and resource order.
type Tuple struct {
	RoleID      string
	EntryLabels string // labelKey of the entry's labels
	Type, ID    string
	Labels      string // labelKey of the resource's labels
}

// labelKey is an order-independent rendering of a label set, descriptions
// included so that a write dropping them is caught.
func labelKey(ls []segmentsim.Label) string {
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		parts = append(parts, l.Key+"="+l.Value+"#"+l.Description)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Tuples flattens a permission set into its Tuples.
func Tuples(perms []segmentsim.Permission) map[Tuple]bool {
	out := map[Tuple]bool{}
	for _, p := range perms {
		for _, r := range p.Resources {
			out[Tuple{p.RoleID, labelKey(p.Labels), r.Type, r.ID, labelKey(r.Labels)}] = true
		}
	}
	return out
}

// Model is the expected state: every principal's permission tuples
// and every group's members, plus the fixed facts operations depend on.
type Model struct {
	wsID         string
	roles        map[string]string // role name → id
	roleIDs      map[string]bool
	sourceLabels map[string][]segmentsim.Label
	resources    map[string][]string // connector type → ids
	users        []*segmentsim.User  // as generated (ids and emails never change)
	groupIDs     []string
	perms        map[abi.ResourceID]map[Tuple]bool
	members      map[string]map[string]bool // group id → user ids
	// invites are the pending invites' permission tuples, by email;
	// invitees the pending invites of each group.
	invites  map[string]map[Tuple]bool
	invitees map[string]map[string]bool // group id → emails
	// deleted are users and invites deleted so far (deleting them again
	// is a no-op); fresh counts the emails invited so far.
	deleted map[abi.ResourceID]bool
	fresh   int
}

// New returns the model of ws as it is now.
func New(ws *segmentsim.Workspace) *Model {
	m := &Model{
		wsID:         ws.ID,
		roles:        map[string]string{},
		roleIDs:      map[string]bool{},
		sourceLabels: map[string][]segmentsim.Label{},
		resources:    map[string][]string{},
		users:        slices.Clone(ws.Users),
		perms:        map[abi.ResourceID]map[Tuple]bool{},
		members:      map[string]map[string]bool{},
		invites:      map[string]map[Tuple]bool{},
		invitees:     map[string]map[string]bool{},
		deleted:      map[abi.ResourceID]bool{},
	}
	for _, e := range ws.Invites {
		m.invites[e] = Tuples(ws.InvitePermissions[e])
	}
	for _, r := range ws.Roles {
		m.roles[r.Name], m.roleIDs[r.ID] = r.ID, true
	}
	for _, s := range ws.Sources {
		m.sourceLabels[s.ID] = s.Labels
		m.resources["source"] = append(m.resources["source"], s.ID)
	}
	for _, w := range ws.Warehouses {
		m.resources["warehouse"] = append(m.resources["warehouse"], w.ID)
	}
	for _, s := range ws.Spaces {
		m.resources["space"] = append(m.resources["space"], s.ID)
	}
	for _, f := range ws.Functions {
		m.resources["function"] = append(m.resources["function"], f.ID)
	}
	for _, u := range ws.Users {
		m.perms[abi.ResourceID{Type: "user", ID: u.ID}] = Tuples(u.Permissions)
	}
	for _, g := range ws.Groups {
		m.groupIDs = append(m.groupIDs, g.ID)
		m.perms[abi.ResourceID{Type: "group", ID: g.ID}] = Tuples(g.Permissions)
		set := map[string]bool{}
		for _, id := range g.MemberIDs {
			set[id] = true
		}
		m.members[g.ID] = set
		inv := map[string]bool{}
		for _, e := range g.InviteEmails {
			inv[e] = true
		}
		m.invitees[g.ID] = inv
	}
	return m
}

// segTypes maps the connector's scoped types to Segment's.
var segTypes = map[string]string{"source": "SOURCE", "warehouse": "WAREHOUSE", "space": "SPACE", "function": "FUNCTION", "role": "WORKSPACE"}

// apply returns op's expected outcome and updates the Model with it.
func (m *Model) apply(op Op) Outcome {
	out := m.applyOp(op)
	if out.Changed && out.Writes == 0 {
		out.Writes = 1
	}
	return out
}

func (m *Model) applyOp(op Op) Outcome {
	switch op.Kind() {
	case "create-account":
		return m.createAccount(op)
	case "delete":
		return m.delete(*op.Delete)
	}
	ent := op.Entitlement.Resource.ID
	p := op.Principal.ID
	if p.Type == "invite" && ent.Type != "group" {
		return Outcome{Code: abi.CodeInvalidArgument} // a pending invite's roles cannot change
	}
	if ent.Type == "group" {
		set := m.members[ent.ID]
		switch p.Type {
		case "invite":
			set = m.invitees[ent.ID]
		case "user":
		default:
			return Outcome{Code: abi.CodeInvalidArgument}
		}
		switch {
		case op.Grant && set[p.ID], !op.Grant && !set[p.ID]:
			return Outcome{Already: true}
		case op.Grant:
			set[p.ID] = true
		default:
			delete(set, p.ID)
		}
		return Outcome{Changed: true}
	}

	// A role on a resource: the workspace for role:R:member.
	roleID, typ, resID := op.Entitlement.Slug, segTypes[ent.Type], ent.ID
	if ent.Type == "role" {
		roleID, resID = ent.ID, m.wsID
	}
	set := m.perms[p]
	exact := Tuple{RoleID: roleID, Type: typ, ID: resID}
	if op.Grant {
		switch {
		case set[exact]:
			return Outcome{Already: true}
		case m.roleHasEntryLabels(set, roleID):
			return Outcome{Code: abi.CodeFailedPrecondition}
		case !m.roleIDs[roleID]:
			return Outcome{Code: abi.CodeNotFound}
		}
		set[exact] = true
		return Outcome{Changed: true}
	}
	if set[exact] {
		delete(set, exact)
		return Outcome{Changed: true}
	}
	if typ != "WORKSPACE" && m.broader(set, roleID, typ, resID) {
		return Outcome{Code: abi.CodeFailedPrecondition}
	}
	if typ != "WORKSPACE" && !m.roleIDs[roleID] {
		// The slug may name a role renamed since the sync: "not held"
		// would be a guess.
		return Outcome{Code: abi.CodeNotFound}
	}
	return Outcome{Already: true}
}

// createAccount follows the guest's order: a member's email is
// AlreadyExists; unknown roles or groups fail before any write; a pending
// invite joins the groups; a new one is created with the roles and joins
// the groups.
func (m *Model) createAccount(op Op) Outcome {
	email := op.CreateAccount
	for _, u := range m.users {
		if strings.EqualFold(u.Email, email) {
			return Outcome{Already: true}
		}
	}
	for _, id := range op.Roles {
		if !m.roleIDs[id] {
			return Outcome{Code: abi.CodeNotFound}
		}
	}
	for _, gid := range op.Groups {
		if m.members[gid] == nil {
			return Outcome{Code: abi.CodeNotFound}
		}
	}
	pending := ""
	for e := range m.invites {
		if strings.EqualFold(e, email) {
			pending = e
		}
	}
	writes := len(op.Groups)
	if pending == "" {
		pending = email
		set := map[Tuple]bool{}
		for _, id := range op.Roles {
			set[Tuple{RoleID: id, Type: "WORKSPACE", ID: m.wsID}] = true
		}
		m.invites[email] = set
		delete(m.deleted, abi.ResourceID{Type: "invite", ID: email})
		writes++
	}
	for _, gid := range op.Groups {
		m.invitees[gid][pending] = true
	}
	if writes == len(op.Groups) {
		return Outcome{Already: true, Writes: writes}
	}
	return Outcome{Changed: true, Writes: writes}
}

// delete removes a user (with its memberships) or a pending invite (with
// its group places); what is already gone is a no-op. Other types are
// not deletable.
func (m *Model) delete(id abi.ResourceID) Outcome {
	switch id.Type {
	case "user":
		i := slices.IndexFunc(m.users, func(u *segmentsim.User) bool { return u.ID == id.ID })
		if i < 0 {
			return Outcome{Already: true}
		}
		m.users = slices.Delete(m.users, i, i+1)
		delete(m.perms, id)
		for _, set := range m.members {
			delete(set, id.ID)
		}
	case "invite":
		if _, ok := m.invites[id.ID]; !ok {
			return Outcome{Already: true}
		}
		delete(m.invites, id.ID)
		for _, set := range m.invitees {
			delete(set, id.ID)
		}
	default:
		return Outcome{Code: abi.CodeUnimplemented}
	}
	m.deleted[id] = true
	return Outcome{Changed: true}
}

func (m *Model) roleHasEntryLabels(set map[Tuple]bool, roleID string) bool {
	for t := range set {
		if t.RoleID == roleID && t.EntryLabels != "" {
			return true
		}
	}
	return false
}

// broader says whether the role reaches the resource other than through
// the exact grant: labels on the resource itself, the role on the whole
// workspace, or (sources only) labels on WORKSPACE that the source has.
func (m *Model) broader(set map[Tuple]bool, roleID, typ, resID string) bool {
	for t := range set {
		if t.RoleID != roleID {
			continue
		}
		labelled := t.EntryLabels != "" || t.Labels != ""
		switch {
		case t.Type == typ && t.ID == resID && labelled:
			return true
		case t.Type != "WORKSPACE":
		case !labelled:
			return true
		case typ == "SOURCE" && m.sourceHas(resID, t.EntryLabels, t.Labels):
			return true
		}
	}
	return false
}

// sourceHas reports whether the source carries every label of the keys.
func (m *Model) sourceHas(id string, keys ...string) bool {
	have := map[string]bool{}
	for _, l := range m.sourceLabels[id] {
		have[l.Key+"="+l.Value] = true
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		for _, part := range strings.Split(k, ",") {
			kv, _, _ := strings.Cut(part, "#")
			if !have[kv] {
				return false
			}
		}
	}
	return true
}

// diff compares the simulator's state with the Model.
func (m *Model) diff(ws *segmentsim.Workspace) []string {
	var out []string
	cmp := func(who abi.ResourceID, perms []segmentsim.Permission) {
		got, want := Tuples(perms), m.perms[who]
		for t := range want {
			if !got[t] {
				out = append(out, fmt.Sprintf("%s:%s lacks %+v", who.Type, who.ID, t))
			}
		}
		for t := range got {
			if !want[t] {
				out = append(out, fmt.Sprintf("%s:%s has unexpected %+v", who.Type, who.ID, t))
			}
		}
		// Segment keeps one entry per role; a second one would mean the
		// connector created a duplicate (reference bug 14).
		seen := map[string]bool{}
		for _, p := range perms {
			if seen[p.RoleID] {
				out = append(out, fmt.Sprintf("%s:%s has two entries of role %s", who.Type, who.ID, p.RoleID))
			}
			seen[p.RoleID] = true
			if len(p.Resources) == 0 {
				out = append(out, fmt.Sprintf("%s:%s has an empty entry of role %s", who.Type, who.ID, p.RoleID))
			}
		}
	}
	for _, u := range ws.Users {
		cmp(abi.ResourceID{Type: "user", ID: u.ID}, u.Permissions)
	}
	for _, g := range ws.Groups {
		cmp(abi.ResourceID{Type: "group", ID: g.ID}, g.Permissions)
		got, want := slices.Sorted(slices.Values(g.MemberIDs)), slices.Sorted(maps.Keys(m.members[g.ID]))
		if !slices.Equal(got, want) {
			out = append(out, fmt.Sprintf("group %s members %v, want %v", g.ID, got, want))
		}
	}
	if len(ws.Users) != len(m.users) || len(ws.Groups) != len(m.groupIDs) {
		out = append(out, fmt.Sprintf("%d users and %d groups, want %d and %d", len(ws.Users), len(ws.Groups), len(m.users), len(m.groupIDs)))
	}
	// Pending invites, their permissions and their groups.
	for _, e := range ws.Invites {
		if got, want := Tuples(ws.InvitePermissions[e]), m.invites[e]; len(got) != len(want) {
			out = append(out, fmt.Sprintf("invite %s permissions %v, want %v", e, got, want))
		} else {
			for t := range want {
				if !got[t] {
					out = append(out, fmt.Sprintf("invite %s lacks %+v", e, t))
				}
			}
		}
	}
	gotInv, wantInv := slices.Sorted(slices.Values(ws.Invites)), slices.Sorted(maps.Keys(m.invites))
	if !slices.Equal(gotInv, wantInv) {
		out = append(out, fmt.Sprintf("invites %v, want %v", gotInv, wantInv))
	}
	for _, g := range ws.Groups {
		got, want := slices.Sorted(slices.Values(g.InviteEmails)), slices.Sorted(maps.Keys(m.invitees[g.ID]))
		if !slices.Equal(got, want) {
			out = append(out, fmt.Sprintf("group %s invitees %v, want %v", g.ID, got, want))
		}
	}
	return out
}

// Principals and entitlements as the host passes them: users carry their
// email as the last sync saw it, resources their workspace parent.

// UserResource is u as a principal, with the email the last sync saw.
func (m *Model) UserResource(u *segmentsim.User) abi.Resource {
	return abi.Resource{
		ID:     abi.ResourceID{Type: "user", ID: u.ID},
		Parent: &abi.ResourceID{Type: "workspace", ID: m.wsID},
		User:   &abi.UserTrait{Emails: []string{u.Email}, Login: u.Email, Status: abi.UserStatusEnabled},
	}
}

// InviteResource is the pending invite of email as a principal.
func (m *Model) InviteResource(email string) abi.Resource {
	return abi.Resource{
		ID:     abi.ResourceID{Type: "invite", ID: email},
		Parent: &abi.ResourceID{Type: "workspace", ID: m.wsID},
		User:   &abi.UserTrait{Emails: []string{email}, Login: email, Status: abi.UserStatusPending},
	}
}

// pendingInvites lists the pending invites' emails, sorted.
func (m *Model) pendingInvites() []string {
	var out []string
	for e := range m.invites {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// GroupResource is the group with id as a principal.
func (m *Model) GroupResource(id string) abi.Resource {
	return abi.Resource{ID: abi.ResourceID{Type: "group", ID: id}, Parent: &abi.ResourceID{Type: "workspace", ID: m.wsID}}
}

// Entitlement is the entitlement on a resource of type typ, as the host
// sends it.
func (m *Model) Entitlement(typ, id, slug string) abi.EntitlementOn {
	return abi.EntitlementOn{
		Resource: abi.Resource{ID: abi.ResourceID{Type: typ, ID: id}, Parent: &abi.ResourceID{Type: "workspace", ID: m.wsID}},
		Slug:     slug,
	}
}

// rolesFor are role names natural for each scoped type (any role is
// accepted on any resource by Segment; these keep the operations realistic).
var rolesFor = map[string][]string{
	"source":    {segmentsim.RoleSourceAdmin, segmentsim.RoleSourceReadOnly, segmentsim.RoleCustomAuditor},
	"warehouse": {segmentsim.RoleWarehouseDestAdmin, segmentsim.RoleWarehouseDestReadOnly},
	"space":     {segmentsim.RoleUnifyEngageAdmin, segmentsim.RoleUnifyReadOnly, segmentsim.RoleEngageUser, segmentsim.RolePersonasAdmin},
	"function":  {segmentsim.RoleFunctionAdmin, segmentsim.RoleFunctionReadOnly},
}

// connTypes maps Segment's resource types back to the connector's.
var connTypes = map[string]string{"SOURCE": "source", "WAREHOUSE": "warehouse", "SPACE": "space", "FUNCTION": "function"}

// nextOp draws an operation. About half of them target something the
// principal already has (or, for revokes, has through a broader entry),
// so that idempotency and the refusal paths are exercised as often as
// real changes.
func (m *Model) nextOp(r *rand.Rand) Op {
	grant := r.IntN(2) == 0
	pickUser := func() *segmentsim.User { return m.users[r.IntN(len(m.users))] }
	principal := func() abi.Resource {
		if r.IntN(10) < 7 {
			return m.UserResource(pickUser())
		}
		return m.GroupResource(m.groupIDs[r.IntN(len(m.groupIDs))])
	}
	// held returns a random tuple of p's, optionally filtered.
	held := func(p abi.ResourceID, keep func(Tuple) bool) (Tuple, bool) {
		var ts []Tuple
		for t := range m.perms[p] {
			if keep(t) {
				ts = append(ts, t)
			}
		}
		if len(ts) == 0 {
			return Tuple{}, false
		}
		slices.SortFunc(ts, func(a, b Tuple) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		return ts[r.IntN(len(ts))], true
	}

	switch k := r.IntN(12); {
	case k == 10:
		return m.nextCreateAccount(r)
	case k == 11:
		return m.nextDelete(r)
	case k < 3: // group membership
		gid := m.groupIDs[r.IntN(len(m.groupIDs))]
		op := Op{Grant: grant, Entitlement: m.Entitlement("group", gid, "member")}
		pending := m.pendingInvites()
		switch {
		case r.IntN(25) == 0:
			op.Principal = m.GroupResource(m.groupIDs[r.IntN(len(m.groupIDs))])
		case r.IntN(5) == 0 && len(pending) > 0:
			// A pending invite joins or leaves the group.
			op.Principal = m.InviteResource(pending[r.IntN(len(pending))])
		case r.IntN(2) == 0 && len(m.members[gid]) > 0:
			ids := make([]string, 0, len(m.members[gid]))
			for id := range m.members[gid] {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			id := ids[r.IntN(len(ids))]
			for _, u := range m.users {
				if u.ID == id {
					op.Principal = m.UserResource(u)
				}
			}
		default:
			op.Principal = m.UserResource(pickUser())
		}
		return op

	case k < 5: // workspace role
		p := principal()
		if pending := m.pendingInvites(); r.IntN(30) == 0 && len(pending) > 0 {
			p = m.InviteResource(pending[0]) // refused: an invite's roles cannot change
		}
		roleID := m.roles[[]string{
			segmentsim.RoleMinimalWorkspaceAccess, segmentsim.RoleWorkspaceOwner, segmentsim.RoleTrackingPlanAdmin,
			segmentsim.RoleSourceReadOnly, segmentsim.RoleWarehouseDestReadOnly, segmentsim.RoleIdentityAdmin,
		}[r.IntN(6)]]
		if t, ok := held(p.ID, func(t Tuple) bool { return t.Type == "WORKSPACE" && t.Labels == "" && t.EntryLabels == "" }); ok && r.IntN(2) == 0 {
			roleID = t.RoleID
		}
		return Op{Grant: grant, Entitlement: m.Entitlement("role", roleID, "member"), Principal: p}

	default: // role on one resource
		p := principal()
		typ := []string{"source", "source", "source", "warehouse", "space", "function"}[r.IntN(6)]
		ids := m.resources[typ]
		names := rolesFor[typ]
		resID := ids[r.IntN(len(ids))]
		roleID := m.roles[names[r.IntN(len(names))]]
		switch x := r.IntN(10); {
		case x < 4: // something p holds on a resource
			if t, ok := held(p.ID, func(t Tuple) bool { return t.Type != "WORKSPACE" }); ok {
				typ, resID, roleID = connTypes[t.Type], t.ID, t.RoleID
			}
		case x < 6: // a role p holds workspace-wide or by label, on some source
			if t, ok := held(p.ID, func(t Tuple) bool { return t.Type == "WORKSPACE" }); ok {
				typ, roleID = "source", t.RoleID
				resID = m.resources["source"][r.IntN(len(m.resources["source"]))]
			}
		case x == 6: // a role that does not exist
			roleID = "2NoSuchRole0000000000000000"
		}
		return Op{Grant: grant, Entitlement: m.Entitlement(typ, resID, roleID), Principal: p}
	}
}

// nextCreateAccount draws a create-account: a member's email, a pending
// invite's (in another case) or a new one, with up to two workspace roles
// and groups; rarely a role or group that does not exist.
func (m *Model) nextCreateAccount(r *rand.Rand) Op {
	var email string
	switch x := r.IntN(10); {
	case x < 2 && len(m.users) > 0:
		email = strings.ToUpper(m.users[r.IntN(len(m.users))].Email)
	case x < 4 && len(m.invites) > 0:
		var pending []string
		for e := range m.invites {
			pending = append(pending, e)
		}
		slices.Sort(pending)
		email = strings.ToUpper(pending[r.IntN(len(pending))])
	default:
		m.fresh++
		email = fmt.Sprintf("hire%d@example.test", m.fresh)
	}
	op := Op{CreateAccount: email}
	roles := []string{segmentsim.RoleMinimalWorkspaceAccess, segmentsim.RoleWorkspaceOwner, segmentsim.RoleSourceReadOnly, segmentsim.RoleTrackingPlanAdmin}
	for range r.IntN(3) {
		if id := m.roles[roles[r.IntN(len(roles))]]; !slices.Contains(op.Roles, id) {
			op.Roles = append(op.Roles, id)
		}
	}
	for range r.IntN(3) {
		if id := m.groupIDs[r.IntN(len(m.groupIDs))]; !slices.Contains(op.Groups, id) {
			op.Groups = append(op.Groups, id)
		}
	}
	switch r.IntN(20) {
	case 0:
		op.Roles = append(op.Roles, "2NoSuchRole0000000000000000")
	case 1:
		op.Groups = append(op.Groups, "noSuchGroup00000000000")
	}
	return op
}

// nextDelete draws a delete of a user, of a pending invite, of something
// already deleted, or (rarely) of a group, which is not deletable.
func (m *Model) nextDelete(r *rand.Rand) Op {
	id := abi.ResourceID{Type: "group", ID: m.groupIDs[r.IntN(len(m.groupIDs))]}
	var gone []abi.ResourceID
	for d := range m.deleted {
		gone = append(gone, d)
	}
	slices.SortFunc(gone, func(a, b abi.ResourceID) int { return strings.Compare(a.Type+a.ID, b.Type+b.ID) })
	var pending []string
	for e := range m.invites {
		pending = append(pending, e)
	}
	slices.Sort(pending)
	switch x := r.IntN(10); {
	case x < 3 && len(m.users) > 1:
		id = abi.ResourceID{Type: "user", ID: m.users[r.IntN(len(m.users))].ID}
	case x < 6 && len(pending) > 0:
		id = abi.ResourceID{Type: "invite", ID: pending[r.IntN(len(pending))]}
	case x < 9 && len(gone) > 0:
		id = gone[r.IntN(len(gone))]
	}
	return Op{Delete: &id}
}

// Run generates a workspace from cfg, serves it with srv (built
// by newServer over that workspace), and applies steps random operations
// through exec, checking each outcome, the number of write requests and
// the whole simulator state against the Model after every step.
func Run(t *testing.T, seed uint64, steps int, srv *segmentsim.Server, exec Exec) {
	t.Helper()
	m := New(srv.Snapshot())
	r := rand.New(rand.NewPCG(seed, 0x9e0))
	counts := map[string]int{}
	for i := range steps {
		op := m.nextOp(r)
		want := m.apply(op)
		srv.ResetRequests()
		already, err := exec(op)
		var writes []string
		for _, rec := range srv.Requests() {
			if rec.Method != "GET" {
				writes = append(writes, rec.Method+" "+rec.Path)
			}
		}
		switch {
		case want.Code != "":
			if err == nil {
				t.Fatalf("step %d %s: succeeded (already=%v), want %s", i, op, already, want.Code)
			}
			grantOrRevoke := op.Kind() == "grant" || op.Kind() == "revoke"
			if e := abi.AsError(err); e.Code != want.Code {
				t.Fatalf("step %d %s: %v, want code %s", i, op, err, want.Code)
			} else if grantOrRevoke && !strings.Contains(e.Message, op.Principal.ID.Type+":"+op.Principal.ID.ID) {
				t.Fatalf("step %d %s: error %q does not name the principal", i, op, e.Message)
			}
		case err != nil:
			t.Fatalf("step %d %s: %v, want %s", i, op, err, want)
		case already != want.Already:
			t.Fatalf("step %d %s: already=%v, want %s", i, op, already, want)
		}
		if len(writes) != want.Writes {
			t.Fatalf("step %d %s (%s): writes %v, want %d", i, op, want, writes, want.Writes)
		}
		if d := m.diff(srv.Snapshot()); len(d) > 0 {
			t.Fatalf("step %d %s (%s): state differs from the Model:\n%s", i, op, want, strings.Join(d, "\n"))
		}
		switch op.Kind() {
		case "create-account":
			counts["create-account "+want.String()]++
		case "delete":
			counts[fmt.Sprintf("delete %s %s", op.Delete.Type, want)]++
		default:
			kind := op.Entitlement.Resource.ID.Type
			if kind != "group" && kind != "role" {
				kind = "resource"
			}
			if op.Principal.ID.Type == "invite" {
				kind += " to invite"
			}
			counts[fmt.Sprintf("%s %s %s", op.Kind(), kind, want)]++
		}
	}
	t.Logf("seed %d outcomes: %v", seed, counts)
}
