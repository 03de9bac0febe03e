package runner

import (
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
