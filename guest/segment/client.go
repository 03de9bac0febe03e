package segment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

// client talks to the Segment Public API through the host's HTTP function.
// Paths are relative and carry no credentials: the host owns the origin and
// injects the token.
type client struct {
	http guest.HTTP
	now  func() time.Time
}

// acceptJSON asks for plain JSON, which Segment routes to the most mature
// version of each endpoint (including the alpha-only GET /spaces).
var acceptJSON = map[string][]string{"Accept": {"application/json"}}

// apiError is an upstream 4xx/5xx answer. It keeps the HTTP status and
// Segment's messages so callers can recognise "feature not enabled", and
// unwraps to the *abi.Error the host sees.
type apiError struct {
	err      *abi.Error
	status   int
	messages []string
	fields   []string
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

// where names an operation and its path for error messages. The query is
// dropped: it only holds pagination state and, for some endpoints, emails.
func where(op, path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	// Concatenation, not fmt: every request names itself, and fmt is slow
	// in WebAssembly.
	return op + " (GET " + path + ")"
}

// get fetches path and decodes the whole response body into out. Every
// non-2xx status becomes an error; so does a 2xx body that is not JSON.
func (c *client) get(ctx context.Context, op, path string, out any) error {
	resp, err := c.getOK(ctx, op, path)
	if err != nil {
		return err
	}
	return decodeBody(op, path, resp, out)
}

// getOK fetches path and returns its 2xx response; every other status is
// an error.
func (c *client) getOK(ctx context.Context, op, path string) (abi.HTTPResponse, error) {
	at := where(op, path)
	resp, err := c.do(ctx, at, abi.HTTPRequest{Method: "GET", Path: path, Headers: acceptJSON})
	if err != nil {
		return resp, err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return resp, c.statusError(at, resp)
	}
	return resp, nil
}

// decodeBody decodes the whole of a response body into out.
func decodeBody(op, path string, resp abi.HTTPResponse, out any) error {
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return abi.Errorf(abi.CodeUnavailable, "%s: malformed JSON in %d response: %v", where(op, path), resp.Status, err)
	}
	return nil
}

// do sends req through the host and returns the response of any status; an
// error means there is no response (refused, failed, or without a status).
func (c *client) do(ctx context.Context, at string, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	resp, err := c.http.Do(ctx, req)
	if err != nil {
		return resp, transportError(at, err)
	}
	return resp, answered(at, resp)
}

// answered reports a response that is no answer from the API: the host
// refused or failed the request, or it came without a status.
func answered(at string, resp abi.HTTPResponse) error {
	if resp.Error != nil {
		return transportError(at, resp.Error)
	}
	if resp.Status == 0 {
		return abi.Errorf(abi.CodeUnavailable, "%s: response without an HTTP status", at)
	}
	return nil
}

// transportError adds context to a failure of the host's HTTP function,
// keeping the code the host chose (egress denied, rate limited, ...).
func transportError(at string, err error) error {
	var ae *abi.Error
	if errors.As(err, &ae) {
		return &abi.Error{Code: ae.Code, Message: at + ": " + ae.Message, RetryAfter: ae.RetryAfter}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return abi.Errorf(abi.CodeUnavailable, "%s: %v", at, err)
	}
	return abi.Errorf(abi.CodeUnavailable, "%s: request failed: %v", at, err)
}

// statusText is a small stand-in for net/http.StatusText, which would pull
// the whole net/http package into the guest.
var statusText = map[int]string{
	400: "bad request",
	401: "unauthorized",
	403: "forbidden",
	404: "not found",
	408: "request timeout",
	409: "conflict",
	413: "payload too large",
	422: "unprocessable entity",
	429: "too many requests",
	500: "internal server error",
	502: "bad gateway",
	503: "service unavailable",
	504: "gateway timeout",
}

// statusCode maps an upstream HTTP status to the ABI error code the host
// turns into a gRPC code, which drives baton-sdk's retry decisions.
func statusCode(status int) abi.Code {
	switch {
	case status == 401:
		return abi.CodeUnauthenticated
	case status == 403:
		return abi.CodePermissionDenied
	case status == 404:
		return abi.CodeNotFound
	case status == 400 || status == 422:
		return abi.CodeInvalidArgument
	case status == 429:
		return abi.CodeRateLimited
	case status == 408 || status >= 500:
		return abi.CodeUnavailable
	default:
		return abi.CodeUnknown
	}
}

