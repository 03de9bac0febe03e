package demoapi

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ServeHTTP counts the request, then routes it by host: the token
// endpoint on the auth host, the API on the API host.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	s.mu.Unlock()
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	switch {
	case host == s.opts.AuthHost && r.URL.Path == "/oauth/token":
		s.token(w, r)
	case host == s.opts.APIHost:
		s.mux.ServeHTTP(w, r)
	case host == s.opts.AuthHost:
		writeError(w, http.StatusNotFound, "not_found", "the auth host serves only POST /oauth/token")
	default:
		writeError(w, http.StatusMisdirectedRequest, "misdirected_request",
			fmt.Sprintf("this server answers for %s (the API) and %s (tokens), not %s", s.opts.APIHost, s.opts.AuthHost, host))
	}
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.Handle("GET /v1/org", s.bearer(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.org) }))
	m.Handle("GET /v1/users", s.bearer(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writePage(w, r, s.users)
	}))
	m.Handle("GET /v1/users/{id}", s.bearer(s.getUser))
	m.Handle("POST /v1/users", s.bearer(s.createUser))
	m.Handle("DELETE /v1/users/{id}", s.bearer(s.deleteUser))
	m.Handle("GET /v1/groups", s.bearer(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writePage(w, r, s.groups)
	}))
	m.Handle("GET /v1/groups/{id}", s.bearer(s.getGroup))
	m.Handle("GET /v1/groups/{id}/members", s.bearer(s.listMembers))
	m.Handle("PUT /v1/groups/{id}/members/{user}", s.bearer(s.addMember))
	m.Handle("DELETE /v1/groups/{id}/members/{user}", s.bearer(s.removeMember))
	m.Handle("GET /v1/roles", s.bearer(s.apiKey(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writePage(w, r, s.roles)
	})))
	m.Handle("GET /v1/roles/{id}/assignments", s.bearer(s.apiKey(s.listAssignments)))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// token is the OAuth2 client-credentials grant (RFC 6749 section 4.4).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form: "+err.Error())
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q: only client_credentials is supported", gt))
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 section 2.3.1: both are form-encoded before Basic.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if !equal(id, s.opts.ClientID) || !equal(secret, s.opts.ClientSecret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="demo"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "unknown client_id or wrong client_secret")
		return
	}
	tok, ttl := s.newToken()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": ttl})
}

func (s *Server) bearer(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !s.tokenValid(tok) {
			msg := "a bearer token from POST https://" + s.opts.AuthHost + "/oauth/token is required"
			if ok {
				msg = "the bearer token is unknown or expired: get a new one from POST https://" + s.opts.AuthHost + "/oauth/token"
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="demo", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", msg)
			return
		}
		next(w, r)
	})
}

func (s *Server) apiKey(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !equal(r.Header.Get("X-Api-Key"), s.opts.APIKey) {
			writeError(w, http.StatusUnauthorized, "invalid_api_key", "the roles endpoints require a valid X-Api-Key header")
			return
		}
		next(w, r)
	}
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hasGroup(r.PathValue("id")) {
		writeError(w, http.StatusNotFound, "group_not_found", "no group "+r.PathValue("id"))
		return
	}
	writePage(w, r, s.members[r.PathValue("id")])
}

func (s *Server) listAssignments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.roles, func(x Role) bool { return x.ID == r.PathValue("id") }) {
		writeError(w, http.StatusNotFound, "role_not_found", "no role "+r.PathValue("id"))
		return
	}
	writePage(w, r, s.assignments[r.PathValue("id")])
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.users, func(u User) bool { return u.ID == r.PathValue("id") })
	if i < 0 {
		writeError(w, http.StatusNotFound, "user_not_found", "no user "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, s.users[i])
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.groups, func(g Group) bool { return g.ID == r.PathValue("id") })
	if i < 0 {
		writeError(w, http.StatusNotFound, "group_not_found", "no group "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, s.groups[i])
}

