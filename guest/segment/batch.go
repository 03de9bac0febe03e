package segment

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

// getAll fetches single objects under data.<key>, one GET per path, all
// sent at once: the host runs them concurrently within the tenant's
// limits. Result i answers paths[i]: the object, or its error (a 404 is
// an *apiError that isNotFound recognises).
func getAll[T any](ctx context.Context, c *client, op string, paths []string, key string) ([]*T, []error) {
	reqs := make([]abi.HTTPRequest, len(paths))
	for i, p := range paths {
		reqs[i] = abi.HTTPRequest{Method: "GET", Path: p, Headers: acceptJSON}
	}
	resps := guest.DoAll(ctx, c.http, reqs)
	objs, errs := make([]*T, len(paths)), make([]error, len(paths))
	for i, resp := range resps {
		objs[i], errs[i] = decodeOne[T](c, op, paths[i], key, resp)
	}
	return objs, errs
}

// getOne fetches a single object under data.<key>.
func getOne[T any](ctx context.Context, c *client, op, path, key string) (*T, error) {
	objs, errs := getAll[T](ctx, c, op, []string{path}, key)
	return objs[0], errs[0]
}

// decodeOne turns the response to GET path into the object under
// data.<key>, with the errors of client.getOK.
func decodeOne[T any](c *client, op, path, key string, resp abi.HTTPResponse) (*T, error) {
	at := where(op, path)
	if err := answered(at, resp); err != nil {
		return nil, err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return nil, c.statusError(at, resp)
	}
	// One decoding pass when every member of data has T's shape, as in
	// GET /users/{id} ({"data":{"user":{…}}}): JSON is the guest's main
	// cost in WebAssembly. Anything else takes the two passes below, which
	// also word the errors.
	if _, isUser := any((*T)(nil)).(*user); isUser && key == "user" {
		if u, ok := decodeUserDoc(resp.Body); ok {
			return any(u).(*T), nil
		}
	}
	var one envelope[map[string]*T]
	if json.Unmarshal(resp.Body, &one) == nil {
		if v := one.Data[key]; v != nil {
			return v, nil
		}
	}
	var env envelope[map[string]json.RawMessage]
	if err := decodeBody(op, path, resp, &env); err != nil {
		return nil, err
	}
	raw, ok := env.Data[key]
	if !ok || string(raw) == "null" {
		return nil, abi.Errorf(abi.CodeUnavailable, "%s: malformed response: no data.%s", at, key)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "%s: malformed data.%s: %v", at, key, err)
	}
	return &v, nil
}

// usersPermissions is userPermissions for many users: those the session
// does not hold are fetched together (GET /users/{id} each). A user
// missing from the result no longer exists. Every permission set fetched
// is cached before an error is returned, so a retried page asks again
// only for what failed; the error is the first failing user's, as if the
// users had been fetched one by one.
func (c *call) usersPermissions(ctx context.Context, ids []string) (map[string][]permission, error) {
	out := make(map[string][]permission, len(ids))
	var missing, paths []string
	for _, id := range ids {
		var perms []permission
		if c.cache.load(ctx, permKey(kindUser, id), &perms) && perms != nil {
			out[id] = perms
			continue
		}
		missing = append(missing, id)
		paths = append(paths, "/users/"+url.PathEscape(id))
	}
	if len(missing) == 0 {
		return out, nil
	}
	users, errs := getAll[user](ctx, c.api, "get user", paths, "user")
	var first error
	for i, id := range missing {
		switch err := errs[i]; {
		case isNotFound(err):
		case err != nil:
			if first == nil {
				first = err
			}
		default:
			perms := users[i].Permissions
			if perms == nil {
				perms = []permission{}
			}
			c.cache.store(ctx, permKey(kindUser, id), perms)
			out[id] = perms
		}
	}
	if first != nil {
		return nil, first
	}
	return out, nil
}
