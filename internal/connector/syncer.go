package connector

import (
	"context"
	"fmt"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"github.com/conductorone/baton-sdk/pkg/types/sessions"

	"github.com/baton-runner/baton-runner/abi"
)

// resourceSyncer is baton-sdk's ResourceSyncerV2 for one resource type of
// the guest. Page tokens are the guest's own, passed through unchanged.
type resourceSyncer struct {
	c  *Connector
	rt *v2.ResourceType
}

func (s *resourceSyncer) ResourceType(context.Context) *v2.ResourceType { return s.rt }

func (s *resourceSyncer) callBase(opts resource.SyncOpAttrs) abi.Call {
	return abi.Call{Config: s.c.config, SyncID: opts.SyncID}
}

// List lists one page of resources, charging the sync a page, its items,
// whether the page made progress and, when listing below a parent, the
// depth of the parent's children.
func (s *resourceSyncer) List(ctx context.Context, parent *v2.ResourceId, opts resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	scope := s.c.tracker.Sync(opts.SyncID)
	depth := 0
	if parent != nil {
		d, err := scope.ChildDepth(parent.GetResourceType(), parent.GetResource())
		if err != nil {
			return nil, nil, limitExceeded(err)
		}
		depth = d
	}
	if err := scope.ChargePage(); err != nil {
		return nil, nil, limitExceeded(err)
	}
	req := abi.ListResourcesRequest{
		Call:         s.callBase(opts),
		ResourceType: s.rt.GetId(),
		Parent:       idFromV2(parent),
		PageToken:    opts.PageToken.Token,
	}
	page, err := call[abi.ResourcePage](ctx, s.c, scope, abi.ExportListResources, req, sessionOf(opts.Session, opts.SyncID))
	if err != nil {
		return nil, nil, err
	}
	if err := scope.ChargeItems(len(page.Resources)); err != nil {
		return nil, nil, limitExceeded(err)
	}
	if err := scope.NotePage(len(page.Resources), req.PageToken, page.NextPageToken,
		abi.ExportListResources, s.rt.GetId(), parent.GetResourceType(), parent.GetResource()); err != nil {
		return nil, nil, limitExceeded(err)
	}
	out := make([]*v2.Resource, 0, len(page.Resources))
	for _, r := range page.Resources {
		if r.ID.Type != s.rt.GetId() {
			return nil, nil, malformed(abi.ExportListResources,
				fmt.Errorf("asked for %q resources, got one of type %q", s.rt.GetId(), r.ID.Type))
		}
		v, err := s.c.toResource(r)
		if err != nil {
			return nil, nil, malformed(abi.ExportListResources, err)
		}
		if len(r.ChildTypes) > 0 {
			if err := scope.NoteParent(r.ID.Type, r.ID.ID, depth); err != nil {
				return nil, nil, limitExceeded(err)
			}
		}
		out = append(out, v)
	}
	return out, &resource.SyncOpResults{NextPageToken: page.NextPageToken}, nil
}

// Entitlements lists one page of r's entitlements, charging the sync a
// page, its items and whether it made progress.
func (s *resourceSyncer) Entitlements(ctx context.Context, r *v2.Resource, opts resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	scope := s.c.tracker.Sync(opts.SyncID)
	if err := scope.ChargePage(); err != nil {
		return nil, nil, limitExceeded(err)
	}
	req := abi.ListEntitlementsRequest{Call: s.callBase(opts), Resource: fromResource(r), PageToken: opts.PageToken.Token}
	page, err := call[abi.EntitlementPage](ctx, s.c, scope, abi.ExportListEntitlements, req, sessionOf(opts.Session, opts.SyncID))
	if err != nil {
		return nil, nil, err
	}
	if err := scope.ChargeItems(len(page.Entitlements)); err != nil {
		return nil, nil, limitExceeded(err)
	}
	if err := scope.NotePage(len(page.Entitlements), req.PageToken, page.NextPageToken,
		abi.ExportListEntitlements, r.GetId().GetResourceType(), r.GetId().GetResource()); err != nil {
		return nil, nil, limitExceeded(err)
	}
	out := make([]*v2.Entitlement, 0, len(page.Entitlements))
	for _, e := range page.Entitlements {
		v, err := s.c.toEntitlement(r, e)
		if err != nil {
			return nil, nil, malformed(abi.ExportListEntitlements, err)
		}
		out = append(out, v)
	}
	return out, &resource.SyncOpResults{NextPageToken: page.NextPageToken}, nil
}

// Grants lists one page of the grants on r, charging the sync a page,
// its items and whether it made progress.
func (s *resourceSyncer) Grants(ctx context.Context, r *v2.Resource, opts resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	scope := s.c.tracker.Sync(opts.SyncID)
	if err := scope.ChargePage(); err != nil {
		return nil, nil, limitExceeded(err)
	}
	req := abi.ListGrantsRequest{Call: s.callBase(opts), Resource: fromResource(r), PageToken: opts.PageToken.Token}
	page, err := call[abi.GrantPage](ctx, s.c, scope, abi.ExportListGrants, req, sessionOf(opts.Session, opts.SyncID))
	if err != nil {
		return nil, nil, err
	}
	if err := scope.ChargeItems(len(page.Grants)); err != nil {
		return nil, nil, limitExceeded(err)
	}
	if err := scope.NotePage(len(page.Grants), req.PageToken, page.NextPageToken,
		abi.ExportListGrants, r.GetId().GetResourceType(), r.GetId().GetResource()); err != nil {
		return nil, nil, limitExceeded(err)
	}
	out := make([]*v2.Grant, 0, len(page.Grants))
	for _, g := range page.Grants {
		v, err := s.c.toGrant(g)
		if err != nil {
			return nil, nil, malformed(abi.ExportListGrants, err)
		}
		out = append(out, v)
	}
	return out, &resource.SyncOpResults{NextPageToken: page.NextPageToken}, nil
}

// sessionOf adapts baton-sdk's sync-scoped session store to the guest's
// Session interface. A list call outside a sync (a lookup, such as the
// CLI's of the tenant's workspace) gets none: the store refuses every
// call without a sync ID, which the guest would report as a failure.
func sessionOf(ss sessions.SessionStore, syncID string) abi.Session {
	if ss == nil || syncID == "" {
		return nil
	}
	return sessionAdapter{ss}
}

type sessionAdapter struct{ ss sessions.SessionStore }

func (a sessionAdapter) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return a.ss.Get(ctx, key)
}

func (a sessionAdapter) Set(ctx context.Context, key string, value []byte) error {
	return a.ss.Set(ctx, key, value)
}
