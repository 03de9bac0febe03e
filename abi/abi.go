// Package abi defines version 1 of the contract between the baton-runner host
// and a connector guest module: the names of the guest's exports and of the
// host functions it may import, and the JSON documents that cross the
// boundary. docs/ABI.md describes the same contract for authors of guests in
// other languages.
//
// The package is deliberately free of baton-sdk and protobuf types so that a
// guest importing it stays small; the host converts these documents to
// baton-sdk's v2 protos.
package abi

// Version is the ABI version this package describes. A guest reports the
// version it speaks in Metadata.ABIVersion; the host refuses any other.
const Version = 1

// Guest exports. Each takes one JSON document as the extism call input and
// writes one Result document as output; see docs/ABI.md for the table of
// inputs and outputs.
const (
	ExportMetadata         = "baton_metadata"
	ExportValidate         = "baton_validate"
	ExportListResources    = "baton_list_resources"
	ExportListEntitlements = "baton_list_entitlements"
	ExportListGrants       = "baton_list_grants"
	// ExportGrant and ExportRevoke are optional: a guest that declares no
	// provisionable resource type need not define them.
	ExportGrant  = "baton_grant"
	ExportRevoke = "baton_revoke"
)

// Host functions, imported by the guest from the extism user namespace
// ("extism:host/user"). Each takes the offset of a JSON document in extism
// memory and returns the offset of the JSON reply (0 where documented).
const (
	HostHTTP = "baton_http"
	// HostHTTPBatch sends several requests at once; its reply is framed
	// (see HTTPBatchReply), not a plain JSON document. Added to version 1:
	// a guest that does not import it runs as before.
	HostHTTPBatch  = "baton_http_batch"
	HostSessionGet = "baton_session_get"
	HostSessionSet = "baton_session_set"
)

// Call is the common part of every request the host sends to a guest export.
type Call struct {
	// Config holds the tenant's non-secret settings. Secrets never appear
	// here: the host injects credentials into outgoing requests itself.
	Config map[string]string `json:"config,omitempty"`
	// SyncID identifies the sync this call belongs to, if any. Session keys
	// are scoped to it by the host.
	SyncID string `json:"syncId,omitempty"`
}

// Result is the envelope of every export's output: exactly one of OK and
// Error is set.
type Result[T any] struct {
	OK    *T     `json:"ok,omitempty"`
	Error *Error `json:"error,omitempty"`
}

// Metadata is the output of ExportMetadata.
type Metadata struct {
	ABIVersion    int            `json:"abiVersion"`
	DisplayName   string         `json:"displayName"`
	Description   string         `json:"description,omitempty"`
	ResourceTypes []ResourceType `json:"resourceTypes"`
	// WritesPerMinute, when positive, asks the host to space the guest's
	// mutating HTTP requests (POST, PUT, PATCH, DELETE) so that at most
	// this many are sent per minute, the API's own write limit.
	WritesPerMinute int `json:"writesPerMinute,omitempty"`
}

// Trait is a baton resource-type trait.
type Trait string

// The traits a resource type can carry.
const (
	TraitUser  Trait = "user"
	TraitGroup Trait = "group"
	TraitRole  Trait = "role"
	TraitApp   Trait = "app"
)

// ResourceType describes one kind of resource the guest syncs.
type ResourceType struct {
	ID          string  `json:"id"`
	DisplayName string  `json:"displayName"`
	Description string  `json:"description,omitempty"`
	Traits      []Trait `json:"traits,omitempty"`
	// Provisionable says that entitlements on resources of this type can
	// be granted and revoked through ExportGrant and ExportRevoke.
	Provisionable bool `json:"provisionable,omitempty"`
	// NoEntitlements and NoGrants say that resources of this type never
	// have entitlements or grants listed on them, so the host need not
	// call ExportListEntitlements or ExportListGrants for them (one call
	// saved per resource: users have no entitlements of their own in a
	// connector whose API keeps permissions on the principal).
	NoEntitlements bool `json:"noEntitlements,omitempty"`
	NoGrants       bool `json:"noGrants,omitempty"`
	// CreatesAccounts, Deletable and Gettable declare the optional
	// exports of lifecycle.go for this type: ExportCreateAccount creates
	// accounts of it (at most one type may say so), ExportDeleteResource
	// deletes its resources, ExportGetResource reads one for a targeted
	// sync.
	CreatesAccounts bool `json:"createsAccounts,omitempty"`
	Deletable       bool `json:"deletable,omitempty"`
	Gettable        bool `json:"gettable,omitempty"`
}

// ResourceID names a resource: its type and its id within that type.
type ResourceID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// UserStatus is the account status of a user resource.
type UserStatus string

// The statuses a user can have.
const (
	UserStatusUnspecified UserStatus = ""
	UserStatusEnabled     UserStatus = "enabled"
	UserStatusDisabled    UserStatus = "disabled"
	// UserStatusPending is an account that exists but cannot be used
	// yet: an invitation not yet accepted.
	UserStatusPending UserStatus = "pending"
)

