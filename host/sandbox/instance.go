package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/baton-runner/baton-runner/abi"
)

// ErrorKind says how a guest call failed inside the sandbox.
type ErrorKind string

// The ways a call can fail. Any of them discards the instance.
const (
	KindTrap    ErrorKind = "trap"    // the guest crashed (panic, unreachable, out of memory)
	KindTimeout ErrorKind = "timeout" // the call overran Config.CallTimeout
	KindOutput  ErrorKind = "output"  // the guest's output broke the ABI (too large, too many values, failed rc)
	// KindCanceled: the caller's context ended (cancelled, or the caller's
	// own deadline) while the guest ran. Not the guest's fault, so callers
	// must not count or log it as a guest failure; Err is the context's
	// error. The instance is discarded all the same: the deadline check
	// (interrupt.go) stopped it mid-call.
	KindCanceled ErrorKind = "canceled"
)

// CallError is a failure of the sandboxed call itself, as opposed to an
// error the connector returned in its result envelope.
type CallError struct {
	Export string
	Kind   ErrorKind
	Err    error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("guest %s: %s: %v", e.Export, e.Kind, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// GuestFault implements connector.GuestFault: every CallError is a failure
// of the guest or of the call itself, never of the API.
func (e *CallError) GuestFault() (timedOut bool) { return e.Kind == KindTimeout }

// instance is one instantiated guest with its own memory budget; it logs
// through its pool's log budget.
type instance struct {
	plugin *extism.Plugin
	// callDone is the Done channel of the call running on the instance, nil
	// between calls: the guest's sleeps end when it closes.
	callDone atomic.Pointer[<-chan struct{}]
	// exited is set when one of the instance's modules closes: the guest
	// called proc_exit, the deadline check stopped it, or the host closed it.
	exited atomic.Bool
}

func (m *Module) newInstance(ctx context.Context, logs *guestLogs, meter *memoryMeter) (*instance, error) {
	inst := &instance{}
	// wazero's defaults are a fake clock that starts in 2022 and a
	// deterministic "random" source: wrong for TLS-free but time-aware
	// connector code and for anything that needs unpredictable values.
	// No FS or env is configured, so the guest sees none. Its only
	// argument is a fixed program name: Go programs expect os.Args[0]
	// (baton-sdk's flag library indexes it in an init function).
	mc := wazero.NewModuleConfig().
		WithArgs(guestProgramName).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(inst.nanosleep).
		WithRandSource(rand.Reader).
		WithStdout(logs.stream("stdout")).
		WithStderr(logs.stream("stderr"))
	budget := newMemoryBudget(uint64(m.cfg.MemoryLimitMiB)<<20, meter)
	budget.charge(m.instanceBytes)
	ctx = experimental.WithMemoryAllocator(ctx, budget.allocator())
	ctx = experimental.WithCloseNotifier(ctx, experimental.CloseNotifyFunc(func(context.Context, uint32) {
		inst.exited.Store(true)
	}))
	p, err := m.compiled.Instance(ctx, extism.PluginInstanceConfig{ModuleConfig: mc})
	if err != nil {
		return nil, fmt.Errorf("instantiating guest module: %w", err)
	}
	p.SetLogger(logs.guestLog)
	inst.plugin = p
	return inst, nil
}

// guestProgramName is the guest's os.Args[0]: a constant, so it tells the
// guest nothing about the host.
const guestProgramName = "guest"

// nanosleep is the guest's sleep (WASI poll_oneoff with a clock
// subscription). wazero calls it with no context and the deadline check
// (fuel ticks) only stops running wasm, so a guest
// asleep in poll_oneoff would outlive its deadline by as long as it asked
// to sleep. Waking at the end of the call hands control back to wasm,
// where the check stops it at its next loop header.
func (i *instance) nanosleep(ns int64) {
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	var done <-chan struct{} // nil (never ready) between calls
	if d := i.callDone.Load(); d != nil {
		done = *d
	}
	select {
	case <-t.C:
	case <-done:
	}
}

// call runs one export under the call deadline. A returned *CallError means
// the instance must not be used again.
func (i *instance) call(ctx context.Context, cfg Config, export string, input []byte) ([]byte, error) {
	callCtx, cancel := context.WithTimeout(ctx, cfg.CallTimeout)
	defer cancel()
	done := callCtx.Done()
	i.callDone.Store(&done)
	defer i.callDone.Store(nil)
	rc, out, err := i.plugin.CallWithContext(callCtx, export, input)
	switch {
	case err != nil && ctx.Err() != nil:
		// The caller gave up first (its own deadline included); the
		// instance was closed mid-call.
		return nil, &CallError{Export: export, Kind: KindCanceled, Err: ctx.Err()}
	case err != nil && errors.Is(callCtx.Err(), context.DeadlineExceeded):
		return nil, &CallError{Export: export, Kind: KindTimeout,
			Err: fmt.Errorf("exceeded the call time limit of %s", cfg.CallTimeout)}
	case err != nil:
		// A trap, or text the guest set with error_set (extism returns it
		// as the error, whatever rc is).
		return nil, &CallError{Export: export, Kind: KindTrap, Err: guestText(err)}
	case i.exited.Load():
		// proc_exit(0): extism reports exit code 0 as success, but the
		// module is closed and every later call would fail.
		return nil, &CallError{Export: export, Kind: KindTrap,
			Err: errors.New("the guest exited (WASI proc_exit) during the call")}
	case rc != 0:
		// extism returned error_set's text as err when there was any, so
		// there is nothing more to read.
		return nil, &CallError{Export: export, Kind: KindOutput,
			Err: fmt.Errorf("export returned %d", rc)}
	case len(out) > cfg.MaxOutputBytes:
		return nil, &CallError{Export: export, Kind: KindOutput,
			Err: fmt.Errorf("output of %d bytes exceeds the limit of %d", len(out), cfg.MaxOutputBytes)}
	}
	if _, over := countJSONValues(out, cfg.MaxOutputValues); over {
		return nil, &CallError{Export: export, Kind: KindOutput,
			Err: fmt.Errorf("output holds more than %d JSON values", cfg.MaxOutputValues)}
	}
	return out, nil
}

// guestText replaces an error whose text the guest controls (a trap that
// quotes a guest-made URL, error_set's message) with its text clipped to
// abi.MaxTextBytes. The original is dropped, so the guest's full text is
// not kept alive by the CallError, and logging or wrapping it costs the
// host a few KiB at most.
func guestText(err error) error {
	return errors.New(abi.ClipText(err.Error()))
}

func (i *instance) close(ctx context.Context) {
	_ = i.plugin.Close(ctx)
}
