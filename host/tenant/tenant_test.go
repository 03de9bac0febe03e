package tenant_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/egresshook"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

var (
	moduleOnce sync.Once
	module     *sandbox.Module
	moduleErr  error
)

// segmentModule compiles the real Segment guest once for the package.
func segmentModule(t *testing.T) *sandbox.Module {
	t.Helper()
	moduleOnce.Do(func() {
		wasm, err := wasmbuild.Read("guest/segment/wasm")
		if err != nil {
			moduleErr = err
			return
		}
		module, moduleErr = sandbox.Compile(context.Background(), sandbox.Config{Wasm: wasm, CacheDir: wasmbuild.CacheDir})
	})
	if moduleErr != nil {
		t.Fatal(moduleErr)
	}
	return module
}

type env struct {
	ws    *segmentsim.Workspace
	sim   *segmentsim.Server
	url   string
	audit *auditLog
}

type auditLog struct {
	mu      sync.Mutex
	records []egress.Record
}

func (a *auditLog) add(r egress.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.records = append(a.records, r)
}

func startSim(t *testing.T, cfg segmentsim.Config) *env {
	t.Helper()
	ws := segmentsim.Generate(cfg)
	sim := segmentsim.NewServer(ws, segmentsim.Options{})
	return &env{ws: ws.Clone(), sim: sim, url: serve(t, sim), audit: &auditLog{}}
}

// serve serves sim on loopback for the test and returns its URL.
func serve(t *testing.T, sim *segmentsim.Server) string {
	t.Helper()
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return ts.URL
}

