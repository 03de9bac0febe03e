package segment

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

// Provisioning. Entitlement ids are the ones ListEntitlements emits:
//
//	group:<groupId>:member          membership of a user group (users only)
//	role:<roleId>:member            the role on the whole workspace
//	<type>:<resourceId>:<roleId>    the role on one source, warehouse, space
//	                                or function, or <type>:<resourceId>:<name>
//	                                as entitlement_ids = "baton-segment" names
//	                                it (entitlementids.go), whatever the setting
//
// Segment has no per-permission delete (the Public API's IAM Users and
// IAM Groups endpoints, docs.segmentapis.com): a grant is an additive POST of the one permission, and a revoke is
// the only read-modify-write, a PUT of the principal's whole set minus the
// one resource. The host serialises calls per principal; within a call the
// set written back is always the one read from Segment moments before,
// never the session's copy.

var _ guest.Provisioner = (*Connector)(nil)

// segWorkspace is the Segment permission resource type of the workspace.
const segWorkspace = "WORKSPACE"

// segmentTypeOf maps the connector's scoped resource types to the resource
// types of Segment permissions (the inverse of segmentTypes).
var segmentTypeOf = map[string]string{
	typeSource:    "SOURCE",
	typeWarehouse: "WAREHOUSE",
	typeSpace:     "SPACE",
	typeFunction:  "FUNCTION",
}

// Grant gives the principal the entitlement. It reports AlreadyExists,
// writing nothing, when Segment already shows exactly that grant.
func (conn *Connector) Grant(ctx context.Context, env guest.Env, req abi.GrantRequest) (abi.GrantResult, error) {
	ch := &change{verb: "grant", ent: req.Entitlement, principal: req.Principal}
	c, err := conn.prepare(env, req.Call, ch)
	if err != nil {
		return abi.GrantResult{}, ch.fail(err)
	}
	var res abi.GrantResult
	if ch.member {
		res, err = c.grantMembership(ctx, ch)
	} else {
		res, err = c.grantRole(ctx, ch)
	}
	if err != nil {
		return abi.GrantResult{}, ch.fail(err)
	}
	return res, nil
}

// Revoke takes the entitlement away from the principal. It reports
// AlreadyRevoked, writing nothing, when Segment shows no such grant, and
// fails with CodeFailedPrecondition when the access comes only from a
// broader permission that revoking this entitlement would not change.
func (conn *Connector) Revoke(ctx context.Context, env guest.Env, req abi.RevokeRequest) (abi.RevokeResult, error) {
	ch := &change{verb: "revoke", ent: req.Entitlement, principal: req.Principal}
	c, err := conn.prepare(env, req.Call, ch)
	if err != nil {
		return abi.RevokeResult{}, ch.fail(err)
	}
	var res abi.RevokeResult
	if ch.member {
		res, err = c.revokeMembership(ctx, ch)
	} else {
		res, err = c.revokeRole(ctx, ch)
	}
	if err != nil {
		return abi.RevokeResult{}, ch.fail(err)
	}
	return res, nil
}

// prepare parses the change and readies its call.
func (conn *Connector) prepare(env guest.Env, req abi.Call, ch *change) (*call, error) {
	if err := ch.parse(); err != nil {
		return nil, err
	}
	return conn.callFor(env, abi.Call{Config: req.Config})
}

// change is one parsed provisioning request.
type change struct {
	verb      string // "grant" or "revoke"
	ent       abi.EntitlementOn
	principal abi.Resource

	// member is set for group membership; the group is ent.Resource.
	member bool
	// roleID, segType and resID say which role on which Segment resource
	// a role change is about. resID is filled in later for workspace
	// roles, whose resource is the workspace.
	roleID  string
	segType string
	resID   string
	// unknownRole says that GET /roles has no role roleID (resolveRole).
	unknownRole bool
}

// entID is the entitlement's baton id.
func (ch *change) entID() string {
	r := ch.ent.Resource.ID
	return r.Type + ":" + r.ID + ":" + ch.ent.Slug
}

