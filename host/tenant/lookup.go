package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	reader_v2 "github.com/conductorone/baton-sdk/pb/c1/reader/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorstore"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// LookupError says which part of a grant or revoke request is not in the
// c1z it is looked up in, or that an ID cannot be one at all. baton-sdk's
// provisioner reports all of these as the same bare "not found".
type LookupError struct {
	Part      string // "entitlement", "principal" or "grant"
	ID        string // as given; a principal as TYPE:ID
	File      string // the c1z looked in
	Malformed string // set when ID cannot be a Part at all: the expected form
}

func (e *LookupError) Error() string {
	if e.Malformed != "" {
		return fmt.Sprintf("%s ID %q is malformed: %s", e.Part, e.ID, e.Malformed)
	}
	return fmt.Sprintf("%s %s is not in %s", e.Part, e.ID, e.File)
}

const grantIDForm = "a grant ID is ENTITLEMENT_ID:PRINCIPAL_TYPE:PRINCIPAL_ID, e.g. group:<groupId>:member:user:<userId>"

// c1zLookup reads entitlements, resources and grants from a c1z.
type c1zLookup struct {
	file  string
	store connectorstore.Reader
}

func openLookup(ctx context.Context, file string) (*c1zLookup, error) {
	st, err := dotc1z.NewStore(ctx, file, dotc1z.WithReadOnly(true))
	if err != nil {
		return nil, fmt.Errorf("opening %s as a c1z: %w", file, err)
	}
	return &c1zLookup{file: file, store: st}, nil
}

func (l *c1zLookup) close(ctx context.Context) { _ = l.store.Close(ctx) }

// notFound turns the store's NotFound into ok=false; other errors (a damaged
// file) stay errors.
func notFound(err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	return false, err
}

func (l *c1zLookup) entitlement(ctx context.Context, id string) (*v2.Entitlement, bool, error) {
	resp, err := l.store.GetEntitlement(ctx, reader_v2.EntitlementsReaderServiceGetEntitlementRequest_builder{EntitlementId: id}.Build())
	ok, err := notFound(err)
	return resp.GetEntitlement(), ok, err
}

func (l *c1zLookup) resource(ctx context.Context, typ, id string) (*v2.Resource, bool, error) {
	resp, err := l.store.GetResource(ctx, reader_v2.ResourcesReaderServiceGetResourceRequest_builder{
		ResourceId: v2.ResourceId_builder{ResourceType: typ, Resource: id}.Build(),
	}.Build())
	ok, err := notFound(err)
	return resp.GetResource(), ok, err
}

func (l *c1zLookup) grant(ctx context.Context, id string) (bool, error) {
	_, err := l.store.GetGrant(ctx, reader_v2.GrantsReaderServiceGetGrantRequest_builder{GrantId: id}.Build())
	return notFound(err)
}

// checkGrantable reports a missing entitlement or principal by name before
// baton-sdk's granter runs.
func (l *c1zLookup) checkGrantable(ctx context.Context, entitlementID, principalType, principalID string) error {
	_, ok, err := l.entitlement(ctx, entitlementID)
	if err != nil {
		return err
	}
	if !ok {
		if !strings.Contains(entitlementID, ":") {
			return &LookupError{Part: "entitlement", ID: entitlementID, File: l.file,
				Malformed: "an entitlement ID is RESOURCE_TYPE:RESOURCE_ID:SLUG, e.g. group:<groupId>:member"}
		}
		return &LookupError{Part: "entitlement", ID: entitlementID, File: l.file}
	}
	_, ok, err = l.resource(ctx, principalType, principalID)
	if err != nil {
		return err
	}
	if !ok {
		return &LookupError{Part: "principal", ID: principalType + ":" + principalID, File: l.file}
	}
	return nil
}

// splitGrant finds the entitlement and principal a grant ID names, as
// baton-sdk builds grant IDs (ENTITLEMENT_ID:PRINCIPAL_TYPE:PRINCIPAL_ID),
// trying each split point against the c1z because entitlement IDs contain
// colons too. It returns a LookupError naming the missing part.
func (l *c1zLookup) splitGrant(ctx context.Context, grantID string) (*v2.Entitlement, *v2.Resource, error) {
	parts := strings.Split(grantID, ":")
	if len(parts) < 3 {
		return nil, nil, &LookupError{Part: "grant", ID: grantID, File: l.file, Malformed: grantIDForm}
	}
	var knownEntitlement string
	for i := len(parts) - 2; i >= 1; i-- {
		entID := strings.Join(parts[:i], ":")
		ptype, pid := parts[i], strings.Join(parts[i+1:], ":")
		ent, ok, err := l.entitlement(ctx, entID)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		knownEntitlement = entID
		principal, ok, err := l.resource(ctx, ptype, pid)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		res, ok, err := l.resource(ctx, ent.GetResource().GetId().GetResourceType(), ent.GetResource().GetId().GetResource())
		if err != nil {
			return nil, nil, err
		}
		if ok {
			// The store returns the entitlement's resource as an ID-only
			// stub; the connector needs the whole resource, as baton-sdk's
			// revoker supplies it.
			ent = proto.Clone(ent).(*v2.Entitlement)
			ent.SetResource(res)
		}
		return ent, principal, nil
	}
	if knownEntitlement != "" {
		return nil, nil, &LookupError{Part: "principal", ID: strings.TrimPrefix(grantID, knownEntitlement+":"), File: l.file}
	}
	return nil, nil, &LookupError{Part: "grant", ID: grantID, File: l.file}
}

// revokeByParts revokes the grant the ID names through the connector, for a
// grant made since the c1z's sync (baton-sdk's revoker looks the grant
// itself up and so needs a re-sync first).
func revokeByParts(ctx context.Context, cc types.ConnectorClient, grantID string, ent *v2.Entitlement, principal *v2.Resource) error {
	if annos := annotations.Annotations(ent.GetResource().GetAnnotations()); annos.Contains(&v2.BatonID{}) {
		return errors.New("cannot revoke grant on external resource")
	}
	_, err := cc.Revoke(ctx, v2.GrantManagerServiceRevokeRequest_builder{
		Grant: v2.Grant_builder{Id: grantID, Entitlement: ent, Principal: principal}.Build(),
	}.Build())
	return err
}
