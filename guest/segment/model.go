package segment

import "encoding/json"

// The types below mirror only the fields of Segment Public API documents
// that the connector reads; encoding/json ignores the rest, so catalogue
// metadata, write keys and settings never have to decode cleanly.

// envelope is the success envelope of every Segment response.
type envelope[T any] struct {
	Data T `json:"data"`
}

// errorEnvelope is the failure envelope of 4xx/5xx responses.
type errorEnvelope struct {
	Errors []requestError `json:"errors"`
}

// requestError is one item of errorEnvelope. Data is kept raw because its
// shape depends on the error (the 429 one carries msBeforeNext).
type requestError struct {
	Type    string          `json:"type"`
	Message string          `json:"message"`
	Field   string          `json:"field"`
	Data    json.RawMessage `json:"data"`
}

// pagination is Segment's PaginationOutput. Next is "" when absent or null.
type pagination struct {
	Current string `json:"current"`
	Next    string `json:"next"`
}

// workspace is the document of GET /.
type workspace struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// label is a key/value label of a source, or a label restricting a
// WORKSPACE-scoped permission. Description is informational, but it is
// kept so that a revoke, which writes back every label it read, does not
// strip it.
type label struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
}

// permResource is one resource a permission entry applies to.
type permResource struct {
	ID     string  `json:"id"`
	Type   string  `json:"type"`
	Labels []label `json:"labels,omitempty"`
}

// permission is one policy of a user or group: a role on a set of resources.
type permission struct {
	RoleID    string         `json:"roleId"`
	RoleName  string         `json:"roleName,omitempty"`
	Resources []permResource `json:"resources"`
	Labels    []label        `json:"labels,omitempty"`
}

// user is UserV1. Permissions is only present on GET /users/{id}.
type user struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Email       string       `json:"email"`
	Permissions []permission `json:"permissions"`
}

// group is UserGroupV1. Permissions is nil when the field is absent, which
// is how the connector tells "not included in this response" from "none".
type group struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	MemberCount json.Number  `json:"memberCount"`
	Permissions []permission `json:"permissions"`
}

// role is an item of GET /roles.
type role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// source is the subset of SourceV1 the connector uses; it is also the
// form cached in the session (sourcesKey).
type source struct {
	ID      string  `json:"id"`
	Slug    string  `json:"slug,omitempty"`
	Name    string  `json:"name,omitempty"`
	Enabled bool    `json:"enabled"`
	Labels  []label `json:"labels,omitempty"`
}

// warehouse is the subset of WarehouseV1 the connector uses. The instance
// name lives in settings.name; metadata.name is the warehouse type.
type warehouse struct {
	ID       string `json:"id"`
	Enabled  bool   `json:"enabled"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Settings struct {
		Name looseString `json:"name"`
	} `json:"settings"`
}

// space is an item of GET /spaces.
type space struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// function is ListFunctionItemV1.
type function struct {
	ID           string `json:"id"`
	ResourceType string `json:"resourceType"`
	DisplayName  string `json:"displayName"`
	Description  string `json:"description"`
}

// looseString decodes a JSON string and turns any other JSON value into "".
// Warehouse settings are free-form per integration, so a non-string name
// must not fail the whole page.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = looseString(v)
	} else {
		*s = ""
	}
	return nil
}