// principalID is the principal as "<type>:<id>".
func (ch *change) principalID() string {
	return ch.principal.ID.Type + ":" + ch.principal.ID.ID
}

// String names the change for errors and logs, e.g.
// "grant source:S:R to user:U".
func (ch *change) String() string {
	prep := " to "
	if ch.verb == "revoke" {
		prep = " from "
	}
	return ch.verb + " " + ch.entID() + prep + ch.principalID()
}

// fail prefixes err with the change, keeping its code and retry time, so
// that every error names the principal and the entitlement.
func (ch *change) fail(err error) error {
	e := abi.AsError(err)
	return &abi.Error{Code: e.Code, Message: ch.String() + ": " + e.Message, RetryAfter: e.RetryAfter}
}

// parse classifies the entitlement and checks the principal against it.
func (ch *change) parse() error {
	res, slug := ch.ent.Resource.ID, ch.ent.Slug
	switch res.Type {
	case typeWorkspace:
		if slug == memberSlug {
			return abi.Errorf(abi.CodeUnimplemented, "workspace membership is not provisionable: add users to the workspace in Segment")
		}
		return abi.Errorf(abi.CodeUnimplemented, "unknown workspace entitlement %q", slug)
	case typeUser:
		return abi.Errorf(abi.CodeUnimplemented, "users have no provisionable entitlements")
	case typeGroup:
		if slug != memberSlug {
			return abi.Errorf(abi.CodeUnimplemented, "unknown group entitlement %q: only %q is provisionable", slug, memberSlug)
		}
		ch.member = true
	case typeRole:
		if slug != memberSlug {
			return abi.Errorf(abi.CodeUnimplemented, "unknown role entitlement %q: only %q is provisionable", slug, memberSlug)
		}
		ch.roleID, ch.segType = res.ID, segWorkspace
	case typeSource, typeWarehouse, typeSpace, typeFunction:
		if strings.TrimSpace(slug) == "" {
			return abi.Errorf(abi.CodeInvalidArgument, "entitlement has no role id")
		}
		ch.roleID, ch.segType, ch.resID = slug, segmentTypeOf[res.Type], res.ID
	default:
		return abi.Errorf(abi.CodeUnimplemented, "entitlements on %q resources are not provisionable", res.Type)
	}
	if strings.TrimSpace(res.ID) == "" {
		return abi.Errorf(abi.CodeInvalidArgument, "entitlement has no resource id")
	}
	p := ch.principal.ID
	switch {
	case p.Type == typeInvite && !ch.member:
		// Segment has no endpoint to change a pending invite's roles.
		return abi.Errorf(abi.CodeInvalidArgument, "roles cannot be changed on a pending invite (%s): grant them once the invite is accepted, or cancel it and create the account again with roles", ch.principalID())
	case p.Type != typeUser && p.Type != typeGroup && p.Type != typeInvite:
		return abi.Errorf(abi.CodeInvalidArgument, "principal must be a user, a group or (for group membership) an invite, not %q", p.Type)
	case strings.TrimSpace(p.ID) == "":
		return abi.Errorf(abi.CodeInvalidArgument, "principal has no id")
	case ch.member && p.Type == typeGroup:
		return abi.Errorf(abi.CodeInvalidArgument, "group membership can only be granted to users and invites; %s is a group", ch.principalID())
	}
	return nil
}

// email is the user's email, which Segment's membership endpoints take
// instead of user ids. A user without one is an error: reporting success
// without calling Segment would leave the access review wrong (the
// reference connector's bug 19).
func (ch *change) email() (string, error) {
	if ch.principal.ID.Type == typeInvite {
		// An invite's id is its email.
		return strings.TrimSpace(ch.principal.ID.ID), nil
	}
	if u := ch.principal.User; u != nil {
		for _, e := range u.Emails {
			if e = strings.TrimSpace(e); e != "" {
				return e, nil
			}
		}
		if l := strings.TrimSpace(u.Login); l != "" {
			return l, nil
		}
	}
	return "", abi.Errorf(abi.CodeInvalidArgument, "user %s has no email (no emails, no login); Segment changes group membership by email", ch.principal.ID.ID)
}

