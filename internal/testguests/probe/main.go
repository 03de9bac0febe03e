//go:build wasip1

// Command probe is a test guest that does, on request, the things the
// sandbox must either support (clocks, randomness, host HTTP, session) or
// contain (loops, sleeps, panics, memory bombs, log floods, filesystem and
// environment access, kernel memory). ListResources runs the probe named by
// Config["probe"] and reports what it saw in the first resource's profile.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/extism/go-pdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/guest/wasmguest"
)

type probe struct{}

func (probe) Metadata() abi.Metadata {
	return abi.Metadata{ABIVersion: abi.Version, DisplayName: "probe",
		ResourceTypes: []abi.ResourceType{{ID: "thing", DisplayName: "Thing"}}}
}

func (probe) Validate(context.Context, guest.Env, abi.Call) error { return nil }

func (probe) ListEntitlements(context.Context, guest.Env, abi.ListEntitlementsRequest) (abi.EntitlementPage, error) {
	return abi.EntitlementPage{}, nil
}

func (probe) ListGrants(context.Context, guest.Env, abi.ListGrantsRequest) (abi.GrantPage, error) {
	return abi.GrantPage{}, nil
}

var sink [][]byte

func (probe) ListResources(ctx context.Context, env guest.Env, req abi.ListResourcesRequest) (abi.ResourcePage, error) {
	p := map[string]string{}
	switch req.Config["probe"] {
	case "clock":
		p["now"] = time.Now().UTC().Format(time.RFC3339Nano)
		start := time.Now()
		time.Sleep(20 * time.Millisecond)
		p["slept"] = time.Since(start).String()
	case "rand":
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		p["rand"] = hex.EncodeToString(b)
	case "http":
		resp, err := env.HTTP.Do(ctx, abi.HTTPRequest{Method: "GET", Path: req.Config["path"],
			Headers: map[string][]string{"Authorization": {"Bearer guest-made-this-up"}}})
		if err != nil {
			return abi.ResourcePage{}, err
		}
		p["status"] = fmt.Sprint(resp.Status)
		p["body"] = string(resp.Body)
	case "session":
		if err := env.Session.Set(ctx, "k", []byte(req.Config["value"])); err != nil {
			return abi.ResourcePage{}, err
		}
		v, ok, _ := env.Session.Get(ctx, "k")
		p["value"], p["found"] = string(v), fmt.Sprint(ok)
		_, ok, _ = env.Session.Get(ctx, "missing")
		p["missingFound"] = fmt.Sprint(ok)
	case "env":
		p["env"] = strings.Join(os.Environ(), ",")
		p["args"] = strings.Join(os.Args, ",")
		_, err := os.ReadFile("/etc/passwd")
		p["readErr"] = fmt.Sprint(err != nil)
		p["hostname"], _ = os.Hostname()
	case "loop":
		for {
		}
	case "sleep":
		// Asleep in WASI poll_oneoff, not running wasm: only a
		// deadline-aware sleep ends it before ten minutes.
		time.Sleep(10 * time.Minute)
	case "panic":
		panic("probe panicked on purpose")
	case "memory":
		for {
			sink = append(sink, make([]byte, 8<<20))
		}
	case "kernel-fill":
		// Fills extism's kernel memory (where inputs, outputs and host
		// function blocks live) with 1 MiB blocks until alloc fails, and
		// keeps them: the instance's memory is then mostly kernel memory.
		var blocks []pdk.Memory
		for len(blocks) < 1<<12 {
			m := pdk.Allocate(1 << 20)
			if m.Offset() == 0 {
				break
			}
			blocks = append(blocks, m)
		}
		p["kernelMiB"] = fmt.Sprint(len(blocks))
		if n := len(blocks); n > 0 {
			blocks[n-1].Free() // room for the output
		}
	case "logflood":
		line := strings.Repeat("x", 1000)
		for i := 0; i < 10000; i++ {
			env.Log(guest.LogInfo, line)
			fmt.Println(line)
		}
	case "error":
		return abi.ResourcePage{}, abi.Errorf(abi.CodeUnauthenticated, "the token was rejected")
	case "big":
		p["big"] = strings.Repeat("y", 1<<20)
	}
	return abi.ResourcePage{Resources: []abi.Resource{{
		ID: abi.ResourceID{Type: "thing", ID: "1"}, DisplayName: "probe", Profile: p,
	}}}, nil
}

func init() { wasmguest.Register(probe{}) }

func main() {}
