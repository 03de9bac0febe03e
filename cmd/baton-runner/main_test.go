package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// built is the binary built for this test process, when BATON_TEST_BINARY
// names none.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binary returns the baton-runner binary under test: BATON_TEST_BINARY
// (`make test` builds it with `make host`), or else one built once per test
// process the way `make host` builds it, with the Segment guest embedded.
// `go build -overlay` shows the guest to //go:embed at
// guests/segment.wasm without writing into the source tree, so a plain
// `go test ./...` on a fresh clone tests the real binary too.
func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("BATON_TEST_BINARY"); b != "" {
		return b
	}
	built.once.Do(func() {
		built.path, built.err = buildBinary(wasmbuild.Module(t, "guest/segment/wasm"))
	})
	if built.path == "" && built.err == nil {
		built.err = errors.New("building the guest failed in an earlier test")
	}
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func buildBinary(guest string) (string, error) {
	dir, err := os.MkdirTemp("", "baton-runner-cli-test-")
	if err != nil {
		return "", err
	}
	built.dir = dir
	embedAt, err := filepath.Abs(filepath.Join("guests", defaultModule))
	if err != nil {
		return "", err
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {embedAt: guest}})
	if err != nil {
		return "", err
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o600); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "baton-runner")
	args := []string{"build", "-overlay", overlayFile, "-o", bin}
	// Stamped as `make host` stamps it.
	if v, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		args = append(args, "-ldflags", "-X main.version="+strings.TrimSpace(string(v)))
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// childEnv is the environment every binary a test runs gets: the tests'
// shared compilation cache, and a temp dir of the test's own, so that what
// a binary the test kills leaves there (service mode's run directories) is
// removed with the test.
func childEnv(t *testing.T) []string {
	return []string{"BATON_CACHE_DIR=" + wasmbuild.CacheDir, "TMPDIR=" + t.TempDir()}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary in dir with args and extra environment; the
// environment is otherwise cleared of BATON_ variables.
func run(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	res, _, _ := runMeasured(t, dir, env, args...)
	return res
}

// runMeasured is run, also returning the command's wall time and its peak
// RSS in bytes.
func runMeasured(t *testing.T, dir string, env []string, args ...string) (result, time.Duration, int64) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BATON_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv(t)...)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	res := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return res, took, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
}

func simURL(t *testing.T, users int) string {
	t.Helper()
	ts := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(users)), segmentsim.Options{}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestSyncThenInspectFromAnyDirectory(t *testing.T) {
	url := simURL(t, 40)
	dir := t.TempDir()
	res := run(t, dir, nil, "sync", "--base-url", url, "--token", segmentsim.DefaultToken, "-f", "out.c1z")
	if res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	res = run(t, dir, nil, "inspect", "--file", "out.c1z")
	if res.code != 0 {
		t.Fatalf("inspect exited %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{"user", "group", "workspace", "total"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, res.stdout)
		}
	}
	if !strings.Contains(res.stdout, " 40 ") {
		t.Errorf("inspect output does not show the 40 users:\n%s", res.stdout)
	}
}

func TestEnvironmentContract(t *testing.T) {
	url := simURL(t, 10)
	dir := t.TempDir()
	res := run(t, dir, []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url, "BATON_FILE=env.c1z"}, "sync")
	if res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "env.c1z")); err != nil {
		t.Fatalf("BATON_FILE not honoured: %v", err)
	}
}

func TestRejectedTokenKeepsThePreviousFile(t *testing.T) {
	url := simURL(t, 10)
	dir := t.TempDir()
	prev := []byte("previous good sync")
	if err := os.WriteFile(filepath.Join(dir, "sync.c1z"), prev, 0o600); err != nil {
		t.Fatal(err)
	}
	res := run(t, dir, []string{"BATON_TOKEN=not-the-token"}, "sync", "--base-url", url)
	if res.code == 0 {
		t.Fatal("sync with a rejected token exited 0")
	}
	for _, want := range []string{"rejected the API token", "BATON_TOKEN", "sync.c1z was not modified"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if strings.Contains(res.stderr, "not-the-token") {
		t.Error("the token appears in the output")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "sync.c1z")); !bytes.Equal(got, prev) {
		t.Error("the previous c1z was modified")
	}
}

func TestClearErrors(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "evil.wasm")
	if err := os.WriteFile(notWasm, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{"sync", "--base-url", "http://127.0.0.1:1"}, "pass --token or set BATON_TOKEN"},
		{"not wasm", []string{"sync", "--token", "x", "--module", notWasm}, "not a WebAssembly binary"},
		{"plain http to a remote host", []string{"sync", "--token", "x", "--base-url", "http://api.segmentapis.com"}, "https"},
		{"bad log level", []string{"sync", "--token", "x", "--log-level", "loud"}, "--log-level"},
		{"missing c1z", []string{"inspect", "--file", "nope.c1z"}, "nope.c1z does not exist: write it with `baton-runner sync -f nope.c1z`"},
		{"missing c1z to explore", []string{"inspect", "grants", "nope.c1z"}, "write it with `baton-runner sync -f nope.c1z`"},
		{"missing c1z to diff", []string{"inspect", "diff", "nope.c1z", "nope2.c1z"}, "write it with `baton-runner sync -f nope.c1z`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, dir, nil, tc.args...)
			if res.code == 0 || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant non-zero and %q", res.code, res.stderr, tc.want)
			}
		})
	}
}

func TestGrantAndRevoke(t *testing.T) {
	ws := segmentsim.Generate(segmentsim.DefaultConfig(20))
	ts := httptest.NewServer(segmentsim.NewServer(ws, segmentsim.Options{WriteLimitPerMinute: -1}))
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + ts.URL}
	if res := run(t, dir, env, "sync"); res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	g := ws.Groups[0]
	var user string
	for _, u := range ws.Users {
		member := false
		for _, m := range g.MemberIDs {
			member = member || m == u.ID
		}
		if !member {
			user = u.ID
		}
	}
	args := []string{"grant", "--entitlement", "group:" + g.ID + ":member", "--principal-type", "user", "--principal", user}
	if res := run(t, dir, env, args...); res.code != 0 || !strings.Contains(res.stdout, "done") {
		t.Fatalf("grant: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	if res := run(t, dir, env, args...); res.code != 0 || !strings.Contains(res.stdout, "already held") {
		t.Fatalf("second grant: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	res := run(t, dir, env, "grant", "--entitlement", "workspace:"+ws.ID+":member", "--principal-type", "user", "--principal", user)
	if res.code == 0 || !strings.Contains(res.stderr, "not supported") {
		t.Fatalf("workspace grant: exit %d, stderr: %s", res.code, res.stderr)
	}
	res = run(t, dir, env, "revoke", "--grant", "group:"+g.ID+":member:user:nobody")
	if res.code == 0 {
		t.Fatalf("revoking an unknown grant exited 0: %s", res.stdout)
	}
	if res := run(t, dir, env, "grant", "--entitlement", "x", "--principal-type", "robot", "--principal", "p"); res.code == 0 || !strings.Contains(res.stderr, "user, group or invite") {
		t.Fatalf("bad principal type: exit %d, stderr %s", res.code, res.stderr)
	}
}
