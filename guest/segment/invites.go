package segment

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
)

// typeInvite is a pending workspace invite. Segment knows an invite only
// by its email (GET /invites lists plain strings), so the email is the id.
const typeInvite = "invite"

// inviteType describes invites in Metadata: user-shaped, so reviewers see
// them next to users, with no entitlements or grants of their own (their
// group memberships are the groups' grants).
var inviteType = abi.ResourceType{
	ID: typeInvite, DisplayName: "Invite",
	Description:    "A pending invitation to the workspace, by email; it becomes a user when accepted.",
	Traits:         []abi.Trait{abi.TraitUser},
	NoEntitlements: true, NoGrants: true,
	// Creating an account is inviting an email; invites can be cancelled
	// and read one by one.
	CreatesAccounts: true, Deletable: true, Gettable: true,
}

// listInvites lists a page of pending invites (GET /invites, key invites).
func (c *call) listInvites(ctx context.Context, ws abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	emails, next, err := fetchPage[string](ctx, c.api, "list invites", "/invites", "invites", listCount, tok.Cursor)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	out := make([]abi.Resource, 0, len(emails))
	seen := map[string]bool{}
	for _, e := range emails {
		e = strings.TrimSpace(e)
		if e == "" || seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, inviteResource(e, ws))
	}
	return abi.ResourcePage{Resources: out, NextPageToken: tok.next(next)}, nil
}

// inviteResource: id and display name are the email; the status is
// pending because the invitee has no access until they accept.
func inviteResource(email string, ws abi.ResourceID) abi.Resource {
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeInvite, ID: email},
		Parent:      &ws,
		DisplayName: email,
		Description: "Pending invitation to the workspace",
		Profile:     map[string]string{"email": email},
		User:        &abi.UserTrait{Emails: []string{email}, Login: email, Status: abi.UserStatusPending},
	}
}

// groupInviteGrants lists one page of the pending invites a group holds
// (GET /groups/{id}/invites, key emails) as grants of the group's member
// entitlement, so a reviewer sees who gets the group's access the moment
// they accept. found is false when the group is gone.
func (c *call) groupInviteGrants(ctx context.Context, g abi.ResourceID, cursor string) (grants []abi.Grant, next string, found bool, err error) {
	path := "/groups/" + url.PathEscape(g.ID) + "/invites"
	emails, next, err := fetchPage[string](ctx, c.api, "list group invites", path, "emails", listCount, cursor)
	if isNotFound(err) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	member := abi.EntitlementRef{Resource: g, Slug: memberSlug}
	seen := map[string]bool{}
	for _, e := range emails {
		e = strings.TrimSpace(e)
		if e == "" || seen[e] {
			continue
		}
		seen[e] = true
		grants = append(grants, abi.Grant{Entitlement: member, Principal: abi.ResourceID{Type: typeInvite, ID: e}})
	}
	return grants, next, true, nil
}

// findInvite pages through GET /invites for an email (case-insensitive)
// and returns it as Segment spells it; "" when no invite is pending.
func (c *call) findInvite(ctx context.Context, email string) (string, error) {
	return c.findEmail(ctx, "list invites", "/invites", "invites", email)
}

// findEmail pages through a list of emails (the page's key holds them)
// for email, case-insensitively, and returns it as Segment spells it; ""
// when the list does not hold it.
func (c *call) findEmail(ctx context.Context, what, path, key, email string) (string, error) {
	seen := map[string]bool{}
	cursor := ""
	for {
		emails, next, err := fetchPage[string](ctx, c.api, what, path, key, listCount, cursor)
		if err != nil {
			return "", err
		}
		for _, e := range emails {
			if strings.EqualFold(strings.TrimSpace(e), email) {
				return strings.TrimSpace(e), nil
			}
		}
		if next == "" {
			return "", nil
		}
		if seen[next] {
			return "", abi.Errorf(abi.CodeUnavailable, "%s: pagination cursor did not advance (%q seen before)", where(what, path), next)
		}
		seen[next] = true
		cursor = next
	}
}

// getInvite returns the pending invite of an email, or NotFound.
func (c *call) getInvite(ctx context.Context, ws abi.ResourceID, email string) (abi.Resource, error) {
	found, err := c.findInvite(ctx, strings.TrimSpace(email))
	if err != nil {
		return abi.Resource{}, err
	}
	if found == "" {
		return abi.Resource{}, abi.Errorf(abi.CodeNotFound, "no pending invite for %s in Segment", email)
	}
	return inviteResource(found, ws), nil
}

// deleteInvite cancels a pending invite (DELETE /invites?emails.0=, which
// also drops it from its groups). An invite that is no longer pending
// (cancelled, or accepted) is AlreadyDeleted: Segment would refuse it.
func (c *call) deleteInvite(ctx context.Context, email string) (abi.DeleteResourceResult, error) {
	found, err := c.findInvite(ctx, strings.TrimSpace(email))
	if err != nil {
		return abi.DeleteResourceResult{}, err
	}
	if found == "" {
		return abi.DeleteResourceResult{AlreadyDeleted: true}, nil
	}
	if err := c.sendStatus(ctx, "DELETE", "/invites?emails.0="+url.QueryEscape(found)); err != nil {
		return abi.DeleteResourceResult{}, err
	}
	return abi.DeleteResourceResult{}, nil
}

