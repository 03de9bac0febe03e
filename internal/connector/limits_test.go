package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/pagination"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/synctrack"
)

// funcCaller answers each call with f.
type funcCaller func(ctx context.Context, export string, input []byte) ([]byte, error)

func (f funcCaller) Call(ctx context.Context, export string, input []byte, _ abi.Session) ([]byte, error) {
	return f(ctx, export, input)
}

func ok[T any](v T) []byte {
	b, _ := json.Marshal(abi.Result[T]{OK: &v})
	return b
}

func groupSyncer(c *Connector) *resourceSyncer {
	return c.ResourceSyncers(context.Background())[1].(*resourceSyncer)
}

// wantLimit asserts err ends the sync (a code baton-sdk neither retries
// nor skips) and names the limit's runner.toml key and flag.
func wantLimit(t *testing.T, err error, key string) {
	t.Helper()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v, want ResourceExhausted", err)
	}
	msg := status.Convert(err).Message()
	if !strings.Contains(msg, "sync exceeded "+key) || !strings.Contains(msg, "--"+strings.ReplaceAll(key, "_", "-")) {
		t.Fatalf("message %q does not name %s and its flag", msg, key)
	}
}

func syncOp(id, token string) resource.SyncOpAttrs {
	return resource.SyncOpAttrs{SyncID: id, PageToken: pagination.Token{Token: token}}
}

func TestEndlessPagesStopAtMaxPages(t *testing.T) {
	var calls atomic.Int64
	c := New(funcCaller(func(context.Context, string, []byte) ([]byte, error) {
		n := calls.Add(1)
		return ok(abi.ResourcePage{NextPageToken: fmt.Sprint("p", n)}), nil
	}), md, nil, WithLimits(synclimits.Limits{MaxPages: 5}))
	s := groupSyncer(c)
	token := ""
	var err error
	for range 10 {
		var res *resource.SyncOpResults
		if _, res, err = s.List(context.Background(), nil, syncOp("sync-1", token)); err != nil {
			break
		}
		token = res.NextPageToken
	}
	wantLimit(t, err, "max_pages")
	if calls.Load() != 5 {
		t.Errorf("the guest was called %d times, want 5", calls.Load())
	}
	// Entitlements and grants of the same sync are refused too, without a
	// guest call; another sync has its own count.
	r := v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "group", Resource: "g"}.Build()}.Build()
	_, _, err = s.Grants(context.Background(), r, syncOp("sync-1", ""))
	wantLimit(t, err, "max_pages")
	if calls.Load() != 5 {
		t.Errorf("a failed sync still called the guest")
	}
	if _, _, err := s.List(context.Background(), nil, syncOp("sync-2", "")); err != nil {
		t.Errorf("another sync was charged for sync-1's pages: %v", err)
	}
}

// TestEmptyPagesStopAtMaxEmptyPages: a guest that answers every page of a
// listing with nothing and a fresh token is stopped by the default
// max_empty_pages, long before max_pages, and each listing counts on its
// own.
func TestEmptyPagesStopAtMaxEmptyPages(t *testing.T) {
	var calls atomic.Int64
	c := New(funcCaller(func(_ context.Context, export string, _ []byte) ([]byte, error) {
		n := calls.Add(1)
		if export == abi.ExportListGrants {
			return ok(abi.GrantPage{NextPageToken: fmt.Sprint("p", n)}), nil
		}
		return ok(abi.ResourcePage{NextPageToken: fmt.Sprint("p", n)}), nil
	}), md, nil)
	s := groupSyncer(c)
	ctx := context.Background()
	// The grants of two resources, page by page in turn, as parallel
	// workers would list them: neither reaches the limit.
	r1 := v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "group", Resource: "g1"}.Build()}.Build()
	r2 := v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "group", Resource: "g2"}.Build()}.Build()
	t1, t2 := "", ""
	for range synclimits.DefaultMaxEmptyPages {
		_, res, err := s.Grants(ctx, r1, syncOp("s", t1))
		if err != nil {
			t.Fatal(err)
		}
		t1 = res.NextPageToken
		if _, res, err = s.Grants(ctx, r2, syncOp("s", t2)); err != nil {
			t.Fatal(err)
		}
		t2 = res.NextPageToken
	}
	calls.Store(0)
	token := ""
	var err error
	for range 10 * synclimits.DefaultMaxEmptyPages {
		var res *resource.SyncOpResults
		if _, res, err = s.List(ctx, nil, syncOp("s", token)); err != nil {
			break
		}
		token = res.NextPageToken
	}
	wantLimit(t, err, "max_empty_pages")
	if calls.Load() != synclimits.DefaultMaxEmptyPages+1 {
		t.Errorf("the guest was called %d times, want %d", calls.Load(), synclimits.DefaultMaxEmptyPages+1)
	}
}

