package connector

import (
	"context"
	"fmt"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/abi"
)

// The optional lifecycle exports (abi/lifecycle.go) as baton-sdk's
// interfaces. Each goes through call, so the sandbox's limits, the text
// caps and the per-call budget apply exactly as to listing and grants.

// getter is baton-sdk's ResourceTargetedSyncerLimited for a type the guest
// declared Gettable.
type getter struct{ s *resourceSyncer }

var _ connectorbuilder.ResourceTargetedSyncerLimited = getter{}

// Get reads one resource through the guest, for a targeted sync.
func (g getter) Get(ctx context.Context, id *v2.ResourceId, parent *v2.ResourceId) (*v2.Resource, annotations.Annotations, error) {
	c := g.s.c
	req := abi.GetResourceRequest{Call: abi.Call{Config: c.config}, Resource: *idFromV2(id), Parent: idFromV2(parent)}
	r, err := call[abi.Resource](ctx, c, c.tracker.Sync(""), abi.ExportGetResource, req, nil)
	if err != nil {
		return nil, nil, err
	}
	if r.ID != req.Resource {
		return nil, nil, malformed(abi.ExportGetResource, fmt.Errorf("asked for %s:%s, got %s:%s", req.Resource.Type, req.Resource.ID, r.ID.Type, r.ID.ID))
	}
	v, err := c.toResource(r)
	if err != nil {
		return nil, nil, malformed(abi.ExportGetResource, err)
	}
	return v, nil, nil
}

// deleter is baton-sdk's ResourceDeleterV2Limited for a type the guest
// declared Deletable.
type deleter struct{ s *resourceSyncer }

var _ connectorbuilder.ResourceDeleterV2Limited = deleter{}

// Delete deletes one resource through the guest. Deleting what is already
// gone succeeds (baton-sdk has no annotation for it; DeleteResource tells
// direct callers).
func (d deleter) Delete(ctx context.Context, id *v2.ResourceId, parent *v2.ResourceId) (annotations.Annotations, error) {
	_, err := d.s.c.DeleteResource(ctx, id, parent)
	return nil, err
}

// DeleteResource deletes one resource of a Deletable type through the
// guest and reports whether it was already gone. It is the one path of
// baton-sdk's Delete and the CLI, serialised with provisioning on the same
// resource (a user being deleted may be a principal being changed).
func (c *Connector) DeleteResource(ctx context.Context, id *v2.ResourceId, parent *v2.ResourceId) (alreadyDeleted bool, err error) {
	rt, ok := c.declared(id.GetResourceType())
	switch {
	case !ok:
		return false, status.Errorf(codes.InvalidArgument, "unknown resource type %q", abi.ClipText(id.GetResourceType()))
	case !rt.Deletable:
		return false, status.Errorf(codes.Unimplemented, "resources of type %q cannot be deleted; deletable types: %v", rt.ID, c.typesWhere(func(t abi.ResourceType) bool { return t.Deletable }))
	case id.GetResource() == "":
		return false, status.Error(codes.InvalidArgument, "the resource to delete has an empty id")
	}
	unlock := c.locks.lock(id)
	defer unlock()
	req := abi.DeleteResourceRequest{Call: abi.Call{Config: c.config}, Resource: *idFromV2(id), Parent: idFromV2(parent)}
	res, err := call[abi.DeleteResourceResult](ctx, c, c.tracker.Sync(""), abi.ExportDeleteResource, req, nil)
	if err != nil {
		return false, err
	}
	return res.AlreadyDeleted, nil
}

// accountCreator is baton-sdk's AccountManagerLimited for the type the
// guest declared CreatesAccounts.
type accountCreator struct{ s *resourceSyncer }

var _ connectorbuilder.AccountManagerLimited = accountCreator{}

// CreateAccountCapabilityDetails: accounts are created without a
// password (an invitation or an SSO account); the host never handles
// account credentials, so none reach the guest.
func (accountCreator) CreateAccountCapabilityDetails(context.Context) (*v2.CredentialDetailsAccountProvisioning, annotations.Annotations, error) {
	none := v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD
	return v2.CredentialDetailsAccountProvisioning_builder{
		SupportedCredentialOptions: []v2.CapabilityDetailCredentialOption{none},
		PreferredCredentialOption:  none,
	}.Build(), nil, nil
}

