package runner_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/runner"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// One-shot sync of many tenants: SyncOnce compiles the guest module once
// and syncs every tenant into its own c1z, as `baton-runner sync --config`
// does for a runner.toml. Here both tenants are workspaces of the bundled
// Segment simulator.
func ExampleSyncOnce() {
	ctx := context.Background()
	wasm, err := wasmbuild.Read("guest/segment/wasm") // bin/segment.wasm
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "runner-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	spec := runner.Spec{Modules: []runner.Module{{Name: "segment", Wasm: wasm}}}
	var tenants []runner.TenantSpec
	for name, users := range map[string]int{"acme": 20, "globex": 5} {
		api := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(users)), segmentsim.Options{}))
		defer api.Close()
		tenants = append(tenants, runner.TenantSpec{Name: name, Module: "segment",
			BaseURL: api.URL, Token: secret.New(segmentsim.DefaultToken),
			Mode: runner.ModeSync, Output: filepath.Join(dir, name+".c1z")})
	}

	errs := runner.SyncOnce(ctx, spec, tenants, nil)
	sort.Slice(tenants, func(i, j int) bool { return tenants[i].Name < tenants[j].Name })
	for _, t := range tenants {
		if errs[t.Name] != nil {
			fmt.Printf("%s: %v\n", t.Name, errs[t.Name])
			continue
		}
		snap, err := inspect.Load(ctx, t.Output, dir)
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
		fmt.Printf("%s: synced, %d users\n", t.Name, users)
	}
	// Output:
	// acme: synced, 20 users
	// globex: synced, 5 users
}

// Running tenants on a schedule: Apply starts every tenant of a Spec under
// supervision, and Status says how each is doing, as `baton-runner serve`
// reports on /status. A tenant whose token is rejected is retried with
// back-off, then waits for a configuration reload; its neighbour is
// unaffected. OnStatus tells the example when both outcomes are in.
func ExampleRunner_Status() {
	ctx := context.Background()
	api := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(20)), segmentsim.Options{}))
	defer api.Close()
	wasm, err := wasmbuild.Read("guest/segment/wasm") // bin/segment.wasm
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "runner-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// Done once acme has synced and globex has given up.
	var outcomes sync.WaitGroup
	outcomes.Add(2)
	var once [2]sync.Once
	onStatus := func(s runner.TenantStatus) {
		switch {
		case s.Name == "acme" && s.State == runner.StateOK:
			once[0].Do(outcomes.Done)
		case s.Name == "globex" && s.State == runner.StateWaitingForReload:
			once[1].Do(outcomes.Done)
		}
	}

	r := runner.New(runner.Options{OnStatus: onStatus, RestartBackoff: time.Millisecond})
	defer r.Stop(ctx)
	tenant := func(name, token string) runner.TenantSpec {
		return runner.TenantSpec{Name: name, Module: "segment", BaseURL: api.URL, Token: secret.New(token),
			Mode: runner.ModeSync, Interval: time.Hour, Output: filepath.Join(dir, name+".c1z")}
	}
	err = r.Apply(ctx, runner.Spec{
		Modules: []runner.Module{{Name: "segment", Wasm: wasm}},
		Tenants: []runner.TenantSpec{tenant("acme", segmentsim.DefaultToken), tenant("globex", "revoked-token")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	waited := make(chan struct{})
	go func() { outcomes.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(time.Minute):
		fmt.Println("timed out waiting for the tenants' outcomes")
	}

	for _, s := range r.Status() { // sorted by name
		fmt.Printf("%s: %s (synced: %t, failures in a row: %d)\n", s.Name, s.State, s.LastSuccess != nil, s.ConsecutiveFailures)
		if s.Reason != "" {
			fmt.Println("  reason:", s.Reason)
		}
	}
	// Output:
	// acme: ok (synced: true, failures in a row: 0)
	// globex: waiting for reload (synced: false, failures in a row: 3)
	//   reason: validate credentials (GET /): 401 unauthorized: the Segment API token was rejected: Unauthorized
}
