package tenant

import (
	"context"
	"errors"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/provisioner"
	"github.com/conductorone/baton-sdk/pkg/types"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Outcome says whether a grant or revoke changed anything upstream.
type Outcome int

// The outcomes of a successful provisioning call.
const (
	Changed        Outcome = iota // the access was granted or revoked
	AlreadyGranted                // the principal already held it; nothing was written
	AlreadyRevoked                // the principal did not hold it; nothing was written
)

// Grant gives the principal the entitlement, looking both up in the c1z of
// an earlier sync, as baton-sdk's one-shot provisioning does. A part that is
// not in the c1z is reported as a *LookupError naming it.
func (t *Tenant) Grant(ctx context.Context, c1zPath, entitlementID, principalType, principalID string) (Outcome, error) {
	if err := withLookup(ctx, c1zPath, func(l *c1zLookup) error {
		return l.checkGrantable(ctx, entitlementID, principalType, principalID)
	}); err != nil {
		return Changed, err
	}
	return t.provision(ctx, func(cc types.ConnectorClient) error {
		return runProvisioner(ctx, provisioner.NewGranter(cc, c1zPath, entitlementID, principalID, principalType))
	})
}

// Revoke removes the grant, looked up in the c1z of an earlier sync. A grant
// made since that sync is not in it, but its ID names its entitlement and
// principal: when both are in the c1z, Revoke revokes it from those.
func (t *Tenant) Revoke(ctx context.Context, c1zPath, grantID string) (Outcome, error) {
	var ent *v2.Entitlement
	var principal *v2.Resource
	if err := withLookup(ctx, c1zPath, func(l *c1zLookup) error {
		ok, err := l.grant(ctx, grantID)
		if err != nil || ok {
			return err
		}
		ent, principal, err = l.splitGrant(ctx, grantID)
		return err
	}); err != nil {
		return Changed, err
	}
	return t.provision(ctx, func(cc types.ConnectorClient) error {
		if ent != nil {
			return revokeByParts(ctx, cc, grantID, ent, principal)
		}
		return runProvisioner(ctx, provisioner.NewRevoker(cc, c1zPath, grantID))
	})
}

// CreateAccount creates an account of resource type rt (the guest's
// account type when rt is empty) and returns baton-sdk's result:
// *v2.CreateAccountResponse_SuccessResult, _AlreadyExistsResult or
// _ActionRequiredResult (a baton-sdk guest may also answer
// _InProgressResult). The account is created without a password: the
// host never handles account credentials.
func (t *Tenant) CreateAccount(ctx context.Context, rt string, info *v2.AccountInfo) (connectorbuilder.CreateAccountResponse, error) {
	if t.sdk != nil {
		return t.sdkCreateAccount(ctx, rt, info)
	}
	return t.connector.CreateAccount(ctx, rt, info)
}

// DeleteResource deletes the resource and reports whether it was already
// gone (baton-sdk's own delete service does not say; a baton-sdk guest
// says so with NotFound).
func (t *Tenant) DeleteResource(ctx context.Context, id, parent *v2.ResourceId) (alreadyDeleted bool, err error) {
	if t.sdk != nil {
		return t.sdkDeleteResource(ctx, id, parent)
	}
	return t.connector.DeleteResource(ctx, id, parent)
}

func withLookup(ctx context.Context, c1zPath string, f func(*c1zLookup) error) error {
	l, err := openLookup(ctx, c1zPath)
	if err != nil {
		return err
	}
	defer l.close(ctx)
	return f(l)
}

func runProvisioner(ctx context.Context, p *provisioner.Provisioner) error {
	runErr := p.Run(ctx)
	closeErr := p.Close(ctx)
	return errors.Join(runErr, closeErr)
}

func (t *Tenant) provision(ctx context.Context, do func(types.ConnectorClient) error) (Outcome, error) {
	cc, err := t.Client(ctx, ClientOptions{Provisioning: true})
	if err != nil {
		return Changed, err
	}
	defer cc.Close()
	rc := &outcomeClient{ConnectorClient: cc}
	if err := do(rc); err != nil {
		return Changed, err
	}
	return rc.outcome, nil
}

// outcomeClient notes the already-granted/already-revoked annotations that
// baton-sdk's provisioner does not pass on.
type outcomeClient struct {
	types.ConnectorClient
	outcome Outcome
}

func (c *outcomeClient) Grant(ctx context.Context, in *v2.GrantManagerServiceGrantRequest, opts ...grpc.CallOption) (*v2.GrantManagerServiceGrantResponse, error) {
	resp, err := c.ConnectorClient.Grant(ctx, in, opts...)
	if err == nil && has(resp.GetAnnotations(), &v2.GrantAlreadyExists{}) {
		c.outcome = AlreadyGranted
	}
	return resp, err
}

func (c *outcomeClient) Revoke(ctx context.Context, in *v2.GrantManagerServiceRevokeRequest, opts ...grpc.CallOption) (*v2.GrantManagerServiceRevokeResponse, error) {
	resp, err := c.ConnectorClient.Revoke(ctx, in, opts...)
	if err == nil && has(resp.GetAnnotations(), &v2.GrantAlreadyRevoked{}) {
		c.outcome = AlreadyRevoked
	}
	return resp, err
}

func has(annos []*anypb.Any, msg proto.Message) bool {
	a := annotations.Annotations(annos)
	return a.Contains(msg)
}
