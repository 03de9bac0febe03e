package service_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/service"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/fakec1"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// Serving ConductorOne: a tenant runs in service mode with the connector's
// client ID and secret, takes a full-sync task and uploads the c1z, as
// `baton-runner service` does. Here ConductorOne is a fake (its CA trusted
// through SSL_CERT_FILE, which must be set before the process's first TLS
// handshake) and the tenant's origin is the bundled Segment simulator.
func Example() {
	ctx := context.Background()
	api := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(20)), segmentsim.Options{}))
	defer api.Close()
	dir, err := os.MkdirTemp("", "service-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	c1, err := fakec1.New(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c1.Close()
	os.Setenv("SSL_CERT_FILE", c1.CAFile())

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

	svc := service.New(service.Config{ClientID: c1.ClientID(), ClientSecret: secret.New(c1.ClientSecret())})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx, t) }()

	task := c1.AddSyncTask() // ConductorOne asks for a full sync
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	fin, err := c1.WaitFinished(waitCtx, task)
	stop() // like SIGTERM: take no more tasks, finish those in flight
	fmt.Println("service stopped, error:", <-done)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sync task succeeded:", fin.GetSuccess() != nil)

	c1z, ok := c1.Upload(task)
	file := filepath.Join(dir, "uploaded.c1z")
	if err := os.WriteFile(file, c1z, 0o600); !ok || err != nil {
		fmt.Println("no c1z uploaded", err)
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
	fmt.Println("users in the uploaded c1z:", users)
	// Output:
	// service stopped, error: <nil>
	// sync task succeeded: true
	// users in the uploaded c1z: 20
}