func TestItemsAcrossKindsStopAtMaxItems(t *testing.T) {
	users := make([]abi.Resource, 40)
	for i := range users {
		users[i] = abi.Resource{ID: abi.ResourceID{Type: "group", ID: fmt.Sprint("g", i)}, DisplayName: "g"}
	}
	c := New(funcCaller(func(_ context.Context, export string, _ []byte) ([]byte, error) {
		if export == abi.ExportListGrants {
			g := abi.Grant{Entitlement: abi.EntitlementRef{Resource: abi.ResourceID{Type: "group", ID: "g0"}, Slug: "member"},
				Principal: abi.ResourceID{Type: "user", ID: "u"}}
			return ok(abi.GrantPage{Grants: []abi.Grant{g, g, g, g, g, g, g, g, g, g}}), nil
		}
		return ok(abi.ResourcePage{Resources: users}), nil
	}), md, nil, WithLimits(synclimits.Limits{MaxItems: 95}))
	s := groupSyncer(c)
	for i := range 2 {
		if _, _, err := s.List(context.Background(), nil, syncOp("s", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	r := v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "group", Resource: "g0"}.Build()}.Build()
	_, _, err := s.Grants(context.Background(), r, syncOp("s", "")) // 80 + 10 = 90
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Grants(context.Background(), r, syncOp("s", "x")) // 100 > 95
	wantLimit(t, err, "max_items")
}

func TestNestedChildrenStopAtMaxDepth(t *testing.T) {
	// Every group the guest lists declares groups as its children: a
	// guest that nests forever.
	var calls atomic.Int64
	c := New(funcCaller(func(_ context.Context, _ string, input []byte) ([]byte, error) {
		n := calls.Add(1)
		return ok(abi.ResourcePage{Resources: []abi.Resource{{ID: abi.ResourceID{Type: "group", ID: fmt.Sprint("g", n)},
			DisplayName: "g", ChildTypes: []string{"group"}}}}), nil
	}), md, nil, WithLimits(synclimits.Limits{MaxDepth: 3}))
	s := groupSyncer(c)
	var parent *v2.ResourceId
	var err error
	for range 10 {
		var got []*v2.Resource
		if got, _, err = s.List(context.Background(), parent, syncOp("s", "")); err != nil {
			break
		}
		parent = got[0].GetId()
	}
	wantLimit(t, err, "max_depth")
	// Top level, then depths 1, 2 and 3; the fifth list would be depth 4.
	if calls.Load() != 4 {
		t.Errorf("the guest was called %d times, want 4", calls.Load())
	}
}

func TestSyncWallTime(t *testing.T) {
	const timeout = 300 * time.Millisecond
	// The guest sleeps in a host call until its context ends, as a guest
	// waiting in a WASI sleep or an endless upstream would.
	c := New(funcCaller(func(ctx context.Context, export string, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, &sandbox.CallError{Export: export, Kind: sandbox.KindTimeout, Err: ctx.Err()}
	}), md, nil, WithLimits(synclimits.Limits{Timeout: timeout}))
	s := groupSyncer(c)
	start := time.Now()
	_, _, err := s.List(context.Background(), nil, syncOp("s", ""))
	elapsed := time.Since(start)
	wantLimit(t, err, "sync_timeout")
	// The sync's deadline stops the call in flight; the margin covers a
	// loaded machine, not a design allowance.
	if elapsed < timeout || elapsed > timeout+5*time.Second {
		t.Errorf("the call ended after %s, want just after %s", elapsed, timeout)
	}
	start = time.Now()
	_, _, err = s.List(context.Background(), nil, syncOp("s", "next"))
	wantLimit(t, err, "sync_timeout")
	if time.Since(start) > time.Second {
		t.Errorf("a timed-out sync called the guest again")
	}
}

func TestRequestBudgetIsPerSync(t *testing.T) {
	// The guest makes 3 API requests per call through the context's sync,
	// as the tenant's budget HTTPDoer does, and reports a refusal as the
	// Segment guest does: as its own error.
	c := New(funcCaller(func(ctx context.Context, export string, _ []byte) ([]byte, error) {
		for range 3 {
			if err := synctrack.FromContext(ctx).ChargeRequest(); err != nil {
				b, _ := json.Marshal(abi.Result[abi.Empty]{Error: abi.Errorf(abi.CodePermissionDenied, "egress denied: %v", err)})
				return b, nil
			}
		}
		if export == abi.ExportValidate {
			return ok(abi.Empty{}), nil
		}
		return ok(abi.ResourcePage{}), nil
	}), md, nil, WithLimits(synclimits.Limits{RequestBudget: 7}))
	s := groupSyncer(c)
	for i := range 2 {
		if _, _, err := s.List(context.Background(), nil, syncOp("a", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := s.List(context.Background(), nil, syncOp("a", "2"))
	wantLimit(t, err, "request_budget")
	// A new sync (the next service-mode task) starts with a full budget.
	for i := range 2 {
		if _, _, err := s.List(context.Background(), nil, syncOp("b", fmt.Sprint(i))); err != nil {
			t.Fatalf("sync b: %v", err)
		}
	}
	// Calls outside a sync each have a budget of their own.
	for range 5 {
		if _, err := c.Validate(context.Background()); err != nil {
			t.Fatalf("validate: %v", err)
		}
	}
}

func TestCancelledCallsAreCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := New(funcCaller(func(ctx context.Context, export string, _ []byte) ([]byte, error) {
		cancel()
		<-ctx.Done()
		// What the sandbox returns today when the caller gives up.
		return nil, &sandbox.CallError{Export: export, Kind: sandbox.KindTimeout, Err: ctx.Err()}
	}), md, nil)
	_, _, err := groupSyncer(c).List(ctx, nil, syncOp("s", ""))
	if status.Code(err) != codes.Canceled {
		t.Errorf("err = %v, want Canceled", err)
	}
	c = New(funcCaller(func(context.Context, string, []byte) ([]byte, error) {
		return nil, fmt.Errorf("pool: %w", context.Canceled)
	}), md, nil)
	if _, _, err := groupSyncer(c).List(context.Background(), nil, syncOp("s", "")); status.Code(err) != codes.Canceled {
		t.Errorf("err = %v, want Canceled", err)
	}
}

func TestUndeclaredChildTypeIsMalformed(t *testing.T) {
	c := New(funcCaller(func(context.Context, string, []byte) ([]byte, error) {
		return ok(abi.ResourcePage{Resources: []abi.Resource{{ID: abi.ResourceID{Type: "group", ID: "g"}, DisplayName: "g",
			ChildTypes: []string{"nope"}}}}), nil
	}), md, nil)
	if _, _, err := groupSyncer(c).List(context.Background(), nil, syncOp("s", "")); status.Code(err) != codes.Internal {
		t.Errorf("err = %v, want Internal", err)
	}
}

// TestHugeGuestTextThroughTheClient: guest text reaches baton-sdk through
// the real in-process gRPC client clipped and with a final code. Unclipped,
// a message past gRPC's 16 MiB header limit breaks the transport and the
// client sees Unavailable, which baton-sdk retries forever.
func TestHugeGuestTextThroughTheClient(t *testing.T) {
	huge := strings.Repeat("x", 20<<20)
	for name, tc := range map[string]struct {
		out  any
		err  error
		want codes.Code
	}{
		"error envelope": {out: abi.Result[abi.ResourcePage]{Error: &abi.Error{Code: abi.CodeInvalidArgument, Message: huge}}, want: codes.InvalidArgument},
		"undeclared type": {out: abi.Result[abi.ResourcePage]{OK: &abi.ResourcePage{Resources: []abi.Resource{
			{ID: abi.ResourceID{Type: "group", ID: huge}, DisplayName: "g", ChildTypes: []string{huge}}}}}, want: codes.Internal},
		"trap":    {err: &sandbox.CallError{Export: abi.ExportListResources, Kind: sandbox.KindTrap, Err: errors.New(huge)}, want: codes.Internal},
		"invalid": {out: json.RawMessage(`{"ok": {"resources": "` + huge + `"}}`), want: codes.Internal},
	} {
		t.Run(name, func(t *testing.T) {
			var b []byte
			if tc.out != nil {
				b, _ = json.Marshal(tc.out)
			}
			cc, err := NewClient(context.Background(), New(cannedCaller{out: b, err: tc.err}, md, nil), ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			_, err = cc.ListResources(context.Background(), v2.ResourcesServiceListResourcesRequest_builder{ResourceTypeId: "group"}.Build())
			st := status.Convert(err)
			if st.Code() != tc.want {
				t.Errorf("code %s (%.200s), want %s", st.Code(), st.Message(), tc.want)
			}
			if n := len(st.Message()); n > 2*abi.MaxTextBytes {
				t.Errorf("status message of %d bytes reached the client", n)
			}
		})
	}
}

func TestStatusesAreBounded(t *testing.T) {
	// A backstop for text that does not come through the clipping paths.
	err := status.Error(codes.PermissionDenied, strings.Repeat("é", 20<<20))
	_, got := boundStatus(context.Background(), nil, nil, func(context.Context, any) (any, error) { return nil, err })
	st := status.Convert(got)
	if st.Code() != codes.PermissionDenied || len(st.Message()) > maxStatusBytes || !strings.HasSuffix(st.Message(), "[cut]") {
		t.Errorf("code %s, %d bytes", st.Code(), len(st.Message()))
	}
}

// TestOversizedPageIsFinal: a page that grows past the 64 MiB message
// limit as protos fails with ResourceExhausted, which baton-sdk does not
// retry.
func TestOversizedPageIsFinal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 65 MiB page")
	}
	var page abi.ResourcePage
	name := strings.Repeat("n", 1<<20)
	for i := range 65 {
		page.Resources = append(page.Resources, abi.Resource{ID: abi.ResourceID{Type: "group", ID: fmt.Sprint(i)}, DisplayName: name})
	}
	cc, err := NewClient(context.Background(), New(cannedCaller{out: ok(page)}, md, nil), ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = cc.ListResources(context.Background(), v2.ResourcesServiceListResourcesRequest_builder{ResourceTypeId: "group"}.Build())
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("err = %v, want ResourceExhausted", err)
	}
}
