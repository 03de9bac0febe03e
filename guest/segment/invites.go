package segment

import (
	"context"
	"net/url"
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
// disabled because the invitee has no access until they accept.
func inviteResource(email string, ws abi.ResourceID) abi.Resource {
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeInvite, ID: email},
		Parent:      &ws,
		DisplayName: email,
		Description: "Pending invitation to the workspace",
		Profile:     map[string]string{"email": email},
		User:        &abi.UserTrait{Emails: []string{email}, Login: email, Status: abi.UserStatusDisabled},
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
