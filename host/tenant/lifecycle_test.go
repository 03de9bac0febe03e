package tenant_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/bid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

func createAccount(t *testing.T, cc *tenant.Client, profile map[string]any) (*v2.CreateAccountResponse, error) {
	t.Helper()
	p, err := structpb.NewStruct(profile)
	if err != nil {
		t.Fatal(err)
	}
	return cc.CreateAccount(context.Background(), v2.CreateAccountRequest_builder{
		AccountInfo:    v2.AccountInfo_builder{Profile: p}.Build(),
		ResourceTypeId: "invite",
	}.Build())
}

// TestCreateAccountOutcomes: create account through baton-sdk's account
// manager service and the sandboxed guest, in each of its three outcomes,
// with the initial roles and groups visible in the simulator.
func TestCreateAccountOutcomes(t *testing.T) {
	e := startWritableSim(t, segmentsim.DefaultConfig(20), segmentsim.Options{WriteLimitPerMinute: -1})
	cc := provisioningClient(t, e.newTenant(t, 1, nil))
	role := e.ws.RoleByName(segmentsim.RoleMinimalWorkspaceAccess).ID
	g := e.ws.Groups[1]
	email := "New.Hire@example.test"

	resp, err := createAccount(t, cc, map[string]any{"email": email, "roles": []any{role}, "groups": []any{g.ID}})
	if err != nil {
		t.Fatal(err)
	}
	ar := resp.GetActionRequired()
	if ar == nil || !strings.Contains(ar.GetMessage(), "must accept the email invitation") ||
		ar.GetResource().GetId().GetResourceType() != "invite" || ar.GetResource().GetId().GetResource() != email || !ar.GetIsCreateAccountResult() {
		t.Fatalf("fresh invite: %v", resp)
	}
	snap := e.sim.Snapshot()
	if !slices.Contains(snap.Invites, email) {
		t.Fatalf("invites %v lack %s", snap.Invites, email)
	}
	if ps := snap.InvitePermissions[email]; len(ps) != 1 || ps[0].RoleID != role || ps[0].Resources[0].ID != e.ws.ID || ps[0].Resources[0].Type != segmentsim.ResourceWorkspace {
		t.Fatalf("invite permissions %+v, want role %s on the workspace", ps, role)
	}
	if !slices.Contains(snap.GroupByID(g.ID).InviteEmails, email) {
		t.Fatalf("group %s invitees %v lack %s", g.ID, snap.GroupByID(g.ID).InviteEmails, email)
	}

	// Again (any case): the invite is pending; nothing new is written.
	resp, err = createAccount(t, cc, map[string]any{"email": strings.ToLower(email)})
	if err != nil {
		t.Fatal(err)
	}
	if ar := resp.GetActionRequired(); ar == nil || !strings.Contains(ar.GetMessage(), "already pending") || !strings.Contains(ar.GetMessage(), email) ||
		ar.GetResource().GetId().GetResource() != email {
		t.Fatalf("pending invite: %v", resp)
	}
	if n := len(e.sim.Snapshot().Invites); n != len(snap.Invites) {
		t.Fatalf("%d invites after the second create, want %d", n, len(snap.Invites))
	}

	// A member's email: AlreadyExists with the user.
	u := e.ws.Users[3]
	resp, err = createAccount(t, cc, map[string]any{"email": strings.ToUpper(u.Email)})
	if err != nil {
		t.Fatal(err)
	}
	if ae := resp.GetAlreadyExists(); ae == nil || ae.GetResource().GetId().GetResourceType() != "user" || ae.GetResource().GetId().GetResource() != u.ID {
		t.Fatalf("member: %v", resp)
	}

	// Bad input is refused before anything is written, naming the problem.
	before := e.sim.Snapshot()
	for name, tc := range map[string]struct {
		profile map[string]any
		want    string
	}{
		"no email":       {map[string]any{}, "needs an email"},
		"not an email":   {map[string]any{"email": "nobody"}, "not an email address"},
		"unknown role":   {map[string]any{"email": "x@example.test", "roles": []any{"nope"}}, "role nope does not exist"},
		"unknown group":  {map[string]any{"email": "x@example.test", "groups": []any{"nope"}}, "group nope not found"},
		"roles a string": {map[string]any{"email": "x@example.test", "roles": role}, "must be a list"},
	} {
		_, err := createAccount(t, cc, tc.profile)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
	if after := e.sim.Snapshot(); len(after.Invites) != len(before.Invites) {
		t.Errorf("refused creates wrote invites: %v", after.Invites)
	}
}

// TestDeleteUserAndInvite: each deleted twice through the sandboxed guest;
// the second succeeds and says the resource was already gone.
func TestDeleteUserAndInvite(t *testing.T) {
	e := startWritableSim(t, segmentsim.DefaultConfig(20), segmentsim.Options{WriteLimitPerMinute: -1})
	tn := e.newTenant(t, 1, nil)
	cc := provisioningClient(t, tn)
	ctx := context.Background()
	ws := v2.ResourceId_builder{ResourceType: "workspace", Resource: e.ws.ID}.Build()
	var inv string
	for _, g := range e.ws.Groups {
		if len(g.InviteEmails) > 0 {
			inv = g.InviteEmails[0]
		}
	}
	u := e.ws.Users[2]
	for _, id := range []*v2.ResourceId{
		v2.ResourceId_builder{ResourceType: "invite", Resource: inv}.Build(),
		v2.ResourceId_builder{ResourceType: "user", Resource: u.ID}.Build(),
	} {
		// First through baton-sdk's deleter service, then directly (the
		// CLI's path), which reports that nothing was left to delete.
		if _, err := cc.DeleteResourceV2(ctx, v2.DeleteResourceV2Request_builder{ResourceId: id, ParentResourceId: ws}.Build()); err != nil {
			t.Fatalf("delete %v: %v", id, err)
		}
		gone, err := tn.DeleteResource(ctx, id, nil)
		if err != nil || !gone {
			t.Fatalf("second delete of %v: already deleted %v, %v", id, gone, err)
		}
	}
	snap := e.sim.Snapshot()
	if slices.Contains(snap.Invites, inv) || snap.UserByID(u.ID) != nil {
		t.Fatalf("invite %s or user %s still in the workspace", inv, u.ID)
	}
	for _, g := range snap.Groups {
		if slices.Contains(g.InviteEmails, inv) || slices.Contains(g.MemberIDs, u.ID) {
			t.Errorf("group %s still holds the deleted invite or user", g.ID)
		}
	}

	// Other types are not deletable: a clear error, nothing written.
	_, err := tn.DeleteResource(ctx, v2.ResourceId_builder{ResourceType: "group", Resource: e.ws.Groups[0].ID}.Build(), nil)
	if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "cannot be deleted") {
		t.Errorf("group delete: %v", err)
	}
	if got := e.sim.Snapshot(); len(got.Groups) != len(snap.Groups) {
		t.Error("a group was deleted")
	}

	// Without provisioning, baton-sdk's services refuse and say how.
	off, err := tn.Client(ctx, tenant.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	_, err = off.DeleteResourceV2(ctx, v2.DeleteResourceV2Request_builder{ResourceId: v2.ResourceId_builder{ResourceType: "user", Resource: e.ws.Users[4].ID}.Build()}.Build())
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "BATON_PROVISIONING") {
		t.Errorf("delete without provisioning: %v", err)
	}
	if _, err := createAccount(t, off, map[string]any{"email": "y@example.test"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("create account without provisioning: %v", err)
	}
	if e.sim.Snapshot().UserByID(e.ws.Users[4].ID) == nil {
		t.Error("a delete without provisioning deleted the user")
	}
}

// TestTargetedSyncOfOneUser: --sync-resources with one user's bid writes a
// c1z holding that user and exactly the grants a full sync lists on it.
func TestTargetedSyncOfOneUser(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(50))
	// A user in no group with direct roles: all its grants are its own.
	var u *segmentsim.User
	for _, cand := range e.ws.Users {
		inGroup := false
		for _, g := range e.ws.Groups {
			inGroup = inGroup || slices.Contains(g.MemberIDs, cand.ID)
		}
		if !inGroup && len(cand.Permissions) > 1 {
			u = cand
			break
		}
	}
	if u == nil {
		t.Fatal("the generated workspace has no user with roles outside every group")
	}
	full := filepath.Join(t.TempDir(), "full.c1z")
	if err := e.sync(t, segmentsim.DefaultToken, full); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, g := range load(t, full).Grants {
		if g.GetPrincipal().GetId().GetResourceType() == "user" && g.GetPrincipal().GetId().GetResource() == u.ID {
			want[g.GetId()] = true
		}
	}

	for _, b := range []string{"bid:r:user/" + u.ID, "bid:r:workspace/" + e.ws.ID + "/user/" + u.ID} {
		target, err := bid.ParseResourceBid(b)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "one.c1z")
		tn := e.newTenant(t, 1, nil)
		if err := tn.Sync(context.Background(), localsync.Options{Path: path, TmpDir: t.TempDir(), Targets: []*v2.Resource{target}}); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		// The user, and the workspace it belongs to (baton-sdk records a
		// target's parent too); nothing else.
		snap := load(t, path)
		users := 0
		for _, r := range snap.Resources {
			switch id := r.GetId(); {
			case id.GetResourceType() == "user" && id.GetResource() == u.ID && r.GetDisplayName() == u.Name:
				users++
			case id.GetResourceType() == "workspace" && id.GetResource() == e.ws.ID:
			default:
				t.Errorf("%s: resource %v synced", b, id)
			}
		}
		if users != 1 {
			t.Fatalf("%s: user %s synced %d times", b, u.ID, users)
		}
		got := map[string]bool{}
		for _, g := range snap.Grants {
			got[g.GetId()] = true
		}
		if len(got) != len(want) || len(want) < 2 {
			t.Errorf("%s: %d grants, want the %d of the full sync", b, len(got), len(want))
		}
		for id := range want {
			if !got[id] {
				t.Errorf("%s: grant %s missing", b, id)
			}
		}
	}
}

