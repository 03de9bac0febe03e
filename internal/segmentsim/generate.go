package segmentsim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Config says what workspace Generate builds. Generate is deterministic:
// the same Config always yields byte-identical data.
type Config struct {
	// Seed drives every random choice (ids, names, memberships, grants).
	Seed int64
	// Users is the number of accepted workspace users.
	Users      int
	Groups     int
	Sources    int
	Warehouses int
	Spaces     int
	// FunctionsPerType is the number of functions of EACH of the five
	// function resource types.
	FunctionsPerType int
	// SpacesEnabled false makes GET /spaces answer 403 FeatureNotEnabled
	// (and no spaces are generated).
	SpacesEnabled bool
	// FunctionsEnabled false makes GET /functions answer 403
	// FeatureNotEnabled (and no functions are generated).
	FunctionsEnabled bool
	// Token is the bearer token the server accepts; "" means DefaultToken.
	Token string
}

// DefaultToken is the bearer token accepted when Config.Token is empty.
const DefaultToken = "sim-token"

// DefaultConfig returns a workspace of the given size with realistic
// proportions: groups ≈ users/20 (min 3), sources ≈ users/50 (min 3),
// 2 warehouses, 2 spaces, 2 functions per type, features on, seed 1.
func DefaultConfig(users int) Config {
	return Config{
		Seed:             1,
		Users:            users,
		Groups:           max(3, users/20),
		Sources:          max(3, users/50),
		Warehouses:       2,
		Spaces:           2,
		FunctionsPerType: 2,
		SpacesEnabled:    true,
		FunctionsEnabled: true,
	}
}

// roleIDSeed fixes role ids independently of Config.Seed: Segment's role
// catalogue is global, so the same role keeps its id across workspaces.
const roleIDSeed = 0x5e9_0001

// generator carries the PRNG and lookup state of one Generate call.
type generator struct {
	cfg   Config
	r     *rand.Rand
	ids   *idGen
	ws    *Workspace
	roles map[string]string // name → id
}

// Generate builds a workspace from cfg. Negative counts are treated as 0.
func Generate(cfg Config) *Workspace {
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15))
	g := &generator{cfg: cfg, r: r, ids: newIDGen(r), roles: map[string]string{}}
	token := cfg.Token
	if token == "" {
		token = DefaultToken
	}
	company := companies[r.IntN(len(companies))]
	g.ws = &Workspace{
		ID:               g.ids.base62ID(),
		Slug:             strings.ToLower(company) + "-prod",
		Name:             company + " Production",
		Token:            token,
		SpacesEnabled:    cfg.SpacesEnabled,
		FunctionsEnabled: cfg.FunctionsEnabled,
		Users:            []*User{},
		Groups:           []*Group{},
		Sources:          []*Source{},
		Warehouses:       []*Warehouse{},
		Spaces:           []*Space{},
		Functions:        []*Function{},
		Invites:          []string{},
	}
	g.genRoles()
	g.genSources(max(0, cfg.Sources))
	g.genWarehouses(max(0, cfg.Warehouses))
	if cfg.SpacesEnabled {
		g.genSpaces(max(0, cfg.Spaces))
	}
	if cfg.FunctionsEnabled {
		g.genFunctions(max(0, cfg.FunctionsPerType))
	}
	g.genUsers(max(0, cfg.Users))
	g.genInvites(2 + max(0, cfg.Users)/100)
	g.genGroups(max(0, cfg.Groups))
	for i, u := range g.ws.Users {
		u.Permissions = g.userPermissions(i)
	}
	for i, gr := range g.ws.Groups {
		gr.Permissions = g.groupPermissions(i)
	}
	return g.ws
}

func (g *generator) genRoles() {
	ids := newIDGen(rand.New(rand.NewPCG(roleIDSeed, roleIDSeed)))
	for _, rc := range roleCatalogue {
		role := &Role{ID: ids.ksuid(), Name: rc.Name, Description: rc.Description}
		g.ws.Roles = append(g.ws.Roles, role)
		g.roles[rc.Name] = role.ID
	}
	// Keep the workspace-level id generator from ever handing out a role id.
	for id := range ids.seen {
		g.ids.seen[id] = true
	}
}

func (g *generator) genSources(n int) {
	slugs := newNamer()
	for i := range n {
		base := sourceBases[g.r.IntN(len(sourceBases))]
		env := envs[g.r.IntN(len(envs))]
		if i == 0 {
			env = "prod" // label-scoped env=prod grants must match something
		}
		s := &Source{
			ID:          g.ids.base62ID(),
			Name:        fmt.Sprintf("%s (%s)", base.Name, env),
			Slug:        slugs.unique(slugify(base.Name)+"-"+env, "-"),
			Enabled:     g.r.Float64() < 0.9,
			CatalogName: base.Catalog,
		}
		// Segment allows an empty source name (clients fall back to the
		// slug); make sure one exists whenever there are a few sources.
		if i == 2 || (i > 2 && g.r.Float64() < 0.05) {
			s.Name = ""
		}
		env0 := Label{Key: "env", Value: env}
		if env == "prod" {
			env0.Description = "Production traffic"
		}
		s.Labels = []Label{env0}
		if i == 0 || g.r.Float64() < 0.75 {
			team := teams[g.r.IntN(len(teams))]
			if i == 0 {
				team = "data"
			}
			s.Labels = append(s.Labels, Label{Key: "team", Value: team})
		}
		g.ws.Sources = append(g.ws.Sources, s)
	}
}

