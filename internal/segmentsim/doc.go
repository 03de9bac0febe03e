// Package segmentsim is a deterministic, in-process fake of the Segment Public
// API, restricted to the endpoints an access-governance connector uses:
// workspace, IAM users, user groups, roles, invites, sources, warehouses,
// spaces and functions.
//
// Behaviour follows Segment's Public API documentation (docs.segmentapis.com)
// and its generated SDK (segmentio/public-api-sdk-go): the data/errors envelopes; both pagination spellings with
// base64 offset cursors; the singular /group/{id}/users paths for removing
// and replacing members; additive POST versus replacing PUT permission
// writes; per-token fixed-window rate limits (60/min on IAM writes) with the
// X-RateLimit-* headers and the documented 429 body; feature flags for spaces
// and functions. Where the real API is undocumented the fake is deliberately
// strict (422 for unknown emails or a JSON-encoded array parameter, 404 for
// DELETE/PUT on the plural /groups/{id}/users) so that client bugs surface in
// tests rather than against production.
//
// Generate builds a workspace from a Config (same Config, same bytes);
// NewServer serves it as an http.Handler with optional latency, rate limits,
// random failures and injected faults, and records every request.
//
//	ws := segmentsim.Generate(segmentsim.DefaultConfig(1000))
//	srv := segmentsim.NewServer(ws, segmentsim.Options{})
//	ts := httptest.NewServer(srv)
//	// base URL ts.URL, header "Authorization: Bearer " + segmentsim.DefaultToken
package segmentsim
