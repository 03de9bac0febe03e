package synclimits_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// An embedder sets the limits it cares about and leaves the rest zero:
// WithDefaults (which tenants and localsync apply) fills them in, and a
// negative value turns a limit off.
func ExampleLimits_WithDefaults() {
	l := synclimits.Limits{
		Timeout:       2 * time.Hour,
		MaxItems:      500_000,
		MaxDepth:      -1,      // no nesting limit
		RequestBudget: 100_000, // zero would mean unlimited
	}.WithDefaults()
	fmt.Println("timeout:", l.Timeout)
	fmt.Println("max pages:", l.MaxPages)
	fmt.Println("max empty pages:", l.MaxEmptyPages)
	fmt.Println("max items:", l.MaxItems)
	fmt.Println("max depth:", l.MaxDepth)
	fmt.Println("max c1z MiB:", l.MaxC1ZBytes>>20)
	fmt.Println("request budget:", l.RequestBudget)
	fmt.Println("max in flight:", l.MaxInFlight)
	// Output:
	// timeout: 2h0m0s
	// max pages: 2000000
	// max empty pages: 100
	// max items: 500000
	// max depth: -1
	// max c1z MiB: 8192
	// request budget: 100000
	// max in flight: 32
}

// A sync that outlives its limits ends with a *synclimits.Error naming the
// runner.toml key to raise, and the target c1z is not written. Here a
// tenant's request budget is too small for a sync of the Segment
// simulator's 20 users (one request per user, and the pages).
func ExampleError() {
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
		Egress: egress.Config{BaseURL: api.URL, Token: secret.New(segmentsim.DefaultToken)},
		Limits: synclimits.Limits{RequestBudget: 10}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer t.Close(ctx)

	dir, err := os.MkdirTemp("", "synclimits-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "acme.c1z")
	err = t.Sync(ctx, localsync.Options{Path: file})

	var limit *synclimits.Error
	if !errors.As(err, &limit) {
		fmt.Println("not a limit:", err)
		return
	}
	fmt.Println("limit:", limit.Key)
	fmt.Println(limit)
	_, statErr := os.Stat(file)
	fmt.Println("c1z written:", statErr == nil)
	// Output:
	// limit: request_budget
	// sync exceeded request_budget (10 API requests; raise request_budget in runner.toml or --request-budget)
	// c1z written: false
}
