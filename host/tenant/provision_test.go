package tenant_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/egresshook"
	"github.com/baton-runner/baton-runner/internal/provmodel"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// newTenant binds the real Segment guest to e with write pacing off (the
// simulator's write limit is what these tests control).
func (e *env) newTenant(t *testing.T, instances int, mod func(*egress.Config)) *tenant.Tenant {
	t.Helper()
	cfg := egress.Config{BaseURL: e.url, Token: secret.New(segmentsim.DefaultToken), Audit: e.audit.add, WritesPerMinute: -1}
	if mod != nil {
		mod(&cfg)
	}
	tn, err := tenant.New(segmentModule(t), tenant.Config{Name: "test", Egress: cfg, Instances: instances})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close(context.Background()) })
	return tn
}

func startWritableSim(t *testing.T, cfg segmentsim.Config, opts segmentsim.Options) *env {
	t.Helper()
	ws := segmentsim.Generate(cfg)
	sim := segmentsim.NewServer(ws, opts)
	e := &env{ws: ws.Clone(), sim: sim, audit: &auditLog{}}
	e.url = serve(t, sim)
	return e
}

// provisioningClient is baton-sdk's ConnectorClient for the tenant, with
// the grant services on.
func provisioningClient(t *testing.T, tn *tenant.Tenant) *tenant.Client {
	t.Helper()
	cc, err := tn.Client(context.Background(), tenant.ClientOptions{Provisioning: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

var (
	userType   = v2.ResourceType_builder{Id: "user", DisplayName: "User", Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_USER}}.Build()
	inviteType = v2.ResourceType_builder{Id: "invite", DisplayName: "Invite", Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_USER}}.Build()
	groupType  = v2.ResourceType_builder{Id: "group", DisplayName: "Group", Traits: []v2.ResourceType_Trait{v2.ResourceType_TRAIT_GROUP}}.Build()
)

// toV2 converts the model's principal and entitlement to what baton-sdk
// hands the connector after looking them up in a c1z.
func toV2(t *testing.T, op provmodel.Op) (*v2.Resource, *v2.Entitlement) {
	t.Helper()
	parent := v2.ResourceId_builder{ResourceType: "workspace", Resource: op.Principal.Parent.ID}.Build()
	var principal *v2.Resource
	var err error
	switch op.Principal.ID.Type {
	case "user", "invite":
		rt := userType
		if op.Principal.ID.Type == "invite" {
			rt = inviteType
		}
		var opts []resource.UserTraitOption
		if u := op.Principal.User; u != nil {
			for i, e := range u.Emails {
				opts = append(opts, resource.WithEmail(e, i == 0))
			}
			if u.Login != "" {
				opts = append(opts, resource.WithUserLogin(u.Login))
			}
		}
		principal, err = resource.NewUserResource(op.Principal.ID.ID, rt, op.Principal.ID.ID, opts, resource.WithParentResourceID(parent))
	default:
		principal, err = resource.NewGroupResource(op.Principal.ID.ID, groupType, op.Principal.ID.ID, nil, resource.WithParentResourceID(parent))
	}
	if err != nil {
		t.Fatal(err)
	}
	r := op.Entitlement.Resource.ID
	er := v2.Resource_builder{
		Id:               v2.ResourceId_builder{ResourceType: r.Type, Resource: r.ID}.Build(),
		ParentResourceId: parent,
	}.Build()
	ent := v2.Entitlement_builder{Id: r.Type + ":" + r.ID + ":" + op.Entitlement.Slug, Resource: er, Slug: op.Entitlement.Slug}.Build()
	return principal, ent
}

// abiCodes maps the host's gRPC codes back to the ABI's, to compare with
// the model.
var abiCodes = map[codes.Code]abi.Code{
	codes.InvalidArgument: abi.CodeInvalidArgument, codes.NotFound: abi.CodeNotFound,
	codes.FailedPrecondition: abi.CodeFailedPrecondition, codes.Unimplemented: abi.CodeUnimplemented,
	codes.Unauthenticated: abi.CodeUnauthenticated, codes.PermissionDenied: abi.CodePermissionDenied,
	codes.Unavailable: abi.CodeUnavailable,
}

// sandboxedExec runs the model's operations through baton-sdk's client, the
// host adapter, the sandbox and the wasm guest.
func sandboxedExec(t *testing.T, cc *tenant.Client, tn *tenant.Tenant) provmodel.Exec {
	return func(op provmodel.Op) (bool, error) {
		ctx := context.Background()
		var annos annotations.Annotations
		var err error
		already := false
		switch op.Kind() {
		case "create-account":
			roles, groups := []any{}, []any{}
			for _, r := range op.Roles {
				roles = append(roles, r)
			}
			for _, g := range op.Groups {
				groups = append(groups, g)
			}
			var resp *v2.CreateAccountResponse
			resp, err = createAccount(t, cc, map[string]any{"email": op.CreateAccount, "roles": roles, "groups": groups})
			already = resp.GetAlreadyExists() != nil || strings.Contains(resp.GetActionRequired().GetMessage(), "already pending")
		case "delete":
			// baton-sdk's deleter service does not say whether the
			// resource was already gone; the host's own path (the same
			// adapter and sandboxed guest) does.
			id := v2.ResourceId_builder{ResourceType: op.Delete.Type, Resource: op.Delete.ID}.Build()
			already, err = tn.DeleteResource(ctx, id, nil)
		}
		if op.Kind() == "create-account" || op.Kind() == "delete" {
			if err != nil {
				return false, toABIError(err)
			}
			return already, nil
		}
		principal, ent := toV2(t, op)
		if op.Grant {
			var resp *v2.GrantManagerServiceGrantResponse
			resp, err = cc.Grant(ctx, v2.GrantManagerServiceGrantRequest_builder{Entitlement: ent, Principal: principal}.Build())
			annos = resp.GetAnnotations()
		} else {
			g := v2.Grant_builder{Id: ent.GetId() + ":" + principal.GetId().GetResourceType() + ":" + principal.GetId().GetResource(), Entitlement: ent, Principal: principal}.Build()
			var resp *v2.GrantManagerServiceRevokeResponse
			resp, err = cc.Revoke(ctx, v2.GrantManagerServiceRevokeRequest_builder{Grant: g}.Build())
			annos = resp.GetAnnotations()
		}
		if err != nil {
			return false, toABIError(err)
		}
		return annos.Contains(&v2.GrantAlreadyExists{}) || annos.Contains(&v2.GrantAlreadyRevoked{}), nil
	}
}

func toABIError(err error) error {
	st, _ := status.FromError(err)
	code, ok := abiCodes[st.Code()]
	if !ok {
		code = abi.CodeUnknown
	}
	return &abi.Error{Code: code, Message: st.Message()}
}

// TestSandboxedProvisioningModel runs random grant/revoke sequences through
// the real sandboxed guest and compares the simulator's whole permission
// and membership state with the model after every step.
func TestSandboxedProvisioningModel(t *testing.T) {
	for seed := uint64(11); seed <= 13; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			cfg := segmentsim.DefaultConfig(30)
			cfg.Seed = int64(seed)
			e := startWritableSim(t, cfg, segmentsim.Options{WriteLimitPerMinute: -1})
			tn := e.newTenant(t, 2, nil)
			provmodel.Run(t, seed, 50, e.sim, sandboxedExec(t, provisioningClient(t, tn), tn))
		})
	}
}