// grant is the grant a successful change creates. A group's role grants
// expand to its members, as ListGrants reports them.
func (ch *change) grant() abi.Grant {
	g := abi.Grant{
		Entitlement: abi.EntitlementRef{Resource: ch.ent.Resource.ID, Slug: ch.ent.Slug},
		Principal:   ch.principal.ID,
	}
	if ch.principal.ID.Type == typeGroup {
		g.ExpandFrom = []abi.EntitlementRef{{Resource: ch.principal.ID, Slug: memberSlug}}
	}
	return g
}

// --- Group membership ---

// --- Roles ---

// permissionInput and resourceInput are PermissionInputV1: only the fields
// Segment accepts on writes, so nothing read from a GET (roleName,
// policyId) is echoed back, and every label is (reference bug 11).
type permissionInput struct {
	RoleID    string          `json:"roleId"`
	Resources []resourceInput `json:"resources"`
	Labels    []label         `json:"labels,omitempty"`
}

type resourceInput struct {
	ID     string  `json:"id"`
	Type   string  `json:"type"`
	Labels []label `json:"labels,omitempty"`
}

// permissionsBody is the body of POST and PUT …/permissions.
type permissionsBody struct {
	Permissions []permissionInput `json:"permissions"`
}

func (c *call) grantRole(ctx context.Context, ch *change) (abi.GrantResult, error) {
	if err := c.resolveResource(ctx, ch); err != nil {
		return abi.GrantResult{}, err
	}
	perms, err := c.currentPermissions(ctx, ch.principal.ID)
	if err != nil {
		return abi.GrantResult{}, err
	}
	if err := c.resolveRole(ctx, ch, perms); err != nil {
		return abi.GrantResult{}, err
	}
	if ch.unknownRole {
		return abi.GrantResult{}, unknownRole(ch.roleID)
	}
	// Only the exact grant counts as held. A workspace-wide or
	// label-scoped permission of the same role is a different grant:
	// writing the specific one makes the requested access survive a later
	// revoke of the broader one, which is what whoever asked for it
	// expects (and is how ListGrants will report it).
	if holds(perms, ch) {
		return abi.GrantResult{AlreadyExists: true}, nil
	}
	for _, p := range perms {
		if p.RoleID == ch.roleID && len(p.Labels) > 0 {
			// Segment keeps one permission per role and merges a new
			// resource into it, where the permission's labels would
			// restrict it: the POST would "succeed" without creating the
			// grant asked for.
			return abi.GrantResult{}, abi.Errorf(abi.CodeFailedPrecondition,
				"%s already has %s through a permission restricted to labels %s; Segment would add the resource to that restricted permission, so change it in Segment",
				ch.principalID(), roleLabel(p), formatLabels(p.Labels))
		}
	}
	if err := c.requireRole(ctx, ch.roleID); err != nil {
		return abi.GrantResult{}, err
	}
	// POST adds: nothing read is written back, so no concurrent change to
	// the principal's other permissions can be lost (reference bug 10).
	body := permissionsBody{Permissions: []permissionInput{{
		RoleID:    ch.roleID,
		Resources: []resourceInput{{ID: ch.resID, Type: ch.segType}},
	}}}
	if err := c.api.send(ctx, "POST", principalPath(ch.principal.ID)+"/permissions", body, nil); err != nil {
		return abi.GrantResult{}, err
	}
	c.forgetPermissions(ctx, ch.principal.ID)
	return abi.GrantResult{Grants: []abi.Grant{ch.grant()}}, nil
}

