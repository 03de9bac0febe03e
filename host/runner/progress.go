package runner

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/localsync"
)

// progressInterval is how often a running scheduled sync logs its progress:
// a long sync in a pod's log is otherwise silent until it ends.
const progressInterval = 30 * time.Second

var phases = map[string]string{"list-resources": "resources", "list-entitlements": "entitlements", "list-grants": "grants"}

// syncProgress logs "sync progress" at each phase of a sync and every
// progressInterval, with what has been listed so far.
type syncProgress struct {
	log   *zap.Logger
	start time.Time

	mu     sync.Mutex
	phase  string
	listed map[string]int
	last   time.Time
}

func newSyncProgress(log *zap.Logger) *syncProgress {
	now := time.Now()
	return &syncProgress{log: log, start: now, last: now, listed: map[string]int{}}
}

func (p *syncProgress) update(pr *localsync.Progress) {
	phase, ok := phases[pr.Action]
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listed[phase] += int(pr.Count)
	now := time.Now()
	if phase == p.phase && now.Sub(p.last) < progressInterval {
		return
	}
	p.phase, p.last = phase, now
	p.log.Info("sync progress", zap.String("phase", phase), zap.Int("resources", p.listed["resources"]),
		zap.Int("entitlements", p.listed["entitlements"]), zap.Int("grants", p.listed["grants"]),
		zap.Duration("elapsed", now.Sub(p.start).Round(time.Second)))
}
