package segmentsim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// GET /invites — pending invite emails as plain strings.
func (s *Server) listInvites(w http.ResponseWriter, r *http.Request) {
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	writePage(w, "invites", s.ws.Invites, p, identity[string])
}

type inviteInput struct {
	Email       string            `json:"email"`
	Permissions []permissionInput `json:"permissions"`
}

// POST /invites — 201 with the invited emails. Inviting an existing member
// or naming one email twice in a request is a 422; re-inviting a pending
// invite is a no-op that keeps its first permissions. The permissions are
// stored with the invite (Workspace.InvitePermissions) so tests can see
// the access an invitee will get; the fake never turns an invite into a
// user.
func (s *Server) createInvites(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Invites []inviteInput `json:"invites"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if len(body.Invites) == 0 {
		writeValidation(w, invalid("invites", "invites must contain at least one invite"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	emails := make([]string, 0, len(body.Invites))
	perms := make([][]Permission, 0, len(body.Invites))
	seen := map[string]bool{}
	for i, inv := range body.Invites {
		f := fmt.Sprintf("invites.%d", i)
		e := strings.TrimSpace(inv.Email)
		switch {
		case !strings.Contains(e, "@"):
			writeValidation(w, invalid(f+".email", "a valid email is required"))
			return
		case s.idx.userByEmail[normEmail(e)] != nil:
			writeValidation(w, invalid(f+".email", e+" is already a workspace member"))
			return
		case seen[normEmail(e)]:
			writeValidation(w, invalid(f+".email", e+" is invited twice in this request"))
			return
		}
		seen[normEmail(e)] = true
		ps, verr := s.validatePermissions(f+".permissions", inv.Permissions)
		if verr != nil {
			writeValidation(w, verr)
			return
		}
		emails = append(emails, e)
		perms = append(perms, ps)
	}
	for i, e := range emails {
		if _, ok := s.idx.invites[normEmail(e)]; ok {
			continue
		}
		s.ws.Invites = append(s.ws.Invites, e)
		s.idx.invites[normEmail(e)] = e
		if len(perms[i]) > 0 {
			if s.ws.InvitePermissions == nil {
				s.ws.InvitePermissions = map[string][]Permission{}
			}
			s.ws.InvitePermissions[e] = perms[i]
		}
	}
	writeData(w, http.StatusCreated, map[string]any{"emails": emails})
}

// DELETE /invites?emails.0=… — cancel pending invites (and drop them from
// groups). Emails that are not pending invites are a 422.
func (s *Server) deleteInvites(w http.ResponseWriter, r *http.Request) {
	q, ok := parseQuery(w, r)
	if !ok {
		return
	}
	emails, verr := queryArray(q, "emails")
	if verr != nil {
		writeValidation(w, verr)
		return
	}
	if len(emails) == 0 {
		writeValidation(w, invalid("emails", "emails is required"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := map[string]bool{}
	var unknown []string
	for _, e := range emails {
		if _, ok := s.idx.invites[normEmail(e)]; !ok {
			unknown = append(unknown, e)
		}
		drop[normEmail(e)] = true
	}
	if len(unknown) > 0 {
		writeValidation(w, &validationError{Field: "emails", Message: "emails must be pending invites", Data: map[string]any{"emails": unknown}})
		return
	}
	gone := func(e string) bool { return drop[normEmail(e)] }
	s.ws.Invites = slices.DeleteFunc(s.ws.Invites, gone)
	maps.DeleteFunc(s.ws.InvitePermissions, func(e string, _ []Permission) bool { return gone(e) })
	for _, g := range s.ws.Groups {
		g.InviteEmails = slices.DeleteFunc(g.InviteEmails, gone)
	}
	s.reindex()
	writeSuccessStatus(w)
}
