package segment

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

// fuzzHTTP answers every request with the same status, body and
// Retry-After / X-RateLimit-Reset headers.
type fuzzHTTP struct {
	status int
	body   []byte
	when   string
	calls  int
}

func (f *fuzzHTTP) Do(_ context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	f.calls++
	if f.calls > 10_000 {
		return abi.HTTPResponse{}, abi.Errorf(abi.CodeUnavailable, "fuzz: too many requests")
	}
	if req.Method != "GET" || !strings.HasPrefix(req.Path, "/") {
		return abi.HTTPResponse{}, abi.Errorf(abi.CodeEgressDenied, "fuzz: %s %s", req.Method, req.Path)
	}
	return abi.HTTPResponse{Status: f.status, Body: f.body, Headers: map[string][]string{
		"Content-Type": {"application/json"}, "Retry-After": {f.when}, "X-RateLimit-Reset": {f.when},
	}}, nil
}

// fuzzSession is a plain in-memory session.
type fuzzSession struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *fuzzSession) Get(_ context.Context, k string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok, nil
}

func (s *fuzzSession) Set(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = append([]byte(nil), v...)
	return nil
}

var knownCodes = map[abi.Code]bool{
	abi.CodeUnknown: true, abi.CodeUnauthenticated: true, abi.CodePermissionDenied: true, abi.CodeNotFound: true,
	abi.CodeInvalidArgument: true, abi.CodeFailedPrecondition: true, abi.CodeUnimplemented: true,
	abi.CodeRateLimited: true, abi.CodeUnavailable: true, abi.CodeEgressDenied: true,
}

// fuzzAll is one document that every list and get route of the connector
// can read: each route picks its own data.<key>.
const fuzzAll = `{"data":{
"workspace":{"id":"ws1","slug":"w","name":"W"},
"users":[{"id":"u1","name":"U","email":"u@x.io"},{"id":"u2","email":"v@x.io"}],
"user":{"id":"u1","name":"U","email":"u@x.io","permissions":[
  {"roleId":"r1","resources":[{"id":"ws1","type":"WORKSPACE"}]},
  {"roleId":"r2","labels":[{"key":"env","value":"prod"}],"resources":[{"id":"ws1","type":"WORKSPACE","labels":[{"key":"team","value":"a"}]}]},
  {"roleId":"r3","resources":[{"id":"s1","type":"SOURCE"},{"id":"sp1","type":"SPACE"},{"id":"f1","type":"FUNCTION"},{"id":"wh1","type":"WAREHOUSE"}]}]},
"userGroups":[{"id":"g1","name":"G","memberCount":3,"permissions":[{"roleId":"r1","resources":[{"id":"ws1","type":"WORKSPACE"}]}]}],
"userGroup":{"id":"g1","name":"G","memberCount":"3","permissions":[]},
"roles":[{"id":"r1","name":"Workspace Owner"},{"id":"r2","name":"Source Admin"},{"id":"r3","name":"Space Admin"}],
"sources":[{"id":"s1","slug":"s","name":"S","enabled":true,"labels":[{"key":"env","value":"prod"},{"key":"team","value":"a"}]}],
"warehouses":[{"id":"wh1","enabled":true,"metadata":{"name":"Snowflake"},"settings":{"name":{"x":1}}}],
"spaces":[{"id":"sp1","slug":"sp","name":"Sp"}],
"functions":[{"id":"f1","resourceType":"SOURCE","displayName":"F"}],
"pagination":{"current":"c1","next":"c2"}}}`

