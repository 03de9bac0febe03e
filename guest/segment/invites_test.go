package segment

import (
	"context"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

func TestParseAccountProfile(t *testing.T) {
	ok := []struct {
		req   abi.CreateAccountRequest
		email string
		roles []string
	}{
		{abi.CreateAccountRequest{Profile: map[string]any{"email": " a@x.test ", "roles": []any{"r1", "r1", "r2"}}}, "a@x.test", []string{"r1", "r2"}},
		{abi.CreateAccountRequest{Emails: []string{"b@x.test"}}, "b@x.test", nil},
		{abi.CreateAccountRequest{Login: "c@x.test"}, "c@x.test", nil},
	}
	for _, tc := range ok {
		p, err := parseAccountProfile(tc.req)
		if err != nil || p.email != tc.email || strings.Join(p.roles, ",") != strings.Join(tc.roles, ",") {
			t.Errorf("%+v: %+v, %v", tc.req, p, err)
		}
	}
	for want, profile := range map[string]map[string]any{
		"needs an email":           {},
		"not an email address":     {"email": "a@"},
		`"email" must be a string`: {"email": 3.0},
		`"roles" must be a list`:   {"email": "a@x.test", "roles": "r1"},
		`"groups": item 1`:         {"email": "a@x.test", "groups": []any{"g", ""}},
	} {
		_, err := parseAccountProfile(abi.CreateAccountRequest{Profile: profile})
		if e := wantCode(t, err, abi.CodeInvalidArgument); !strings.Contains(e.Message, want) {
			t.Errorf("%v: %q lacks %q", profile, e.Message, want)
		}
	}
}

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