// TestConcurrentRevokesOnOnePrincipal: revokes are read-modify-writes of the
// principal's whole permission set; run in parallel on one user they would
// lose each other's update unless the host serialises them.
func TestConcurrentRevokesOnOnePrincipal(t *testing.T) {
	e := startWritableSim(t, manySources(), segmentsim.Options{WriteLimitPerMinute: -1})
	tn := e.newTenant(t, 4, nil)
	cc := provisioningClient(t, tn)
	m := provmodel.New(e.sim.Snapshot())
	u := e.ws.Users[0]
	role := e.ws.RoleByName(segmentsim.RoleSourceReadOnly).ID
	exec := sandboxedExec(t, cc, tn)
	var ops []provmodel.Op
	for _, s := range e.ws.Sources[:6] {
		op := provmodel.Op{Grant: true, Entitlement: m.Entitlement("source", s.ID, role), Principal: m.UserResource(u)}
		if _, err := exec(op); err != nil {
			t.Fatal(err)
		}
		op.Grant = false
		ops = append(ops, op)
	}
	before := e.sim.Snapshot().UserByID(u.ID).Permissions

	var wg sync.WaitGroup
	errs := make(chan error, len(ops))
	for _, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := exec(op); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	after := provmodel.Tuples(e.sim.Snapshot().UserByID(u.ID).Permissions)
	for tu := range provmodel.Tuples(before) {
		revoked := tu.RoleID == role && tu.Type == "SOURCE" && tu.Labels == "" && tu.EntryLabels == "" &&
			slices.ContainsFunc(e.ws.Sources[:6], func(s *segmentsim.Source) bool { return s.ID == tu.ID })
		if revoked {
			if after[tu] {
				t.Errorf("revoked %s on %s is still held: a concurrent update was lost", tu.RoleID, tu.ID)
			}
		} else if !after[tu] {
			t.Errorf("unrelated permission %+v was removed", tu)
		}
	}
}

