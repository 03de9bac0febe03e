package service_test

import (
	"runtime/metrics"
	"testing"

	"github.com/baton-runner/baton-runner/host/service"
)

// TestSyncTaskReleasesAtExpansion: a full-sync task, whose syncer baton-sdk's
// task manager builds, does what a local sync does when grant expansion
// starts and ends: the tenant's instances are closed as it starts (none is
// made after, so the tenant holds no guest memory once the task is done),
// and the arena guard returns the free heap at both ends (at least two
// forced collections; without the end, only the one at the start). Either
// fails if a baton-sdk upgrade stops logging the messages the task's
// logger watches for.
func TestSyncTaskReleasesAtExpansion(t *testing.T) {
	c1, tn := serving(t, service.Config{})
	forced := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := forced()
	id := c1.AddSyncTask()
	if fin, err := c1.WaitFinished(ctxTimeout(t), id); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("the sync task: %v %v", fin, err)
	}
	if n := forced() - before; n < 2 {
		t.Errorf("the sync task forced %d collections, want at least 2: as grant expansion started, and when it was done", n)
	}
	if s := tn.Stats(); s.PeakMemoryBytes == 0 || s.MemoryBytes != 0 {
		t.Errorf("after the sync task the tenant's instances hold %d bytes (peak %d): want them closed at grant expansion", s.MemoryBytes, s.PeakMemoryBytes)
	}
}
