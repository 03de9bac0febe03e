package segmentsim

import (
	"net/http"
	"slices"
)

// GET /groups — response key userGroups, items with permissions.
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	writePage(w, "userGroups", s.ws.Groups, p, s.toWireGroup)
}

// GET /groups/{id} — response key userGroup (singular).
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.idx.groupByID[id]
	if g == nil {
		writeNotFound(w)
		return
	}
	writeData(w, http.StatusOK, map[string]any{"userGroup": s.toWireGroup(g)})
}

// GET /groups/{id}/users — accepted members only (invitees are under
// /groups/{id}/invites).
func (s *Server) listGroupUsers(w http.ResponseWriter, r *http.Request, id string) {
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.idx.groupByID[id]
	if g == nil {
		writeNotFound(w)
		return
	}
	users := make([]*User, 0, len(g.MemberIDs))
	for _, uid := range g.MemberIDs {
		if u := s.idx.userByID[uid]; u != nil {
			users = append(users, u)
		}
	}
	writePage(w, "users", users, p, toWireUser)
}

// GET /groups/{id}/invites — key emails.
func (s *Server) listGroupInvites(w http.ResponseWriter, r *http.Request, id string) {
	_, p, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.idx.groupByID[id]
	if g == nil {
		writeNotFound(w)
		return
	}
	writePage(w, "emails", g.InviteEmails, p, identity[string])
}

// resolvedEmails splits membership emails into user ids and invite emails.
type resolvedEmails struct {
	userIDs []string
	invites []string
}

// resolveEmails maps emails (case-insensitive, duplicates dropped) to
// users and pending invites. Unknown emails are a 422 (undocumented in the
// real API; the strict choice). Callers hold s.mu.
func (s *Server) resolveEmails(field string, emails []string) (resolvedEmails, *validationError) {
	var res resolvedEmails
	var unknown []string
	seen := map[string]bool{}
	for _, e := range emails {
		n := normEmail(e)
		if seen[n] {
			continue
		}
		seen[n] = true
		if u := s.idx.userByEmail[n]; u != nil {
			res.userIDs = append(res.userIDs, u.ID)
		} else if inv, ok := s.idx.invites[n]; ok {
			res.invites = append(res.invites, inv)
		} else {
			unknown = append(unknown, e)
		}
	}
	if len(unknown) > 0 {
		return res, &validationError{
			Field: field, Message: "emails must belong to workspace users or pending invites",
			Data: map[string]any{"emails": unknown},
		}
	}
	return res, nil
}

func appendMissing(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

// membersBody is the body of POST /groups/{id}/users and PUT /group/{id}/users.
type membersBody struct {
	Emails *[]string `json:"emails"`
}

// POST /groups/{id}/users — add members (users or invitees).
func (s *Server) addGroupUsers(w http.ResponseWriter, r *http.Request, id string) {
	s.writeMembers(w, r, id, false)
}

// PUT /group/{id}/users (singular path) — replace the member set.
func (s *Server) replaceGroupUsers(w http.ResponseWriter, r *http.Request, id string) {
	s.writeMembers(w, r, id, true)
}

func (s *Server) writeMembers(w http.ResponseWriter, r *http.Request, id string, replace bool) {
	var body membersBody
	if !decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.idx.groupByID[id]
	if g == nil {
		writeNotFound(w)
		return
	}
	switch {
	case body.Emails == nil:
		writeValidation(w, invalid("emails", "emails is required"))
		return
	case !replace && len(*body.Emails) == 0:
		writeValidation(w, invalid("emails", "emails must contain at least one email"))
		return
	}
	res, verr := s.resolveEmails("emails", *body.Emails)
	if verr != nil {
		writeValidation(w, verr)
		return
	}
	if replace {
		g.MemberIDs = appendMissing([]string{}, res.userIDs...)
		g.InviteEmails = appendMissing([]string{}, res.invites...)
	} else {
		g.MemberIDs = appendMissing(g.MemberIDs, res.userIDs...)
		g.InviteEmails = appendMissing(g.InviteEmails, res.invites...)
	}
	writeData(w, http.StatusOK, map[string]any{"userGroup": groupRef(g)})
}

// DELETE /group/{id}/users?emails.0=… (singular path) — remove members.
// Emails that are valid but not in the group are ignored.
func (s *Server) removeGroupUsers(w http.ResponseWriter, r *http.Request, id string) {
	q, ok := parseQuery(w, r)
	if !ok {
		return
	}
	emails, verr := queryArray(q, "emails")
	if verr != nil {
		writeValidation(w, verr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.idx.groupByID[id]
	if g == nil {
		writeNotFound(w)
		return
	}
	if len(emails) == 0 {
		writeValidation(w, invalid("emails", "emails is required"))
		return
	}
	res, verr := s.resolveEmails("emails", emails)
	if verr != nil {
		writeValidation(w, verr)
		return
	}
	g.MemberIDs = slices.DeleteFunc(g.MemberIDs, func(uid string) bool { return slices.Contains(res.userIDs, uid) })
	g.InviteEmails = slices.DeleteFunc(g.InviteEmails, func(e string) bool { return slices.Contains(res.invites, e) })
	writeSuccessStatus(w)
}
