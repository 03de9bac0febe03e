package segment

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testClient(h *fakeHTTP) *client {
	return &client{http: h, now: func() time.Time { return fixedNow }}
}

func TestStatusErrorMapping(t *testing.T) {
	cases := []struct {
		status int
		code   abi.Code
	}{
		{400, abi.CodeInvalidArgument},
		{401, abi.CodeUnauthenticated},
		{403, abi.CodePermissionDenied},
		{404, abi.CodeNotFound},
		{409, abi.CodeUnknown},
		{422, abi.CodeInvalidArgument},
		{429, abi.CodeRateLimited},
		{500, abi.CodeUnavailable},
		{502, abi.CodeUnavailable},
		{503, abi.CodeUnavailable},
		{504, abi.CodeUnavailable},
	}
	for _, c := range cases {
		h := newFakeHTTP()
		h.json("/users?pagination.count=100", c.status, `{"errors":[{"type":"X","message":"segment says no"}]}`)
		_, _, err := fetchPage[user](context.Background(), testClient(h), "list users", "/users", "users", 100, "")
		e := wantCode(t, err, c.code)
		if !strings.Contains(e.Message, "list users (GET /users): ") || !strings.Contains(e.Message, "segment says no") {
			t.Errorf("%d: message %q lacks operation, path or Segment's message", c.status, e.Message)
		}
	}
}

func TestUnauthorizedMessage(t *testing.T) {
	h := newFakeHTTP()
	h.json("/users?pagination.count=100", 401, `{"errors":[{"type":"unauthorized","message":"Unauthorized","status":401}]}`)
	_, _, err := fetchPage[user](context.Background(), testClient(h), "list users", "/users", "users", 100, "")
	e := wantCode(t, err, abi.CodeUnauthenticated)
	want := "list users (GET /users): 401 unauthorized: the Segment API token was rejected: Unauthorized"
	if e.Message != want {
		t.Fatalf("message %q, want %q", e.Message, want)
	}
}

func TestErrorMessageHasNoQuery(t *testing.T) {
	h := newFakeHTTP()
	h.json("/users?pagination.count=100&pagination.cursor=secret%40x.test", 500, `{"errors":[{"type":"x","message":"boom"}]}`)
	_, _, err := fetchPage[user](context.Background(), testClient(h), "list users", "/users", "users", 100, "secret@x.test")
	e := wantCode(t, err, abi.CodeUnavailable)
	if strings.Contains(e.Message, "secret") || strings.Contains(e.Message, "pagination") {
		t.Fatalf("message leaks the query: %q", e.Message)
	}
}

func TestNonJSONErrorBody(t *testing.T) {
	h := newFakeHTTP()
	h.routes["/"] = abi.HTTPResponse{Status: 502, Body: []byte("<html>Bad Gateway</html>")}
	err := testClient(h).get(context.Background(), "get workspace", "/", &struct{}{})
	e := wantCode(t, err, abi.CodeUnavailable)
	if !strings.Contains(e.Message, "502 bad gateway") || strings.Contains(e.Message, "<html>") {
		t.Fatalf("message %q", e.Message)
	}
}

func TestMalformedJSONOn200(t *testing.T) {
	h := newFakeHTTP()
	h.json("/users?pagination.count=100", 200, `{"data":{"users":[{"id":"u1"`)
	_, _, err := fetchPage[user](context.Background(), testClient(h), "list users", "/users", "users", 100, "")
	e := wantCode(t, err, abi.CodeUnavailable)
	if !strings.Contains(e.Message, "GET /users") || !strings.Contains(e.Message, "malformed") {
		t.Fatalf("message %q", e.Message)
	}
}

func TestMissingListKeyIsAnError(t *testing.T) {
	h := newFakeHTTP()
	h.json("/groups?pagination.count=100", 200, `{"data":{"groups":[],"pagination":{"current":"MA=="}}}`)
	_, _, err := fetchPage[group](context.Background(), testClient(h), "list groups", "/groups", "userGroups", 100, "")
	e := wantCode(t, err, abi.CodeUnavailable)
	if !strings.Contains(e.Message, "data.userGroups") {
		t.Fatalf("message %q", e.Message)
	}
}