// tenant is a tenant of e with the simulator's token and default
// settings, closed when the test ends.
func (e *env) tenant(t *testing.T, name string) *tenant.Tenant {
	t.Helper()
	tn, err := tenant.New(segmentModule(t), tenant.Config{Name: name,
		Egress: egress.Config{BaseURL: e.url, Token: secret.New(segmentsim.DefaultToken)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close(context.Background()) })
	return tn
}

// sync runs a sandboxed sync of e into path with the given token.
func (e *env) sync(t *testing.T, token, path string) error {
	t.Helper()
	return e.syncWith(t, token, path, nil)
}

// syncWith is sync with the tenant's configuration adjusted by mod.
func (e *env) syncWith(t *testing.T, token, path string, mod func(*tenant.Config)) error {
	t.Helper()
	cfg := tenant.Config{
		Name: "test",
		Egress: egress.Config{
			BaseURL: e.url, Token: secret.New(token), Audit: e.audit.add,
		},
	}
	// Keep host-side waits short and real: the simulator asks for waits of
	// a few milliseconds in these tests.
	egresshook.Set(&cfg.Egress, egresshook.Hooks{Sleep: func(ctx context.Context, d time.Duration) error {
		select {
		case <-time.After(min(d, 50*time.Millisecond)):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	if mod != nil {
		mod(&cfg)
	}
	tn, err := tenant.New(segmentModule(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close(context.Background())
	return tn.Sync(context.Background(), localsync.Options{Path: path, TmpDir: t.TempDir()})
}

func load(t *testing.T, path string) *inspect.Snapshot {
	t.Helper()
	snap, err := inspect.Load(context.Background(), path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func grantIDs(s *inspect.Snapshot) map[string]*v2.Grant {
	out := map[string]*v2.Grant{}
	for _, g := range s.Grants {
		out[g.GetId()] = g
	}
	return out
}

func TestSandboxedSyncMatchesTheWorkspace(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(300))
	path := filepath.Join(t.TempDir(), "sync.c1z")
	if err := e.sync(t, segmentsim.DefaultToken, path); err != nil {
		t.Fatal(err)
	}
	snap := load(t, path)

	want := map[string]int{
		"workspace": 1, "user": len(e.ws.Users), "invite": len(e.ws.Invites), "group": len(e.ws.Groups), "role": len(e.ws.Roles),
		"source": len(e.ws.Sources), "warehouse": len(e.ws.Warehouses), "space": len(e.ws.Spaces),
		"function": len(e.ws.Functions),
	}
	for _, c := range snap.Summary().Types {
		if c.Resources != want[c.ResourceType] {
			t.Errorf("%s: %d resources in the c1z, %d in the workspace", c.ResourceType, c.Resources, want[c.ResourceType])
		}
		delete(want, c.ResourceType)
	}
	for rt, n := range want {
		if n > 0 {
			t.Errorf("%s: no resources in the c1z, %d in the workspace", rt, n)
		}
	}

	names := map[string]string{}
	for _, r := range snap.Resources {
		names[r.GetId().GetResourceType()+":"+r.GetId().GetResource()] = r.GetDisplayName()
		if rt := r.GetId().GetResourceType(); rt != "workspace" && r.GetParentResourceId().GetResource() != e.ws.ID {
			t.Errorf("%s has parent %v, want the workspace", r.GetId(), r.GetParentResourceId())
		}
	}
	for _, u := range e.ws.Users {
		if u.Name == "" && names["user:"+u.ID] != u.Email {
			t.Errorf("user %s without a name is shown as %q, want its email", u.ID, names["user:"+u.ID])
		}
	}
	for _, w := range e.ws.Warehouses {
		if names["warehouse:"+w.ID] != w.Name {
			t.Errorf("warehouse %s is named %q, want settings.name %q", w.ID, names["warehouse:"+w.ID], w.Name)
		}
	}

	grants := grantIDs(snap)
	ents := map[string]bool{}
	for _, en := range snap.Entitlements {
		ents[en.GetId()] = true
	}
	for id, g := range grants {
		if !ents[g.GetEntitlement().GetId()] {
			t.Errorf("grant %s names entitlement %s, which the sync did not list", id, g.GetEntitlement().GetId())
		}
	}
	for _, u := range e.ws.Users {
		if grants["workspace:"+e.ws.ID+":member:user:"+u.ID] == nil {
			t.Errorf("user %s has no workspace membership grant", u.ID)
		}
	}
	checkedGroupRole := false
	for _, g := range e.ws.Groups {
		for _, m := range g.MemberIDs {
			if grants["group:"+g.ID+":member:user:"+m] == nil {
				t.Errorf("member %s of group %s has no membership grant", m, g.ID)
			}
		}
		for _, inv := range g.InviteEmails {
			if grants["group:"+g.ID+":member:invite:"+inv] == nil {
				t.Errorf("pending invite %s of group %s has no membership grant", inv, g.ID)
			}
		}
		for _, p := range g.Permissions {
			for _, r := range p.Resources {
				if r.Type != segmentsim.ResourceWorkspace || len(r.Labels) > 0 || len(p.Labels) > 0 {
					continue
				}
				gr := grants["role:"+p.RoleID+":member:group:"+g.ID]
				if gr == nil {
					t.Fatalf("group %s's role %s on the workspace was not synced", g.ID, p.RoleID)
				}
				var exp v2.GrantExpandable
				annos := annotations.Annotations(gr.GetAnnotations())
				if ok, _ := annos.Pick(&exp); !ok ||
					len(exp.GetEntitlementIds()) != 1 || exp.GetEntitlementIds()[0] != "group:"+g.ID+":member" {
					t.Errorf("group grant %s is not expandable through group:%s:member", gr.GetId(), g.ID)
				}
				// baton-sdk's expansion gives every member the role.
				for _, m := range g.MemberIDs {
					if grants["role:"+p.RoleID+":member:user:"+m] == nil {
						t.Errorf("member %s of group %s did not get the group's role %s by expansion", m, g.ID, p.RoleID)
					}
				}
				checkedGroupRole = true
			}
		}
	}
	if !checkedGroupRole {
		t.Fatal("the generated workspace has no group role on the workspace to check")
	}

	checked := map[string]bool{}
	for _, u := range e.ws.Users {
		for _, p := range u.Permissions {
			for _, r := range p.Resources {
				var ids []string
				switch {
				case r.Type == segmentsim.ResourceWorkspace && len(r.Labels) == 0 && len(p.Labels) == 0:
					ids = []string{"role:" + p.RoleID + ":member:user:" + u.ID}
				case r.Type == segmentsim.ResourceWorkspace:
					for _, s := range e.ws.Sources {
						if hasLabels(s.Labels, append(append([]segmentsim.Label(nil), r.Labels...), p.Labels...)) {
							ids = append(ids, "source:"+s.ID+":"+p.RoleID+":user:"+u.ID)
						}
					}
					checked["labels"] = checked["labels"] || len(ids) > 0
				default:
					ids = []string{strings.ToLower(r.Type) + ":" + r.ID + ":" + p.RoleID + ":user:" + u.ID}
					checked[r.Type] = true
				}
				for _, id := range ids {
					if grants[id] == nil {
						t.Errorf("user %s's permission %s on %s %s: grant %s missing", u.ID, p.RoleID, r.Type, r.ID, id)
					}
				}
			}
		}
	}
	for _, k := range []string{"labels", segmentsim.ResourceSource, segmentsim.ResourceSpace, segmentsim.ResourceFunction} {
		if !checked[k] {
			t.Errorf("the generated workspace exercised no %s permission", k)
		}
	}
}

func hasLabels(have, want []segmentsim.Label) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || (h.Key == w.Key && h.Value == w.Value)
		}
		if !found {
			return false
		}
	}
	return true
}

func TestEgressIsAuditedAndTokenInjected(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(50))
	if err := e.sync(t, segmentsim.DefaultToken, filepath.Join(t.TempDir(), "sync.c1z")); err != nil {
		t.Fatal(err)
	}
	reqs := e.sim.Requests()
	if len(reqs) == 0 || len(e.audit.records) != len(reqs) {
		t.Fatalf("%d audit records for %d requests", len(e.audit.records), len(reqs))
	}
	for _, r := range reqs {
		if r.Authorization != "Bearer "+segmentsim.DefaultToken {
			t.Fatalf("request %s %s carried Authorization %q", r.Method, r.Path, r.Authorization)
		}
	}
	for _, r := range e.audit.records {
		if strings.Contains(r.Path, "?") || r.Status != 200 {
			t.Errorf("audit record %+v", r)
		}
	}
}

func TestRequestBudget(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(400))
	if err := e.sync(t, segmentsim.DefaultToken, filepath.Join(t.TempDir(), "sync.c1z")); err != nil {
		t.Fatal(err)
	}
	perUser := 0
	for _, r := range e.sim.Requests() {
		if strings.HasPrefix(r.Path, "/users/") {
			perUser++
		}
		if strings.HasPrefix(r.Path, "/groups/") && !strings.HasSuffix(r.Path, "/users") && !strings.HasSuffix(r.Path, "/invites") {
			t.Errorf("per-group request %s %s: group permissions come from the list", r.Method, r.Path)
		}
	}
	if perUser != len(e.ws.Users) {
		t.Errorf("%d GET /users/{id} for %d users, want exactly one each", perUser, len(e.ws.Users))
	}
}

func TestBadTokenFailsAndKeepsThePreviousFile(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(20))
	path := filepath.Join(t.TempDir(), "sync.c1z")
	old := []byte("the previous good c1z")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	err := e.sync(t, "wrong-token", path)
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "token was rejected") {
		t.Fatalf("err = %v, want Unauthenticated naming the rejected token", err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, old) {
		t.Fatal("a failed sync modified the previous c1z")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*partial")); len(leftovers) != 0 {
		t.Errorf("failed sync left %v behind", leftovers)
	}
}

// TestUpstreamFaults: each fault is absorbed by the host's retries, the
// host-side 429 wait or baton-sdk's retry of Unavailable, and the sync
// still holds every user.
func TestUpstreamFaults(t *testing.T) {
	shortTimeout := func(c *tenant.Config) { c.Egress.RequestTimeout = 300 * time.Millisecond }
	for _, tc := range []struct {
		name   string
		inject func(*segmentsim.Server)
		mod    func(*tenant.Config)
	}{
		{"5xx burst", func(s *segmentsim.Server) { s.InjectStatus("GET", "/users", 503, 3) }, nil},
		{"429s", func(s *segmentsim.Server) { s.InjectRateLimit("GET", "/groups", 3, 20) }, nil},
		{"429 storm", func(s *segmentsim.Server) { s.InjectRateLimit("", "/", 40, 5) }, nil},
		{"malformed JSON", func(s *segmentsim.Server) { s.InjectMalformed("GET", "/roles", 1) }, nil},
		{"connection resets", func(s *segmentsim.Server) { s.InjectReset("GET", "/groups", 2) }, nil},
		{"slow past the timeout", func(s *segmentsim.Server) { s.InjectDelay("GET", "/sources", 2, 5*time.Second) }, shortTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startSim(t, segmentsim.DefaultConfig(60))
			tc.inject(e.sim)
			path := filepath.Join(t.TempDir(), "sync.c1z")
			if err := e.syncWith(t, segmentsim.DefaultToken, path, tc.mod); err != nil {
				t.Fatal(err)
			}
			for _, c := range load(t, path).Summary().Types {
				if c.ResourceType == "user" && c.Resources != len(e.ws.Users) {
					t.Errorf("%d users synced, want %d", c.Resources, len(e.ws.Users))
				}
				if c.ResourceType == "role" && c.Resources != len(e.ws.Roles) {
					t.Errorf("%d roles synced, want %d", c.Resources, len(e.ws.Roles))
				}
			}
		})
	}
}

// TestPersistentFailureFailsClearly: an endpoint that keeps failing ends
// the sync with an error naming it (instead of baton-sdk retrying forever),
// and the previous c1z stays.
func TestPersistentFailureFailsClearly(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(20))
	e.sim.InjectStatus("GET", "/groups", 503, 1<<20)
	path := filepath.Join(t.TempDir(), "sync.c1z")
	old := []byte("previous good c1z")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	err := e.syncWith(t, segmentsim.DefaultToken, path, func(c *tenant.Config) { c.MaxCallAttempts = 2 })
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "/groups") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want Aborted naming GET /groups and the 503", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Fatal("the failed sync replaced the previous c1z")
	}
}

