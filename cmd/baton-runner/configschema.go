package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/runner"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
)

// What runner.toml's baton-sdk tenants need beyond config.Load: the
// schemas of their modules, which only compiling them gives, and their CA
// bundles.

// moduleKind is what compiling a module told of its configuration: a
// baton-sdk guest's schema, or none.
type moduleKind struct {
	batonSDK bool
	schema   config.Schema
}

// kinds remembers each module compiled for its schema, by SHA-256 and
// sandbox settings, so that serve's reloads and secret checks compile a
// module again only when it changed (a baton-sdk guest's compilation
// takes seconds even from the cache).
var kinds = struct {
	sync.Mutex
	m map[[sha256.Size]byte]moduleKind
}{m: map[[sha256.Size]byte]moduleKind{}}

// moduleSchemas returns the schemas of the baton-sdk modules of spec by
// connector name. A module that does not compile is left out: the
// runner's compilation reports it.
func moduleSchemas(ctx context.Context, spec runner.Spec) map[string]config.Schema {
	out := map[string]config.Schema{}
	for _, m := range spec.Modules {
		key := sha256.Sum256(fmt.Appendf(slices.Clone(m.Wasm), "\x00%s\x00%d\x00%s", spec.Runtime.CacheDir, spec.Runtime.MemoryLimitMiB, spec.Runtime.CallTimeout))
		kinds.Lock()
		k, ok := kinds.m[key]
		kinds.Unlock()
		if !ok {
			mod, err := sandbox.Compile(ctx, sandbox.Config{Wasm: m.Wasm, CacheDir: spec.Runtime.CacheDir,
				MemoryLimitMiB: spec.Runtime.MemoryLimitMiB, CallTimeout: spec.Runtime.CallTimeout})
			if err != nil {
				continue
			}
			k.batonSDK = mod.Kind() == sandbox.GuestBatonSDK
			if k.batonSDK {
				k.schema, err = config.ParseSchema(mod.BatonSDKSchema())
			}
			_ = mod.Close(ctx)
			if err != nil {
				continue
			}
			kinds.Lock()
			kinds.m[key] = k
			kinds.Unlock()
		}
		if k.batonSDK {
			out[m.Name] = k.schema
		}
	}
	return out
}

// batonSDKTenant fills ts, tenant i of cfg, with its [tenants.config]
// (references resolved; the schema's secret fields as Secrets, the rest
// as Settings), the secrets it reveals and its origins. A reference that does not resolve is left
// out (CheckSecrets reports it); a CA bundle that does not load is an
// error at ca_file's line.
func batonSDKTenant(cfg *config.Config, i int, schema config.Schema, ts *runner.TenantSpec) error {
	t := cfg.Tenants[i]
	ts.Settings, ts.Secrets = map[string]string{}, map[string]secret.Secret{}
	for _, name := range slices.Sorted(maps.Keys(t.Config)) {
		fv := t.Config[name]
		v := fv.Value
		if fv.Ref != (config.SecretRef{}) {
			var err error
			if v, err = fv.Ref.Resolve(); err != nil {
				continue
			}
		}
		if f, _ := schema.Field(name); f.Secret {
			ts.Secrets[name] = secret.New(v)
		} else {
			ts.Settings[name] = v
		}
	}
	ts.Revealed = t.RevealSecrets
	var roots *x509.CertPool
	if t.CAFile != "" {
		var err error
		if roots, err = caPool(t.CAFile); err != nil {
			return cfg.Problem(fmt.Sprintf("tenants[%d].ca_file", i), "%v", err)
		}
	}
	for _, o := range t.Origins {
		ts.Origins = append(ts.Origins, tenant.Origin{URL: o.URL, ConnectTo: o.ConnectTo, RootCAs: roots})
	}
	return nil
}

// caPools keeps the pool of each CA bundle by path and contents: a
// runner compares tenants' specs deeply, and two pools of one bundle are
// equal only as one pointer, so an unchanged bundle must give the same
// pool for a reload to leave its tenants running.
var caPools = struct {
	sync.Mutex
	m map[string]caPoolEntry
}{m: map[string]caPoolEntry{}}

type caPoolEntry struct {
	sum  [sha256.Size]byte
	pool *x509.CertPool
}

func caPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the CA bundle: %w", err)
	}
	sum := sha256.Sum256(data)
	caPools.Lock()
	defer caPools.Unlock()
	if e, ok := caPools.m[path]; ok && e.sum == sum {
		return e.pool, nil
	}
	pool, err := egress.LoadCABundle(path)
	if err != nil {
		return nil, err
	}
	caPools.m[path] = caPoolEntry{sum: sum, pool: pool}
	return pool, nil
}
