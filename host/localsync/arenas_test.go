package localsync_test

import (
	"net/http/httptest"
	"path/filepath"
	"runtime/metrics"
	"testing"

	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestArenaGuardSeesBothEnds runs a sync whose grants expand (the Segment
// connector, natively, against the simulator) and checks that the arena
// guard returned the free heap to the OS when expansion started and when
// it was done: two forced collections. If a baton-sdk upgrade stops
// reporting either end (the transition handler, or the log message the
// guard waits for), one is missing and the sync's peak is left to chance
// again.
func TestArenaGuardSeesBothEnds(t *testing.T) {
	ts := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(40)), segmentsim.Options{}))
	defer ts.Close()
	forced := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := forced()
	syncSegment(t, ts.URL, filepath.Join(t.TempDir(), "s.c1z"), c1zstore.EnginePebble)
	if n := forced() - before; n != 2 {
		t.Errorf("the sync forced %d collections, want 2: one as grant expansion started, one when the syncer logged %q", n, "expandGrantsForEntitlements: graph is expanded")
	}
}
