package config_test

import (
	"fmt"

	"github.com/baton-runner/baton-runner/config"
)

// An embedder (the daemon, a deployment check) parses runner.toml once and
// reads the tenants and their limits from the result; secrets stay
// references until a tenant starts.
func ExampleParse() {
	src := `
[runtime]
memory_limit_mib = 128
max_in_flight = 4          # every tenant inherits this sync limit

[connectors.segment]
wasm = "embedded:segment"

[[tenants]]
name = "acme"
connector = "segment"
token = "env:ACME_SEGMENT_TOKEN"
mode = "sync"
request_budget = 50000     # this tenant's own limit
  [tenants.sync]
  interval = "1h"
  output = "out/acme.c1z"  # relative to the file's directory
`
	c, err := config.Parse("/etc/baton-runner/runner.toml", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("memory per instance:", c.Runtime.MemoryLimitMiB, "MiB; instances per tenant:", c.Runtime.InstancesPerTenant)
	for _, t := range c.Tenants {
		fmt.Printf("%s: %s via %s, token %v\n", t.Name, t.Mode, t.BaseURL, t.Token)
		fmt.Printf("  every %v into %s\n", t.Sync.Interval, t.Sync.Output)
		fmt.Printf("  limits: %d requests, %d in flight, %v per sync\n", t.Limits.RequestBudget, t.Limits.MaxInFlight, t.Limits.Timeout)
	}
	// Output:
	// memory per instance: 128 MiB; instances per tenant: 2
	// acme: sync via https://api.segmentapis.com, token env:ACME_SEGMENT_TOKEN
	//   every 1h0m0s into /etc/baton-runner/out/acme.c1z
	//   limits: 50000 requests, 4 in flight, 12h0m0s per sync
}

// Every problem is reported at once, each with the line of the key it is
// about; errors.Join joins them and config.Errors takes them apart.
func ExampleErrors() {
	src := `
[connectors.segment]
wasm = "embedded:segment"

[[tenants]]
name = "acme"
connector = "segment"
token = "sk_live_pasted_by_mistake"
mode = "sync"
  [tenants.sync]
  interval = "10s"
  output = "acme.c1z"
`
	_, err := config.Parse("runner.toml", []byte(src))
	for _, e := range config.Errors(err) {
		fmt.Println(e.Line, e.Key)
	}
	fmt.Println(err)
	// Output:
	// 8 tenants[0].token
	// 11 tenants[0].sync.interval
	// runner.toml:8: tenants[0].token: must be a secret reference, "env:VAR" or "file:/path"; inline secrets are not allowed (the value is not shown here)
	// runner.toml:11: tenants[0].sync.interval: must be at least 1m
}
