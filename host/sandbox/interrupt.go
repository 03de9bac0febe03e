package sandbox

import (
	"context"
	"errors"

	extism "github.com/extism/go-sdk"

	"github.com/baton-runner/baton-runner/host/sandbox/internal/fuel"
)

// Stopping a guest that overruns its deadline: Compile rewrites the
// module (package fuel) so that it calls tick at least every
// fuel.PerTick loop iterations or function calls; tick fails the call
// once the call's context is done, and wazero turns that panic into a
// trap. Compile refuses a module the rewriter does not fully understand
// rather than run it without fuel.

// errDeadline is the panic of tick; the caller classifies the failure by
// its own contexts, so the text only shows in traces.
var errDeadline = errors.New("call context done")

// tickFunction is the host side of the instrumentation.
func tickFunction() extism.HostFunction {
	f := extism.NewHostFunctionWithStack(fuel.TickName, func(ctx context.Context, _ *extism.CurrentPlugin, _ []uint64) {
		if ctx.Err() != nil {
			panic(errDeadline)
		}
	}, nil, nil)
	f.SetNamespace(fuel.Namespace)
	return f
}
