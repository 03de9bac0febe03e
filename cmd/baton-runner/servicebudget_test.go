package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/types/resource"

	"github.com/baton-runner/baton-runner/host/membudget"
	"github.com/baton-runner/baton-runner/internal/fakec1"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestServiceMemoryBudget: service mode, as ConductorOne's manifests run it
// (the bare binary, its environment), with two tasks at a time and a
// process memory budget that holds one 1k-user sync but not two (the
// first reserves the default, 256 MiB, of the ~290 MiB the budget leaves
// beside the idle process), given two full-sync tasks at once, runs them
// one after the other: the second starts once the first is done. Both
// succeed, and the process's peak RSS stays within the budget plus the
// documented margin.
func TestServiceMemoryBudget(t *testing.T) {
	const budgetMiB = 384
	_, _, url := writableSim(t, 1000, 0)
	c1 := fakec1.Start(t)
	p := start(t, append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url,
		"BATON_TASK_CONCURRENCY=2", fmt.Sprintf("BATON_PROCESS_MEMORY_MIB=%d", budgetMiB)))
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	ids := []string{c1.AddSyncTask(), c1.AddSyncTask()}
	for _, id := range ids {
		if fin, err := c1.WaitFinished(ctxTimeout(t, 3*time.Minute), id); err != nil || fin.GetSuccess() == nil {
			t.Fatalf("sync task %s: %v %v\n%s", id, err, fin, p.stderr)
		}
		if _, ok := c1.Upload(id); !ok {
			t.Errorf("sync task %s uploaded nothing", id)
		}
	}
	hwm := peakRSSMiB(t, p.cmd.Process.Pid)

	// Started, done, started, done: the second started once the first was
	// done (its memory is released only after that line), having waited.
	var l []logLine
	waitUntil(t, 10*time.Second, "both tasks' last lines", func() bool {
		l = logLines(p.stderr.String(), "sync task started", "task done")
		return len(l) >= 4
	})
	if l[0].Msg != "sync task started" || l[1].Msg != "task done" || l[1].TaskID != l[0].TaskID ||
		l[2].Msg != "sync task started" || l[3].Msg != "task done" || l[3].TaskID != l[2].TaskID || l[2].TaskID == l[0].TaskID {
		t.Fatalf("the sync tasks overlapped: %+v\n%s", l, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "sync task waiting for the process memory budget") {
		t.Error("no line says a sync task waited for the memory budget")
	}
	if limit := budgetMiB + membudget.MarginMiB; hwm > limit {
		t.Errorf("peak RSS %d MiB, over the budget %d MiB plus the margin %d MiB", hwm, budgetMiB, membudget.MarginMiB)
	}
	t.Logf("peak RSS %d MiB under a budget of %d MiB (the second task waited %.1fs)", hwm, budgetMiB, l[2].Waited)
	for _, e := range c1.Errors() {
		t.Errorf("protocol violation seen by the fake ConductorOne: %v", e)
	}
}

// TestServiceSyncTaskOverBudget: under the smallest budget (128 MiB) a
// 5k-user sync cannot fit: if the idle process (~70 MiB) leaves room for a
// first, unmeasured sync, that sync runs and its measured peak (~80 MiB
// above idle) is over what is left, so the next is refused. The refused
// task fails in ConductorOne with the budget's error, saying what to
// raise, and a grant task after it succeeds. (A 1k-user sync fits there
// now: the Go memory limit, 64 MiB under this budget, holds it to ~45 MiB
// above idle.)
func TestServiceSyncTaskOverBudget(t *testing.T) {
	ws, sim, url := writableSim(t, 5000, 0)
	c1 := fakec1.Start(t)
	p := start(t, append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url,
		"BATON_PROVISIONING=true", "BATON_PROCESS_MEMORY_MIB=128"), "service")
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	var refusal string
	for range 2 {
		id := c1.AddSyncTask()
		fin, err := c1.WaitFinished(ctxTimeout(t, 3*time.Minute), id)
		if err != nil {
			t.Fatalf("sync task: %v\n%s", err, p.stderr)
		}
		if fin.GetError() != nil {
			refusal = fin.GetStatus().GetMessage()
			break
		}
	}
	for _, want := range []string{"the sync does not fit in the process memory budget", "raise --process-memory-mib (BATON_PROCESS_MEMORY_MIB) to at least"} {
		if !strings.Contains(refusal, want) {
			t.Fatalf("the refused task's error %q lacks %q\n%s", refusal, want, p.stderr)
		}
	}
	t.Logf("refused: %s", refusal)

	// The task names the user as ConductorOne does, with the e-mail a
	// sync would have given it, by which Segment adds members.
	g := ws.Groups[0]
	var user *segmentsim.User
	for _, u := range ws.Users {
		if u.Email != "" && !slices.Contains(g.MemberIDs, u.ID) {
			user = u
			break
		}
	}
	if user == nil {
		t.Fatalf("no user with an e-mail outside group %s", g.ID)
	}
	ent := v2.Entitlement_builder{Id: "group:" + g.ID + ":member", Slug: "member",
		Resource: v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "group", Resource: g.ID}.Build()}.Build()}.Build()
	principal, err := resource.NewUserResource(user.Name, v2.ResourceType_builder{Id: "user"}.Build(), user.ID,
		[]resource.UserTraitOption{resource.WithEmail(user.Email, true)})
	if err != nil {
		t.Fatal(err)
	}
	id := c1.AddGrantTask(ent, principal)
	if fin, err := c1.WaitFinished(ctxTimeout(t, 60*time.Second), id); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("grant task after the refusal: %v %v\n%s", err, fin, p.stderr)
	}
	if !slices.Contains(sim.Snapshot().GroupByID(g.ID).MemberIDs, user.ID) {
		t.Error("after the grant task the user is not a member")
	}
}

