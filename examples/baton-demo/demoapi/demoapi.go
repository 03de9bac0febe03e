// Package demoapi is the small API the demo connector syncs: an in-memory
// organisation with users, groups and their members, and roles assigned to
// users and groups, served as an http.Handler.
//
// It authenticates as many real APIs do, with two credentials: an OAuth2
// client-credentials token from POST /oauth/token on the auth host (the
// client's id and secret in HTTP Basic or in the form, as
// golang.org/x/oauth2 may send either), sent as a bearer token to the API
// host, and an API key (X-Api-Key) that the roles endpoints also require.
// It tells the two hosts apart by the Host header, so one listener serves
// both, as a sandboxed connector reaches them through the host's
// connect-to overrides.
//
//	GET    /v1/org
//	GET    /v1/users?page_token=&limit=
//	GET    /v1/users/{id}
//	POST   /v1/users                            {"email", "login", "display_name"} → {"created": true|false, "user": …}
//	DELETE /v1/users/{id}                       {"changed": true}, or 404 user_not_found
//	GET    /v1/groups?page_token=&limit=
//	GET    /v1/groups/{id}
//	GET    /v1/groups/{id}/members?page_token=&limit=
//	PUT    /v1/groups/{id}/members/{userId}     {"changed": true|false, "member": …}
//	DELETE /v1/groups/{id}/members/{userId}     {"changed": true|false}
//	GET    /v1/roles?page_token=&limit=                     (X-Api-Key)
//	GET    /v1/roles/{id}/assignments?page_token=&limit=    (X-Api-Key)
//
// Creating a user whose email or login is taken changes nothing and
// answers the user who has it, created false; deleting a user also ends
// its memberships and role assignments.
//
// The data is made from Options alone (same Options, same data), so two
// servers reached under different addresses serve the same organisation.
// Errors are JSON, {"error": code, "message": text}; the token endpoint's
// are RFC 6749's {"error", "error_description"}.
package demoapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultAPIHost      = "api.demo.test"
	DefaultAuthHost     = "auth.demo.test"
	DefaultClientID     = "demo-client"
	DefaultClientSecret = "demo-secret"
	DefaultAPIKey       = "demo-api-key"
	DefaultTokenTTL     = 10 * time.Minute
	DefaultUsers        = 120
	DefaultGroups       = 4
	DefaultRoles        = 3
	// MaxLimit is the largest page; DefaultLimit is a page without limit=.
	MaxLimit     = 100
	DefaultLimit = 50
)

// Options make the organisation and the credentials; zero fields take the
// defaults.
type Options struct {
	// Seed picks names, statuses, memberships and role assignments.
	Seed                 uint64
	Users, Groups, Roles int
	// APIHost answers /v1, AuthHost /oauth/token; they may be the same.
	// A request for any other host is refused (421).
	APIHost, AuthHost              string
	ClientID, ClientSecret, APIKey string
	// TokenTTL is how long an access token is accepted.
	TokenTTL time.Duration
}

func (o Options) withDefaults() Options {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&o.APIHost, DefaultAPIHost)
	def(&o.AuthHost, DefaultAuthHost)
	def(&o.ClientID, DefaultClientID)
	def(&o.ClientSecret, DefaultClientSecret)
	def(&o.APIKey, DefaultAPIKey)
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.Users <= 0 {
		o.Users = DefaultUsers
	}
	if o.Groups <= 0 {
		o.Groups = DefaultGroups
	}
	if o.Roles <= 0 {
		o.Roles = DefaultRoles
	}
	return o
}

// Org is the organisation the API serves.
type Org struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	HelpURL string `json:"help_url"`
}

