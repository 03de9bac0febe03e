//go:build !wasip1

package segment

import (
	"context"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestGetResource reads each gettable type from the simulator; unknown
// ids are NotFound and other types Unimplemented.
func TestGetResource(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(20))
	conn, ctx := New(), context.Background()
	wsID := abi.ResourceID{Type: typeWorkspace, ID: e.ws.ID}
	u, g, inv := e.ws.Users[0], e.ws.Groups[0], e.ws.Invites[0]
	for _, id := range []abi.ResourceID{wsID, {Type: typeUser, ID: u.ID}, {Type: typeGroup, ID: g.ID}, {Type: typeInvite, ID: strings.ToUpper(inv)}} {
		r, err := conn.GetResource(ctx, e.env, abi.GetResourceRequest{Resource: id})
		if err != nil {
			t.Fatalf("%v: %v", id, err)
		}
		want := id
		if id.Type == typeInvite {
			want.ID = inv // as Segment spells it
		}
		if r.ID != want || (id.Type != typeWorkspace && (r.Parent == nil || *r.Parent != wsID)) {
			t.Errorf("%v: got %+v", id, r)
		}
	}
	for _, id := range []abi.ResourceID{{Type: typeUser, ID: "nope"}, {Type: typeGroup, ID: "nope"}, {Type: typeInvite, ID: "nope@x.test"}, {Type: typeWorkspace, ID: "nope"}} {
		_, err := conn.GetResource(ctx, e.env, abi.GetResourceRequest{Resource: id})
		wantCode(t, err, abi.CodeNotFound)
	}
	_, err := conn.GetResource(ctx, e.env, abi.GetResourceRequest{Resource: abi.ResourceID{Type: typeSource, ID: e.ws.Sources[0].ID}})
	wantCode(t, err, abi.CodeUnimplemented)
}
