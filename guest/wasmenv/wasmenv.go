//go:build wasip1

// Package wasmenv is the guest side of the ABI's host functions: the
// guest.Env a wasip1 guest lends its connector (HTTP through baton_http_batch,
// the sync session, the host logger). Package wasmguest uses it for every
// call; a guest that defines its exports itself (the hostile test guest)
// uses it too.
package wasmenv

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/extism/go-pdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

//go:wasmimport extism:host/user baton_http_batch
func importHTTPBatch(request uint64) uint64

//go:wasmimport extism:host/user baton_session_get
func importSessionGet(key uint64) uint64

//go:wasmimport extism:host/user baton_session_set
func importSessionSet(request uint64) uint64

// call passes in to a host function and returns its reply (nil for offset 0),
// freeing both blocks of extism memory.
func call(fn func(uint64) uint64, in []byte) []byte {
	mem := writeBlock(in)
	defer kernelFree(mem)
	off := fn(mem)
	if off == 0 {
		return nil
	}
	return readBlock(off)
}

// hostHTTP sends every request, even a single one, through
// baton_http_batch, whose reply carries bodies raw instead of in base64.
type hostHTTP struct{}

func (h hostHTTP) Do(ctx context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	resp := h.DoBatch(ctx, []abi.HTTPRequest{req})[0]
	if resp.Error != nil {
		return abi.HTTPResponse{}, resp.Error
	}
	return resp, nil
}

// DoBatch implements guest.BatchHTTP, in batches of at most
// abi.MaxBatchRequests.
func (hostHTTP) DoBatch(_ context.Context, reqs []abi.HTTPRequest) []abi.HTTPResponse {
	out := make([]abi.HTTPResponse, 0, len(reqs))
	for len(reqs) > 0 {
		n := min(len(reqs), abi.MaxBatchRequests)
		out = append(out, batch(reqs[:n])...)
		reqs = reqs[n:]
	}
	return out
}

func batch(reqs []abi.HTTPRequest) []abi.HTTPResponse {
	failAll := func(err *abi.Error) []abi.HTTPResponse {
		out := make([]abi.HTTPResponse, len(reqs))
		for i := range out {
			out[i].Error = err
		}
		return out
	}
	in, err := json.Marshal(abi.HTTPBatchRequest{Requests: reqs})
	if err != nil {
		return failAll(abi.Errorf(abi.CodeInvalidArgument, "encoding HTTP requests: %v", err))
	}
	// The bodies alias the reply, which stays alive as long as they do.
	out, err := abi.DecodeBatchReply(call(importHTTPBatch, in), len(reqs))
	var refused *abi.Error
	switch {
	case errors.As(err, &refused):
		return failAll(refused)
	case err != nil:
		return failAll(abi.Errorf(abi.CodeUnknown, "decoding host HTTP reply: %v", err))
	}
	return out
}

type hostSession struct{}

func (hostSession) Get(_ context.Context, key string) ([]byte, bool, error) {
	v := call(importSessionGet, []byte(key))
	return v, v != nil, nil
}

func (hostSession) Set(_ context.Context, key string, value []byte) error {
	in, err := json.Marshal(abi.SessionSetRequest{Key: key, Value: value})
	if err != nil {
		return err
	}
	if msg := call(importSessionSet, in); msg != nil {
		return abi.Errorf(abi.CodeUnavailable, "session set %q: %s", key, msg)
	}
	return nil
}

var levels = map[guest.LogLevel]pdk.LogLevel{
	guest.LogDebug: pdk.LogDebug,
	guest.LogInfo:  pdk.LogInfo,
	guest.LogWarn:  pdk.LogWarn,
	guest.LogError: pdk.LogError,
}

func hostLog(level guest.LogLevel, msg string) { pdk.Log(levels[level], msg) }

// Env returns the Env of the host functions.
func Env() guest.Env { return guest.Env{HTTP: hostHTTP{}, Session: hostSession{}, Log: hostLog} }
