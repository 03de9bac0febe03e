package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/testguests/handmade"
)

// Bounds the hostile-module test holds the binary to (SECURITY.md, "The
// module itself"): a refused module ends the command within
// the call timeout plus refusalMargin (process start, reading and
// refusing the module; it is refused before any of its code runs), and
// the process's peak RSS stays within rssMargin of the same command
// refusing a plain module.
const (
	hostileCallTimeout = 3 * time.Second
	refusalMargin      = 5 * time.Second
	rssMargin          = 16 << 20
)

// TestHostileModulesAreRefusedFast: the three hand-assembled modules that
// once broke the sandbox (issue 18: a loop hidden behind a typed block,
// never stopped; table.grow of 2^26 entries, 513 MiB past a 16 MiB limit;
// a start function asleep for an hour, never stopped) end `sync --module`
// at once with the construct named, at the RSS of a plain refused
// module, and a healthy tenant beside a hostile one in one runner.toml
// still syncs.
func TestHostileModulesAreRefusedFast(t *testing.T) {
	url := simURL(t, 10)
	dir := t.TempDir()
	write := func(name string, wasm []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, wasm, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cache := "BATON_CACHE_DIR=" + filepath.Join(dir, "cache")
	sync := func(module string) (result, time.Duration, int64) {
		return runMeasured(t, dir, []string{cache}, "sync", "--module", module, "--base-url", url, "--token", segmentsim.DefaultToken,
			"--call-timeout", hostileCallTimeout.String(), "--memory-limit-mib", "16", "-f", "out.c1z")
	}
	// A plain module: accepted by the rewriter, refused when its metadata
	// turns out empty. It sets the RSS baseline.
	res, _, baseline := sync(write("plain.wasm", handmade.TableDeclared(1)))
	if res.code == 0 || !strings.Contains(res.stderr, "metadata") {
		t.Fatalf("plain module: exit %d, stderr %s", res.code, res.stderr)
	}
	for name, tc := range map[string]struct {
		wasm []byte
		want string
	}{
		"typed-block": {handmade.TypedBlockLoop(), "block type"},
		"table-grow":  {handmade.TableGrow(1 << 26), "table.grow"},
		"start-sleep": {handmade.StartSleeps(), "start function"},
	} {
		t.Run(name, func(t *testing.T) {
			res, took, rss := sync(write(name+".wasm", tc.wasm))
			t.Logf("exit %d after %s, peak RSS %d MiB (plain module: %d MiB)", res.code, took, rss>>20, baseline>>20)
			if res.code == 0 || !strings.Contains(res.stderr, tc.want) || !strings.Contains(res.stderr, "refused") {
				t.Errorf("exit %d, stderr %s: want the module refused for its %s", res.code, res.stderr, tc.want)
			}
			if took > hostileCallTimeout+refusalMargin {
				t.Errorf("the command took %s, want at most %s + %s", took, hostileCallTimeout, refusalMargin)
			}
			if rss > baseline+rssMargin {
				t.Errorf("peak RSS %d MiB, want within %d MiB of the plain module's %d MiB", rss>>20, rssMargin>>20, baseline>>20)
			}
			if _, err := os.Stat(filepath.Join(dir, "out.c1z")); err == nil {
				t.Error("a refused module wrote a c1z")
			}
		})
	}

	// A healthy tenant next to a hostile one.
	hostile := write("typed-block-tenant.wasm", handmade.TypedBlockLoop())
	config := fmt.Sprintf(`[runtime]
cache_dir = "cache"
call_timeout = "3s"
[connectors.segment]
wasm = "embedded:segment"
[connectors.hostile]
wasm = %q
%s%s`, hostile, tenantTOML("healthy", url), strings.Replace(tenantTOML("evil", url), `connector = "segment"`, `connector = "hostile"`, 1))
	path := filepath.Join(dir, "runner.toml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	all, took, _ := runMeasured(t, dir, []string{"SIM_TOKEN=" + segmentsim.DefaultToken, cache}, "sync", "--config", path, "--all")
	t.Logf("sync --all: exit %d after %s\n%s", all.code, took, all.stderr)
	if _, err := os.Stat(filepath.Join(dir, "out", "healthy.c1z")); err != nil {
		t.Errorf("the healthy tenant did not sync beside the hostile one: %v", err)
	}
	if all.code == 0 || !strings.Contains(all.stderr, "block type") {
		t.Errorf("exit %d: want the hostile tenant's refusal reported", all.code)
	}
}
