package tenant

import (
	"context"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A baton-sdk guest creates accounts and deletes resources with its own
// connectorbuilder services, reached through the tenant's Client as
// baton-sdk's provisioner would reach them; these return what the JSON-ABI
// adapter returns for the same outcomes.

// errNoAccountResult is a CreateAccountResponse without any result, which
// connectorbuilder never sends.
var errNoAccountResult = status.Error(codes.Internal, "the connector's create-account response holds no result (success, already exists, action required or in progress)")

func (t *Tenant) sdkCreateAccount(ctx context.Context, rt string, info *v2.AccountInfo) (connectorbuilder.CreateAccountResponse, error) {
	cc, err := t.Client(ctx, ClientOptions{Provisioning: true})
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	// No password, as the JSON-ABI path: a password the connector set
	// would come back encrypted for keys the host does not hold.
	resp, err := cc.CreateAccount(ctx, v2.CreateAccountRequest_builder{
		AccountInfo:       info,
		ResourceTypeId:    rt,
		CredentialOptions: v2.CredentialOptions_builder{NoPassword: &v2.CredentialOptions_NoPassword{}}.Build(),
	}.Build())
	if err != nil {
		return nil, err
	}
	switch resp.WhichResult() {
	case v2.CreateAccountResponse_Success_case:
		return resp.GetSuccess(), nil
	case v2.CreateAccountResponse_AlreadyExists_case:
		return resp.GetAlreadyExists(), nil
	case v2.CreateAccountResponse_ActionRequired_case:
		return resp.GetActionRequired(), nil
	case v2.CreateAccountResponse_InProgress_case:
		return resp.GetInProgress(), nil
	}
	return nil, errNoAccountResult
}

// sdkDeleteResource reads NotFound as "already gone": baton-sdk has no
// annotation for it, and a connector deleting what its API no longer
// holds answers the API's 404 (uhttp maps it to NotFound).
func (t *Tenant) sdkDeleteResource(ctx context.Context, id, parent *v2.ResourceId) (bool, error) {
	cc, err := t.Client(ctx, ClientOptions{Provisioning: true})
	if err != nil {
		return false, err
	}
	defer cc.Close()
	_, err = cc.DeleteResourceV2(ctx, v2.DeleteResourceV2Request_builder{ResourceId: id, ParentResourceId: parent}.Build())
	if status.Code(err) == codes.NotFound {
		return true, nil
	}
	return false, err
}