// TestServeBudgetCoversServiceTenants: in serve, one process memory budget
// admits a scheduled sync and a service tenant's sync task alike: under a
// budget that holds one 1k-user sync, the scheduled tenant's first sync
// and the service tenant's sync task (queued before serve starts) run one
// after the other, one of them waiting, though max_concurrent_syncs (2)
// would let them run together; the peak RSS stays within the budget plus
// the margin.
func TestServeBudgetCoversServiceTenants(t *testing.T) {
	const budgetMiB = 384
	_, _, url := writableSim(t, 1000, 10*time.Millisecond)
	c1 := fakec1.Start(t)
	task := c1.AddSyncTask()
	svc := fmt.Sprintf(`
[[tenants]]
name = "svc"
connector = "segment"
base_url = %q
token = "env:SIM_TOKEN"
mode = "service"
  [tenants.service]
  client_id = %q
  client_secret = "env:C1_SECRET"
`, url, c1.ClientID())
	port := freePort(t)
	path := writeConfig(t, t.TempDir(), port, tenantTOML("alpha", url), svc)
	var env []string
	for _, kv := range c1.Env() {
		if !strings.HasPrefix(kv, "BATON_CLIENT_") {
			env = append(env, kv) // the API host and its CA
		}
	}
	p := start(t, append(env, "SIM_TOKEN="+segmentsim.DefaultToken, "C1_SECRET="+c1.ClientSecret(),
		fmt.Sprintf("BATON_PROCESS_MEMORY_MIB=%d", budgetMiB)), "serve", "--config", path)

	if fin, err := c1.WaitFinished(ctxTimeout(t, 3*time.Minute), task); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("the service tenant's sync task: %v %v\n%s", err, fin, p.stderr)
	}
	var l []logLine
	waitUntil(t, 3*time.Minute, "both syncs' ends", func() bool {
		l = logLines(p.stderr.String(), "sync started", "sync complete", "sync task started", "task done")
		return len(l) >= 4
	})
	hwm := peakRSSMiB(t, p.cmd.Process.Pid)

	// Each sync's start is followed by its own end.
	end := map[string]string{"sync started": "sync complete", "sync task started": "task done"}
	if end[l[0].Msg] != l[1].Msg || end[l[2].Msg] != l[3].Msg || l[0].Msg == l[2].Msg {
		t.Fatalf("the scheduled sync and the sync task overlapped: %+v\n%s", l, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "sync task waiting for the process memory budget") && l[2].Waited == 0 {
		t.Errorf("neither sync waited for the other (the test wants them to meet): %+v", l)
	}
	if limit := budgetMiB + membudget.MarginMiB; hwm > limit {
		t.Errorf("peak RSS %d MiB, over the budget %d MiB plus the margin %d MiB", hwm, budgetMiB, membudget.MarginMiB)
	}
	t.Logf("peak RSS %d MiB under a budget of %d MiB; %s first", hwm, budgetMiB, l[0].Msg)
}