// FuzzSegmentResponses feeds arbitrary statuses, bodies and rate-limit
// headers to every list and get route of the connector (through a fake
// guest.HTTP, with a real session). The connector must not panic, and
// every error it returns must carry an ABI error code the host can map.
func FuzzSegmentResponses(f *testing.F) {
	f.Add(200, []byte(fuzzAll), "")
	f.Add(200, []byte(strings.Replace(fuzzAll, `"next":"c2"`, `"next":null`, 1)), "")
	f.Add(200, []byte(strings.Replace(fuzzAll, `"next":"c2"`, `"next":"c1"`, 1)), "")
	f.Add(200, []byte(`{"data":{"users":null,"pagination":{"next":""}}}`), "")
	f.Add(200, []byte(`{"data":{"users":[{"id":""}],"user":null}}`), "")
	f.Add(200, []byte(`{"data":[]}`), "")
	f.Add(200, []byte(`{"data":{"users":"x","userGroups":{},"roles":1,"pagination":[]}}`), "")
	f.Add(200, []byte(`<html>502</html>`), "")
	f.Add(200, []byte{}, "")
	f.Add(204, []byte(nil), "")
	f.Add(0, []byte(`{}`), "")
	f.Add(-1, []byte(`{}`), "")
	f.Add(302, []byte(`{}`), "")
	f.Add(401, []byte(`{"errors":[{"type":"Unauthorized","message":"bad token"}]}`), "")
	f.Add(403, []byte(`{"errors":[{"type":"FeatureNotEnabled","message":"feature not enabled"}]}`), "")
	f.Add(404, []byte(`{"errors":[{"message":"not found"}]}`), "")
	f.Add(422, []byte(`{"errors":[{"type":"ValidationFailure","message":"resourceType","field":"resourceType"}]}`), "")
	f.Add(429, []byte(`{"errors":[{"type":"TooManyRequests","data":{"msBeforeNext":-5}}]}`), "")
	f.Add(429, []byte(`{"errors":[{"data":{"msBeforeNext":1e308}}]}`), "")
	f.Add(429, []byte(`{"errors":[{"data":"x"}]}`), "9999999999999")
	f.Add(429, []byte(`{}`), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(429, []byte(`{}`), "-3")
	f.Add(500, []byte(`{"errors":null}`), "")
	f.Add(503, []byte("\xff\xfe"), "")
	f.Add(999, []byte(`{"errors":[{}]}`), "")

	ws := &abi.ResourceID{Type: typeWorkspace, ID: "ws1"}
	resources := []abi.Resource{
		{ID: *ws, DisplayName: "W"},
		{ID: abi.ResourceID{Type: typeUser, ID: "u1"}, Parent: ws, User: &abi.UserTrait{Emails: []string{"u@x.io"}}},
		{ID: abi.ResourceID{Type: typeGroup, ID: "g1"}, Parent: ws, DisplayName: "G"},
		{ID: abi.ResourceID{Type: typeRole, ID: "r1"}, Parent: ws},
		{ID: abi.ResourceID{Type: typeSource, ID: "s1"}, Parent: ws, DisplayName: "S"},
		{ID: abi.ResourceID{Type: typeWarehouse, ID: "wh1"}, Parent: ws},
		{ID: abi.ResourceID{Type: typeSpace, ID: "sp1"}, Parent: ws},
		{ID: abi.ResourceID{Type: typeFunction, ID: "f1"}, Parent: ws},
	}

	f.Fuzz(func(t *testing.T, status int, body []byte, when string) {
		ctx := context.Background()
		h := &fuzzHTTP{status: status, body: body, when: when}
		env := guest.Env{HTTP: h, Session: &fuzzSession{m: map[string][]byte{}}}
		conn := New()
		check := func(op string, err error) {
			t.Helper()
			if err == nil {
				return
			}
			var ae *abi.Error
			if !errors.As(err, &ae) || !knownCodes[ae.Code] {
				t.Fatalf("%s: error %q (%T) carries no ABI code", op, err, err)
			}
			if e := abi.AsError(err); e.Code != ae.Code {
				t.Fatalf("%s: AsError changed the code from %s to %s", op, ae.Code, e.Code)
			}
		}
		call := abi.Call{SyncID: "sync-1"}
		check("validate", conn.Validate(ctx, env, call))
		for _, rt := range conn.Metadata().ResourceTypes {
			for _, parent := range []*abi.ResourceID{nil, ws} {
				page, err := conn.ListResources(ctx, env, abi.ListResourcesRequest{Call: call, ResourceType: rt.ID, Parent: parent})
				check("list "+rt.ID, err)
				if err == nil && page.NextPageToken != "" {
					_, err = conn.ListResources(ctx, env, abi.ListResourcesRequest{Call: call, ResourceType: rt.ID, Parent: parent, PageToken: page.NextPageToken})
					check("list next "+rt.ID, err)
				}
			}
		}
		for _, r := range resources {
			_, err := conn.ListEntitlements(ctx, env, abi.ListEntitlementsRequest{Call: call, Resource: r})
			check("entitlements "+r.ID.Type, err)
			page, err := conn.ListGrants(ctx, env, abi.ListGrantsRequest{Call: call, Resource: r})
			check("grants "+r.ID.Type, err)
			if err == nil && page.NextPageToken != "" {
				_, err = conn.ListGrants(ctx, env, abi.ListGrantsRequest{Call: call, Resource: r, PageToken: page.NextPageToken})
				check("grants next "+r.ID.Type, err)
			}
		}
	})
}