func TestRateLimitRetryAfter(t *testing.T) {
	h := newFakeHTTP()
	h.json("/a?pagination.count=1", 429, `{"errors":[{"type":"RequestError","message":"Too many requests","data":{"remainingPoints":0,"msBeforeNext":41250,"consumedPoints":60}}]}`)
	h.routes["/b?pagination.count=1"] = abi.HTTPResponse{Status: 429,
		Headers: map[string][]string{"x-ratelimit-reset": {fixedNow.Add(time.Minute).Format(time.RFC1123)}},
		Body:    []byte(`{"errors":[{"type":"RateLimited","message":"Rate limit exceeded"}]}`)}
	h.routes["/c?pagination.count=1"] = abi.HTTPResponse{Status: 429, Headers: map[string][]string{"Retry-After": {"7"}}}
	h.routes["/d?pagination.count=1"] = abi.HTTPResponse{Status: 429}
	c := testClient(h)
	for path, want := range map[string]time.Time{
		"/a": fixedNow.Add(41250 * time.Millisecond),
		"/b": fixedNow.Add(time.Minute),
		"/c": fixedNow.Add(7 * time.Second),
		"/d": {},
	} {
		_, _, err := fetchPage[user](context.Background(), c, "list", path, "users", 1, "")
		e := wantCode(t, err, abi.CodeRateLimited)
		switch {
		case want.IsZero() && e.RetryAfter != nil:
			t.Errorf("%s: RetryAfter %v, want none", path, e.RetryAfter)
		case !want.IsZero() && (e.RetryAfter == nil || !e.RetryAfter.Equal(want)):
			t.Errorf("%s: RetryAfter %v, want %v", path, e.RetryAfter, want)
		}
	}
}

func TestTransportErrorKeepsCode(t *testing.T) {
	h := newFakeHTTP()
	retry := fixedNow.Add(time.Second)
	h.errs["/"] = &abi.Error{Code: abi.CodeEgressDenied, Message: "host not allowed", RetryAfter: &retry}
	err := testClient(h).get(context.Background(), "get workspace", "/", &struct{}{})
	e := wantCode(t, err, abi.CodeEgressDenied)
	if e.Message != "get workspace (GET /): host not allowed" || e.RetryAfter == nil {
		t.Fatalf("got %+v", e)
	}

	h.errs["/"] = errors.New("connection reset")
	wantCode(t, testClient(h).get(context.Background(), "get workspace", "/", &struct{}{}), abi.CodeUnavailable)

	// The host may also report the failure inside the response.
	delete(h.errs, "/")
	h.routes["/"] = abi.HTTPResponse{Error: abi.Errorf(abi.CodeRateLimited, "host budget")}
	wantCode(t, testClient(h).get(context.Background(), "get workspace", "/", &struct{}{}), abi.CodeRateLimited)
}

func TestNextCursor(t *testing.T) {
	cases := []struct {
		cursor string
		p      pagination
		next   string
		loop   bool
	}{
		{"", pagination{Current: "MA=="}, "", false},
		{"", pagination{Current: "MA==", Next: "Mg=="}, "Mg==", false},
		{"Mg==", pagination{Current: "Mg==", Next: "NA=="}, "NA==", false},
		{"Mg==", pagination{Current: "Mg==", Next: "Mg=="}, "", true},
		{"", pagination{Current: "MA==", Next: "MA=="}, "", true},
		{"Mg==", pagination{Next: "Mg=="}, "", true},
	}
	for _, c := range cases {
		next, err := nextCursor("list users (GET /users)", c.cursor, c.p)
		if c.loop {
			e := wantCode(t, err, abi.CodeUnavailable)
			if !strings.Contains(e.Message, "pagination cursor did not advance") {
				t.Errorf("message %q", e.Message)
			}
			continue
		}
		if err != nil || next != c.next {
			t.Errorf("nextCursor(%q, %+v) = %q, %v; want %q", c.cursor, c.p, next, err, c.next)
		}
	}
}

