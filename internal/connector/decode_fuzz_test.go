package connector

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/abi"
)

// fuzzCaller answers every export with the same guest output.
type fuzzCaller []byte

func (f fuzzCaller) Call(context.Context, string, []byte, abi.Session) ([]byte, error) {
	return f, nil
}

var fuzzMetadata = abi.Metadata{ABIVersion: abi.Version, DisplayName: "fuzz", ResourceTypes: []abi.ResourceType{
	{ID: "user", DisplayName: "User", Traits: []abi.Trait{abi.TraitUser}},
	{ID: "group", DisplayName: "Group", Traits: []abi.Trait{abi.TraitGroup}, Provisionable: true},
	{ID: "role", DisplayName: "Role", Traits: []abi.Trait{abi.TraitRole}, Provisionable: true},
	{ID: "app", DisplayName: "App", Traits: []abi.Trait{abi.TraitApp}},
	{ID: "thing", DisplayName: "Thing"},
}}

func seedJSON(f *testing.F, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// FuzzGuestOutput feeds arbitrary bytes, as a guest's output, through the
// decoding of every export's result (call[Res]) and the conversion of the
// decoded documents to baton-sdk protos. Whatever the guest writes, the
// host must not panic and must fail with a gRPC status error.
func FuzzGuestOutput(f *testing.F) {
	reset := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ws := abi.ResourceID{Type: "app", ID: "ws"}
	seedJSON(f, abi.Result[abi.ResourcePage]{OK: &abi.ResourcePage{NextPageToken: "n", Resources: []abi.Resource{
		{ID: abi.ResourceID{Type: "user", ID: "u1"}, Parent: &ws, DisplayName: "U", Profile: map[string]string{"k": "v"},
			User: &abi.UserTrait{Emails: []string{"a@b.c", ""}, Login: "l", Status: abi.UserStatusDisabled}},
		{ID: abi.ResourceID{Type: "group", ID: "g1"}, ChildTypes: []string{"user", "nope"}, Description: "d"},
		{ID: abi.ResourceID{Type: "thing", ID: "t"}, Profile: map[string]string{"\xff": "\x00"}},
	}}})
	seedJSON(f, abi.Result[abi.EntitlementPage]{OK: &abi.EntitlementPage{Entitlements: []abi.Entitlement{
		{Resource: abi.ResourceID{Type: "group", ID: "g1"}, Slug: "member", DisplayName: "M", GrantableTo: []string{"user", "group"}},
	}}})
	seedJSON(f, abi.Result[abi.GrantPage]{OK: &abi.GrantPage{Grants: []abi.Grant{{
		Entitlement: abi.EntitlementRef{Resource: abi.ResourceID{Type: "group", ID: "g1"}, Slug: "member"},
		Principal:   abi.ResourceID{Type: "user", ID: "u1"},
		ExpandFrom:  []abi.EntitlementRef{{Resource: abi.ResourceID{Type: "role", ID: "r"}, Slug: "member"}},
	}}}})
	seedJSON(f, abi.Result[abi.GrantResult]{OK: &abi.GrantResult{AlreadyExists: true, Grants: []abi.Grant{{
		Entitlement: abi.EntitlementRef{Resource: abi.ResourceID{Type: "nope", ID: "x"}, Slug: "s"},
	}}}})
	seedJSON(f, abi.Result[abi.RevokeResult]{OK: &abi.RevokeResult{AlreadyRevoked: true}})
	seedJSON(f, abi.Result[abi.Empty]{Error: &abi.Error{Code: abi.CodeRateLimited, Message: "slow down", RetryAfter: &reset}})
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"ok"`, `{"ok":null}`, `{"ok":{}}`, `{"error":{}}`, `{"ok":{},"error":{"code":"x"}}`,
		`{"error":{"code":"rate_limited","retryAfter":"9999-12-31T23:59:59Z"}}`,
		`{"error":{"code":"rate_limited","retryAfter":"0001-01-01T00:00:00Z"}}`,
		`{"ok":{"resources":[{"id":{"type":"user","id":""}}]}}`,
		`{"ok":{"resources":[null]}}`, `{"ok":{"grants":[{}]}}`, `{"ok":{"entitlements":[{"resource":{"type":"user","id":"u1"}}]}}`,
		`{"ok":{"resources":[{"id":{"type":"user","id":"u"},"user":{"status":"weird","emails":["\u0000"]}}]}}`,
		"{\"error\":{\"code\":\"unknown\",\"message\":\"\xff\xfe\"}}",
	} {
		f.Add([]byte(s))
	}

	user := v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "user", Resource: "u1"}.Build(), DisplayName: "U"}.Build()
	group := v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "group", Resource: "g1"}.Build()}.Build()
	ent := v2.Entitlement_builder{Id: "group:g1:member", Resource: group, Slug: "member"}.Build()
	grant := v2.Grant_builder{Id: "group:g1:member:user:u1", Entitlement: ent, Principal: user}.Build()

	f.Fuzz(func(t *testing.T, out []byte) {
		ctx := context.Background()
		c := New(fuzzCaller(out), fuzzMetadata, map[string]string{"k": "v"})
		check := func(op string, err error) {
			t.Helper()
			if err == nil {
				return
			}
			if _, ok := status.FromError(err); !ok {
				t.Fatalf("%s: error %q (%T) is not a gRPC status", op, err, err)
			}
		}
		_, err := c.Validate(ctx)
		check("validate", err)
		for _, s := range c.ResourceSyncers(ctx) {
			rs, _, err := s.List(ctx, nil, resource.SyncOpAttrs{})
			check("list", err)
			for _, r := range rs {
				_ = r.String()
			}
			r := group
			if s.ResourceType(ctx).GetId() == "user" {
				r = user
			}
			es, _, err := s.Entitlements(ctx, r, resource.SyncOpAttrs{})
			check("entitlements", err)
			for _, e := range es {
				_ = e.String()
			}
			gs, _, err := s.Grants(ctx, r, resource.SyncOpAttrs{})
			check("grants", err)
			for _, g := range gs {
				_ = g.String()
			}
			if p, ok := s.(provisioningSyncer); ok {
				gs, _, err := p.Grant(ctx, user, ent)
				check("grant", err)
				for _, g := range gs {
					_ = g.String()
				}
				_, err = p.Revoke(ctx, grant)
				check("revoke", err)
			}
		}
	})
}
