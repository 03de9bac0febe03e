// Package native runs connector logic in the host process, without the
// sandbox, behind the same Caller seam as a sandbox pool. It exists to
// measure what the sandbox costs (make bench) and to test connector logic
// end to end without a wasm build; production paths always use the sandbox.
package native

import (
	"context"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/host/sandbox"
)

// Runner calls a guest.Connector directly, with the host's egress client as
// its HTTP and the JSON documents of the ABI on both sides, so the only
// difference from a sandboxed call is the sandbox.
type Runner struct {
	Connector guest.Connector
	HTTP      sandbox.HTTPDoer
	Log       guest.Logger
}

// Call implements connector.Caller.
func (r *Runner) Call(ctx context.Context, export string, input []byte, sess abi.Session) ([]byte, error) {
	env := guest.Env{HTTP: httpAdapter{r.HTTP}, Session: sessionOrEmpty(sess), Log: r.Log}
	if env.Log == nil {
		env.Log = func(guest.LogLevel, string) {}
	}
	return guest.Dispatch(ctx, r.Connector, env, export, input)
}

type httpAdapter struct{ h sandbox.HTTPDoer }

func (a httpAdapter) Do(ctx context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	resp := a.h.Do(ctx, req)
	if resp.Error != nil {
		return abi.HTTPResponse{}, resp.Error
	}
	return resp, nil
}

// DoBatch implements guest.BatchHTTP as the sandbox's baton_http_batch
// does, so that native and sandboxed syncs overlap the same requests.
func (a httpAdapter) DoBatch(ctx context.Context, reqs []abi.HTTPRequest) []abi.HTTPResponse {
	return sandbox.DoBatch(ctx, a.h, reqs)
}

// emptySession stands in when the caller has no session, as the sandbox's
// host functions do: reads miss, writes are forgotten.
type emptySession struct{}

func (emptySession) Get(context.Context, string) ([]byte, bool, error) { return nil, false, nil }
func (emptySession) Set(context.Context, string, []byte) error         { return nil }

func sessionOrEmpty(s abi.Session) guest.Session {
	if s == nil {
		return emptySession{}
	}
	return s
}
