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
// guard saw expansion start (OnCollected, then one forced collection that
// returns the free heap) and end (at least one more: the release there,
// then those while the store is sealed). If a baton-sdk upgrade stops
// reporting either end (the transition handler, or the log message the
// guard waits for), OnCollected is not called or only one collection is
// forced, and the sync's peak is left to chance again.
func TestArenaGuardSeesBothEnds(t *testing.T) {
	ts := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(40)), segmentsim.Options{}))
	defer ts.Close()
	forced := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := forced()
	var atStart *uint64
	syncSegment(t, ts.URL, filepath.Join(t.TempDir(), "s.c1z"), c1zstore.EnginePebble, func() { n := forced(); atStart = &n })
	if atStart == nil {
		t.Fatal("OnCollected was not called as grant expansion started")
	}
	if n := *atStart - before; n != 0 {
		t.Errorf("%d collections were forced before grant expansion started, want none", n)
	}
	if n := forced() - *atStart; n < 2 {
		t.Errorf("the sync forced %d collections from grant expansion on, want at least 2: one as it started, one or more once the syncer logged %q", n, "expandGrantsForEntitlements: graph is expanded")
	}
}
