package tenant_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// Embedding the runner: one tenant (an API origin and its token) bound to
// a compiled guest syncs into a c1z, as `baton-runner sync` does. Here the
// origin is the bundled Segment simulator.
func Example() {
	ctx := context.Background()
	api := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(20)), segmentsim.Options{}))
	defer api.Close()

	wasm, err := wasmbuild.Read("guest/segment/wasm") // bin/segment.wasm
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close(ctx)

	t, err := tenant.New(m, tenant.Config{Name: "acme",
		Egress: egress.Config{BaseURL: api.URL, Token: secret.New(segmentsim.DefaultToken)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer t.Close(ctx)

	dir, err := os.MkdirTemp("", "tenant-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "acme.c1z")
	if err := t.Sync(ctx, localsync.Options{Path: file}); err != nil {
		fmt.Println(err)
		return
	}

	snap, err := inspect.Load(ctx, file, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	users := 0
	for _, r := range snap.Resources {
		if r.GetId().GetResourceType() == "user" {
			users++
		}
	}
	fmt.Println("users in the c1z:", users)
	// Output:
	// users in the c1z: 20
}