// accountProfile is what create-account asks for: the email to invite
// and, beyond ConductorOne's own connector, initial access: role ids
// granted workspace-wide in the invite and group ids the email joins.
type accountProfile struct {
	email  string
	roles  []string
	groups []string
}

// parseAccountProfile reads the profile ("email", "roles", "groups"),
// falling back to AccountInfo's emails and login for the email. Every
// problem is an InvalidArgument naming the field, before anything is
// written.
func parseAccountProfile(req abi.CreateAccountRequest) (accountProfile, error) {
	var p accountProfile
	if v, ok := req.Profile["email"]; ok {
		s, isString := v.(string)
		if !isString {
			return p, abi.Errorf(abi.CodeInvalidArgument, "profile field \"email\" must be a string")
		}
		p.email = strings.TrimSpace(s)
	}
	for _, e := range append(req.Emails, req.Login) {
		if p.email == "" {
			p.email = strings.TrimSpace(e)
		}
	}
	if p.email == "" {
		return p, abi.Errorf(abi.CodeInvalidArgument, "create account needs an email: set profile field \"email\" (e.g. --create-account-email)")
	}
	if at := strings.IndexByte(p.email, '@'); at <= 0 || at == len(p.email)-1 || strings.ContainsAny(p.email, " \t\r\n,;") {
		return p, abi.Errorf(abi.CodeInvalidArgument, "%q is not an email address", p.email)
	}
	var err error
	if p.roles, err = stringList(req.Profile, "roles"); err != nil {
		return p, err
	}
	if p.groups, err = stringList(req.Profile, "groups"); err != nil {
		return p, err
	}
	return p, nil
}

// stringList reads an optional profile field holding a list of non-empty
// strings (ids), dropping duplicates.
func stringList(profile map[string]any, key string) ([]string, error) {
	v, ok := profile[key]
	if !ok || v == nil {
		return nil, nil
	}
	list, isList := v.([]any)
	if !isList {
		return nil, abi.Errorf(abi.CodeInvalidArgument, "profile field %q must be a list of ids", key)
	}
	var out []string
	for i, item := range list {
		s, isString := item.(string)
		if s = strings.TrimSpace(s); !isString || s == "" {
			return nil, abi.Errorf(abi.CodeInvalidArgument, "profile field %q: item %d must be a non-empty id string", key, i)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// invite creates the account: a Segment invitation (POST /invites) with
// the requested roles on the whole workspace, then the email joins the
// requested groups. Three outcomes, as baton-sdk knows them:
//   - the email is already a member: AlreadyExists with the user;
//   - an invite is already pending: ActionRequired naming it (requested
//     groups are still joined, so a retry after a partial failure
//     completes; a pending invite's roles cannot be changed);
//   - otherwise: ActionRequired, the invitee must accept the email.
//
// Roles and groups are checked before anything is written.
func (c *call) invite(ctx context.Context, p accountProfile) (abi.CreateAccountResult, error) {
	ws, err := c.fetchWorkspace(ctx)
	if err != nil {
		return abi.CreateAccountResult{}, err
	}
	wsID := abi.ResourceID{Type: typeWorkspace, ID: ws.ID}
	u, err := c.findUserByEmail(ctx, p.email)
	if err != nil {
		return abi.CreateAccountResult{}, err
	}
	if u != nil {
		r := userResource(*u, wsID)
		return abi.CreateAccountResult{Outcome: abi.AccountAlreadyExists, Resource: &r,
			Message: p.email + " is already a member of the Segment workspace " + firstNonEmpty(ws.Name, ws.ID) + " (user " + u.ID + ")"}, nil
	}
	for _, id := range p.roles {
		if err := c.requireRole(ctx, id); err != nil {
			return abi.CreateAccountResult{}, err
		}
	}
	for _, gid := range p.groups {
		if _, err := c.getGroup(ctx, wsID, gid); err != nil {
			return abi.CreateAccountResult{}, err
		}
	}
	pending, err := c.findInvite(ctx, p.email)
	if err != nil {
		return abi.CreateAccountResult{}, err
	}
	email := p.email
	if pending == "" {
		in := struct {
			Email       string            `json:"email"`
			Permissions []permissionInput `json:"permissions,omitempty"`
		}{Email: email}
		for _, id := range p.roles {
			in.Permissions = append(in.Permissions, permissionInput{RoleID: id, Resources: []resourceInput{{ID: ws.ID, Type: segWorkspace}}})
		}
		body := struct {
			Invites []any `json:"invites"`
		}{[]any{in}}
		if err := c.api.send(ctx, "POST", "/invites", body, nil); err != nil {
			return abi.CreateAccountResult{}, err
		}
	} else {
		email = pending
	}
	for _, gid := range p.groups {
		body := struct {
			Emails []string `json:"emails"`
		}{[]string{email}}
		if err := c.api.send(ctx, "POST", "/groups/"+url.PathEscape(gid)+"/users", body, nil); err != nil {
			return abi.CreateAccountResult{}, err
		}
	}
	r := inviteResource(email, wsID)
	if pending != "" {
		return abi.CreateAccountResult{Outcome: abi.AccountActionRequired, Resource: &r,
			Message: "an invitation to " + email + " is already pending (invite " + email + "): they must accept the email invitation to join the Segment workspace"}, nil
	}
	return abi.CreateAccountResult{Outcome: abi.AccountActionRequired, Resource: &r,
		Message: email + " must accept the email invitation to join the Segment workspace " + firstNonEmpty(ws.Name, ws.ID)}, nil
}
