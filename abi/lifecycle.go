package abi

// Account lifecycle and targeted sync: optional exports, added to ABI
// version 1 without changing it. A guest declares each one on the
// resource types it serves (ResourceType.CreatesAccounts, Deletable,
// Gettable); a guest that declares none of them need not export them and
// runs unchanged, and the host offers baton-sdk's matching capability only
// for the declared types.
const (
	// ExportCreateAccount creates an account (CreateAccountRequest →
	// CreateAccountResult) for the one type declaring CreatesAccounts.
	ExportCreateAccount = "baton_create_account"
	// ExportDeleteResource deletes one resource (DeleteResourceRequest →
	// DeleteResourceResult) of a type declaring Deletable.
	ExportDeleteResource = "baton_delete_resource"
	// ExportGetResource reads one resource (GetResourceRequest → Resource)
	// of a type declaring Gettable, for targeted syncs.
	ExportGetResource = "baton_get_resource"
)

// CreateAccountRequest is the input of ExportCreateAccount: baton-sdk's
// AccountInfo without credentials (the host offers no credential options,
// so a password never reaches the guest).
type CreateAccountRequest struct {
	Call
	// ResourceType is the type declaring CreatesAccounts.
	ResourceType string `json:"resourceType"`
	// Login and Emails are AccountInfo's, when set.
	Login  string   `json:"login,omitempty"`
	Emails []string `json:"emails,omitempty"`
	// Profile is AccountInfo's profile as a JSON object (connector-specific
	// keys, e.g. "email").
	Profile map[string]any `json:"profile,omitempty"`
}

// AccountOutcome is what an account creation achieved.
type AccountOutcome string

// The outcomes of ExportCreateAccount, baton-sdk's CreateAccountResponse
// results.
const (
	// AccountCreated: the account exists and is usable now.
	AccountCreated AccountOutcome = "created"
	// AccountAlreadyExists: nothing was written; the account existed.
	AccountAlreadyExists AccountOutcome = "alreadyExists"
	// AccountActionRequired: the request is recorded but someone must act
	// (e.g. accept an email invitation); Message says who and what.
	AccountActionRequired AccountOutcome = "actionRequired"
)

// CreateAccountResult is the output of ExportCreateAccount.
type CreateAccountResult struct {
	Outcome AccountOutcome `json:"outcome"`
	// Resource is the account's resource (a user, or a pending invite),
	// of a declared type; it may be absent for AlreadyExists.
	Resource *Resource `json:"resource,omitempty"`
	// Message is shown to the requester (required for ActionRequired).
	Message string `json:"message,omitempty"`
}

// DeleteResourceRequest is the input of ExportDeleteResource.
type DeleteResourceRequest struct {
	Call
	Resource ResourceID  `json:"resource"`
	Parent   *ResourceID `json:"parent,omitempty"`
}

// DeleteResourceResult is the output of ExportDeleteResource.
type DeleteResourceResult struct {
	// AlreadyDeleted is set when the resource did not exist and nothing
	// was written; that is a success.
	AlreadyDeleted bool `json:"alreadyDeleted,omitempty"`
}

// GetResourceRequest is the input of ExportGetResource. A resource that
// does not exist is an Error with CodeNotFound.
type GetResourceRequest struct {
	Call
	Resource ResourceID  `json:"resource"`
	Parent   *ResourceID `json:"parent,omitempty"`
}
