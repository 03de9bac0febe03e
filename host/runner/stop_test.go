package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// fakeTenant registers a tenant that, once cancelled, takes stopIn to
// stop, or never stops by itself when stopIn < 0 (a service tenant deep in
// its tasks' grace period, say). Its context descends from the runner's,
// as a started tenant's does.
func fakeTenant(r *Runner, spec TenantSpec, stopIn time.Duration) *running {
	ctx, cancel := context.WithCancel(r.base)
	rt := &running{spec: spec, cancel: cancel, done: make(chan struct{})}
	if stopIn >= 0 {
		go func() {
			<-ctx.Done()
			time.Sleep(stopIn)
			close(rt.done)
		}()
	}
	r.mu.Lock()
	r.tenants[spec.Name] = rt
	r.mu.Unlock()
	return rt
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// fakeModule makes spec's module count as already compiled, so Apply
// reuses it without compiling.
func fakeModule(r *Runner, name string) Module {
	wasm := []byte("compiled elsewhere")
	sum := sha256.Sum256(wasm)
	r.modules[name] = &compiled{sha: hex.EncodeToString(sum[:])}
	return Module{Name: name, Wasm: wasm}
}

// TestApplyStopsChangedTenantsTogether: two tenants that each take a
// second to stop are stopped in parallel.
func TestApplyStopsChangedTenantsTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(Options{})
		a := fakeTenant(r, TenantSpec{Name: "a"}, time.Second)
		b := fakeTenant(r, TenantSpec{Name: "b"}, time.Second)
		start := time.Now()
		if err := r.Apply(context.Background(), Spec{}); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != time.Second {
			t.Errorf("stopping two tenants of 1s each took %v, want 1s", took)
		}
		if !closed(a.done) || !closed(b.done) || len(r.Tenants()) != 0 {
			t.Error("Apply returned before the removed tenants stopped")
		}
		r.Stop(context.Background())
	})
}

// TestStopDoesNotWaitForAStuckApply: SIGTERM arrives while a reload waits
// for a tenant that will not stop soon. Stop cancels every tenant at once,
// including one the reload keeps, and returns at the end of its grace
// period; the reload, when it finally ends, starts nothing.
func TestStopDoesNotWaitForAStuckApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(Options{})
		mod := fakeModule(r, "m")
		keep := TenantSpec{Name: "kept", Module: "m"}
		kept := fakeTenant(r, keep, 0)
		stuck := fakeTenant(r, TenantSpec{Name: "stuck", Module: "m"}, -1)

		applied := make(chan error, 1)
		go func() {
			added := TenantSpec{Name: "added", Module: "m"}
			applied <- r.Apply(context.Background(), Spec{Modules: []Module{mod}, Tenants: []TenantSpec{keep, added}})
		}()
		synctest.Wait()
		if closed(kept.done) || len(applied) != 0 {
			t.Fatal("the reload did not keep its unchanged tenant or did not wait for the stuck one")
		}

		const grace = 5 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		start := time.Now()
		stopped := make(chan struct{})
		go func() {
			r.Stop(ctx)
			close(stopped)
		}()
		synctest.Wait()
		if !closed(kept.done) {
			t.Error("Stop did not cancel a running tenant at once while a reload was in progress")
		}
		<-stopped
		if took := time.Since(start); took > grace {
			t.Errorf("Stop took %v with a grace period of %v", took, grace)
		}

		close(stuck.done)
		if err := <-applied; !errors.Is(err, ErrStopped) {
			t.Errorf("the reload ended with %v, want ErrStopped", err)
		}
		if got := r.Tenants(); len(got) != 0 {
			t.Errorf("tenants after Stop and the reload: %v", got)
		}
		if err := r.Apply(context.Background(), Spec{}); !errors.Is(err, ErrStopped) {
			t.Errorf("Apply after Stop: %v, want ErrStopped", err)
		}
	})
}