// manySources is a small workspace with enough sources for several grants
// to one principal.
func manySources() segmentsim.Config {
	cfg := segmentsim.DefaultConfig(30)
	cfg.Sources = 8
	return cfg
}

// TestWritesRideOut429s: with Segment's write limit far below the burst,
// every grant still succeeds after the host waits: out the 429s or, now
// that it reads the write window's reset on the simulator's clock, before
// the window is spent.
func TestWritesRideOut429s(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	e := startWritableSim(t, manySources(), segmentsim.Options{WriteLimitPerMinute: 2, Now: clock.Now})
	tn := e.newTenant(t, 2, func(c *egress.Config) {
		egresshook.Set(c, egresshook.Hooks{Sleep: clock.Sleep, Now: clock.Now})
	})
	cc := provisioningClient(t, tn)
	m := provmodel.New(e.sim.Snapshot())
	exec := sandboxedExec(t, cc, tn)
	role := e.ws.RoleByName(segmentsim.RoleSourceAdmin).ID
	u := e.ws.Users[1]
	for _, s := range e.ws.Sources[:5] {
		op := provmodel.Op{Grant: true, Entitlement: m.Entitlement("source", s.ID, role), Principal: m.UserResource(u)}
		if _, err := exec(op); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	limited := 0
	for _, r := range e.sim.Requests() {
		if r.Status == 429 {
			limited++
		}
	}
	if clock.slept < time.Minute {
		t.Fatalf("the simulator answered %d 429s and the host waited %s: five writes at two a minute need at least a minute of waiting", limited, clock.slept)
	}
	t.Logf("%d answers were 429; the host waited %s", limited, clock.slept)
	held := provmodel.Tuples(e.sim.Snapshot().UserByID(u.ID).Permissions)
	for _, s := range e.ws.Sources[:5] {
		if !held[provmodel.Tuple{RoleID: role, Type: "SOURCE", ID: s.ID}] {
			t.Errorf("grant on %s lost", s.ID)
		}
	}
}

// fakeClock is shared by the simulator's rate-limit windows and the host's
// waits, so waiting out a 429 takes no real time.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	return ctx.Err()
}

