package egress

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/baton-runner/baton-runner/abi"
)

// Router is the egress of a tenant allowed several origins (a baton-sdk
// guest's): it sends each request to the Client of the origin it names,
// the first Client's when it names none, and refuses every other origin.
// Each Client keeps its own gate, pacers and rate-limit state, since an
// API's limits are per origin. It implements sandbox.HTTPDoer.
type Router struct {
	clients  []*Client
	byOrigin map[string]*Client
	// placeholders are every Client's, to say in a refusal which secrets
	// the request would have carried elsewhere.
	placeholders *secretSet
}

// NewRouter returns a Router over clients, the first of which serves the
// requests that name no origin. It refuses no client and two clients for
// the same origin.
func NewRouter(clients ...*Client) (*Router, error) {
	if len(clients) == 0 {
		return nil, errors.New("a router needs at least one client, for the tenant's API origin")
	}
	r := &Router{clients: clients, byOrigin: map[string]*Client{}}
	var all []Placeholder
	for i, c := range clients {
		if c == nil {
			return nil, fmt.Errorf("client %d of the router is nil", i+1)
		}
		if r.byOrigin[c.Origin()] != nil {
			return nil, fmt.Errorf("origin %s is given twice; allow each origin once", c.origin.shown())
		}
		r.byOrigin[c.Origin()] = c
		for _, p := range c.secrets.list {
			if !slices.ContainsFunc(all, func(q Placeholder) bool { return q.Text == p.Text }) {
				all = append(all, Placeholder{Text: p.Text})
			}
		}
	}
	var err error
	if r.placeholders, err = newSecretSet(all); err != nil {
		return nil, err // each client's placeholders were checked
	}
	return r, nil
}

// Origins returns the origins the Router serves, as Client.Origin does, the
// default one first.
func (r *Router) Origins() []string {
	out := make([]string, len(r.clients))
	for i, c := range r.clients {
		out[i] = c.Origin()
	}
	return out
}

// Do sends req through the Client of its origin. A request for any other
// origin is refused with CodeEgressDenied and audited through the first
// Client's Audit, with the secret placeholders it carried named.
func (r *Router) Do(ctx context.Context, req abi.HTTPRequest) abi.HTTPResponse {
	if r == nil {
		return abi.HTTPResponse{Error: abi.Errorf(abi.CodeUnavailable, "egress: no client configured")}
	}
	if req.Origin == "" {
		return r.clients[0].Do(ctx, req)
	}
	o, ok := requestOrigin(req.Origin)
	if c := r.byOrigin[o.String()]; ok && c != nil {
		return c.Do(ctx, req)
	}
	first := r.clients[0]
	rec := Record{Time: first.now(), Method: logSafe(req.Method), Host: o.hostport, Path: auditPath(req.Path)}
	if !ok {
		rec.Host = logSafe(req.Origin)
	}
	allowed := make([]string, len(r.clients))
	for i, c := range r.clients {
		allowed[i] = c.origin.shown()
	}
	resp := first.deny(&rec, originRefusal(req.Origin, o, ok, allowed, r.placeholders.requestFields(req)))
	rec.Duration = first.now().Sub(rec.Time)
	first.emit(rec)
	return resp
}