// statusError builds the error for a non-2xx response from Segment's error
// envelope. The envelope is best effort: proxies answer 502s with HTML.
func (c *client) statusError(at string, resp abi.HTTPResponse) error {
	var env errorEnvelope
	parsed := json.Unmarshal(resp.Body, &env) == nil
	var msgs, fields []string
	for _, e := range env.Errors {
		m := strings.TrimSpace(e.Message)
		if m == "" {
			m = strings.TrimSpace(e.Type)
		}
		if m != "" {
			msgs = append(msgs, m)
		}
		if e.Field != "" {
			fields = append(fields, e.Field)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d", at, resp.Status)
	if t := statusText[resp.Status]; t != "" {
		b.WriteString(" " + t)
	}
	if resp.Status == 401 {
		// Segment answers 401 both for a bad token and for a token that
		// may not see the resource; either way the operator must act on
		// the token, so say so plainly.
		b.WriteString(": the Segment API token was rejected")
	}
	switch {
	case len(msgs) > 0:
		b.WriteString(": " + strings.Join(msgs, "; "))
	case !parsed && len(resp.Body) > 0:
		b.WriteString(": response body is not a Segment error envelope")
	}

	e := &abi.Error{Code: statusCode(resp.Status), Message: b.String()}
	if resp.Status == 429 {
		e.RetryAfter = retryAfter(c.now(), resp.Headers, env.Errors)
	}
	return &apiError{err: e, status: resp.Status, messages: msgs, fields: fields}
}

// retryAfter works out when a rate-limited request may be retried, in the
// order Segment documents: msBeforeNext in the body, then X-RateLimit-Reset,
// then Retry-After. It returns nil when none is usable, leaving the back-off
// to the host.
func retryAfter(now time.Time, headers map[string][]string, errs []requestError) *time.Time {
	for _, e := range errs {
		var d struct {
			MsBeforeNext *float64 `json:"msBeforeNext"`
		}
		if len(e.Data) > 0 && json.Unmarshal(e.Data, &d) == nil && d.MsBeforeNext != nil && *d.MsBeforeNext >= 0 {
			t := now.Add(time.Duration(*d.MsBeforeNext * float64(time.Millisecond)))
			return &t
		}
	}
	for _, name := range []string{"X-RateLimit-Reset", "Retry-After"} {
		if t, ok := parseWhen(now, header(headers, name)); ok {
			return &t
		}
	}
	return nil
}

// parseWhen reads a header that is either an HTTP date or a number of
// seconds (a delay, or a Unix time when it is too large to be a delay).
func parseWhen(now time.Time, v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		if n > 1_000_000_000 {
			return time.Unix(n, 0), true
		}
		return now.Add(time.Duration(n) * time.Second), true
	}
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, time.RFC850, time.ANSIC, time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// header looks a header up case-insensitively: the host may or may not
// canonicalise names.
func header(h map[string][]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// featureDisabled reports whether err is Segment saying that the workspace
// lacks an optional feature (Spaces, Functions). Segment does not document
// the status, so any 403 counts, and a 404 or 422 counts when its message
// talks about the feature; other 404/422 answers stay errors.
func featureDisabled(err error) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.status {
	case 403:
		return true
	case 404, 422:
		for _, m := range ae.messages {
			m = strings.ToLower(m)
			if strings.Contains(m, "feature") || strings.Contains(m, "not enabled") || strings.Contains(m, "entitle") {
				return true
			}
		}
	}
	return false
}

// rejectedField reports whether err is a 422 that blames the named query
// parameter. Older API versions only know some function resource types.
func rejectedField(err error, field string) bool {
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != 422 {
		return false
	}
	for _, f := range ae.fields {
		if strings.EqualFold(f, field) {
			return true
		}
	}
	for _, m := range ae.messages {
		if strings.Contains(strings.ToLower(m), strings.ToLower(field)) {
			return true
		}
	}
	return false
}

// isNotFound reports whether err is an upstream 404.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == 404
}

// pagePath appends Segment's pagination parameters (dot form, accepted by
// every API version) to base, which may already carry a query.
func pagePath(base string, count int, cursor string) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	p := base + sep + "pagination.count=" + strconv.Itoa(count)
	if cursor != "" {
		p += "&pagination.cursor=" + url.QueryEscape(cursor)
	}
	return p
}

// nextCursor returns the cursor of the page after one fetched with cursor,
// or "" on the last page. A next cursor equal to the one just used (or to
// the page's own) would make the host loop forever, so it is an error.
func nextCursor(at, cursor string, p pagination) (string, error) {
	if p.Next == "" {
		return "", nil
	}
	if p.Next == cursor || (p.Current != "" && p.Next == p.Current) {
		return "", abi.Errorf(abi.CodeUnavailable, "%s: pagination cursor did not advance (%q)", at, p.Next)
	}
	return p.Next, nil
}

