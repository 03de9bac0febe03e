package main

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/baton-runner/baton-runner/internal/fakec1"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

func accountTaskInfo(t *testing.T, profile map[string]any) *v2.AccountInfo {
	t.Helper()
	p, err := structpb.NewStruct(profile)
	if err != nil {
		t.Fatal(err)
	}
	return v2.AccountInfo_builder{Profile: p}.Build()
}

// TestServiceAccountLifecycle: create-account and delete-resource tasks
// from the fake ConductorOne, through baton-sdk's task manager, change
// the simulator and finish successfully; without provisioning they fail
// saying how to enable it, and change nothing.
func TestServiceAccountLifecycle(t *testing.T) {
	ws, sim, url := writableSim(t, 20, 0)
	c1 := fakec1.Start(t)
	p := start(t, append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url, "BATON_PROVISIONING=true"))
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	g := ws.Groups[0]
	email := "svc.hire@example.test"
	id := c1.AddCreateAccountTask(accountTaskInfo(t, map[string]any{"email": email, "groups": []any{g.ID}}), "invite")
	fin, err := c1.WaitFinished(ctxTimeout(t, 60*time.Second), id)
	if err != nil || fin.GetSuccess() == nil {
		t.Fatalf("create-account task: %v %v\n%s", err, fin, p.stderr)
	}
	var resp v2.CreateAccountResponse
	if err := fin.GetSuccess().GetResponse().UnmarshalTo(&resp); err != nil || !strings.Contains(resp.GetActionRequired().GetMessage(), "must accept the email invitation") {
		t.Fatalf("create-account response %v (%v)", &resp, err)
	}
	snap := sim.Snapshot()
	if !slices.Contains(snap.Invites, email) || !slices.Contains(snap.GroupByID(g.ID).InviteEmails, email) {
		t.Fatalf("after the create-account task: invites %v, group invitees %v", snap.Invites, snap.GroupByID(g.ID).InviteEmails)
	}

	u := ws.Users[1]
	for _, rid := range []*v2.ResourceId{
		v2.ResourceId_builder{ResourceType: "invite", Resource: email}.Build(),
		v2.ResourceId_builder{ResourceType: "user", Resource: u.ID}.Build(),
	} {
		id := c1.AddDeleteResourceTask(rid, v2.ResourceId_builder{ResourceType: "workspace", Resource: ws.ID}.Build())
		if fin, err := c1.WaitFinished(ctxTimeout(t, 60*time.Second), id); err != nil || fin.GetSuccess() == nil {
			t.Fatalf("delete task for %v: %v %v\n%s", rid, err, fin, p.stderr)
		}
	}
	snap = sim.Snapshot()
	if slices.Contains(snap.Invites, email) || snap.UserByID(u.ID) != nil {
		t.Fatal("after the delete tasks the invite or the user is still there")
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM; stderr:\n%s", code, p.stderr)
	}
	for _, e := range c1.Errors() {
		t.Errorf("protocol violation seen by the fake ConductorOne: %v", e)
	}
}

func TestServiceAccountLifecycleNeedsProvisioning(t *testing.T) {
	ws, sim, url := writableSim(t, 10, 0)
	c1 := fakec1.Start(t)
	p := start(t, append(c1.Env(), "BATON_TOKEN="+segmentsim.DefaultToken, "BATON_BASE_URL="+url), "service")
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	for name, id := range map[string]string{
		"create account": c1.AddCreateAccountTask(accountTaskInfo(t, map[string]any{"email": "no@example.test"}), "invite"),
		"delete":         c1.AddDeleteResourceTask(v2.ResourceId_builder{ResourceType: "user", Resource: ws.Users[0].ID}.Build(), nil),
	} {
		fin, err := c1.WaitFinished(ctxTimeout(t, 60*time.Second), id)
		if err != nil || fin.GetError() == nil || !strings.Contains(fin.GetStatus().GetMessage(), "BATON_PROVISIONING") {
			t.Errorf("%s without provisioning: %v %v", name, err, fin)
		}
	}
	snap := sim.Snapshot()
	if slices.Contains(snap.Invites, "no@example.test") || snap.UserByID(ws.Users[0].ID) == nil {
		t.Error("a task ran without provisioning")
	}
}