func (c *call) revokeRole(ctx context.Context, ch *change) (abi.RevokeResult, error) {
	if err := c.resolveResource(ctx, ch); err != nil {
		return abi.RevokeResult{}, err
	}
	// The read the PUT is built from: fresh, in this call.
	perms, err := c.currentPermissions(ctx, ch.principal.ID)
	if err != nil {
		return abi.RevokeResult{}, err
	}
	if err := c.resolveRole(ctx, ch, perms); err != nil {
		return abi.RevokeResult{}, err
	}
	kept, removed := withoutTarget(perms, ch)
	if removed == 0 && ch.unknownRole {
		// Not held, and no such role: the slug may name a role renamed
		// since the sync, which "already revoked" would wrongly clear.
		return abi.RevokeResult{}, unknownRole(ch.roleID)
	}
	if removed == 0 {
		why, err := c.broaderAccess(ctx, perms, ch)
		if err != nil {
			return abi.RevokeResult{}, err
		}
		if why != "" {
			return abi.RevokeResult{}, abi.Errorf(abi.CodeFailedPrecondition,
				"%s has this access through %s, a broader permission that this revoke will not change; narrow or remove it in Segment",
				ch.principalID(), why)
		}
		return abi.RevokeResult{AlreadyRevoked: true}, nil
	}
	// PUT replaces the whole set: send everything else exactly as read.
	body := permissionsBody{Permissions: toInputs(kept)}
	if err := c.api.send(ctx, "PUT", principalPath(ch.principal.ID)+"/permissions", body, nil); err != nil {
		return abi.RevokeResult{}, err
	}
	c.forgetPermissions(ctx, ch.principal.ID)
	// The exact grant is gone; say so if access remains through a broader
	// permission, since the next sync may still show it.
	if why, err := c.broaderAccess(ctx, kept, ch); err != nil {
		c.log.warnf("%s: done, but could not check for broader permissions: %v", ch, err)
	} else if why != "" {
		c.log.warnf("%s: done, but %s still has the access through %s", ch, ch.principalID(), why)
	}
	return abi.RevokeResult{}, nil
}

// resolveResource fills in the workspace id of a workspace role, the
// resource Segment grants it on.
func (c *call) resolveResource(ctx context.Context, ch *change) error {
	if ch.segType != segWorkspace {
		return nil
	}
	ws, err := c.parentWorkspace(ctx, ch.ent.Resource.Parent)
	if err != nil {
		return err
	}
	ch.resID = ws.ID
	return nil
}

// principalPath is the API path of a user or group.
func principalPath(p abi.ResourceID) string {
	if p.Type == typeGroup {
		return "/groups/" + url.PathEscape(p.ID)
	}
	return "/users/" + url.PathEscape(p.ID)
}

// currentPermissions reads a principal's permissions from Segment,
// bypassing the session: a decision to write must rest on the present
// state. Groups come from GET /groups/{id} under data.userGroup (the key
// the reference connector got wrong, bug 3).
func (c *call) currentPermissions(ctx context.Context, p abi.ResourceID) ([]permission, error) {
	var perms []permission
	var err error
	switch p.Type {
	case typeGroup:
		var g *group
		if g, err = getOne[group](ctx, c.api, "get group", principalPath(p), "userGroup"); err == nil {
			perms = g.Permissions
		}
	default:
		var u *user
		if u, err = getOne[user](ctx, c.api, "get user", principalPath(p), "user"); err == nil {
			perms = u.Permissions
		}
	}
	if isNotFound(err) {
		return nil, abi.Errorf(abi.CodeNotFound, "%s %s not found in Segment: %s", p.Type, p.ID, abi.AsError(err).Message)
	}
	return perms, err
}

// forgetPermissions drops the session's copy of a principal's permissions
// after a write, so that a sync sharing the session reads them again. A
// JSON null is what userPermissions and groupPermissions treat as a miss.
func (c *call) forgetPermissions(ctx context.Context, p abi.ResourceID) {
	c.cache.store(ctx, permKey(p.Type, p.ID), nil)
}

// isTarget reports whether r is the resource the change is about,
// whatever its labels.
func (ch *change) isTarget(r permResource) bool {
	return r.ID == ch.resID && strings.EqualFold(strings.TrimSpace(r.Type), ch.segType)
}

