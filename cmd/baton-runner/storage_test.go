package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conductorone/baton-sdk/pkg/dotc1z"

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/internal/fakec1"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// c1zFormat is the format of the c1z at path: v1 is SQLite, v3 Pebble.
func c1zFormat(t *testing.T, path string) dotc1z.C1ZFormat {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := dotc1z.ReadHeaderFormat(f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// --storage-engine and BATON_STORAGE_ENGINE reach the syncer: the file is
// written in the chosen engine's format (Pebble by default), and inspect
// reads each; an unknown engine is refused before any sync, naming the
// flag and the choices.
func TestStorageEngineFlagAndEnvironment(t *testing.T) {
	url := simURL(t, 20)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want dotc1z.C1ZFormat
	}{
		{"default", nil, nil, dotc1z.C1ZFormatV3},
		{"flag", nil, []string{"--storage-engine", "sqlite"}, dotc1z.C1ZFormatV1},
		{"env", []string{"BATON_STORAGE_ENGINE=sqlite"}, nil, dotc1z.C1ZFormatV1},
		{"flag-over-env", []string{"BATON_STORAGE_ENGINE=sqlite"}, []string{"--storage-engine", "pebble"}, dotc1z.C1ZFormatV3},
	} {
		file := tc.name + ".c1z"
		args := append([]string{"sync", "--base-url", url, "--token", segmentsim.DefaultToken, "-f", file}, tc.args...)
		if res := run(t, dir, tc.env, args...); res.code != 0 {
			t.Fatalf("%s: sync exited %d: %s", tc.name, res.code, res.stderr)
		}
		if got := c1zFormat(t, filepath.Join(dir, file)); got != tc.want {
			t.Errorf("%s: wrote a %v c1z, want %v", tc.name, got, tc.want)
		}
		res := run(t, dir, nil, "inspect", "--file", file)
		if res.code != 0 || !strings.Contains(res.stdout, "user") {
			t.Errorf("%s: inspect exited %d: %s%s", tc.name, res.code, res.stdout, res.stderr)
		}
	}

	res := run(t, dir, nil, "sync", "--base-url", url, "--token", segmentsim.DefaultToken, "-f", "bad.c1z", "--storage-engine", "rocksdb")
	if res.code == 0 {
		t.Fatal("sync with --storage-engine rocksdb succeeded")
	}
	for _, want := range []string{"--storage-engine", "rocksdb", "sqlite", "pebble"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("the error lacks %q: %s", want, res.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.c1z")); err == nil {
		t.Error("a refused sync wrote bad.c1z")
	}
}

// In service mode BATON_STORAGE_ENGINE reaches baton-sdk's task manager:
// the c1z a sync task uploads is in the chosen format, and reads back.
// (TestServiceMode checks the default.)
func TestServiceModeStorageEngine(t *testing.T) {
	_, _, url := writableSim(t, 10, 0)
	c1 := fakec1.Start(t)
	env := append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url, "BATON_STORAGE_ENGINE=sqlite")
	p := start(t, env)
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	syncID := c1.AddSyncTask()
	if fin, err := c1.WaitFinished(ctxTimeout(t, 120*time.Second), syncID); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("sync task: %v %v\n%s", err, fin, p.stderr)
	}
	c1z, ok := c1.Upload(syncID)
	if !ok {
		t.Fatal("the sync task uploaded nothing")
	}
	path := filepath.Join(t.TempDir(), "up.c1z")
	if err := os.WriteFile(path, c1z, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := c1zFormat(t, path); got != dotc1z.C1ZFormatV1 {
		t.Errorf("with BATON_STORAGE_ENGINE=sqlite the upload is a %v c1z, want v1", got)
	}
	if snap, err := inspect.Load(context.Background(), path, t.TempDir()); err != nil || len(snap.Grants) == 0 {
		t.Errorf("reading the upload: %v", err)
	}
}

// runner.toml's [runtime] storage_engine reaches the syncs of its
// tenants (sync --config; serve and service-mode tenants take the same
// TenantSpec field), and a bad value is refused naming the key.
func TestConfigStorageEngine(t *testing.T) {
	_, _, url := writableSim(t, 10, 0)
	dir := t.TempDir()
	body := "[runtime]\nstorage_engine = \"sqlite\"\n[connectors.segment]\nwasm = \"embedded:segment\"\n" + tenantTOML("alpha", url)
	path := filepath.Join(dir, "runner.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"SIM_TOKEN=" + segmentsim.DefaultToken}
	if res := run(t, dir, env, "sync", "--config", path, "--all"); res.code != 0 {
		t.Fatalf("sync --all: exit %d\n%s", res.code, res.stderr)
	}
	if got := c1zFormat(t, filepath.Join(dir, "out", "alpha.c1z")); got != dotc1z.C1ZFormatV1 {
		t.Errorf("with storage_engine = \"sqlite\" the tenant's c1z is %v, want v1", got)
	}

	bad := strings.Replace(body, `"sqlite"`, `"rocks"`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	res := run(t, dir, env, "config", "check", path)
	if res.code == 0 || !strings.Contains(res.stderr, "runtime.storage_engine") || !strings.Contains(res.stderr, "sqlite") {
		t.Errorf("config check of storage_engine = \"rocks\": exit %d\n%s", res.code, res.stderr)
	}
}
