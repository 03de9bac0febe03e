package connector

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/pagination"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
)

// cannedCaller answers every call with out (or err).
type cannedCaller struct {
	out []byte
	err error
}

func (c cannedCaller) Call(context.Context, string, []byte, abi.Session) ([]byte, error) {
	return c.out, c.err
}

var md = abi.Metadata{ABIVersion: abi.Version, DisplayName: "t", ResourceTypes: []abi.ResourceType{
	{ID: "user", DisplayName: "User", Traits: []abi.Trait{abi.TraitUser}},
	{ID: "group", DisplayName: "Group", Traits: []abi.Trait{abi.TraitGroup}},
}}

func syncerFor(t *testing.T, out any, err error) *resourceSyncer {
	t.Helper()
	b, _ := json.Marshal(out)
	c := New(cannedCaller{out: b, err: err}, md, nil)
	return c.ResourceSyncers(context.Background())[1].(*resourceSyncer)
}

func TestGuestErrorsMapToGRPCCodes(t *testing.T) {
	reset := time.Now().Add(30 * time.Second).UTC().Truncate(time.Second)
	for code, want := range map[abi.Code]codes.Code{
		abi.CodeUnauthenticated: codes.Unauthenticated,
		abi.CodeNotFound:        codes.NotFound,
		abi.CodeUnavailable:     codes.Unavailable,
		abi.CodeRateLimited:     codes.Unavailable,
		abi.CodeEgressDenied:    codes.PermissionDenied,
		"something-new":         codes.Unknown,
	} {
		s := syncerFor(t, abi.Result[abi.ResourcePage]{Error: &abi.Error{Code: code, Message: "m", RetryAfter: &reset}}, nil)
		_, _, err := s.List(context.Background(), nil, resource.SyncOpAttrs{})
		st, _ := status.FromError(err)
		if st.Code() != want {
			t.Errorf("%s → %s, want %s", code, st.Code(), want)
		}
		if code != abi.CodeRateLimited {
			continue
		}
		var rl *v2.RateLimitDescription
		for _, d := range st.Details() {
			if x, ok := d.(*v2.RateLimitDescription); ok {
				rl = x
			}
		}
		if rl == nil || !rl.GetResetAt().AsTime().Equal(reset) || rl.GetRemaining() != 0 {
			t.Errorf("rate-limited status carries %v, want a RateLimitDescription resetting at %s", rl, reset)
		}
	}
}

func TestSandboxFailuresAreNotRetryable(t *testing.T) {
	for kind, want := range map[sandbox.ErrorKind]codes.Code{
		sandbox.KindTimeout: codes.ResourceExhausted,
		sandbox.KindTrap:    codes.Internal,
		sandbox.KindOutput:  codes.Internal,
	} {
		s := syncerFor(t, nil, &sandbox.CallError{Export: abi.ExportListResources, Kind: kind, Err: errors.New("boom")})
		_, _, err := s.List(context.Background(), nil, resource.SyncOpAttrs{})
		if got := status.Code(err); got != want {
			t.Errorf("%s → %s, want %s", kind, got, want)
		}
	}
}

func TestMalformedGuestOutput(t *testing.T) {
	for name, out := range map[string]any{
		"neither ok nor error": map[string]any{},
		"resource of another type": abi.Result[abi.ResourcePage]{OK: &abi.ResourcePage{Resources: []abi.Resource{
			{ID: abi.ResourceID{Type: "user", ID: "u1"}, DisplayName: "u"}}}},
		"empty id": abi.Result[abi.ResourcePage]{OK: &abi.ResourcePage{Resources: []abi.Resource{
			{ID: abi.ResourceID{Type: "group"}, DisplayName: "g"}}}},
	} {
		_, _, err := syncerFor(t, out, nil).List(context.Background(), nil, resource.SyncOpAttrs{})
		if status.Code(err) != codes.Internal {
			t.Errorf("%s: err = %v, want Internal", name, err)
		}
	}
}

func TestGrantsUseBatonIDsAndExpansion(t *testing.T) {
	g := abi.Grant{
		Entitlement: abi.EntitlementRef{Resource: abi.ResourceID{Type: "group", ID: "g1"}, Slug: "member"},
		Principal:   abi.ResourceID{Type: "group", ID: "g2"},
		ExpandFrom:  []abi.EntitlementRef{{Resource: abi.ResourceID{Type: "group", ID: "g2"}, Slug: "member"}},
	}
	s := syncerFor(t, abi.Result[abi.GrantPage]{OK: &abi.GrantPage{Grants: []abi.Grant{g}, NextPageToken: "p2"}}, nil)
	r := v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "group", Resource: "g1"}.Build()}.Build()
	grants, res, err := s.Grants(context.Background(), r, resource.SyncOpAttrs{})
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 || grants[0].GetId() != "group:g1:member:group:g2" || res.NextPageToken != "p2" {
		t.Fatalf("grants = %v, next = %q", grants, res.NextPageToken)
	}
	var exp v2.GrantExpandable
	found := false
	for _, a := range grants[0].GetAnnotations() {
		if a.MessageIs(&exp) {
			_ = a.UnmarshalTo(&exp)
			found = true
		}
	}
	if !found || len(exp.GetEntitlementIds()) != 1 || exp.GetEntitlementIds()[0] != "group:g2:member" {
		t.Errorf("expansion annotation = %v", exp.GetEntitlementIds())
	}
}

func TestChildTypesBecomeChildResourceTypeAnnotations(t *testing.T) {
	parent := abi.Resource{ID: abi.ResourceID{Type: "group", ID: "g1"}, DisplayName: "g", ChildTypes: []string{"user"}}
	s := syncerFor(t, abi.Result[abi.ResourcePage]{OK: &abi.ResourcePage{Resources: []abi.Resource{parent}}}, nil)
	got, _, err := s.List(context.Background(), nil, resource.SyncOpAttrs{})
	if err != nil {
		t.Fatal(err)
	}
	var child v2.ChildResourceType
	found := false
	for _, a := range got[0].GetAnnotations() {
		if a.MessageIs(&child) {
			found = a.UnmarshalTo(&child) == nil && child.GetResourceTypeId() == "user"
		}
	}
	if !found {
		t.Errorf("annotations %v lack ChildResourceType user", got[0].GetAnnotations())
	}
}

// TestPersistentFailuresStopRetries: baton-sdk retries Unavailable without
// limit; after MaxAttempts consecutive failures of the same call the host
// turns the error into Aborted so the sync ends.
func TestPersistentFailuresStopRetries(t *testing.T) {
	s := syncerFor(t, abi.Result[abi.ResourcePage]{Error: &abi.Error{Code: abi.CodeUnavailable, Message: "503 from upstream"}}, nil)
	for i := 1; i <= MaxAttempts; i++ {
		_, _, err := s.List(context.Background(), nil, resource.SyncOpAttrs{})
		want := codes.Unavailable
		if i == MaxAttempts {
			want = codes.Aborted
		}
		if got := status.Code(err); got != want {
			t.Fatalf("attempt %d: %s (%v), want %s", i, got, err, want)
		}
	}
	// Another call (another page token) has its own count.
	if _, _, err := s.List(context.Background(), nil, resource.SyncOpAttrs{PageToken: pagination.Token{Token: "p2"}}); status.Code(err) != codes.Unavailable {
		t.Errorf("a different call was cut short: %v", err)
	}
}
