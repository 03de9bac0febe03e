package sandbox

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/abi"
)

// HTTPDoer performs a guest's HTTP request under the tenant's egress rules.
// It reports refusals and failures in HTTPResponse.Error and never returns
// a Go error (host/egress.Client implements it).
type HTTPDoer interface {
	Do(ctx context.Context, req abi.HTTPRequest) abi.HTTPResponse
}

// DefaultInstances is a pool's default number of instances: two calls at
// once per tenant, two sync workers.
const DefaultInstances = 2

// PoolConfig configures one tenant's pool of instances.
type PoolConfig struct {
	// Instances bounds the concurrent calls (one instance each); default 2.
	Instances int
	// HTTP carries the guest's requests; it holds the tenant's origin and
	// secret, which never enter the sandbox.
	HTTP HTTPDoer
	// Logger receives this tenant's guest logs; nil uses the module's.
	Logger *zap.Logger
}

// Stats counts a pool's activity since it was created.
type Stats struct {
	Calls, Traps, Timeouts, OutputErrors, InstancesCreated uint64
	// Canceled counts calls whose caller gave up while the guest ran
	// (KindCanceled): their instances were discarded, but they are not
	// guest failures.
	Canceled uint64
	// LogBytesDropped is what the guests' dropped log lines would have
	// cost (Config.MaxLogBytes).
	LogBytesDropped uint64
	// MemoryBytes is the linear memory its live instances hold now
	// (guest and extism kernel), and PeakMemoryBytes the most they held at
	// once. Each instance holds at most Config.MemoryLimitMiB.
	MemoryBytes, PeakMemoryBytes int64
}

// Pool runs calls for one tenant on instances of a shared Module. It is safe
// for concurrent use; each call has an instance to itself.
type Pool struct {
	module *Module
	cfg    PoolConfig
	slots  chan struct{}

	logs *guestLogs

	mu     sync.Mutex
	idle   []*instance
	closed bool
	// done is closed by Close, so calls waiting for a slot give up.
	done chan struct{}

	calls, traps, timeouts, outputErrors, canceled, created atomic.Uint64
	memory                                                  memoryMeter
}

// NewPool returns a pool of instances of m bound to cfg's egress.
func (m *Module) NewPool(cfg PoolConfig) *Pool {
	if cfg.Instances <= 0 {
		cfg.Instances = DefaultInstances
	}
	if cfg.Logger == nil {
		cfg.Logger = m.cfg.Logger
	}
	return &Pool{module: m, cfg: cfg, slots: make(chan struct{}, cfg.Instances), done: make(chan struct{}),
		logs: newGuestLogs(cfg.Logger, m.cfg.MaxLogBytes)}
}

// ErrPoolClosed is returned by Call after Close.
var ErrPoolClosed = errors.New("sandbox pool is closed")

// Call runs export with input on a free instance, waiting for one if all are
// busy. sess is the sync-scoped session the guest's session functions use
// (nil: the guest sees an always-empty session). An error of type *CallError
// means the sandbox stopped the call; the instance has then been discarded.
func (p *Pool) Call(ctx context.Context, export string, input []byte, sess abi.Session) ([]byte, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, ErrPoolClosed
	}
	defer func() { <-p.slots }()

	inst, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	p.calls.Add(1)
	ctx = withCallState(ctx, &callState{http: p.cfg.HTTP, session: sess})
	out, err := inst.call(ctx, p.module.cfg, export, input)
	var ce *CallError
	if errors.As(err, &ce) {
		p.count(ce.Kind)
		if ce.Kind == KindCanceled {
			p.cfg.Logger.Debug("guest call canceled by its caller; discarding its instance",
				zap.String("export", export), zap.Error(ce.Err))
		} else {
			p.cfg.Logger.Warn("guest call failed; discarding its instance",
				zap.String("export", export), zap.String("kind", string(ce.Kind)), zap.Error(ce.Err))
		}
		inst.close(context.WithoutCancel(ctx))
		return nil, err
	}
	p.release(ctx, inst)
	return out, err
}

func (p *Pool) count(k ErrorKind) {
	switch k {
	case KindTrap:
		p.traps.Add(1)
	case KindTimeout:
		p.timeouts.Add(1)
	case KindOutput:
		p.outputErrors.Add(1)
	case KindCanceled:
		p.canceled.Add(1)
	}
}

func (p *Pool) acquire(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	for n := len(p.idle); n > 0; n = len(p.idle) {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if !inst.exited.Load() {
			p.mu.Unlock()
			return inst, nil
		}
		// Closed while idle (the deadline check racing the end of its last
		// call): never hand out a dead instance.
		inst.close(context.WithoutCancel(ctx))
	}
	p.mu.Unlock()
	inst, err := p.module.newInstance(ctx, p.logs, &p.memory)
	if err != nil {
		return nil, err
	}
	p.created.Add(1)
	return inst, nil
}

func (p *Pool) release(ctx context.Context, inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		inst.close(context.WithoutCancel(ctx))
		return
	}
	p.idle = append(p.idle, inst)
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	return Stats{
		Calls: p.calls.Load(), Traps: p.traps.Load(), Timeouts: p.timeouts.Load(),
		OutputErrors: p.outputErrors.Load(), InstancesCreated: p.created.Load(), Canceled: p.canceled.Load(),
		MemoryBytes: p.memory.bytes.Load(), PeakMemoryBytes: p.memory.peak.Load(),
		LogBytesDropped: p.logs.dropped.Load(),
	}
}

// ReleaseIdle closes the idle instances, returning their memory; the pool
// stays usable and creates instances again as calls need them.
func (p *Pool) ReleaseIdle(ctx context.Context) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, inst := range idle {
		inst.close(ctx)
	}
}

// Close discards the idle instances and waits, until ctx ends, for the
// calls in flight to return (their instances are then discarded): the
// Module may be closed only when none of its instances runs, and a call
// whose caller has gone ends at its deadline or cancellation.
func (p *Pool) Close(ctx context.Context) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return // the first Close holds the slots
	}
	p.closed = true
	close(p.done)
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, inst := range idle {
		inst.close(context.WithoutCancel(ctx))
	}
	// Holding every slot means no call runs; Close keeps them, so no call
	// starts after it.
	for range cap(p.slots) {
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
	}
}