func TestFeaturesOff(t *testing.T) {
	cfg := segmentsim.DefaultConfig(40)
	cfg.SpacesEnabled, cfg.FunctionsEnabled = false, false
	e := startSim(t, cfg)
	path := filepath.Join(t.TempDir(), "sync.c1z")
	if err := e.sync(t, segmentsim.DefaultToken, path); err != nil {
		t.Fatalf("a workspace without spaces and functions must still sync: %v", err)
	}
	for _, c := range load(t, path).Summary().Types {
		if (c.ResourceType == "space" || c.ResourceType == "function") && c.Resources != 0 {
			t.Errorf("%d %s resources in a workspace without the feature", c.Resources, c.ResourceType)
		}
	}
}

// TestGuestCallsAreNotWasted: the Segment guest declares that users have no
// entitlements and that only users and groups list grants, so baton-sdk
// makes one grants call per user and none of the others.
func TestGuestCallsAreNotWasted(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(200))
	tn := e.tenant(t, "calls")
	if err := tn.Sync(context.Background(), localsync.Options{Path: filepath.Join(t.TempDir(), "s.c1z")}); err != nil {
		t.Fatal(err)
	}
	users := len(e.ws.Users)
	others := len(e.ws.Groups) + len(e.ws.Roles) + len(e.ws.Sources) + len(e.ws.Warehouses) + len(e.ws.Spaces) + len(e.ws.Functions) + 1
	// Listing pages, one grants call per user, and at most two calls
	// (entitlements and grants) per other resource.
	if calls := int(tn.Stats().Calls); calls > users+2*others+50 {
		t.Errorf("%d guest calls for %d users and %d other resources", calls, users, others)
	}
}