// fetchPage fetches one page of a list endpoint whose items are under
// data.<key>. A missing key is an error rather than an empty page: it is
// how a wrong key (or a changed API) would otherwise pass silently.
func fetchPage[T any](ctx context.Context, c *client, op, base, key string, count int, cursor string) ([]T, string, error) {
	path := pagePath(base, count, cursor)
	at := where(op, path)
	resp, err := c.getOK(ctx, op, path)
	if err != nil {
		return nil, "", err
	}
	// Pages of users (the users list and every group's members) are read
	// without reflection when plain; see fastjson.go.
	if _, isUser := any((*T)(nil)).(*user); isUser {
		if users, p, ok := decodeUserPage(resp.Body, key); ok {
			next, err := nextCursor(at, cursor, p)
			if err != nil {
				return nil, "", err
			}
			return any(users).([]T), next, nil
		}
	}
	var env envelope[map[string]json.RawMessage]
	if err := decodeBody(op, path, resp, &env); err != nil {
		return nil, "", err
	}
	raw, ok := env.Data[key]
	if !ok || string(raw) == "null" {
		return nil, "", abi.Errorf(abi.CodeUnavailable, "%s: malformed response: no data.%s", at, key)
	}
	var items []T
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, "", abi.Errorf(abi.CodeUnavailable, "%s: malformed data.%s: %v", at, key, err)
	}
	var p pagination
	if pr, ok := env.Data["pagination"]; ok {
		if err := json.Unmarshal(pr, &p); err != nil {
			return nil, "", abi.Errorf(abi.CodeUnavailable, "%s: malformed data.pagination: %v", at, err)
		}
	}
	next, err := nextCursor(at, cursor, p)
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}

// fetchAll follows a list endpoint to its last page within one call. It is
// used only for small lists that are cached for the whole sync (roles,
// sources), so the host sees one call instead of one per page.
func fetchAll[T any](ctx context.Context, c *client, op, base, key string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	cursor := ""
	for {
		items, next, err := fetchPage[T](ctx, c, op, base, key, listCount, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, abi.Errorf(abi.CodeUnavailable, "%s: pagination cursor did not advance (%q seen before)", where(op, base), next)
		}
		seen[next] = true
		cursor = next
	}
}

// Page sizes. Users are listed 100 at a time because each user costs one
// more request (GET /users/{id}) in the same call; 200 is the largest count
// every API version accepts.
const (
	userCount  = 100
	groupCount = 100
	listCount  = 200
)

// jsonBody are the headers of a request that carries a JSON body.
var jsonBody = map[string][]string{"Accept": {"application/json"}, "Content-Type": {"application/json"}}

// send makes a write request: method on path with body encoded as JSON
// (no body when nil), decoding a 2xx response into out when out is not
// nil. Every non-2xx status is an error, so a refused write can never pass
// for a successful one. Errors name the request as "<METHOD> <path>"
// without the query, which for DELETE /group/{id}/users holds emails.
func (c *client) send(ctx context.Context, method, path string, body, out any) error {
	at := method + " " + stripQuery(path)
	req := abi.HTTPRequest{Method: method, Path: path, Headers: acceptJSON}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return abi.Errorf(abi.CodeUnknown, "%s: encoding the request body: %v", at, err)
		}
		req.Body, req.Headers = b, jsonBody
	}
	resp, err := c.do(ctx, at, req)
	if err != nil {
		return err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return c.writeError(at, resp)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			// The write may well have been applied; a retry re-reads the
			// state first, so it finds out rather than repeating blindly.
			return abi.Errorf(abi.CodeUnavailable, "%s: malformed JSON in %d response (the change may have been applied): %v", at, resp.Status, err)
		}
	}
	return nil
}

// stripQuery drops the query of a path.
func stripQuery(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

// writeError is statusError with Segment's error types and fields in the
// message ("422 ValidationFailure: unknown roleId … (field
// permissions.0.roleId)"): for a refused write they say what was wrong
// with the request, which the operator has to fix.
func (c *client) writeError(at string, resp abi.HTTPResponse) error {
	err := c.statusError(at, resp)
	var ae *apiError
	var env errorEnvelope
	if !errors.As(err, &ae) || json.Unmarshal(resp.Body, &env) != nil {
		return err
	}
	var parts []string
	for _, e := range env.Errors {
		typ, msg := strings.TrimSpace(e.Type), strings.TrimSpace(e.Message)
		part := msg
		switch {
		case typ != "" && msg != "":
			part = typ + ": " + msg
		case msg == "":
			part = typ
		}
		if part == "" {
			continue
		}
		if f := strings.TrimSpace(e.Field); f != "" {
			part += " (field " + f + ")"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return err
	}
	msg := fmt.Sprintf("%s: %d %s", at, resp.Status, strings.Join(parts, "; "))
	if resp.Status == 401 {
		msg += " (the Segment API token was rejected)"
	}
	ae.err = &abi.Error{Code: ae.err.Code, Message: msg, RetryAfter: ae.err.RetryAfter}
	return ae
}
