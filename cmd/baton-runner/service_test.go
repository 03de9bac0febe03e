package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"google.golang.org/grpc/codes"

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/internal/fakec1"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// proc is the binary running in the background.
type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BATON_") && !strings.HasPrefix(kv, "SSL_CERT_FILE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv(t)...)
	cmd.Env = append(cmd.Env, "BATON_LOG_FORMAT=json")
	cmd.Env = append(cmd.Env, env...)
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("process still running after %s; stderr:\n%s", timeout, p.stderr)
		return -1
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func writableSim(t *testing.T, users int, latency time.Duration) (*segmentsim.Workspace, *segmentsim.Server, string) {
	t.Helper()
	ws := segmentsim.Generate(segmentsim.DefaultConfig(users))
	sim := segmentsim.NewServer(ws, segmentsim.Options{WriteLimitPerMinute: -1, Latency: latency})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return ws.Clone(), sim, ts.URL
}

// TestServiceMode drives the bare binary, configured only through the
// environment of ConductorOne's Kubernetes manifests, against a fake
// ConductorOne and the simulator: Hello, a sync task, a grant and a revoke.
func TestServiceMode(t *testing.T) {
	ws, sim, url := writableSim(t, 30, 0)
	c1 := fakec1.Start(t)
	health := freePort(t)
	env := append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url,
		"BATON_PROVISIONING=true", fmt.Sprintf("BATON_HEALTH_PORT=%d", health))
	p := start(t, env)

	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	md := c1.Hellos()[0].GetConnectorMetadata()
	if md.GetDisplayName() != "Segment" || len(md.GetCapabilities().GetResourceTypeCapabilities()) != 9 {
		t.Errorf("Hello metadata: %v", md)
	}
	ready := func() int {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", health))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(10 * time.Second)
	for ready() != 200 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if code := ready(); code != 200 {
		t.Errorf("/readyz answered %d after Hello", code)
	}

	syncID := c1.AddSyncTask()
	fin, err := c1.WaitFinished(ctxTimeout(t, 120*time.Second), syncID)
	if err != nil || fin.GetSuccess() == nil {
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
	if got := c1zFormat(t, path); got != dotc1z.C1ZFormatV3 {
		t.Errorf("the upload is a %v c1z, want v3 (the default storage engine, pebble)", got)
	}
	snap, err := inspect.Load(context.Background(), path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	memberships := map[string]bool{}
	for _, gr := range snap.Grants {
		memberships[gr.GetId()] = true
	}
	for _, g := range ws.Groups {
		for _, m := range g.MemberIDs {
			if !memberships["group:"+g.ID+":member:user:"+m] {
				t.Errorf("the uploaded c1z lacks the membership of %s in %s", m, g.ID)
			}
		}
	}

	// Grant a membership the c1z says does not exist, as ConductorOne would:
	// with the entitlement and principal from the uploaded c1z.
	g := ws.Groups[0]
	var user *v2.Resource
	for _, r := range snap.Resources {
		if r.GetId().GetResourceType() == "user" && !slices.Contains(g.MemberIDs, r.GetId().GetResource()) {
			user = r
		}
	}
	var ent *v2.Entitlement
	for _, e := range snap.Entitlements {
		if e.GetId() == "group:"+g.ID+":member" {
			ent = e
		}
	}
	if user == nil || ent == nil {
		t.Fatal("uploaded c1z lacks the group's entitlement or a non-member user")
	}
	grantID := c1.AddGrantTask(ent, user)
	if fin, err := c1.WaitFinished(ctxTimeout(t, 60*time.Second), grantID); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("grant task: %v %v\n%s", err, fin, p.stderr)
	}
	if !slices.Contains(sim.Snapshot().GroupByID(g.ID).MemberIDs, user.GetId().GetResource()) {
		t.Fatal("after the grant task the user is not a member")
	}
	grant := v2.Grant_builder{Id: ent.GetId() + ":user:" + user.GetId().GetResource(), Entitlement: ent, Principal: user}.Build()
	revokeID := c1.AddRevokeTask(grant)
	if fin, err := c1.WaitFinished(ctxTimeout(t, 60*time.Second), revokeID); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("revoke task: %v %v\n%s", err, fin, p.stderr)
	}
	if slices.Contains(sim.Snapshot().GroupByID(g.ID).MemberIDs, user.GetId().GetResource()) {
		t.Fatal("after the revoke task the user is still a member")
	}

	// A grant the connector refuses finishes as a non-retryable error.
	wsEnt := v2.Entitlement_builder{Id: "workspace:" + ws.ID + ":member", Slug: "member",
		Resource: v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "workspace", Resource: ws.ID}.Build()}.Build()}.Build()
	badID := c1.AddGrantTask(wsEnt, user)
	fin, err = c1.WaitFinished(ctxTimeout(t, 60*time.Second), badID)
	if err != nil || fin.GetError() == nil || !fin.GetError().GetNonRetryable() {
		t.Fatalf("unsupported grant: %v %v", err, fin)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM while idle; stderr:\n%s", code, p.stderr)
	}
	for _, e := range c1.Errors() {
		t.Errorf("protocol violation seen by the fake ConductorOne: %v", e)
	}
}