// UserTrait holds the user-specific fields of a resource of a TraitUser type.
type UserTrait struct {
	Emails []string   `json:"emails,omitempty"`
	Login  string     `json:"login,omitempty"`
	Status UserStatus `json:"status,omitempty"`
}

// Resource is one synced resource.
type Resource struct {
	ID          ResourceID  `json:"id"`
	Parent      *ResourceID `json:"parent,omitempty"`
	DisplayName string      `json:"displayName"`
	Description string      `json:"description,omitempty"`
	// ChildTypes lists the resource types the host should list with this
	// resource as their parent.
	ChildTypes []string `json:"childTypes,omitempty"`
	// Profile is free-form, non-secret detail shown to reviewers.
	Profile map[string]string `json:"profile,omitempty"`
	User    *UserTrait        `json:"user,omitempty"`
}

// Entitlement is something a principal can be granted on a resource. Its
// baton-sdk ID is "<resource type>:<resource id>:<slug>".
type Entitlement struct {
	Resource    ResourceID `json:"resource"`
	Slug        string     `json:"slug"`
	DisplayName string     `json:"displayName"`
	Description string     `json:"description,omitempty"`
	// GrantableTo lists the resource types that can hold it.
	GrantableTo []string `json:"grantableTo,omitempty"`
}

// EntitlementRef names an entitlement without describing it.
type EntitlementRef struct {
	Resource ResourceID `json:"resource"`
	Slug     string     `json:"slug"`
}

// Grant says that Principal holds Entitlement. Its baton-sdk ID is
// "<entitlement id>:<principal type>:<principal id>".
type Grant struct {
	Entitlement EntitlementRef `json:"entitlement"`
	Principal   ResourceID     `json:"principal"`
	// ExpandFrom, when set, lists entitlements whose holders also hold
	// this grant (a grant to a group expands to the group's members).
	// baton-sdk performs the expansion; guests never copy grants.
	ExpandFrom []EntitlementRef `json:"expandFrom,omitempty"`
}

// ListResourcesRequest is the input of ExportListResources.
type ListResourcesRequest struct {
	Call
	ResourceType string      `json:"resourceType"`
	Parent       *ResourceID `json:"parent,omitempty"`
	PageToken    string      `json:"pageToken,omitempty"`
}

// ResourcePage is the output of ExportListResources.
type ResourcePage struct {
	Resources     []Resource `json:"resources"`
	NextPageToken string     `json:"nextPageToken,omitempty"`
}

// ListEntitlementsRequest is the input of ExportListEntitlements.
type ListEntitlementsRequest struct {
	Call
	Resource  Resource `json:"resource"`
	PageToken string   `json:"pageToken,omitempty"`
}

// EntitlementPage is the output of ExportListEntitlements.
type EntitlementPage struct {
	Entitlements  []Entitlement `json:"entitlements"`
	NextPageToken string        `json:"nextPageToken,omitempty"`
}

// ListGrantsRequest is the input of ExportListGrants.
type ListGrantsRequest struct {
	Call
	Resource  Resource `json:"resource"`
	PageToken string   `json:"pageToken,omitempty"`
}

// GrantPage is the output of ExportListGrants.
type GrantPage struct {
	Grants        []Grant `json:"grants"`
	NextPageToken string  `json:"nextPageToken,omitempty"`
}

// EntitlementOn names an entitlement together with the resource it is on,
// as provisioning requests carry it.
type EntitlementOn struct {
	Resource Resource `json:"resource"`
	Slug     string   `json:"slug"`
}

// GrantRequest is the input of ExportGrant: give Principal the entitlement.
// The principal is the resource as the last sync recorded it (for a user,
// with its emails).
type GrantRequest struct {
	Call
	Entitlement EntitlementOn `json:"entitlement"`
	Principal   Resource      `json:"principal"`
}

// GrantResult is the output of ExportGrant.
type GrantResult struct {
	// Grants are the grants that now exist because of the call.
	Grants []Grant `json:"grants,omitempty"`
	// AlreadyExists is set when the principal already held the
	// entitlement and nothing was written.
	AlreadyExists bool `json:"alreadyExists,omitempty"`
}

// RevokeRequest is the input of ExportRevoke: take the entitlement away
// from Principal.
type RevokeRequest struct {
	Call
	Entitlement EntitlementOn `json:"entitlement"`
	Principal   Resource      `json:"principal"`
}

// RevokeResult is the output of ExportRevoke.
type RevokeResult struct {
	// AlreadyRevoked is set when the principal did not hold the
	// entitlement and nothing was written.
	AlreadyRevoked bool `json:"alreadyRevoked,omitempty"`
}

// Empty is the output of exports that return nothing but success.
type Empty struct{}
