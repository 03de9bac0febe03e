package segmentsim

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func memberCount(t *testing.T, s *sim, groupID string) int {
	t.Helper()
	r := s.get("/groups/" + groupID)
	mustStatus(t, r, http.StatusOK)
	return int(obj(r.data()["userGroup"])["memberCount"].(float64))
}

// outsider returns a user that is not in g.
func outsider(ws *Workspace, g *Group, skip int) *User {
	for _, u := range ws.Users {
		if !slices.Contains(g.MemberIDs, u.ID) {
			if skip == 0 {
				return u
			}
			skip--
		}
	}
	return nil
}

func TestMembershipAddRemove(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()
	g := ws.Groups[1]
	base := len(g.MemberIDs) + len(g.InviteEmails)
	if got := memberCount(t, s, g.ID); got != base {
		t.Fatalf("memberCount %d, want %d", got, base)
	}

	a, b, c := outsider(ws, g, 0), outsider(ws, g, 1), outsider(ws, g, 2)
	var invite string
	for _, e := range ws.Invites {
		if !slices.Contains(g.InviteEmails, e) {
			invite = e
		}
	}
	// Add two users (one with different case) and an invitee.
	r := s.do(http.MethodPost, "/groups/"+g.ID+"/users", jm{"emails": []string{a.Email, b.Email, invite, strings.ToUpper(a.Email)}})
	mustStatus(t, r, http.StatusOK)
	ug := obj(r.data()["userGroup"])
	if ug["id"] != g.ID || ug["name"] != g.Name || ug["memberCount"] != float64(base+3) {
		t.Fatalf("add response %s", r.raw)
	}
	if _, ok := ug["permissions"]; ok {
		t.Fatal("membership responses omit permissions")
	}
	users := list(s.get("/groups/"+g.ID+"/users").data(), "users")
	if len(users) != len(g.MemberIDs)+2 {
		t.Fatalf("group users %d", len(users))
	}
	if inv := list(s.get("/groups/"+g.ID+"/invites").data(), "emails"); !slices.Contains(inv, any(invite)) {
		t.Fatalf("invitee not listed: %v", inv)
	}
	mustStatus(t, s.do(http.MethodPost, "/groups/"+g.ID+"/users", jm{"emails": []string{c.Email}}), http.StatusOK)
	if got := memberCount(t, s, g.ID); got != base+4 {
		t.Fatalf("memberCount %d", got)
	}

	// Remove with each documented array encoding.
	enc := func(e string) string { return url.QueryEscape(e) }
	for name, q := range map[string]string{
		"deepObject": "emails.0=" + enc(a.Email) + "&pagination%5Bcount%5D=200", // extra param is harmless
		"qs":         "emails%5B0%5D=" + enc(b.Email) + "&emails%5B1%5D=" + enc(invite),
		"repeated":   "emails=" + enc(c.Email),
	} {
		r := s.do(http.MethodDelete, "/group/"+g.ID+"/users?"+q, nil)
		mustStatus(t, r, http.StatusOK)
		if r.data()["status"] != "SUCCESS" {
			t.Fatalf("%s: %s", name, r.raw)
		}
	}
	if got := memberCount(t, s, g.ID); got != base {
		t.Fatalf("memberCount after removals %d, want %d", got, base)
	}
	after := s.srv.Snapshot().GroupByID(g.ID)
	if !slices.Equal(after.MemberIDs, g.MemberIDs) || !slices.Equal(after.InviteEmails, g.InviteEmails) {
		t.Fatalf("members %v / %v", after.MemberIDs, after.InviteEmails)
	}
	// Removing a valid email that is not a member is a no-op.
	mustStatus(t, s.do(http.MethodDelete, "/group/"+g.ID+"/users?emails.0="+enc(a.Email), nil), http.StatusOK)
}