// TestSyncReleasesInstancesBeforeExpansion: by the time grant expansion
// starts (the caller's OnCollected), the tenant's guest instances are
// closed and hold no memory, so the end of the sync, where a large sync
// peaks, does not carry them; and no later call of the sync made a new one.
func TestSyncReleasesInstancesBeforeExpansion(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(50))
	tn := e.tenant(t, "release")
	var atExpansion *sandbox.Stats
	err := tn.Sync(context.Background(), localsync.Options{Path: filepath.Join(t.TempDir(), "s.c1z"),
		OnCollected: func() { s := tn.Stats(); atExpansion = &s }})
	if err != nil {
		t.Fatal(err)
	}
	if atExpansion == nil {
		t.Fatal("OnCollected was not called")
	}
	if atExpansion.PeakMemoryBytes == 0 || atExpansion.MemoryBytes != 0 {
		t.Errorf("at grant expansion the instances hold %d bytes (peak %d): want them closed", atExpansion.MemoryBytes, atExpansion.PeakMemoryBytes)
	}
	if end := tn.Stats(); end.InstancesCreated != atExpansion.InstancesCreated || end.MemoryBytes != 0 {
		t.Errorf("after the sync: %d instances created (%d at expansion), %d bytes held", end.InstancesCreated, atExpansion.InstancesCreated, end.MemoryBytes)
	}
}
