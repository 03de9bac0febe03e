// The demo connector, written only against baton-sdk, run by baton-runner
// as a sandboxed guest and by baton-sdk's own runner natively: the two
// c1z files hold the same resources, entitlements and grants, every field.
package batondemo_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

const guestPkg = "examples/baton-demo/wasm"

var settings = map[string]string{"org": "acme", "users": "120"} // three pages of users

func sandboxed(t *testing.T) *tenant.Tenant {
	t.Helper()
	ctx := context.Background()
	wasm, err := wasmbuild.Read(guestPkg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm, CacheDir: wasmbuild.CacheDir, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(ctx) })
	if m.Kind() != sandbox.GuestBatonSDK {
		t.Fatalf("kind %v, want a baton-sdk guest", m.Kind())
	}
	var schema struct {
		Fields []struct {
			Name     string `json:"name"`
			Required bool   `json:"required"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(m.BatonSDKSchema(), &schema); err != nil || len(schema.Fields) < 2 ||
		schema.Fields[0].Name != "org" || !schema.Fields[0].Required {
		t.Fatalf("schema %s (%v): want org (required) and users", m.BatonSDKSchema(), err)
	}
	tn, err := tenant.New(m, tenant.Config{Name: "demo", Egress: egress.Config{BaseURL: "https://demo.example.com"}, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close(ctx) })
	return tn
}

// native syncs with baton-sdk's own runner: the connector's native main.
func native(t *testing.T, out string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "baton-demo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/baton-demo")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the native connector: %v\n%s", err, b)
	}
	run := exec.Command(bin, "--org", settings["org"], "--users", settings["users"], "-f", out)
	run.Dir = t.TempDir()
	if b, err := run.CombinedOutput(); err != nil {
		t.Fatalf("native sync: %v\n%s", err, b)
	}
}

// rows renders every resource, entitlement and grant of a c1z as
// protojson, sorted, for a field-by-field comparison.
func rows(t *testing.T, path string) []string {
	t.Helper()
	s, err := inspect.Load(context.Background(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	add := func(kind string, m proto.Message) {
		b, err := protojson.MarshalOptions{Multiline: false}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kind+" "+string(b))
	}
	for _, r := range s.Resources {
		add("resource", r)
	}
	for _, e := range s.Entitlements {
		add("entitlement", e)
	}
	for _, g := range s.Grants {
		add("grant", g)
	}
	slices.Sort(out)
	return out
}

func TestSandboxedSyncEqualsBatonSDKsOwnRunner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tn := sandboxed(t)
	if err := tn.Sync(ctx, localsync.Options{Path: filepath.Join(dir, "sandbox.c1z")}); err != nil {
		t.Fatal(err)
	}
	native(t, filepath.Join(dir, "native.c1z"))
	got, want := rows(t, filepath.Join(dir, "sandbox.c1z")), rows(t, filepath.Join(dir, "native.c1z"))
	if !slices.Equal(got, want) {
		t.Errorf("sandboxed c1z differs from baton-sdk's own:\nsandboxed:\n%s\nnative:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// What the comparison covers: paged users, a child resource type
	// under its parent, traits, entitlements with slugs, grants with
	// metadata, and grants expanded through a team.
	joined := strings.Join(got, "\n")
	for _, want := range []string{`"resource":"user119"`, `"parentResourceId"`, `c1.connector.v2.ChildResourceType`,
		`"slug":"member"`, `"since":"2026-01-01"`, `c1.connector.v2.GrantExpandable`, `"sources"`, `c1.connector.v2.UserTrait`} {
		if !strings.Contains(joined, want) {
			t.Errorf("the c1z lacks %s", want)
		}
	}
	t.Logf("%d rows equal", len(got))
}

func TestSandboxedGrantAndRevoke(t *testing.T) {
	ctx := context.Background()
	c1z := filepath.Join(t.TempDir(), "sync.c1z")
	tn := sandboxed(t)
	if err := tn.Sync(ctx, localsync.Options{Path: c1z}); err != nil {
		t.Fatal(err)
	}
	if out, err := tn.Grant(ctx, c1z, "team:team-1:member", "user", "user0"); err != nil || out != tenant.Changed {
		t.Fatalf("grant: %v, %v", out, err)
	}
	if out, err := tn.Revoke(ctx, c1z, "team:team-1:member:user:user1"); err != nil || out != tenant.Changed {
		t.Fatalf("revoke: %v, %v", out, err)
	}
	// The connector refuses a team for a team: its error reaches the caller.
	if _, err := tn.Grant(ctx, c1z, "team:team-1:member", "team", "team-2"); err == nil {
		t.Fatal("granting team membership to a team succeeded")
	}
	// Without provisioning the client refuses, as baton-sdk's runner does.
	cc, err := tn.Client(ctx, tenant.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := cc.Grant(ctx, v2.GrantManagerServiceGrantRequest_builder{}.Build()); err == nil || !strings.Contains(err.Error(), "provisioning") {
		t.Fatalf("grant without provisioning: %v", err)
	}
}
