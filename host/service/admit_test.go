package service_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/service"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/fakec1"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// serving runs a Segment tenant (a 20-user simulator) in service mode
// against a fake ConductorOne, with cfg's Admit and TaskConcurrency, until
// the test ends.
func serving(t *testing.T, cfg service.Config) (*fakec1.Server, *tenant.Tenant) {
	t.Helper()
	ctx := context.Background()
	api := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(20)), segmentsim.Options{}))
	t.Cleanup(api.Close)
	c1 := fakec1.Start(t)
	// Read once per process, at its first TLS handshake; every fake shares
	// one CA.
	os.Setenv("SSL_CERT_FILE", c1.CAFile())

	wasm, err := wasmbuild.Read("guest/segment/wasm")
	if err != nil {
		t.Fatal(err)
	}
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm, CacheDir: wasmbuild.CacheDir})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.New(m, tenant.Config{Name: "acme", Egress: egress.Config{BaseURL: api.URL, Token: secret.New(segmentsim.DefaultToken)}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret, cfg.TempDir = c1.ClientID(), secret.New(c1.ClientSecret()), t.TempDir()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- service.New(cfg).Run(runCtx, tn) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("the service stopped with %v", err)
		}
		tn.Close(ctx)
		_ = m.Close(ctx)
	})
	return c1, tn
}

// admission is one sync task's call of Config.Admit, which the test lets
// in (or refuses) and whose release it sees.
type admission struct {
	let      chan error
	released chan bool
}

// gate is a Config.Admit whose admissions the test decides.
func gate() (admit func(context.Context) (func(bool), error), asked chan admission) {
	asked = make(chan admission, 8)
	admit = func(ctx context.Context) (func(bool), error) {
		a := admission{let: make(chan error), released: make(chan bool, 1)}
		asked <- a
		select {
		case err := <-a.let:
			if err != nil {
				return nil, err
			}
			return func(ok bool) { a.released <- ok }, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return admit, asked
}

func next[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("no %s within a minute", what)
		panic("unreachable")
	}
}

// TestAdmitHoldsSyncTasks: with TaskConcurrency 2, two full-sync tasks both
// ask to be admitted; the one not let in waits, heartbeated and
// unfinished, while the other syncs, uploads and is released as a
// success; then it runs in turn.
func TestAdmitHoldsSyncTasks(t *testing.T) {
	admit, asked := gate()
	c1, _ := serving(t, service.Config{TaskConcurrency: 2, Admit: admit})
	a, b := c1.AddSyncTask(), c1.AddSyncTask()
	first, second := next(t, asked, "first admission"), next(t, asked, "second admission")
	for _, id := range []string{a, b} {
		if c1.Heartbeats(id) == 0 {
			t.Errorf("task %s asks for admission unheartbeated", id)
		}
		if _, done := c1.Finished(id); done {
			t.Fatalf("task %s finished before it was admitted", id)
		}
	}

	first.let <- nil
	if ok := next(t, first.released, "release of the first sync"); !ok {
		t.Error("a successful sync task was released as failed")
	}
	var running, waiting string
	for _, id := range []string{a, b} {
		if fin, done := c1.Finished(id); done {
			if fin.GetSuccess() == nil {
				t.Fatalf("the admitted task failed: %v", fin)
			}
			running = id
		} else {
			waiting = id
		}
	}
	if running == "" || waiting == "" {
		t.Fatalf("after one admission: %s finished, %s waiting; want one of each", running, waiting)
	}
	if _, ok := c1.Upload(running); !ok {
		t.Error("the admitted task uploaded no c1z")
	}

	second.let <- nil
	if fin, err := c1.WaitFinished(ctxTimeout(t), waiting); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("the second sync task: %v %v", fin, err)
	}
	if ok := next(t, second.released, "release of the second sync"); !ok {
		t.Error("the second sync task was released as failed")
	}
}

// TestAdmitRefusalFailsTheTask: a sync task that Admit refuses fails in
// ConductorOne with the refusal's text, is not released, and the service
// takes the next task.
func TestAdmitRefusalFailsTheTask(t *testing.T) {
	admit, asked := gate()
	c1, _ := serving(t, service.Config{Admit: admit})
	refused := c1.AddSyncTask()
	next(t, asked, "admission").let <- errors.New("tenant acme's sync does not fit: raise the budget")
	fin, err := c1.WaitFinished(ctxTimeout(t), refused)
	if err != nil {
		t.Fatal(err)
	}
	if fin.GetError() == nil || !strings.Contains(fin.GetStatus().GetMessage(), "tenant acme's sync does not fit: raise the budget") {
		t.Fatalf("the refused task finished with %v, want an error with the refusal's text", fin)
	}

	ok := c1.AddSyncTask()
	a := next(t, asked, "the next task's admission")
	a.let <- nil
	if fin, err := c1.WaitFinished(ctxTimeout(t), ok); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("the task after a refusal: %v %v", fin, err)
	}
	if !next(t, a.released, "release") {
		t.Error("released as failed")
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
