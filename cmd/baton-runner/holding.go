package main

import (
	"context"
	"fmt"
	"strings"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	reader_v2 "github.com/conductorone/baton-sdk/pb/c1/reader/v2"
	"github.com/conductorone/baton-sdk/pkg/connectorstore"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/host/inspect"
)

// holding is how the c1z says a principal holds the grant a revoke names.
// baton-sdk's expansion writes a grant for every member of a group that
// holds an entitlement; such a grant is the group's, and the connector
// rightly finds nothing of the member's own to remove, which it reports as
// already revoked. So a revoke checks here first.
type holding struct {
	grant, principal string
	direct           bool
	through          []groupPath
}

// groupPath is one group membership a grant comes through, with the two
// grants that carry it.
type groupPath struct {
	entitlement string // the membership, e.g. group:<groupId>:member
	membership  string // the principal's grant of it
	groupGrant  string // the revoked entitlement's grant to the group itself; "" if the c1z has none
}

// withC1Z opens the c1z read-only for f.
func withC1Z(ctx context.Context, file string, f func(connectorstore.Reader) error) error {
	st, err := dotc1z.NewStore(ctx, file, dotc1z.WithReadOnly(true))
	if err != nil {
		return fmt.Errorf("opening %s as a c1z: %w", file, err)
	}
	defer func() { _ = st.Close(context.WithoutCancel(ctx)) }()
	return f(st)
}

// readHolding returns how the grant is held, or nil when the c1z does not
// hold it (granted since the sync, or not at all: Revoke reports those).
func readHolding(ctx context.Context, st connectorstore.Reader, grantID string) (*holding, error) {
	g, ok, err := storeGrant(ctx, st, grantID)
	if err != nil || !ok {
		return nil, err
	}
	h := &holding{grant: grantID, principal: inspect.ResourceKey(g.GetPrincipal().GetId())}
	var through []string
	h.direct, through = inspect.Holding(g)
	for _, via := range through {
		p := groupPath{entitlement: via, membership: via + ":" + h.principal}
		resp, err := st.GetEntitlement(ctx, reader_v2.EntitlementsReaderServiceGetEntitlementRequest_builder{EntitlementId: via}.Build())
		if err != nil && status.Code(err) != codes.NotFound {
			return nil, err
		}
		if group := resp.GetEntitlement().GetResource().GetId(); group != nil {
			id := g.GetEntitlement().GetId() + ":" + inspect.ResourceKey(group)
			if _, ok, err := storeGrant(ctx, st, id); err != nil {
				return nil, err
			} else if ok {
				p.groupGrant = id
			}
		}
		h.through = append(h.through, p)
	}
	return h, nil
}

func storeGrant(ctx context.Context, st connectorstore.Reader, id string) (*v2.Grant, bool, error) {
	resp, err := st.GetGrant(ctx, reader_v2.GrantsReaderServiceGetGrantRequest_builder{GrantId: id}.Build())
	if status.Code(err) == codes.NotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return resp.GetGrant(), true, nil
}

// inheritedOnly is the error of a revoke of a grant held only through
// groups: it names what to revoke instead, and what each choice takes away.
func (h *holding) inheritedOnly(what, file string) error {
	var via, memberships, groupGrants []string
	for _, p := range h.through {
		via = append(via, p.entitlement)
		memberships = append(memberships, revokeCommandLine(file, p.membership))
		if p.groupGrant != "" {
			groupGrants = append(groupGrants, revokeCommandLine(file, p.groupGrant))
		}
	}
	instead := fmt.Sprintf("revoke the membership (%s), which takes away everything the group gives %s", memberships[0], h.principal)
	if len(groupGrants) == 1 {
		instead += fmt.Sprintf(", or the group's grant (%s), which takes it from every member of the group", groupGrants[0])
	}
	if len(h.through) > 1 {
		instead = fmt.Sprintf("revoke every one of the memberships (%s), which takes away everything those groups give %s", strings.Join(memberships, "; "), h.principal)
		if len(groupGrants) > 0 {
			instead += fmt.Sprintf(", or the groups' grants (%s), which take it from every member", strings.Join(groupGrants, "; "))
		}
	}
	return fmt.Errorf("%s: %s holds this only through %s (inspect shows it via that membership), so it has no grant of its own to revoke; nothing was changed. "+
		"To take the access away, %s. If it was granted to %s directly since the sync of %s, run `baton-runner sync` first",
		what, h.principal, strings.Join(via, " and "), instead, h.principal, file)
}

// stillHeld is what a revoke of a grant held both directly and through
// groups leaves: the access, through the groups; "" when nothing remains.
func (h *holding) stillHeld() string {
	if h == nil || len(h.through) == 0 {
		return ""
	}
	var via, memberships []string
	for _, p := range h.through {
		via = append(via, p.entitlement)
		memberships = append(memberships, p.membership)
	}
	return fmt.Sprintf("; %s still has this access through %s (revoke %s to remove it)", h.principal, strings.Join(via, " and "), strings.Join(memberships, " and "))
}

func revokeCommandLine(file, grant string) string {
	return fmt.Sprintf("`baton-runner revoke -f %s --grant %s`", file, grant)
}
