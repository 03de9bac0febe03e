package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	extism "github.com/extism/go-sdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/egress"
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
	session abi.Session
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
		extism.NewHostFunctionWithStack(abi.HostHTTPBatch, hostHTTPBatch, ptr, ptr),
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

// hostHTTPBatch sends a batch's requests concurrently, each as hostHTTP
// would; the egress client bounds how many are on the wire. The reply
// holds at most abi.MaxBatchReplyBytes of bodies: a response that would
// pass it is replaced by an error, so a batch costs the host no more than
// one maximal response.
func hostHTTPBatch(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
	in, err := readBlock(p, stack[0], maxHTTPRequestBytes)
	if err != nil {
		reply(p, stack, abi.EncodeBatchRefusal(abi.Errorf(abi.CodeInvalidArgument, "baton_http_batch: %v", err)))
		return
	}
	reqs, refusal := decodeBatch(in)
	if refusal != nil {
		reply(p, stack, abi.EncodeBatchRefusal(refusal))
		return
	}
	out, _ := abi.EncodeBatchReply(DoBatch(ctx, stateFrom(ctx).http, reqs)) // plain data, cannot fail
	reply(p, stack, out)
}

// decodeBatch reads an abi.HTTPBatchRequest document as json.Unmarshal
// would, but as a stream that stops at the request past
// abi.MaxBatchRequests: decoded whole, 8 MiB of `{}` is 2.8 million
// requests, 180 MB of them and near 1 GB allocated while the slice grows,
// before the count could be checked.
func decodeBatch(in []byte) ([]abi.HTTPRequest, *abi.Error) {
	invalid := abi.Errorf(abi.CodeInvalidArgument, "baton_http_batch: request is not a valid HTTPBatchRequest document")
	dec := json.NewDecoder(bytes.NewReader(in))
	var reqs []abi.HTTPRequest
	tok, err := dec.Token()
	switch {
	case err != nil:
		return nil, invalid
	case tok == json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, invalid
			}
			// json.Unmarshal matches field names case-insensitively, and
			// the last of repeated fields wins.
			if k, _ := key.(string); !strings.EqualFold(k, "requests") {
				if skipValue(dec) != nil {
					return nil, invalid
				}
				continue
			}
			reqs = nil
			list, err := dec.Token()
			if err != nil || (list != json.Delim('[') && list != nil) {
				return nil, invalid
			}
			if list == nil {
				continue
			}
			for dec.More() {
				if len(reqs) == abi.MaxBatchRequests {
					return nil, abi.Errorf(abi.CodeInvalidArgument, "baton_http_batch: a batch holds 1 to %d requests, not more", abi.MaxBatchRequests)
				}
				var r abi.HTTPRequest
				if dec.Decode(&r) != nil {
					return nil, invalid
				}
				reqs = append(reqs, r)
			}
			if _, err := dec.Token(); err != nil { // ]
				return nil, invalid
			}
		}
		if _, err := dec.Token(); err != nil { // }
			return nil, invalid
		}
	case tok != nil: // null is no requests, as json.Unmarshal has it
		return nil, invalid
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid
	}
	if len(reqs) == 0 {
		return nil, abi.Errorf(abi.CodeInvalidArgument, "baton_http_batch: a batch holds 1 to %d requests, not 0", abi.MaxBatchRequests)
	}
	return reqs, nil
}

// skipValue reads past the next value token by token, so that an unknown
// field costs no copy of it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// DoBatch sends reqs through h concurrently (h bounds how many are on the
// wire) and returns response i for request i, with the reply's size cap.
// The cap goes to h in the context as an egress.BatchBudget, so that an
// egress.Client refuses a response past it without reading the rest:
// applied only to the bodies read whole, it would let a batch cost its
// requests in flight times the largest response. Other doers' responses
// are held to it when they come back.
func DoBatch(ctx context.Context, h HTTPDoer, reqs []abi.HTTPRequest) []abi.HTTPResponse {
	out := make([]abi.HTTPResponse, len(reqs))
	if h == nil {
		for i := range out {
			out[i].Error = abi.Errorf(abi.CodeEgressDenied, "baton_http_batch: this call has no egress")
		}
		return out
	}
	ctx = egress.WithBatchBudget(ctx, egress.NewBatchBudget(abi.MaxBatchReplyBytes))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for i, req := range reqs {
		wg.Go(func() {
			resp := h.Do(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			if total+len(resp.Body) > abi.MaxBatchReplyBytes {
				resp = abi.HTTPResponse{Error: abi.Errorf(abi.CodeUnavailable,
					"%s %s: the batch's responses exceed %d MiB together; send this request in a smaller batch",
					abi.ClipText(req.Method), abi.ClipText(pathOnly(req.Path)), abi.MaxBatchReplyBytes>>20)}
			}
			total += len(resp.Body)
			out[i] = resp
		})
	}
	wg.Wait()
	return out
}

// pathOnly drops the query, which may hold emails, from a path quoted in
// an error.
func pathOnly(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
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