// CreateAccount creates an account through the guest. Credential options
// other than no-password are refused: the guest cannot set one.
func (a accountCreator) CreateAccount(ctx context.Context, info *v2.AccountInfo, opts *v2.LocalCredentialOptions) (connectorbuilder.CreateAccountResponse, []*v2.PlaintextData, annotations.Annotations, error) {
	if opts.HasOptions() && !opts.HasNoPassword() {
		return nil, nil, nil, status.Error(codes.InvalidArgument, "this connector creates accounts without a password: ask for no-password credentials")
	}
	res, err := a.s.c.CreateAccount(ctx, a.s.rt.GetId(), info)
	if err != nil {
		return nil, nil, nil, err
	}
	return res, nil, nil, nil
}

// CreateAccount creates an account of resource type rt (the guest's
// CreatesAccounts type; "" means that one) from info, and returns
// baton-sdk's result: *v2.CreateAccountResponse_SuccessResult,
// _AlreadyExistsResult or _ActionRequiredResult.
func (c *Connector) CreateAccount(ctx context.Context, rt string, info *v2.AccountInfo) (connectorbuilder.CreateAccountResponse, error) {
	creators := c.typesWhere(func(t abi.ResourceType) bool { return t.CreatesAccounts })
	if len(creators) == 0 {
		return nil, status.Error(codes.Unimplemented, "this connector does not create accounts")
	}
	if rt == "" {
		rt = creators[0]
	}
	if t, ok := c.declared(rt); !ok || !t.CreatesAccounts {
		return nil, status.Errorf(codes.InvalidArgument, "accounts are created as resource type %q, not %q", creators[0], abi.ClipText(rt))
	}
	req := abi.CreateAccountRequest{Call: abi.Call{Config: c.config}, ResourceType: rt, Login: info.GetLogin()}
	for _, e := range info.GetEmails() {
		req.Emails = append(req.Emails, e.GetAddress())
	}
	if p := info.GetProfile(); p != nil {
		req.Profile = p.AsMap()
	}
	res, err := call[abi.CreateAccountResult](ctx, c, c.tracker.Sync(""), abi.ExportCreateAccount, req, nil)
	if err != nil {
		return nil, err
	}
	var r *v2.Resource
	if res.Resource != nil {
		if r, err = c.toResource(*res.Resource); err != nil {
			return nil, malformed(abi.ExportCreateAccount, err)
		}
	}
	msg := abi.ClipText(res.Message)
	switch res.Outcome {
	case abi.AccountCreated:
		if r == nil {
			return nil, malformed(abi.ExportCreateAccount, fmt.Errorf("outcome %q without the account's resource", res.Outcome))
		}
		return v2.CreateAccountResponse_SuccessResult_builder{Resource: r, IsCreateAccountResult: true}.Build(), nil
	case abi.AccountAlreadyExists:
		return v2.CreateAccountResponse_AlreadyExistsResult_builder{Resource: r, IsCreateAccountResult: true}.Build(), nil
	case abi.AccountActionRequired:
		if msg == "" {
			return nil, malformed(abi.ExportCreateAccount, fmt.Errorf("outcome %q without a message saying what to do", res.Outcome))
		}
		return v2.CreateAccountResponse_ActionRequiredResult_builder{Resource: r, Message: msg, IsCreateAccountResult: true}.Build(), nil
	}
	return nil, malformed(abi.ExportCreateAccount, fmt.Errorf("unknown outcome %q", abi.ClipText(string(res.Outcome))))
}

// declared returns the guest's declaration of resource type id.
func (c *Connector) declared(id string) (abi.ResourceType, bool) {
	for _, rt := range c.md.ResourceTypes {
		if rt.ID == id {
			return rt, true
		}
	}
	return abi.ResourceType{}, false
}

// typesWhere lists the ids of the declared types for which keep is true.
func (c *Connector) typesWhere(keep func(abi.ResourceType) bool) []string {
	var out []string
	for _, rt := range c.md.ResourceTypes {
		if keep(rt) {
			out = append(out, rt.ID)
		}
	}
	return out
}
