package connector

import (
	"context"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Besides syncing and group membership the demo creates and deletes
// users, and reads one user or group again for a targeted sync: each is
// a baton-sdk interface the resource type's syncer implements, from which
// baton-sdk derives the connector's capabilities.
var (
	_ connectorbuilder.AccountManagerLimited         = (*userSyncer)(nil)
	_ connectorbuilder.ResourceDeleterV2Limited      = (*userSyncer)(nil)
	_ connectorbuilder.ResourceTargetedSyncerLimited = (*userSyncer)(nil)
	_ connectorbuilder.ResourceTargetedSyncerLimited = (*groupSyncer)(nil)
)

// accountSchema is what an account is created from, as ConductorOne's
// form asks for it: the profile's keys.
var accountSchema = v2.ConnectorAccountCreationSchema_builder{FieldMap: map[string]*v2.ConnectorAccountCreationSchema_Field{
	"email": v2.ConnectorAccountCreationSchema_Field_builder{DisplayName: "Email", Required: true, Order: 1,
		Description: "The user's email address", Placeholder: "new.hire@acme.demo.test",
		StringField: &v2.ConnectorAccountCreationSchema_StringField{}}.Build(),
	"login": v2.ConnectorAccountCreationSchema_Field_builder{DisplayName: "Login", Order: 2,
		Description: "The user's login; by default the email's local part", Placeholder: "new.hire",
		StringField: &v2.ConnectorAccountCreationSchema_StringField{}}.Build(),
	"display_name": v2.ConnectorAccountCreationSchema_Field_builder{DisplayName: "Display name", Order: 3,
		Description: "The user's name as shown; by default the login",
		StringField: &v2.ConnectorAccountCreationSchema_StringField{}}.Build(),
}}.Build()

// Get reads one user again.
func (s *userSyncer) Get(ctx context.Context, id *v2.ResourceId, _ *v2.ResourceId) (*v2.Resource, annotations.Annotations, error) {
	u, err := s.c.user(ctx, id.GetResource())
	if err != nil {
		return nil, nil, err
	}
	r, err := userResource(*u)
	return r, nil, err
}

// CreateAccountCapabilityDetails: the demo API sets no passwords.
func (s *userSyncer) CreateAccountCapabilityDetails(context.Context) (*v2.CredentialDetailsAccountProvisioning, annotations.Annotations, error) {
	none := v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD
	return v2.CredentialDetailsAccountProvisioning_builder{
		SupportedCredentialOptions: []v2.CapabilityDetailCredentialOption{none},
		PreferredCredentialOption:  none,
	}.Build(), nil, nil
}

// CreateAccount creates a user from the account's email (its primary
// one, else the profile's "email"), login and display name; a user who
// has that email or login already exists, and is returned as such. The
// credential options are not refused but have no effect: the API has no
// passwords, and baton-sdk's own one-shot CLI asks for a random one
// whatever the connector's details say.
func (s *userSyncer) CreateAccount(ctx context.Context, info *v2.AccountInfo, _ *v2.LocalCredentialOptions) (connectorbuilder.CreateAccountResponse, []*v2.PlaintextData, annotations.Annotations, error) {
	profile := info.GetProfile().AsMap()
	email, _ := profile["email"].(string)
	for _, e := range info.GetEmails() {
		if e.GetIsPrimary() || email == "" {
			email = e.GetAddress()
		}
	}
	login := info.GetLogin()
	if login == "" {
		login, _ = profile["login"].(string)
	}
	displayName, _ := profile["display_name"].(string)
	if email == "" {
		return nil, nil, nil, status.Error(codes.InvalidArgument, `baton-demo: an account needs an email: give one in the account's emails or its profile's "email"`)
	}
	created, u, err := s.c.createUser(ctx, email, login, displayName)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := userResource(*u)
	if err != nil {
		return nil, nil, nil, err
	}
	if created {
		return v2.CreateAccountResponse_SuccessResult_builder{Resource: r, IsCreateAccountResult: true}.Build(), nil, nil, nil
	}
	return v2.CreateAccountResponse_AlreadyExistsResult_builder{Resource: r, IsCreateAccountResult: true}.Build(), nil, nil, nil
}

// Delete deletes a user; one who is not there fails with NotFound, which
// tells the caller it was already gone.
func (s *userSyncer) Delete(ctx context.Context, id *v2.ResourceId, _ *v2.ResourceId) (annotations.Annotations, error) {
	return nil, s.c.deleteUser(ctx, id.GetResource())
}

// Get reads one group again, under the organisation (parent, if the
// caller names it).
func (s *groupSyncer) Get(ctx context.Context, id *v2.ResourceId, parent *v2.ResourceId) (*v2.Resource, annotations.Annotations, error) {
	g, err := s.c.group(ctx, id.GetResource())
	if err != nil {
		return nil, nil, err
	}
	if parent == nil {
		o, err := s.c.org(ctx)
		if err != nil {
			return nil, nil, err
		}
		parent = v2.ResourceId_builder{ResourceType: orgType.GetId(), Resource: o.ID}.Build()
	}
	r, err := groupResource(*g, parent)
	return r, nil, err
}
