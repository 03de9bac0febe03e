package connector

import (
	"context"
	"fmt"
	"strings"
	"sync"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/abi"
)

// provisioningSyncer is the syncer of a resource type the guest declared
// provisionable: baton-sdk sends it the grants and revokes of entitlements
// on resources of that type.
type provisioningSyncer struct{ *resourceSyncer }

var _ connectorbuilder.ResourceProvisionerV2 = provisioningSyncer{}

// Grant gives principal the entitlement through the guest.
func (s provisioningSyncer) Grant(ctx context.Context, principal *v2.Resource, ent *v2.Entitlement) ([]*v2.Grant, annotations.Annotations, error) {
	target, err := entitlementOn(ent)
	if err != nil {
		return nil, nil, err
	}
	unlock := s.c.locks.lock(principal.GetId())
	defer unlock()
	req := abi.GrantRequest{Call: abi.Call{Config: s.c.config}, Entitlement: target, Principal: fromResource(principal)}
	res, err := call[abi.GrantResult](ctx, s.c, s.c.tracker.Sync(""), abi.ExportGrant, req, nil)
	if err != nil {
		return nil, nil, err
	}
	grants := make([]*v2.Grant, 0, len(res.Grants))
	for _, g := range res.Grants {
		v, err := s.c.toGrant(g)
		if err != nil {
			return nil, nil, malformed(abi.ExportGrant, err)
		}
		grants = append(grants, v)
	}
	var annos annotations.Annotations
	if res.AlreadyExists {
		annos.Append(&v2.GrantAlreadyExists{})
	}
	return grants, annos, nil
}

// Revoke takes the grant's entitlement away from its principal through the
// guest.
func (s provisioningSyncer) Revoke(ctx context.Context, g *v2.Grant) (annotations.Annotations, error) {
	target, err := entitlementOn(g.GetEntitlement())
	if err != nil {
		return nil, err
	}
	unlock := s.c.locks.lock(g.GetPrincipal().GetId())
	defer unlock()
	req := abi.RevokeRequest{Call: abi.Call{Config: s.c.config}, Entitlement: target, Principal: fromResource(g.GetPrincipal())}
	res, err := call[abi.RevokeResult](ctx, s.c, s.c.tracker.Sync(""), abi.ExportRevoke, req, nil)
	if err != nil {
		return nil, err
	}
	var annos annotations.Annotations
	if res.AlreadyRevoked {
		annos.Append(&v2.GrantAlreadyRevoked{})
	}
	return annos, nil
}

// entitlementOn recovers the guest's (resource, slug) from a baton
// entitlement: the slug is what follows "<type>:<id>:" in its ID.
func entitlementOn(ent *v2.Entitlement) (abi.EntitlementOn, error) {
	r := ent.GetResource()
	prefix := r.GetId().GetResourceType() + ":" + r.GetId().GetResource() + ":"
	slug, ok := strings.CutPrefix(ent.GetId(), prefix)
	if !ok || slug == "" {
		// The IDs were the guest's: clipped, like all guest text.
		return abi.EntitlementOn{}, status.Error(codes.InvalidArgument, abi.ClipText(
			fmt.Sprintf("entitlement %q is not on resource %s", ent.GetId(), strings.TrimSuffix(prefix, ":"))))
	}
	return abi.EntitlementOn{Resource: fromResource(r), Slug: slug}, nil
}

// principalLocks serialises provisioning per principal: a revoke is a
// read-modify-write of the principal's whole permission set, so two
// concurrent changes to one principal could otherwise lose one another.
type principalLocks struct {
	mu    sync.Mutex
	locks map[string]*principalLock
}

type principalLock struct {
	sync.Mutex
	users int
}

func (p *principalLocks) lock(id *v2.ResourceId) (unlock func()) {
	key := id.GetResourceType() + ":" + id.GetResource()
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[string]*principalLock{}
	}
	l := p.locks[key]
	if l == nil {
		l = &principalLock{}
		p.locks[key] = l
	}
	l.users++
	p.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		p.mu.Lock()
		if l.users--; l.users == 0 {
			delete(p.locks, key)
		}
		p.mu.Unlock()
	}
}
