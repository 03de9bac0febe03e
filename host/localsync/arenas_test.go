package localsync_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"runtime/metrics"
	"testing"

	"github.com/baton-runner/baton-runner/guest/segment"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/connector"
	"github.com/baton-runner/baton-runner/internal/native"
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
	ws := segmentsim.Generate(segmentsim.DefaultConfig(40))
	ts := httptest.NewServer(segmentsim.NewServer(ws, segmentsim.Options{}))
	defer ts.Close()
	hc, err := egress.New(egress.Config{BaseURL: ts.URL, Token: secret.New(segmentsim.DefaultToken)})
	if err != nil {
		t.Fatal(err)
	}
	seg := segment.New()
	cc, err := connector.NewClient(context.Background(), connector.New(&native.Runner{Connector: seg, HTTP: hc}, seg.Metadata(), nil), connector.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()

	forced := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := forced()
	if err := localsync.Run(context.Background(), cc, localsync.Options{Path: filepath.Join(t.TempDir(), "s.c1z")}); err != nil {
		t.Fatal(err)
	}
	if n := forced() - before; n != 2 {
		t.Errorf("the sync forced %d collections, want 2: one as grant expansion started, one when the syncer logged %q", n, "expandGrantsForEntitlements: graph is expanded")
	}
}