func TestServiceProvisioningDisabled(t *testing.T) {
	ws, _, url := writableSim(t, 10, 0)
	c1 := fakec1.Start(t)
	p := start(t, append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url), "service")
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	g := ws.Groups[0]
	ent := v2.Entitlement_builder{Id: "group:" + g.ID + ":member", Slug: "member",
		Resource: v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "group", Resource: g.ID}.Build()}.Build()}.Build()
	user := v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "user", Resource: ws.Users[0].ID}.Build()}.Build()
	id := c1.AddGrantTask(ent, user)
	fin, err := c1.WaitFinished(ctxTimeout(t, 60*time.Second), id)
	if err != nil || fin.GetError() == nil {
		t.Fatalf("grant without provisioning: %v %v", err, fin)
	}
	if !strings.Contains(fin.GetStatus().GetMessage(), "BATON_PROVISIONING") {
		t.Errorf("the failure does not say how to enable provisioning: %q", fin.GetStatus().GetMessage())
	}
}

func TestServiceRefusesBadCredentials(t *testing.T) {
	_, _, url := writableSim(t, 10, 0)
	c1 := fakec1.Start(t)
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"client secret", []string{"BATON_CLIENT_SECRET=" + c1.WrongSecret(), "BATON_TOKEN=" + segmentsim.DefaultToken}, "BATON_CLIENT_SECRET"},
		{"segment token", []string{"BATON_TOKEN=wrong"}, "BATON_TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append(append(c1.Env(), "BATON_BASE_URL="+url), tc.env...)
			p := start(t, env, "service")
			if code := p.wait(t, 90*time.Second); code == 0 || !strings.Contains(p.stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant a failure naming %s", code, p.stderr, tc.want)
			}
			if strings.Contains(p.stderr.String(), "wrong") && tc.name == "segment token" {
				t.Error("the rejected token appears in the output")
			}
		})
	}
}

// TestSIGTERMMidSyncUploadsNothing: a sync cut short by SIGTERM after the
// grace period is reported failed and its partial c1z is never uploaded.
func TestSIGTERMMidSyncUploadsNothing(t *testing.T) {
	_, sim, url := writableSim(t, 300, 30*time.Millisecond)
	c1 := fakec1.Start(t)
	env := append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url, "BATON_SHUTDOWN_TIMEOUT=1s")
	p := start(t, env, "service")
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	id := c1.AddSyncTask()
	deadline := time.Now().Add(60 * time.Second)
	for sim.RequestCount() < 50 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if sim.RequestCount() < 50 {
		t.Fatal("the sync did not start")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 60*time.Second)
	if _, ok := c1.Upload(id); ok {
		t.Fatal("a partial c1z was uploaded")
	}
	fin, ok := c1.Finished(id)
	if !ok || fin.GetError() == nil {
		t.Fatalf("the interrupted sync was not reported as failed: %v", fin)
	}
	if code := codes.Code(fin.GetStatus().GetCode()); code == codes.OK {
		t.Errorf("failed sync reported with code %s", code)
	}
}

// TestServiceModeLimitsPerTask: in service mode the request budget and the
// sync limits apply to each sync task. A budget that one sync needs in
// full serves every later task too (it used to be spent by the first task
// for the life of the process), and a task over a limit fails naming it.
func TestServiceModeLimitsPerTask(t *testing.T) {
	_, sim, url := writableSim(t, 30, 0)
	sim.ResetRequests()
	// One worker: an exact budget needs the exact request count of a
	// sequential sync (parallel workers may each read GET / once).
	if res := run(t, t.TempDir(), []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url, "BATON_INSTANCES=1"}, "sync"); res.code != 0 {
		t.Fatalf("reference sync: exit %d\n%s", res.code, res.stderr)
	}
	requests := sim.RequestCount()

	c1 := fakec1.Start(t)
	env := append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url,
		fmt.Sprintf("BATON_REQUEST_BUDGET=%d", requests), "BATON_INSTANCES=1")
	p := start(t, env)
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	for i := range 3 {
		id := c1.AddSyncTask()
		if fin, err := c1.WaitFinished(ctxTimeout(t, 120*time.Second), id); err != nil || fin.GetSuccess() == nil {
			t.Fatalf("sync task %d on a budget of %d requests (one sync's worth): %v %v\n%s", i+1, requests, err, fin, p.stderr)
		}
	}

	c1 = fakec1.Start(t)
	env = append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url, "BATON_MAX_PAGES=3")
	p = start(t, env)
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	id := c1.AddSyncTask()
	fin, err := c1.WaitFinished(ctxTimeout(t, 120*time.Second), id)
	if err != nil || fin.GetSuccess() != nil || !strings.Contains(fin.GetStatus().GetMessage(), "sync exceeded max_pages") {
		t.Fatalf("sync task over max_pages: %v %v", err, fin)
	}
	if _, ok := c1.Upload(id); ok {
		t.Error("a sync task over its limit uploaded a c1z")
	}
}
