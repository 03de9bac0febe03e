package abi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// HTTPRequest is the input of the HostHTTP host function. The guest names a
// path and query relative to the tenant's API origin (or, for a baton-sdk
// guest, to one of its allowed origins); credential headers a JSON-ABI
// guest sets are dropped.
type HTTPRequest struct {
	// Origin is the scheme://host[:port] the request is for; empty means
	// the tenant's API origin. Only a baton-sdk guest names one, and only
	// among the tenant's allowed origins (host/egress.Router).
	Origin string `json:"origin,omitempty"`
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

// Session is the sync-scoped key-value cache the host lends a guest
// (HostSessionGet, HostSessionSet): part of the contract, seen from the
// host's side by the sandbox and from the guest's by package guest.
// Values may be evicted at any time, so a connector must treat a miss as
// "recompute", never as data.
type Session interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte) error
}

// SessionSetRequest is the input of the HostSessionSet host function.
type SessionSetRequest struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// MaxBatchRequests bounds the requests of one HTTPBatchRequest, and
// MaxBatchReplyBytes the bodies of one reply together: a batch costs the
// host at most what one response of the largest size does.
const (
	MaxBatchRequests   = 256
	MaxBatchReplyBytes = 32 << 20
)

// HTTPBatchRequest is the input of the HostHTTPBatch host function: the
// host sends the requests concurrently, within the tenant's limit of
// requests in flight and the API's rate limit, each exactly as HostHTTP
// would send it alone.
type HTTPBatchRequest struct {
	Requests []HTTPRequest `json:"requests"`
}

// HTTPBatchReply is the head of the HostHTTPBatch reply. The reply block
// is this document as JSON, one newline byte, then the bodies of the
// responses back to back, in request order: response i's body is the
// BodyBytes bytes after those of responses 0..i-1. Raw bodies spare both
// sides the base64 of a JSON document.
type HTTPBatchReply struct {
	Responses []HTTPResponseHead `json:"responses,omitempty"`
	// Error, when set, refuses the whole batch (not a valid batch
	// document); there are no responses then.
	Error *Error `json:"error,omitempty"`
}

// HTTPResponseHead is an HTTPResponse without its body, which follows the
// reply's head (see HTTPBatchReply).
type HTTPResponseHead struct {
	Status    int                 `json:"status,omitempty"`
	Headers   map[string][]string `json:"headers,omitempty"`
	BodyBytes int                 `json:"bodyBytes,omitempty"`
	Error     *Error              `json:"error,omitempty"`
}

// EncodeBatchReply frames responses as a HostHTTPBatch reply.
func EncodeBatchReply(responses []HTTPResponse) ([]byte, error) {
	head := HTTPBatchReply{Responses: make([]HTTPResponseHead, len(responses))}
	total := 0
	for i, r := range responses {
		head.Responses[i] = HTTPResponseHead{Status: r.Status, Headers: r.Headers, BodyBytes: len(r.Body), Error: r.Error}
		total += len(r.Body)
	}
	b, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+1+total)
	out = append(append(out, b...), '\n')
	for _, r := range responses {
		out = append(out, r.Body...)
	}
	return out, nil
}

// EncodeBatchRefusal is the reply refusing a whole batch.
func EncodeBatchRefusal(e *Error) []byte {
	b, _ := json.Marshal(HTTPBatchReply{Error: e}) // plain data, cannot fail
	return append(b, '\n')
}

// DecodeBatchReply splits a HostHTTPBatch reply into responses whose
// bodies alias reply. want is the number of requests sent; a reply that
// does not frame exactly that many responses is an error, and a refused
// batch returns the host's *Error.
func DecodeBatchReply(reply []byte, want int) ([]HTTPResponse, error) {
	nl := bytes.IndexByte(reply, '\n')
	if nl < 0 {
		return nil, errors.New("batch reply has no head")
	}
	var head HTTPBatchReply
	if err := json.Unmarshal(reply[:nl], &head); err != nil {
		return nil, fmt.Errorf("batch reply head: %w", err)
	}
	if head.Error != nil {
		return nil, head.Error
	}
	if len(head.Responses) != want {
		return nil, fmt.Errorf("batch reply has %d responses for %d requests", len(head.Responses), want)
	}
	body := reply[nl+1:]
	out := make([]HTTPResponse, want)
	for i, h := range head.Responses {
		if h.BodyBytes < 0 || h.BodyBytes > len(body) {
			return nil, fmt.Errorf("batch reply: body %d of %d bytes overruns the reply", i, h.BodyBytes)
		}
		out[i] = HTTPResponse{Status: h.Status, Headers: h.Headers, Error: h.Error}
		if h.BodyBytes > 0 {
			out[i].Body = body[:h.BodyBytes:h.BodyBytes]
		}
		body = body[h.BodyBytes:]
	}
	if len(body) != 0 {
		return nil, fmt.Errorf("batch reply has %d bytes after the last body", len(body))
	}
	return out, nil
}
