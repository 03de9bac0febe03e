package service

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"github.com/conductorone/baton-sdk/pkg/types"
)

// flakyManager fails Next while fail says so, and records when it was
// asked.
type flakyManager struct {
	mu    sync.Mutex
	asked []time.Time
	fail  func(n int) bool
	stop  func()
}

func (m *flakyManager) Next(context.Context) (*v1.Task, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked = append(m.asked, time.Now())
	n := len(m.asked)
	if n == 40 {
		m.stop()
	}
	if m.fail(n) {
		return nil, 0, errors.New("ConductorOne is down")
	}
	return nil, 0, nil
}

func (m *flakyManager) Process(context.Context, *v1.Task, types.ConnectorClient) error { return nil }
func (m *flakyManager) ShouldDebug() bool                                              { return false }
func (m *flakyManager) GetTempDir() string                                             { return "" }

// TestLoopBacksOffWithJitter: failed polls back off from 1s doubling,
// jittered ±50% and capped at a minute; a successful poll starts over.
func TestLoopBacksOffWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Polls 1-10 fail, 11 succeeds, 12-40 fail.
		m := &flakyManager{fail: func(n int) bool { return n != 11 }, stop: cancel}
		s := New(Config{})
		var inflight sync.WaitGroup
		if err := s.loop(ctx, ctx, m, nil, nil, &inflight); err != nil {
			t.Fatal(err)
		}
		// The wait before poll i+1 follows failure number k of a run.
		step := func(k int) time.Duration { return min(time.Second<<(k-1), time.Minute) }
		k := 0
		distinct := map[time.Duration]bool{}
		for i := 1; i < len(m.asked); i++ {
			d := m.asked[i].Sub(m.asked[i-1])
			if i == 11 { // after the success: what ConductorOne asked (0)
				if d != 0 {
					t.Errorf("waited %v after a successful poll", d)
				}
				k = 0
				continue
			}
			k++
			lo, hi := step(k)/2, min(step(k)*3/2, time.Minute)
			if d < lo || d > hi+time.Nanosecond {
				t.Errorf("wait after failure %d of a run: %v, want %v..%v", k, d, lo, hi)
			}
			distinct[d] = true
		}
		if len(distinct) < 10 {
			t.Errorf("only %d distinct waits: no jitter?", len(distinct))
		}
	})
}
