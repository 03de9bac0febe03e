package sdkguest

import (
	"context"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/types"
	"google.golang.org/grpc"

	"github.com/baton-runner/baton-runner/internal/rpcerr"
	"github.com/baton-runner/baton-runner/internal/synctrack"
)

// limited bounds each sync run through the client by the tenant's limits,
// as the JSON-ABI adapter does: baton-sdk names the sync in every list
// request, so each list call is charged to its sync (a page, its items,
// whether it made progress, the depth of the children it lists) and runs
// with the sync in its context, where the host functions charge its API
// requests. Calls outside a sync are charged to the tracker's unnamed
// scope (the transport puts it in their context).
type limited struct {
	types.ConnectorClient
	tracker *synctrack.Tracker
}

// scoped runs one list call of sync id: the charges before it, the call
// under the sync's deadline, and the charges of what it returned.
func scoped[Req any, Resp any](ctx context.Context, l *limited, id string, req Req,
	call func(context.Context, Req, ...grpc.CallOption) (Resp, error), opts []grpc.CallOption,
	before func(*synctrack.Sync) error, after func(*synctrack.Sync, Resp) error) (Resp, error) {
	var zero Resp
	s := l.tracker.Sync(id)
	if err := s.Check(); err != nil {
		return zero, rpcerr.LimitStatus(err)
	}
	if err := before(s); err != nil {
		return zero, rpcerr.LimitStatus(err)
	}
	if err := s.ChargePage(); err != nil {
		return zero, rpcerr.LimitStatus(err)
	}
	ctx = synctrack.WithSync(ctx, s)
	if deadline, ok := s.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	resp, err := call(ctx, req, opts...)
	if s.TimedOut() || s.Err() != nil {
		return zero, rpcerr.LimitStatus(s.Err())
	}
	if err != nil {
		return zero, err
	}
	if err := after(s, resp); err != nil {
		return zero, rpcerr.LimitStatus(err)
	}
	return resp, nil
}

func noCharge(*synctrack.Sync) error { return nil }

func (l *limited) ListResources(ctx context.Context, req *v2.ResourcesServiceListResourcesRequest, opts ...grpc.CallOption) (*v2.ResourcesServiceListResourcesResponse, error) {
	parent := req.GetParentResourceId()
	depth := 0
	return scoped(ctx, l, req.GetActiveSyncId(), req, l.ConnectorClient.ListResources, opts,
		func(s *synctrack.Sync) error {
			if parent == nil {
				return nil
			}
			d, err := s.ChildDepth(parent.GetResourceType(), parent.GetResource())
			depth = d
			return err
		},
		func(s *synctrack.Sync, resp *v2.ResourcesServiceListResourcesResponse) error {
			list := resp.GetList()
			if err := s.ChargeItems(len(list)); err != nil {
				return err
			}
			if err := s.NotePage(len(list), req.GetPageToken(), resp.GetNextPageToken(),
				"ListResources", req.GetResourceTypeId(), parent.GetResourceType(), parent.GetResource()); err != nil {
				return err
			}
			for _, r := range list {
				if hasChildTypes(r) {
					if err := s.NoteParent(r.GetId().GetResourceType(), r.GetId().GetResource(), depth); err != nil {
						return err
					}
				}
			}
			return nil
		})
}

func hasChildTypes(r *v2.Resource) bool {
	annos := annotations.Annotations(r.GetAnnotations())
	return annos.Contains(&v2.ChildResourceType{})
}

func (l *limited) ListEntitlements(ctx context.Context, req *v2.EntitlementsServiceListEntitlementsRequest, opts ...grpc.CallOption) (*v2.EntitlementsServiceListEntitlementsResponse, error) {
	r := req.GetResource().GetId()
	return scoped(ctx, l, req.GetActiveSyncId(), req, l.ConnectorClient.ListEntitlements, opts, noCharge,
		func(s *synctrack.Sync, resp *v2.EntitlementsServiceListEntitlementsResponse) error {
			if err := s.ChargeItems(len(resp.GetList())); err != nil {
				return err
			}
			return s.NotePage(len(resp.GetList()), req.GetPageToken(), resp.GetNextPageToken(),
				"ListEntitlements", r.GetResourceType(), r.GetResource())
		})
}

func (l *limited) ListGrants(ctx context.Context, req *v2.GrantsServiceListGrantsRequest, opts ...grpc.CallOption) (*v2.GrantsServiceListGrantsResponse, error) {
	r := req.GetResource().GetId()
	return scoped(ctx, l, req.GetActiveSyncId(), req, l.ConnectorClient.ListGrants, opts, noCharge,
		func(s *synctrack.Sync, resp *v2.GrantsServiceListGrantsResponse) error {
			if err := s.ChargeItems(len(resp.GetList())); err != nil {
				return err
			}
			return s.NotePage(len(resp.GetList()), req.GetPageToken(), resp.GetNextPageToken(),
				"ListGrants", r.GetResourceType(), r.GetResource())
		})
}