// TestGrantAndRevokeThroughTheC1Z follows the CLI's path: entitlements and
// principals come from a synced c1z, outcomes report no-ops.
func TestGrantAndRevokeThroughTheC1Z(t *testing.T) {
	e := startWritableSim(t, segmentsim.DefaultConfig(40), segmentsim.Options{WriteLimitPerMinute: -1})
	tn := e.newTenant(t, 2, nil)
	dir := t.TempDir()
	c1z := filepath.Join(dir, "sync.c1z")
	if err := e.sync(t, segmentsim.DefaultToken, c1z); err != nil {
		t.Fatal(err)
	}
	var g *segmentsim.Group
	var u *segmentsim.User
	for _, cand := range e.ws.Groups {
		for _, cu := range e.ws.Users {
			if !slices.Contains(cand.MemberIDs, cu.ID) {
				g, u = cand, cu
			}
		}
	}
	ent := "group:" + g.ID + ":member"
	ctx := context.Background()
	if out, err := tn.Grant(ctx, c1z, ent, "user", u.ID); err != nil || out != tenant.Changed {
		t.Fatalf("grant: %v, %v", out, err)
	}
	if !slices.Contains(e.sim.Snapshot().GroupByID(g.ID).MemberIDs, u.ID) {
		t.Fatal("the simulator does not show the new member")
	}
	if out, err := tn.Grant(ctx, c1z, ent, "user", u.ID); err != nil || out != tenant.AlreadyGranted {
		t.Fatalf("second grant: %v, %v; want already granted", out, err)
	}

	// Right after the grant, without a re-sync: the grant is not in the
	// c1z, but its ID names an entitlement and a principal that are.
	grantID := ent + ":user:" + u.ID
	if out, err := tn.Revoke(ctx, c1z, grantID); err != nil || out != tenant.Changed {
		t.Fatalf("revoke of a grant made since the sync: %v, %v", out, err)
	}
	if slices.Contains(e.sim.Snapshot().GroupByID(g.ID).MemberIDs, u.ID) {
		t.Fatal("the member is still in the group")
	}

	// With the grant in the c1z, baton-sdk's revoker looks it up.
	if out, err := tn.Grant(ctx, c1z, ent, "user", u.ID); err != nil || out != tenant.Changed {
		t.Fatalf("grant again: %v, %v", out, err)
	}
	if err := e.sync(t, segmentsim.DefaultToken, c1z); err != nil {
		t.Fatal(err)
	}
	if out, err := tn.Revoke(ctx, c1z, grantID); err != nil || out != tenant.Changed {
		t.Fatalf("revoke: %v, %v", out, err)
	}
	if slices.Contains(e.sim.Snapshot().GroupByID(g.ID).MemberIDs, u.ID) {
		t.Fatal("the member is still in the group")
	}
	if out, err := tn.Revoke(ctx, c1z, grantID); err != nil || out != tenant.AlreadyRevoked {
		t.Fatalf("second revoke: %v, %v; want already revoked", out, err)
	}

	// Each missing or malformed part is named.
	for _, tc := range []struct {
		name      string
		call      func() error
		part, id  string
		malformed bool
	}{
		{"unknown entitlement", func() error { _, err := tn.Grant(ctx, c1z, "group:nope:member", "user", u.ID); return err }, "entitlement", "group:nope:member", false},
		{"malformed entitlement", func() error { _, err := tn.Grant(ctx, c1z, "nope", "user", u.ID); return err }, "entitlement", "nope", true},
		{"unknown principal", func() error { _, err := tn.Grant(ctx, c1z, ent, "user", "nobody"); return err }, "principal", "user:nobody", false},
		{"unknown grantee", func() error { _, err := tn.Revoke(ctx, c1z, ent+":user:nobody"); return err }, "principal", "user:nobody", false},
		{"unknown grant", func() error { _, err := tn.Revoke(ctx, c1z, "group:nope:member:user:"+u.ID); return err }, "grant", "group:nope:member:user:" + u.ID, false},
		{"malformed grant", func() error { _, err := tn.Revoke(ctx, c1z, "nope:x"); return err }, "grant", "nope:x", true},
	} {
		var le *tenant.LookupError
		if err := tc.call(); !errors.As(err, &le) || le.Part != tc.part || le.ID != tc.id || (le.Malformed != "") != tc.malformed {
			t.Errorf("%s: %v (%#v); want a LookupError for %s %s, malformed %v", tc.name, err, le, tc.part, tc.id, tc.malformed)
		}
	}
	_, err := tn.Grant(ctx, c1z, "workspace:"+e.ws.ID+":member", "user", u.ID)
	if err == nil || !strings.Contains(err.Error(), "workspace") {
		t.Errorf("workspace membership grant: %v, want a clear not-supported error", err)
	}
	t.Logf("workspace membership grant: %v", err)
}

