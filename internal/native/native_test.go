package native_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/baton-runner/baton-runner/guest/segment"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/connector"
	"github.com/baton-runner/baton-runner/internal/native"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestNativeSyncMatchesTheWorkspace: the native runner, which the
// benchmarks compare the sandbox with, drives the same connector logic
// through the same baton-sdk path to a complete c1z.
func TestNativeSyncMatchesTheWorkspace(t *testing.T) {
	ws := segmentsim.Generate(segmentsim.DefaultConfig(60))
	ts := httptest.NewServer(segmentsim.NewServer(ws, segmentsim.Options{}))
	defer ts.Close()
	hc, err := egress.New(egress.Config{BaseURL: ts.URL, Token: secret.New(segmentsim.DefaultToken)})
	if err != nil {
		t.Fatal(err)
	}
	conn := segment.New()
	c := connector.New(&native.Runner{Connector: conn, HTTP: hc}, conn.Metadata(), nil)
	cc, err := connector.NewClient(context.Background(), c, connector.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	path := filepath.Join(t.TempDir(), "native.c1z")
	if err := localsync.Run(context.Background(), cc, localsync.Options{Path: path}); err != nil {
		t.Fatal(err)
	}
	snap, err := inspect.Load(context.Background(), path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	users, invites, memberships := 0, 0, 0
	for _, r := range snap.Resources {
		switch r.GetId().GetResourceType() {
		case "user":
			users++
		case "invite":
			invites++
		}
	}
	for _, g := range snap.Grants {
		if g.GetEntitlement().GetResource().GetId().GetResourceType() == "group" {
			memberships++
		}
	}
	// Membership grants: the members and the pending invites of each group.
	want := 0
	for _, g := range ws.Groups {
		want += len(g.MemberIDs) + len(g.InviteEmails)
	}
	if users != len(ws.Users) || invites != len(ws.Invites) || memberships != want {
		t.Errorf("%d users, %d invites and %d memberships synced, want %d, %d and %d", users, invites, memberships, len(ws.Users), len(ws.Invites), want)
	}
}