func TestFetchAllDetectsCycle(t *testing.T) {
	h := newFakeHTTP()
	h.json("/roles?pagination.count=200", 200, `{"data":{"roles":[],"pagination":{"current":"MA==","next":"Mg=="}}}`)
	h.json("/roles?pagination.count=200&pagination.cursor=Mg%3D%3D", 200, `{"data":{"roles":[],"pagination":{"current":"Mg==","next":"NA=="}}}`)
	h.json("/roles?pagination.count=200&pagination.cursor=NA%3D%3D", 200, `{"data":{"roles":[],"pagination":{"current":"NA==","next":"Mg=="}}}`)
	_, err := fetchAll[role](context.Background(), testClient(h), "list roles", "/roles", "roles")
	wantCode(t, err, abi.CodeUnavailable)
}

func TestPagePath(t *testing.T) {
	if got := pagePath("/users", 100, ""); got != "/users?pagination.count=100" {
		t.Error(got)
	}
	if got := pagePath("/functions?resourceType=SOURCE", 200, "a+b/="); got != "/functions?resourceType=SOURCE&pagination.count=200&pagination.cursor=a%2Bb%2F%3D" {
		t.Error(got)
	}
}

func TestFeatureDisabled(t *testing.T) {
	mk := func(status int, msg string) error {
		return &apiError{err: abi.Errorf(statusCode(status), "x"), status: status, messages: []string{msg}}
	}
	cases := []struct {
		err error
		off bool
	}{
		{mk(403, "Forbidden"), true},
		{mk(404, "Spaces feature is not enabled for this workspace"), true},
		{mk(422, "Functions are not enabled"), true},
		{mk(404, "Resource not found"), false},
		{mk(422, "pagination.count must be between 1 and 1000"), false},
		{mk(401, "feature"), false},
		{mk(500, "feature"), false},
		{abi.Errorf(abi.CodePermissionDenied, "from the host"), false},
	}
	for _, c := range cases {
		if got := featureDisabled(c.err); got != c.off {
			t.Errorf("featureDisabled(%v) = %v", c.err, got)
		}
	}
}

// TestGetOneDecodesEveryShapeOfData holds getOne's single-pass decoding to
// the two-pass one: same user whether data holds other members or not, the
// same errors when the key is missing, null or malformed, and one request
// each time.
func TestGetOneDecodesEveryShapeOfData(t *testing.T) {
	const u = `{"id":"u1","name":"Ann","email":"a@x.io","permissions":[{"roleId":"r1","resources":[{"id":"ws","type":"WORKSPACE"}]}]}`
	want := user{ID: "u1", Name: "Ann", Email: "a@x.io", Permissions: []permission{{RoleID: "r1", Resources: []permResource{{ID: "ws", Type: "WORKSPACE"}}}}}
	for _, tc := range []struct{ name, body, wantErr string }{
		{"alone", `{"data":{"user":` + u + `}}`, ""},
		{"with other members", `{"data":{"meta":5,"user":` + u + `,"tags":["a"]}}`, ""},
		{"missing", `{"data":{"other":{}}}`, "no data.user"},
		{"null", `{"data":{"user":null}}`, "no data.user"},
		{"wrong shape", `{"data":{"user":{"id":5}}}`, "malformed data.user"},
		{"not JSON", `{"data":{"user":`, "malformed JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHTTP()
			h.json("/users/u1", 200, tc.body)
			got, err := getOne[user](context.Background(), testClient(h), "get user", "/users/u1", "user")
			if n := len(h.requested()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if tc.wantErr != "" {
				e := wantCode(t, err, abi.CodeUnavailable)
				if !strings.Contains(e.Message, tc.wantErr) {
					t.Fatalf("message %q, want it to contain %q", e.Message, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(*got, want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, want)
			}
		})
	}
}