// TestLifecycleCapabilities: the capabilities baton-sdk reports follow
// what the guest declares.
func TestLifecycleCapabilities(t *testing.T) {
	e := startWritableSim(t, segmentsim.DefaultConfig(10), segmentsim.Options{})
	cc := provisioningClient(t, e.newTenant(t, 1, nil))
	resp, err := cc.GetMetadata(context.Background(), &v2.ConnectorServiceGetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	type caps struct{ get, del, account bool }
	want := map[string]caps{"workspace": {get: true}, "user": {get: true, del: true}, "invite": {true, true, true}, "group": {get: true}}
	for _, rc := range resp.GetMetadata().GetCapabilities().GetResourceTypeCapabilities() {
		var got caps
		for _, c := range rc.GetCapabilities() {
			switch c {
			case v2.Capability_CAPABILITY_TARGETED_SYNC:
				got.get = true
			case v2.Capability_CAPABILITY_RESOURCE_DELETE:
				got.del = true
			case v2.Capability_CAPABILITY_ACCOUNT_PROVISIONING:
				got.account = true
			}
		}
		if id := rc.GetResourceType().GetId(); got != want[id] {
			t.Errorf("%s: capabilities %+v, want %+v", id, got, want[id])
		}
	}
	ap := resp.GetMetadata().GetCapabilities().GetCredentialDetails().GetCapabilityAccountProvisioning()
	if ap.GetPreferredCredentialOption() != v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD {
		t.Errorf("account provisioning details %v, want no password", ap)
	}
}
