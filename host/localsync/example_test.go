package localsync_test

import (
	"context"
	"errors"
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

// Run syncs any baton-sdk ConnectorClient into a c1z; here a tenant's
// Client, the sandboxed Segment guest against the simulator. The file is
// replaced only when a sync succeeds: a sync that fails (here, cancelled
// before it starts) leaves the last good c1z as it was.
func ExampleRun() {
	ctx := context.Background()
	api := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(20)), segmentsim.Options{}))
	defer api.Close()
	wasm, err := wasmbuild.Read("guest/segment/wasm") // bin/segment.wasm
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm, CacheDir: wasmbuild.CacheDir})
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
	client, err := t.Client(ctx, tenant.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	dir, err := os.MkdirTemp("", "localsync-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "acme.c1z")
	users := func() {
		snap, err := inspect.Load(ctx, file, dir)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, c := range snap.Summary().Types {
			if c.ResourceType == "user" {
				fmt.Println("users in the c1z:", c.Resources)
			}
		}
	}

	if err := localsync.Run(ctx, client, localsync.Options{Path: file, Workers: t.Workers()}); err != nil {
		fmt.Println(err)
		return
	}
	users()

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = localsync.Run(cancelled, client, localsync.Options{Path: file})
	fmt.Println("second sync cancelled:", errors.Is(err, context.Canceled))
	users()
	// Output:
	// users in the c1z: 20
	// second sync cancelled: true
	// users in the c1z: 20
}

// ParseStorageEngine checks the c1z storage engine a user names in a
// flag, the environment or runner.toml before it goes into
// Options.StorageEngine.
func ExampleParseStorageEngine() {
	for _, name := range []string{"", "SQLite", "leveldb"} {
		engine, err := localsync.ParseStorageEngine(name)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%q: %s\n", name, engine)
	}
	// Output:
	// "": pebble
	// "SQLite": sqlite
	// unknown c1z storage engine "leveldb": use "pebble" or "sqlite" (default "pebble")
}

// Lock is what keeps two syncs from writing the same c1z: the second
// holder is refused at once with ErrLocked, and the lock is free again
// after release (or when the holding process ends).
func ExampleLock() {
	dir, err := os.MkdirTemp("", "localsync-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	lock := filepath.Join(dir, "acme.lock")

	release, err := localsync.Lock(lock)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = localsync.Lock(lock)
	fmt.Println("second lock refused:", errors.Is(err, localsync.ErrLocked))

	release()
	release, err = localsync.Lock(lock)
	fmt.Println("after release:", err)
	if err == nil {
		release()
	}
	// Output:
	// second lock refused: true
	// after release: <nil>
}