func TestMembershipErrors(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()
	g := ws.Groups[0]
	member := ws.UserByID(g.MemberIDs[0])
	e := url.QueryEscape(member.Email)

	// The reference connector's request: plural path, JSON-string emails.
	mustNotFound(t, s.do(http.MethodDelete, "/groups/"+g.ID+"/users?emails="+url.QueryEscape(`["`+member.Email+`"]`)+"&pagination[count]=200", nil))
	mustNotFound(t, s.do(http.MethodPut, "/groups/"+g.ID+"/users", jm{"emails": []string{member.Email}}))
	// Right path, JSON-encoded array → 422.
	mustValidation(t, s.do(http.MethodDelete, "/group/"+g.ID+"/users?emails="+url.QueryEscape(`["`+member.Email+`"]`), nil), "emails")
	mustValidation(t, s.do(http.MethodDelete, "/group/"+g.ID+"/users?emails.0="+url.QueryEscape(`"`+member.Email+`"`), nil), "emails")
	mustValidation(t, s.do(http.MethodDelete, "/group/"+g.ID+"/users", nil), "emails")
	mustValidation(t, s.do(http.MethodDelete, "/group/"+g.ID+"/users?emails.x="+e, nil), "emails.x")
	// Unknown emails → 422 naming them; nothing changes.
	r := s.do(http.MethodDelete, "/group/"+g.ID+"/users?emails.0="+e+"&emails.1=ghost%40example.test", nil)
	mustValidation(t, r, "emails")
	if d := obj(r.firstError()["data"]); len(list(d, "emails")) != 1 {
		t.Fatalf("unknown emails not reported: %s", r.raw)
	}
	mustValidation(t, s.do(http.MethodPost, "/groups/"+g.ID+"/users", jm{"emails": []string{"ghost@example.test"}}), "emails")
	mustValidation(t, s.do(http.MethodPost, "/groups/"+g.ID+"/users", jm{"emails": []string{}}), "emails")
	mustValidation(t, s.do(http.MethodPost, "/groups/"+g.ID+"/users", jm{}), "emails")
	mustValidation(t, s.do(http.MethodPut, "/group/"+g.ID+"/users", jm{}), "emails")
	if got := s.srv.Snapshot().GroupByID(g.ID); !slices.Equal(got.MemberIDs, g.MemberIDs) {
		t.Fatal("rejected writes changed membership")
	}
}

func TestMembershipReplace(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()
	g := ws.Groups[2]
	u := outsider(ws, g, 0)
	r := s.do(http.MethodPut, "/group/"+g.ID+"/users", jm{"emails": []string{u.Email, ws.Invites[0]}})
	mustStatus(t, r, http.StatusOK)
	if obj(r.data()["userGroup"])["memberCount"] != float64(2) {
		t.Fatalf("replace %s", r.raw)
	}
	got := s.srv.Snapshot().GroupByID(g.ID)
	if !slices.Equal(got.MemberIDs, []string{u.ID}) || !slices.Equal(got.InviteEmails, []string{ws.Invites[0]}) {
		t.Fatalf("members %v %v", got.MemberIDs, got.InviteEmails)
	}
	ug := list(s.get("/users/"+u.ID+"/groups").data(), "groups")
	if !slices.ContainsFunc(ug, func(x any) bool { return obj(x)["id"] == g.ID }) {
		t.Fatal("GET /users/{id}/groups does not reflect the change")
	}
	mustStatus(t, s.do(http.MethodPut, "/group/"+g.ID+"/users", jm{"emails": []string{}}), http.StatusOK)
	if memberCount(t, s, g.ID) != 0 {
		t.Fatal("empty replace must clear the group")
	}
}