// User is an account of the organisation.
type User struct {
	ID          string `json:"id"`
	Login       string `json:"login"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
	Status      string `json:"status"` // "active" or "suspended"
	Department  string `json:"department"`
}

// Group is a set of users.
type Group struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Member is a user's membership of a group.
type Member struct {
	UserID string `json:"user_id"`
	Since  string `json:"since"` // a date, 2006-01-02
}

// Role is a set of permissions assigned to users and groups.
type Role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Assignment gives a role to a user or to a group (and so to its members).
type Assignment struct {
	PrincipalType string `json:"principal_type"` // "user" or "group"
	PrincipalID   string `json:"principal_id"`
}

// Server is the API. It is safe for concurrent use.
type Server struct {
	opts Options
	org  Org
	mux  *http.ServeMux

	mu          sync.Mutex
	users       []User
	groups      []Group
	members     map[string][]Member // by group ID, in user ID order
	roles       []Role
	assignments map[string][]Assignment // by role ID
	tokens      map[string]time.Time    // access token → expiry
	requests    map[string]int          // by path
	nextUser    int                     // the number in the next created user's ID
}

// New returns a server of the organisation opts make.
func New(opts Options) *Server {
	s := &Server{opts: opts.withDefaults(), tokens: map[string]time.Time{}, requests: map[string]int{}}
	s.generate()
	s.routes()
	return s
}

var (
	firstNames  = []string{"ada", "alan", "barbara", "claude", "donald", "edsger", "frances", "grace", "john", "katherine", "ken", "margaret", "niklaus", "radia", "tim", "whitfield"}
	lastNames   = []string{"allen", "backus", "diffie", "dijkstra", "hamilton", "hopper", "johnson", "knuth", "liskov", "lovelace", "perlman", "ritchie", "shannon", "thompson", "turing", "wirth"}
	departments = []string{"engineering", "finance", "sales", "support"}
	groupNames  = []string{"Engineering", "Sales", "Support", "Finance", "Security", "Marketing", "Legal", "Design"}
	roleNames   = []string{"admin", "billing", "viewer", "auditor", "developer", "owner"}
)

// generate makes the organisation: every choice comes from the seed.
func (s *Server) generate() {
	o := s.opts
	rng := mrand.New(mrand.NewPCG(o.Seed, 0x64656d6f))
	s.org = Org{ID: "acme", Name: "Acme", HelpURL: "https://help.demo.test/acme"}
	for i := range o.Users {
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		login := fmt.Sprintf("%s.%s%d", first, last, i)
		status := "active"
		if rng.IntN(8) == 0 {
			status = "suspended"
		}
		s.users = append(s.users, User{ID: fmt.Sprintf("u%04d", i), Login: login, Email: login + "@acme.demo.test",
			DisplayName: title(first) + " " + title(last), Status: status, Department: departments[rng.IntN(len(departments))]})
	}
	s.nextUser = o.Users
	s.members = map[string][]Member{}
	for i := range o.Groups {
		g := Group{ID: fmt.Sprintf("g%02d", i), Name: groupNames[i%len(groupNames)], Description: "The " + groupNames[i%len(groupNames)] + " team"}
		if i >= len(groupNames) {
			g.Name = fmt.Sprintf("%s %d", g.Name, i/len(groupNames)+1)
		}
		s.groups = append(s.groups, g)
		for _, u := range s.users {
			if rng.IntN(3) == 0 {
				since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365))
				s.members[g.ID] = append(s.members[g.ID], Member{UserID: u.ID, Since: since.Format(time.DateOnly)})
			}
		}
	}
	s.assignments = map[string][]Assignment{}
	for i := range o.Roles {
		r := Role{ID: fmt.Sprintf("r%02d", i), Name: roleNames[i%len(roleNames)]}
		if i >= len(roleNames) {
			r.Name = fmt.Sprintf("%s-%d", r.Name, i/len(roleNames)+1)
		}
		r.Description = "The " + r.Name + " role"
		s.roles = append(s.roles, r)
		// Every role is held by at least one group, so a sync always has
		// grants to expand to the group's members.
		for j, g := range s.groups {
			if j == i%len(s.groups) || rng.IntN(4) == 0 {
				s.assignments[r.ID] = append(s.assignments[r.ID], Assignment{PrincipalType: "group", PrincipalID: g.ID})
			}
		}
		for _, u := range s.users {
			if rng.IntN(10) == 0 {
				s.assignments[r.ID] = append(s.assignments[r.ID], Assignment{PrincipalType: "user", PrincipalID: u.ID})
			}
		}
	}
}

func title(s string) string { return string(s[0]-'a'+'A') + s[1:] }

// newToken issues an access token valid for the server's TokenTTL.
func (s *Server) newToken() (string, int) {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.opts.TokenTTL)
	s.mu.Unlock()
	return tok, int(s.opts.TokenTTL / time.Second)
}

func (s *Server) tokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

// Org returns the organisation.
func (s *Server) Org() Org { return s.org }

// Users returns the users.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.users)
}

// Groups returns the groups.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.groups)
}

// Members returns a group's members, nil for an unknown group.
func (s *Server) Members(groupID string) []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.members[groupID])
}

// Roles returns the roles.
func (s *Server) Roles() []Role {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.roles)
}

// Assignments returns who holds a role, nil for an unknown role.
func (s *Server) Assignments(roleID string) []Assignment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.assignments[roleID])
}

// Requests returns how many requests the server has received for path
// (without the query), whatever their answer.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}
