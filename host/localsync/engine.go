package localsync

import (
	"fmt"
	"strings"

	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
)

// DefaultStorageEngine is the c1z storage engine a sync writes with when
// none is chosen: Pebble, baton-sdk's own default. SQLite takes about half
// the peak memory (a sandboxed sync peaks at about 145 MiB with 1k users
// and 170 MiB with 10k, against ~240 MiB and 300–390 MiB with Pebble
// under the one-shot memory limit: Pebble seals the file with 128 MiB
// sort arenas), but about 1.25× the CPU at 1k users and 2.5× at 10k
// (measured side by side, 2026-12-01), and a default that made large syncs
// that much slower would be a surprise; memory-bound operators choose it.
// Every reader (inspect, provisioning, ConductorOne, baton) reads both.
const DefaultStorageEngine = c1zstore.EnginePebble

// StorageEngines are the engines a user may choose, as baton's own
// --storage-engine field offers them.
var StorageEngines = []c1zstore.Engine{c1zstore.EnginePebble, c1zstore.EngineSQLite}

// ParseStorageEngine checks a storage engine named by a user (flag,
// environment, runner.toml): "sqlite" or "pebble", and "" for the
// default.
func ParseStorageEngine(name string) (c1zstore.Engine, error) {
	e := c1zstore.Engine(strings.ToLower(strings.TrimSpace(name)))
	if e == "" {
		return DefaultStorageEngine, nil
	}
	for _, known := range StorageEngines {
		if e == known {
			return e, nil
		}
	}
	return "", fmt.Errorf("unknown c1z storage engine %q: use %q or %q (default %q)",
		name, c1zstore.EnginePebble, c1zstore.EngineSQLite, DefaultStorageEngine)
}

// storeOptions are the options of the store a sync writes into. The
// store's working files are scratch: a sync that dies is swept and starts
// over, and the c1z only replaces the target after the store is closed.
// So SQLite need not make each transaction durable: without the per-commit
// fsyncs (synchronous=OFF) a sync on a busy disk takes half the wall time
// or less, and writes the same file. The rollback journal stays on disk:
// in memory (journal_mode=MEMORY) it holds every page a transaction
// changes, and baton-sdk's large write transactions took a 10,000-user
// sync from 175 MiB to 720 MiB.
func storeOptions(engine c1zstore.Engine, work string) []dotc1z.C1ZOption {
	opts := []dotc1z.C1ZOption{dotc1z.WithTmpDir(work), dotc1z.WithEngine(engine)}
	if engine == c1zstore.EngineSQLite {
		opts = append(opts, dotc1z.WithPragma("synchronous", "OFF"))
	}
	return opts
}
