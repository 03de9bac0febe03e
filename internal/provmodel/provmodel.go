// Package provmodel is a Model of Segment provisioning and a driver of
// random grant and revoke sequences, checked against the simulator's state
// after every step. The Segment connector's tests run it natively; the
// host's tests run the same sequences through the sandboxed guest.
package provmodel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// Op is one provisioning request, as the host would send it.
type Op struct {
	Grant       bool
	Entitlement abi.EntitlementOn
	Principal   abi.Resource
}

func (op Op) String() string {
	verb := "revoke"
	if op.Grant {
		verb = "grant"
	}
	r := op.Entitlement.Resource.ID
	return fmt.Sprintf("%s %s:%s:%s / %s:%s", verb, r.Type, r.ID, op.Entitlement.Slug, op.Principal.ID.Type, op.Principal.ID.ID)
}

// Outcome is what an operation should do: change Segment (exactly one
// write), find it already done (no write), or fail with Code (no write).
type Outcome struct {
	Changed bool
	Already bool
	Code    abi.Code
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
// already done (AlreadyExists / AlreadyRevoked) or its error.
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
}

// New returns the model of ws as it is now.
func New(ws *segmentsim.Workspace) *Model {
	m := &Model{
		wsID:         ws.ID,
		roles:        map[string]string{},
		roleIDs:      map[string]bool{},
		sourceLabels: map[string][]segmentsim.Label{},
		resources:    map[string][]string{},
		users:        ws.Users,
		perms:        map[abi.ResourceID]map[Tuple]bool{},
		members:      map[string]map[string]bool{},
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
	}
	return m
}

// segTypes maps the connector's scoped types to Segment's.
var segTypes = map[string]string{"source": "SOURCE", "warehouse": "WAREHOUSE", "space": "SPACE", "function": "FUNCTION", "role": "WORKSPACE"}

// apply returns op's expected outcome and updates the Model with it.
func (m *Model) apply(op Op) Outcome {
	ent := op.Entitlement.Resource.ID
	p := op.Principal.ID
	if ent.Type == "group" {
		if p.Type != "user" {
			return Outcome{Code: abi.CodeInvalidArgument}
		}
		set := m.members[ent.ID]
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
	return Outcome{Already: true}
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
		got := slices.Clone(g.MemberIDs)
		var want []string
		for id := range m.members[g.ID] {
			want = append(want, id)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			out = append(out, fmt.Sprintf("group %s members %v, want %v", g.ID, got, want))
		}
	}
	if len(ws.Users) != len(m.users) || len(ws.Groups) != len(m.groupIDs) {
		out = append(out, "users or groups were created or deleted")
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

	switch k := r.IntN(10); {
	case k < 3: // group membership
		gid := m.groupIDs[r.IntN(len(m.groupIDs))]
		op := Op{Grant: grant, Entitlement: m.Entitlement("group", gid, "member")}
		switch {
		case r.IntN(25) == 0:
			op.Principal = m.GroupResource(m.groupIDs[r.IntN(len(m.groupIDs))])
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
			if e := abi.AsError(err); e.Code != want.Code {
				t.Fatalf("step %d %s: %v, want code %s", i, op, err, want.Code)
			} else if !strings.Contains(e.Message, op.Principal.ID.Type+":"+op.Principal.ID.ID) {
				t.Fatalf("step %d %s: error %q does not name the principal", i, op, e.Message)
			}
		case err != nil:
			t.Fatalf("step %d %s: %v, want %s", i, op, err, want)
		case already != want.Already:
			t.Fatalf("step %d %s: already=%v, want %s", i, op, already, want)
		}
		if wantWrites := map[bool]int{true: 1, false: 0}[want.Changed]; len(writes) != wantWrites {
			t.Fatalf("step %d %s (%s): writes %v, want %d", i, op, want, writes, wantWrites)
		}
		if d := m.diff(srv.Snapshot()); len(d) > 0 {
			t.Fatalf("step %d %s (%s): state differs from the Model:\n%s", i, op, want, strings.Join(d, "\n"))
		}
		kind := op.Entitlement.Resource.ID.Type
		if kind != "group" && kind != "role" {
			kind = "resource"
		}
		verb := map[bool]string{true: "grant", false: "revoke"}[op.Grant]
		counts[fmt.Sprintf("%s %s %s", verb, kind, want)]++
	}
	t.Logf("seed %d outcomes: %v", seed, counts)
}
