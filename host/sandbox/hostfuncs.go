package sandbox

import (
	"context"
	"encoding/json"
	"fmt"

	extism "github.com/extism/go-sdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

// Limits on what a guest may pass to a host function, so a hostile guest
// cannot make the host allocate without bound.
const (
	maxHTTPRequestBytes  = 8 << 20
	maxSessionKeyBytes   = 1 << 10
	maxSessionValueBytes = 4 << 20
)

// callState is what the host functions of one call act on. It travels in the
// call's context: the compiled module, and so the host functions, are shared
// by every tenant.
type callState struct {
	http    HTTPDoer
	session guest.Session
}

type callStateKey struct{}

func withCallState(ctx context.Context, s *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, s)
}

func stateFrom(ctx context.Context) *callState {
	s, _ := ctx.Value(callStateKey{}).(*callState)
	if s == nil {
		return &callState{}
	}
	return s
}

// hostFunctions returns the ABI's host functions. Each takes and returns
// offsets of extism memory blocks. They never panic on guest input: a
// panic would become a trap the guest cannot handle, and refusals are
// values by contract.
func hostFunctions() []extism.HostFunction {
	ptr := []extism.ValueType{extism.ValueTypePTR}
	return []extism.HostFunction{
		extism.NewHostFunctionWithStack(abi.HostHTTP, hostHTTP, ptr, ptr),
		extism.NewHostFunctionWithStack(abi.HostSessionGet, hostSessionGet, ptr, ptr),
		extism.NewHostFunctionWithStack(abi.HostSessionSet, hostSessionSet, ptr, ptr),
	}
}

// readBlock reads a guest-supplied block, refusing oversized ones before
// copying them.
func readBlock(p *extism.CurrentPlugin, offset uint64, limit uint64) ([]byte, error) {
	n, err := p.Length(offset)
	if err != nil {
		return nil, fmt.Errorf("invalid memory block: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("block of %d bytes exceeds the limit of %d", n, limit)
	}
	return p.ReadBytes(offset)
}

// reply writes b to extism memory and returns its offset in stack[0]; a
// failed write (memory cap reached) returns 0, which guests read as "no
// reply" and the guest library reports as an error.
func reply(p *extism.CurrentPlugin, stack []uint64, b []byte) {
	off, err := p.WriteBytes(b)
	if err != nil {
		off = 0
	}
	stack[0] = off
}

func hostHTTP(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
	var resp abi.HTTPResponse
	in, err := readBlock(p, stack[0], maxHTTPRequestBytes)
	var req abi.HTTPRequest
	switch {
	case err != nil:
		resp.Error = abi.Errorf(abi.CodeInvalidArgument, "baton_http: %v", err)
	case json.Unmarshal(in, &req) != nil:
		resp.Error = abi.Errorf(abi.CodeInvalidArgument, "baton_http: request is not a valid HTTPRequest document")
	default:
		if h := stateFrom(ctx).http; h != nil {
			resp = h.Do(ctx, req)
		} else {
			resp.Error = abi.Errorf(abi.CodeEgressDenied, "baton_http: this call has no egress")
		}
	}
	out, _ := json.Marshal(resp) // plain data, cannot fail
	reply(p, stack, out)
}

func hostSessionGet(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
	key, err := readBlock(p, stack[0], maxSessionKeyBytes)
	sess := stateFrom(ctx).session
	if err != nil || sess == nil {
		stack[0] = 0
		return
	}
	v, ok, err := sess.Get(ctx, string(key))
	if err != nil || !ok || len(v) == 0 {
		stack[0] = 0
		return
	}
	reply(p, stack, v)
}

func hostSessionSet(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
	fail := func(format string, args ...any) { reply(p, stack, fmt.Appendf(nil, format, args...)) }
	in, err := readBlock(p, stack[0], maxSessionKeyBytes+4*maxSessionValueBytes/3+64)
	if err != nil {
		fail("%v", err)
		return
	}
	var req abi.SessionSetRequest
	if err := json.Unmarshal(in, &req); err != nil {
		fail("request is not a valid SessionSetRequest document")
		return
	}
	if len(req.Key) == 0 || len(req.Key) > maxSessionKeyBytes || len(req.Value) > maxSessionValueBytes {
		fail("key must be 1..%d bytes and value at most %d bytes", maxSessionKeyBytes, maxSessionValueBytes)
		return
	}
	sess := stateFrom(ctx).session
	if sess == nil {
		stack[0] = 0 // no session: writes are accepted and forgotten, reads miss
		return
	}
	if err := sess.Set(ctx, req.Key, req.Value); err != nil {
		fail("%v", err)
		return
	}
	stack[0] = 0
}