// createUser is idempotent: a user whose email or login is taken is the
// one answered, and nothing changes.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email       string `json:"email"`
		Login       string `json:"login"`
		DisplayName string `json:"display_name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_user", "the body is not a JSON user: "+err.Error())
		return
	}
	local, domain, ok := strings.Cut(in.Email, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(in.Email, " \t\n") {
		writeError(w, http.StatusBadRequest, "invalid_user", fmt.Sprintf("email %q is not an email address", in.Email))
		return
	}
	if in.Login == "" {
		in.Login = local
	}
	if in.DisplayName == "" {
		in.DisplayName = in.Login
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.IndexFunc(s.users, func(u User) bool { return strings.EqualFold(u.Email, in.Email) || u.Login == in.Login }); i >= 0 {
		writeJSON(w, http.StatusOK, map[string]any{"created": false, "user": s.users[i]})
		return
	}
	u := User{ID: fmt.Sprintf("u%04d", s.nextUser), Login: in.Login, Email: in.Email, DisplayName: in.DisplayName, Status: "active"}
	s.nextUser++
	s.users = append(s.users, u)
	writeJSON(w, http.StatusCreated, map[string]any{"created": true, "user": u})
}

// deleteUser removes the user with its memberships and role assignments.
// A user who is not there is 404: the caller learns it was already gone.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	i := slices.IndexFunc(s.users, func(u User) bool { return u.ID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, "user_not_found", "no user "+id)
		return
	}
	s.users = slices.Delete(s.users, i, i+1)
	for gid, ms := range s.members {
		s.members[gid] = slices.DeleteFunc(ms, func(m Member) bool { return m.UserID == id })
	}
	for rid, as := range s.assignments {
		s.assignments[rid] = slices.DeleteFunc(as, func(a Assignment) bool { return a.PrincipalType == "user" && a.PrincipalID == id })
	}
	writeJSON(w, http.StatusOK, map[string]any{"changed": true})
}

// addMember is idempotent: adding a member again changes nothing.
func (s *Server) addMember(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, uid := r.PathValue("id"), r.PathValue("user")
	if !s.membershipFound(w, gid, uid) {
		return
	}
	ms := s.members[gid]
	i, found := slices.BinarySearchFunc(ms, uid, func(m Member, id string) int { return strings.Compare(m.UserID, id) })
	if found {
		writeJSON(w, http.StatusOK, map[string]any{"changed": false, "member": ms[i]})
		return
	}
	m := Member{UserID: uid, Since: time.Now().UTC().Format(time.DateOnly)}
	s.members[gid] = slices.Insert(ms, i, m)
	writeJSON(w, http.StatusOK, map[string]any{"changed": true, "member": m})
}

// removeMember is idempotent: removing a non-member changes nothing.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, uid := r.PathValue("id"), r.PathValue("user")
	if !s.membershipFound(w, gid, uid) {
		return
	}
	ms := s.members[gid]
	i, found := slices.BinarySearchFunc(ms, uid, func(m Member, id string) int { return strings.Compare(m.UserID, id) })
	if found {
		s.members[gid] = slices.Delete(ms, i, i+1)
	}
	writeJSON(w, http.StatusOK, map[string]any{"changed": found})
}

// membershipFound answers 404 unless both the group and the user exist.
func (s *Server) membershipFound(w http.ResponseWriter, gid, uid string) bool {
	switch {
	case !s.hasGroup(gid):
		writeError(w, http.StatusNotFound, "group_not_found", "no group "+gid)
	case !slices.ContainsFunc(s.users, func(u User) bool { return u.ID == uid }):
		writeError(w, http.StatusNotFound, "user_not_found", "no user "+uid)
	default:
		return true
	}
	return false
}

func (s *Server) hasGroup(id string) bool {
	return slices.ContainsFunc(s.groups, func(g Group) bool { return g.ID == id })
}

// Page is one page of a list: the next page's page_token, empty on the
// last page.
type Page[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token"`
}

// writePage answers one page of items: page_token is the offset of its
// first item.
func writePage[T any](w http.ResponseWriter, r *http.Request, items []T) {
	q := r.URL.Query()
	limit := DefaultLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLimit {
			writeError(w, http.StatusBadRequest, "invalid_limit", fmt.Sprintf("limit %q: want 1..%d", l, MaxLimit))
			return
		}
		limit = n
	}
	start := 0
	if t := q.Get("page_token"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(items) {
			writeError(w, http.StatusBadRequest, "invalid_page_token", fmt.Sprintf("page_token %q is not one this list returned", t))
			return
		}
		start = n
	}
	end := min(start+limit, len(items))
	p := Page[T]{Items: slices.Clone(items[start:end])}
	if p.Items == nil {
		p.Items = []T{}
	}
	if end < len(items) {
		p.NextPageToken = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}