func TestInvitesAndUserDeletion(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()
	role := ws.RoleByName(RoleMinimalWorkspaceAccess).ID
	r := s.do(http.MethodPost, "/invites", jm{"invites": []any{jm{"email": "new.person@example.test",
		"permissions": []any{jm{"roleId": role, "resources": []any{jm{"id": ws.ID, "type": "WORKSPACE"}}}}}}})
	mustStatus(t, r, http.StatusCreated)
	if e := list(r.data(), "emails"); len(e) != 1 || e[0] != "new.person@example.test" {
		t.Fatalf("create invites %s", r.raw)
	}
	if ps := s.srv.Snapshot().InvitePermissions["new.person@example.test"]; len(ps) != 1 || ps[0].RoleID != role || ps[0].Resources[0].ID != ws.ID {
		t.Fatalf("invite permissions not stored: %+v", ps)
	}
	// Re-inviting a pending invite is a no-op that keeps its permissions.
	mustStatus(t, s.do(http.MethodPost, "/invites", jm{"invites": []any{jm{"email": "new.person@example.test"}}}), http.StatusCreated)
	if snap := s.srv.Snapshot(); len(snap.Invites) != len(ws.Invites)+1 || len(snap.InvitePermissions["new.person@example.test"]) != 1 {
		t.Fatalf("re-invite changed the invite: %v %+v", snap.Invites, snap.InvitePermissions)
	}
	mustValidation(t, s.do(http.MethodPost, "/invites", jm{"invites": []any{jm{"email": "twice@example.test"}, jm{"email": "Twice@example.test"}}}), "invites.1.email")
	mustValidation(t, s.do(http.MethodPost, "/invites", jm{"invites": []any{jm{"email": ws.Users[0].Email}}}), "invites.0.email")
	mustValidation(t, s.do(http.MethodPost, "/invites", jm{"invites": []any{jm{"email": "x@y.test",
		"permissions": []any{jm{"roleId": "bad", "resources": []any{jm{"id": ws.ID, "type": "WORKSPACE"}}}}}}}), "invites.0.permissions.0.roleId")
	mustValidation(t, s.do(http.MethodPost, "/invites", jm{}), "invites")
	// The new invitee can join a group.
	g := ws.Groups[0]
	mustStatus(t, s.do(http.MethodPost, "/groups/"+g.ID+"/users", jm{"emails": []string{"New.Person@example.test"}}), 200)
	if memberCount(t, s, g.ID) != len(g.MemberIDs)+len(g.InviteEmails)+1 {
		t.Fatal("invitee not counted")
	}
	// Cancelling the invite removes it from the group too.
	mustStatus(t, s.do(http.MethodDelete, "/invites?emails.0=new.person%40example.test", nil), 200)
	if memberCount(t, s, g.ID) != len(g.MemberIDs)+len(g.InviteEmails) {
		t.Fatal("cancelled invite still counted")
	}
	if _, ok := s.srv.Snapshot().InvitePermissions["new.person@example.test"]; ok {
		t.Fatal("cancelled invite kept its permissions")
	}
	mustValidation(t, s.do(http.MethodDelete, "/invites?emails.0=new.person%40example.test", nil), "emails")
	mustValidation(t, s.do(http.MethodDelete, "/invites?emails="+url.QueryEscape(`["`+ws.Invites[0]+`"]`), nil), "emails")
	if inv := list(s.get("/invites").data(), "invites"); len(inv) != len(ws.Invites) {
		t.Fatalf("invites %v", inv)
	}

	// DELETE /users removes users from the workspace and their groups.
	victim := ws.UserByID(g.MemberIDs[0])
	mustValidation(t, s.do(http.MethodDelete, "/users?userIds.0="+victim.ID+"&userIds.1=nope", nil), "userIds")
	mustValidation(t, s.do(http.MethodDelete, "/users", nil), "userIds")
	r = s.do(http.MethodDelete, "/users?userIds%5B0%5D="+victim.ID, nil)
	mustStatus(t, r, http.StatusOK)
	if r.data()["status"] != "SUCCESS" {
		t.Fatal(string(r.raw))
	}
	mustNotFound(t, s.get("/users/"+victim.ID))
	snap := s.srv.Snapshot()
	if len(snap.Users) != len(ws.Users)-1 || slices.Contains(snap.GroupByID(g.ID).MemberIDs, victim.ID) {
		t.Fatal("user not fully removed")
	}
	mustValidation(t, s.do(http.MethodPost, "/groups/"+g.ID+"/users", jm{"emails": []string{victim.Email}}), "emails")
}

func TestQueryArray(t *testing.T) {
	for raw, want := range map[string][]string{
		"x.1=b&x.0=a":             {"a", "b"},
		"x%5B10%5D=c&x%5B2%5D=b":  {"b", "c"},
		"x=a&x=b":                 {"a", "b"},
		"x%5B%5D=a&x%5B%5D=b":     {"a", "b"},
		"y.0=a":                   {},
		"x.0=a&x=b&x%5B1%5D=c&z=": {"a", "c", "b"},
	} {
		q, _ := url.ParseQuery(raw)
		got, err := queryArray(q, "x")
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v %v", raw, got, err)
		}
	}
}