// holds reports whether perms contain exactly the change's grant: an entry
// of the role listing the resource, with no labels on the resource or on
// the entry.
func holds(perms []permission, ch *change) bool {
	for _, p := range perms {
		if p.RoleID != ch.roleID || len(p.Labels) > 0 {
			continue
		}
		for _, r := range p.Resources {
			if ch.isTarget(r) && len(r.Labels) == 0 {
				return true
			}
		}
	}
	return false
}

// withoutTarget returns perms without the change's exact grant and how
// many resources it removed. Only that resource goes: other resources of
// the same entry, other entries of the role, other roles and every label
// stay (reference bug 15 dropped the whole role). An entry is dropped only
// when the removal empties it.
func withoutTarget(perms []permission, ch *change) (kept []permission, removed int) {
	kept = make([]permission, 0, len(perms))
	for _, p := range perms {
		if p.RoleID != ch.roleID || len(p.Labels) > 0 {
			kept = append(kept, p)
			continue
		}
		rest := make([]permResource, 0, len(p.Resources))
		n := 0
		for _, r := range p.Resources {
			if ch.isTarget(r) && len(r.Labels) == 0 {
				n++
				continue
			}
			rest = append(rest, r)
		}
		removed += n
		switch {
		case n == 0:
			kept = append(kept, p)
		case len(rest) > 0:
			p.Resources = rest
			kept = append(kept, p)
		}
	}
	return kept, removed
}

// broaderAccess describes a permission of the change's role, other than
// the exact grant, through which the principal has the change's access:
// the role on the whole workspace, on sources carrying labels the source
// has, or on the resource itself but restricted by labels. It returns ""
// when there is none. Labels select sources only, as in ListGrants (see
// resolveTargets), so the answer matches what a sync reports. A workspace
// role has nothing broader: a label-scoped entry of it is the role on
// some sources, not on the workspace.
func (c *call) broaderAccess(ctx context.Context, perms []permission, ch *change) (string, error) {
	if ch.segType == segWorkspace {
		return "", nil
	}
	kind := typeNames[ch.ent.Resource.ID.Type]
	for _, p := range perms {
		if p.RoleID != ch.roleID {
			continue
		}
		for _, r := range p.Resources {
			labels := append(append([]label(nil), p.Labels...), r.Labels...)
			switch {
			case ch.isTarget(r):
				if len(labels) > 0 {
					return fmt.Sprintf("%s on %s %s restricted to labels %s", roleLabel(p), kind, ch.resID, formatLabels(labels)), nil
				}
			case !strings.EqualFold(strings.TrimSpace(r.Type), segWorkspace):
			case len(labels) == 0:
				return fmt.Sprintf("%s on all %ss (the whole workspace)", roleLabel(p), kind), nil
			case ch.segType == "SOURCE":
				sources, err := c.sources(ctx)
				if err != nil {
					return "", err
				}
				for _, s := range sources {
					if s.ID == ch.resID && hasLabels(s.Labels, labels) {
						return fmt.Sprintf("%s on all sources with %s", roleLabel(p), formatLabels(labels)), nil
					}
				}
			}
		}
	}
	return "", nil
}

// roleLabel names a permission's role for messages.
func roleLabel(p permission) string {
	if name := strings.TrimSpace(p.RoleName); name != "" {
		return name
	}
	return "role " + p.RoleID
}

// toInputs converts permissions as read into PermissionInputV1 for a PUT.
// The result is never nil: an empty set must be sent as [], which removes
// every permission, not as null.
func toInputs(perms []permission) []permissionInput {
	out := make([]permissionInput, 0, len(perms))
	for _, p := range perms {
		in := permissionInput{RoleID: p.RoleID, Labels: p.Labels, Resources: make([]resourceInput, 0, len(p.Resources))}
		for _, r := range p.Resources {
			in.Resources = append(in.Resources, resourceInput(r))
		}
		out = append(out, in)
	}
	return out
}
