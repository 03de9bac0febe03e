package runner

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/host/service"
)

// TestStatusBoard: failures count up with a one-sentence reason and a
// retry time; rejected credentials (upstream's or ConductorOne's) stop the
// tenant after AuthFailuresBeforeStop; other failures never do; a success
// clears them.
func TestStatusBoard(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		err  error
		stop bool
	}{
		{"token", fmt.Errorf("sync: %w", status.Error(codes.Unauthenticated, "401 unauthorized")), true},
		{"conductorone", fmt.Errorf("%w (%v)", service.ErrCredentials, status.Error(codes.Unauthenticated, "bad client")), true},
		{"outage", status.Error(codes.Unavailable, "upstream 503"), false},
		{"plain", errors.New("disk full"), false},
	} {
		b := newStatusBoard(nil)
		var stopped int
		for i := 1; i <= AuthFailuresBeforeStop+1; i++ {
			reason, stop := b.failed(tc.name, tc.err, now.Add(time.Minute))
			if stop {
				stopped = i
				break
			}
			if s := b.snapshot()[0]; s.State != StateFailing || s.ConsecutiveFailures != i || s.BackingOffUntil == nil || reason == "" || s.Reason != reason {
				t.Errorf("%s after %d failures: %+v (reason %q)", tc.name, i, s, reason)
			}
		}
		if want := map[bool]int{true: AuthFailuresBeforeStop, false: 0}[tc.stop]; stopped != want {
			t.Errorf("%s: stopped after %d failures, want %d", tc.name, stopped, want)
		}
		if tc.stop && b.snapshot()[0].State != StateWaitingForReload {
			t.Errorf("%s: state %q after stopping", tc.name, b.snapshot()[0].State)
		}
		b.succeeded(tc.name, now, now.Add(time.Hour))
		if s := b.snapshot()[0]; s.State != StateOK || s.ConsecutiveFailures != 0 || s.Reason != "" || s.LastSuccess == nil || s.NextRun == nil {
			t.Errorf("%s after a success: %+v", tc.name, s)
		}
	}
}

// TestPhases: a tenant's phase says what it does now, whatever the outcome
// of its last attempt: a first sync is "syncing" while its state is still
// "starting".
func TestPhases(t *testing.T) {
	b := newStatusBoard(nil)
	phase := func() (string, string) { s := b.snapshot()[0]; return s.State, s.Phase }
	now := time.Now()
	for _, step := range []struct {
		do           func()
		state, phase string
	}{
		{func() { b.update("a", func(*TenantStatus) {}) }, StateStarting, PhaseStarting},
		{func() { b.queued("a") }, StateStarting, PhaseQueued},
		{func() { b.running("a") }, StateStarting, PhaseSyncing},
		{func() { b.succeeded("a", now, now.Add(time.Hour)) }, StateOK, PhaseIdle},
		{func() { b.running("a") }, StateOK, PhaseSyncing},
		{func() { b.failed("a", errors.New("disk full"), now.Add(time.Minute)) }, StateFailing, PhaseBackingOff},
		{func() { b.serving("a", func() bool { return false }) }, StateFailing, PhaseServing},
	} {
		step.do()
		if state, ph := phase(); state != step.state || ph != step.phase || b.snapshot()[0].Since == nil {
			t.Errorf("state %q, phase %q (since %v); want %q, %q", state, ph, b.snapshot()[0].Since, step.state, step.phase)
		}
	}
}

// TestConfigStatus: applied configurations count up; a reload's outcome
// is kept, and a rejected one says why.
func TestConfigStatus(t *testing.T) {
	r := New(Options{})
	defer r.Stop(context.Background())
	if err := r.Apply(context.Background(), Spec{}); err != nil {
		t.Fatal(err)
	}
	r.Reloaded("SIGHUP", errors.New("runner.toml:2: runtime.bogus: unknown key"))
	c := r.Config()
	if c.Generation != 1 || c.AppliedAt == nil || c.LastReload == nil || c.LastReload.Result != ReloadRejected || c.LastReload.Trigger != "SIGHUP" || c.LastReload.Error == "" {
		t.Errorf("config status %+v, %+v; want generation 1 and a rejected SIGHUP reload", c, c.LastReload)
	}
	if err := r.Apply(context.Background(), Spec{}); err != nil {
		t.Fatal(err)
	}
	r.Reloaded("SIGHUP", nil)
	if c := r.Config(); c.Generation != 2 || c.LastReload.Result != ReloadApplied || c.LastReload.Error != "" {
		t.Errorf("config status %+v, %+v; want generation 2, the reload applied", c, c.LastReload)
	}
}