// TestCapabilitiesMatchWhatWorks: exactly the types whose entitlements the
// guest can grant and revoke report the provisioning capability.
func TestCapabilitiesMatchWhatWorks(t *testing.T) {
	e := startWritableSim(t, segmentsim.DefaultConfig(10), segmentsim.Options{})
	cc := provisioningClient(t, e.newTenant(t, 1, nil))
	resp, err := cc.GetMetadata(context.Background(), &v2.ConnectorServiceGetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"workspace": false, "user": false, "invite": false, "group": true, "role": true,
		"source": true, "warehouse": true, "space": true, "function": true}
	seen := 0
	for _, rc := range resp.GetMetadata().GetCapabilities().GetResourceTypeCapabilities() {
		id := rc.GetResourceType().GetId()
		provision := false
		for _, c := range rc.GetCapabilities() {
			provision = provision || c == v2.Capability_CAPABILITY_PROVISION
		}
		if provision != want[id] {
			t.Errorf("%s: provisioning capability %v, want %v", id, provision, want[id])
		}
		seen++
	}
	if seen != len(want) {
		t.Errorf("capabilities for %d resource types, want %d", seen, len(want))
	}
}

// TestRevokeUnderFaults: a revoke is one PUT of the principal's whole set,
// so a failing PUT leaves the set exactly as it was and a PUT cut off by a
// connection reset is retried (PUT is idempotent) to exactly the intended
// set. The provisioner is called directly, without baton-sdk's 15-second
// retry of Unavailable.
func TestRevokeUnderFaults(t *testing.T) {
	e := startWritableSim(t, manySources(), segmentsim.Options{WriteLimitPerMinute: -1})
	tn := e.newTenant(t, 1, func(c *egress.Config) {
		egresshook.Set(c, egresshook.Hooks{Sleep: func(context.Context, time.Duration) error { return nil }})
	})
	cc := provisioningClient(t, tn)
	m := provmodel.New(e.sim.Snapshot())
	u := e.ws.Users[2]
	role := e.ws.RoleByName(segmentsim.RoleSourceAdmin).ID
	exec := sandboxedExec(t, cc, tn)
	for _, s := range e.ws.Sources[:2] {
		if _, err := exec(provmodel.Op{Grant: true, Entitlement: m.Entitlement("source", s.ID, role), Principal: m.UserResource(u)}); err != nil {
			t.Fatal(err)
		}
	}
	var prov interface {
		Revoke(context.Context, *v2.Grant) (annotations.Annotations, error)
	}
	for _, s := range tenant.ConnectorOf(tn).ResourceSyncers(context.Background()) {
		if s.ResourceType(context.Background()).GetId() == "source" {
			prov = s.(interface {
				Revoke(context.Context, *v2.Grant) (annotations.Annotations, error)
			})
		}
	}
	principal, ent := toV2(t, provmodel.Op{Entitlement: m.Entitlement("source", e.ws.Sources[0].ID, role), Principal: m.UserResource(u)})
	grant := v2.Grant_builder{Entitlement: ent, Principal: principal}.Build()
	before := provmodel.Tuples(e.sim.Snapshot().UserByID(u.ID).Permissions)

	e.sim.InjectStatus("PUT", "/users/", 500, 100)
	if _, err := prov.Revoke(context.Background(), grant); err == nil {
		t.Fatal("revoke succeeded while every PUT failed")
	}
	after := provmodel.Tuples(e.sim.Snapshot().UserByID(u.ID).Permissions)
	if len(after) != len(before) {
		t.Fatalf("a failed revoke changed the permission set: %v -> %v", before, after)
	}
	for tu := range before {
		if !after[tu] {
			t.Fatalf("a failed revoke removed %+v", tu)
		}
	}

	e.sim.ClearFaults()
	e.sim.InjectReset("PUT", "/users/", 1)
	if _, err := prov.Revoke(context.Background(), grant); err != nil {
		t.Fatalf("revoke after one connection reset: %v", err)
	}
	final := provmodel.Tuples(e.sim.Snapshot().UserByID(u.ID).Permissions)
	for tu := range before {
		gone := tu.RoleID == role && tu.Type == "SOURCE" && tu.ID == e.ws.Sources[0].ID && tu.Labels == "" && tu.EntryLabels == ""
		if final[tu] == gone {
			t.Errorf("%+v: held=%v after the revoke", tu, final[tu])
		}
	}
}