func (g *generator) genWarehouses(n int) {
	names := newNamer()
	for range n {
		typ := warehouseCatalog[g.r.IntN(len(warehouseCatalog))].Name
		purpose := warehousePurposes[g.r.IntN(len(warehousePurposes))]
		g.ws.Warehouses = append(g.ws.Warehouses, &Warehouse{
			ID:      g.ids.base62ID(),
			Name:    names.unique(purpose+" "+typ, " "),
			Type:    typ,
			Enabled: g.r.Float64() < 0.9,
		})
	}
}

func (g *generator) genSpaces(n int) {
	names := newNamer()
	for i := range n {
		name := names.unique(spaceNames[i%len(spaceNames)], " ")
		g.ws.Spaces = append(g.ws.Spaces, &Space{ID: g.ids.prefixed("spa_"), Slug: slugify(name), Name: name})
	}
}

func (g *generator) genFunctions(perType int) {
	for _, ft := range functionTypes {
		names := newNamer()
		list := functionNames[ft.Type]
		for i := range perType {
			name := names.unique(list[i%len(list)], " ")
			g.ws.Functions = append(g.ws.Functions, &Function{
				ID:           g.ids.prefixed(ft.Prefix),
				ResourceType: ft.Type,
				DisplayName:  name,
				Description:  strings.ToLower(strings.ReplaceAll(ft.Type, "_", " ")) + " function: " + name,
			})
		}
	}
}

func (g *generator) genUsers(n int) {
	emails := newNamer()
	for i := range n {
		u := &User{ID: g.ids.base62ID()}
		// ~5% service accounts with an empty display name, which Segment
		// allows; index 5 guarantees one in any non-trivial workspace.
		if i == 5 || (i > 0 && g.r.Float64() < 0.05) {
			svc := serviceAccounts[g.r.IntN(len(serviceAccounts))]
			u.Email = emails.unique(svc, "-") + "@example.test"
		} else {
			first := firstNames[g.r.IntN(len(firstNames))]
			last := lastNames[g.r.IntN(len(lastNames))]
			u.Name = first + " " + last
			u.Email = emails.unique(strings.ToLower(first+"."+last), "") + "@example.test"
		}
		g.ws.Users = append(g.ws.Users, u)
	}
}

func (g *generator) genInvites(n int) {
	for i := range n {
		first := firstNames[g.r.IntN(len(firstNames))]
		g.ws.Invites = append(g.ws.Invites, fmt.Sprintf("newhire%d.%s@example.test", i+1, strings.ToLower(first)))
	}
}

func (g *generator) genGroups(n int) {
	if n == 0 {
		return
	}
	for i := range n {
		name := groupNames[i%len(groupNames)]
		if i >= len(groupNames) {
			name = fmt.Sprintf("%s %d", name, i/len(groupNames)+1)
		}
		g.ws.Groups = append(g.ws.Groups, &Group{ID: g.ids.base62ID(), Name: name, MemberIDs: []string{}, InviteEmails: []string{}})
	}
	// Each user joins 0–3 groups; user 1 is pinned to three and user 2 to
	// none so both extremes always exist.
	for i, u := range g.ws.Users {
		var k int
		switch x := g.r.Float64(); {
		case i == 1:
			k = 3
		case i == 2:
			k = 0
		case x < 0.2:
			k = 0
		case x < 0.65:
			k = 1
		case x < 0.9:
			k = 2
		default:
			k = 3
		}
		for _, gi := range g.distinct(min(k, n), n) {
			g.ws.Groups[gi].MemberIDs = append(g.ws.Groups[gi].MemberIDs, u.ID)
		}
	}
	invites := g.ws.Invites
	for i, gr := range g.ws.Groups {
		switch {
		case i == 0 && len(invites) > 0:
			gr.InviteEmails = append(gr.InviteEmails, invites[0])
		case len(invites) > 0 && g.r.Float64() < 0.25:
			for _, ii := range g.distinct(1+g.r.IntN(2), len(invites)) {
				gr.InviteEmails = append(gr.InviteEmails, invites[ii])
			}
		}
	}
}

// distinct returns k distinct indices in [0,n) in ascending order, by
// rejection sampling (k is tiny, n may be large).
func (g *generator) distinct(k, n int) []int {
	k = min(k, n)
	seen := map[int]bool{}
	for len(seen) < k {
		seen[g.r.IntN(n)] = true
	}
	out := make([]int, 0, k)
	for i := range seen {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// namer hands out unique names: base, then base+sep+2, base+sep+3, …
// It remembers the next suffix per base so that large workspaces with few
// distinct bases stay linear.
type namer struct {
	used map[string]bool
	next map[string]int
}

func newNamer() *namer { return &namer{used: map[string]bool{}, next: map[string]int{}} }

func (nm *namer) unique(base, sep string) string {
	name := base
	for n := max(2, nm.next[base]); nm.used[name]; n++ {
		name = fmt.Sprintf("%s%s%d", base, sep, n)
		nm.next[base] = n + 1
	}
	nm.used[name] = true
	return name
}
