package abi

// HTTPRequest is the input of the HostHTTP host function. The guest names a
// path and query relative to the tenant's API origin; it never names a
// scheme or host, and credential headers it sets are dropped.
type HTTPRequest struct {
	Method string `json:"method"`
	// Path is the path and optional query, e.g. "/users?pagination.count=200".
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    []byte              `json:"body,omitempty"`
}

// HTTPResponse is the output of the HostHTTP host function. Exactly one of
// Error and the response fields is meaningful: an upstream error status
// (4xx/5xx) is a response, not an Error; a request the host refused or could
// not complete is an Error.
type HTTPResponse struct {
	Status int `json:"status,omitempty"`
	// Headers holds the response headers the host lets through (content
	// type and rate-limit headers; never cookies).
	Headers map[string][]string `json:"headers,omitempty"`
	Body    []byte              `json:"body,omitempty"`
	Error   *Error              `json:"error,omitempty"`
}

// SessionSetRequest is the input of the HostSessionSet host function.
type SessionSetRequest struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}
