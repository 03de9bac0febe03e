//go:build wasip1

// Package wasmenv is the guest side of the ABI's host functions: the
// guest.Env a wasip1 guest lends its connector (HTTP through baton_http,
// the sync session, the host logger). Package wasmguest uses it for every
// call; a guest that defines its exports itself (the hostile test guest)
// uses it too.
package wasmenv

import (
	"context"
	"encoding/json"

	"github.com/extism/go-pdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

//go:wasmimport extism:host/user baton_http
func importHTTP(request uint64) uint64

//go:wasmimport extism:host/user baton_session_get
func importSessionGet(key uint64) uint64

//go:wasmimport extism:host/user baton_session_set
func importSessionSet(request uint64) uint64

// call passes in to a host function and returns its reply (nil for offset 0),
// freeing both blocks of extism memory.
func call(fn func(uint64) uint64, in []byte) []byte {
	mem := pdk.AllocateBytes(in)
	defer mem.Free()
	off := fn(mem.Offset())
	if off == 0 {
		return nil
	}
	reply := pdk.FindMemory(off)
	defer reply.Free()
	return reply.ReadBytes()
}

type hostHTTP struct{}

func (hostHTTP) Do(_ context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	in, err := json.Marshal(req)
	if err != nil {
		return abi.HTTPResponse{}, abi.Errorf(abi.CodeInvalidArgument, "encoding HTTP request: %v", err)
	}
	var resp abi.HTTPResponse
	if err := json.Unmarshal(call(importHTTP, in), &resp); err != nil {
		return abi.HTTPResponse{}, abi.Errorf(abi.CodeUnknown, "decoding host HTTP reply: %v", err)
	}
	if resp.Error != nil {
		return abi.HTTPResponse{}, resp.Error
	}
	return resp, nil
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
