package tenant_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

func compileTestGuest(t *testing.T, pkg string) (*sandbox.Module, error) {
	t.Helper()
	wasm, err := os.ReadFile(wasmbuild.Module(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	m, err := sandbox.Compile(context.Background(), sandbox.Config{Wasm: wasm})
	if err == nil {
		t.Cleanup(func() { _ = m.Close(context.Background()) })
	}
	return m, err
}

// TestGuestWithoutLifecycleExportsStillRuns: a guest exporting only the
// five listing functions and declaring none of the optional ones compiles,
// syncs, and is offered no lifecycle capability; one that declares an
// export it lacks is refused at compile time, naming both.
func TestGuestWithoutLifecycleExportsStillRuns(t *testing.T) {
	m, err := compileTestGuest(t, "internal/testguests/oldguest")
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.New(m, tenant.Config{Name: "old", Egress: egress.Config{BaseURL: "https://api.example.test", Token: secret.New("unused")}})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close(context.Background())
	path := filepath.Join(t.TempDir(), "old.c1z")
	if err := tn.Sync(context.Background(), localsync.Options{Path: path, TmpDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if snap := load(t, path); len(snap.Resources) != 1 || snap.Resources[0].GetId().GetResource() != "p1" {
		t.Fatalf("resources %v", snap.Resources)
	}
	cc := provisioningClient(t, tn)
	resp, err := cc.GetMetadata(context.Background(), &v2.ConnectorServiceGetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.GetMetadata().GetCapabilities().GetConnectorCapabilities() {
		switch c {
		case v2.Capability_CAPABILITY_ACCOUNT_PROVISIONING, v2.Capability_CAPABILITY_RESOURCE_DELETE, v2.Capability_CAPABILITY_SERVICE_MODE_TARGETED_SYNC:
			t.Errorf("a guest declaring no lifecycle export is offered %v", c)
		}
	}

	_, err = compileTestGuest(t, "internal/testguests/liar")
	if err == nil || !strings.Contains(err.Error(), `declares resource type "person" gettable but does not export "baton_get_resource"`) {
		t.Fatalf("compiling a guest that declares a missing export: %v", err)
	}
}
