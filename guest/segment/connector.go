// Package segment is the connector logic for Segment (Twilio Segment) access
// reviews: the workspace, its IAM users, groups and roles, and the sources,
// warehouses, spaces and functions that roles can be scoped to. It also
// grants and revokes group membership and roles (provision.go).
//
// Each resource type has its own file (workspace.go, users.go, invites.go,
// groups.go, roles.go, sources.go, warehouses.go, spaces.go, functions.go) with its
// listing, entitlements, grants and provisioning; the files named after a
// concern (entitlements.go, grants.go, provision.go) hold what the types
// share: dispatch, role scoping and permission changes.
//
// It speaks the Segment Public API through the host's HTTP function and
// uses only the standard library, so it builds both natively and for
// GOOS=wasip1 GOARCH=wasm.
package segment

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/internal/segmentids"
)

// Resource type ids, in the order Metadata lists them.
const (
	typeWorkspace = "workspace"
	typeUser      = "user"
	typeGroup     = "group"
	typeRole      = "role"
	typeSource    = "source"
	typeWarehouse = "warehouse"
	typeSpace     = "space"
	typeFunction  = "function"
)

// memberSlug is the slug of the membership entitlements of the workspace,
// groups and roles.
const memberSlug = "member"

// Connector is the Segment connector. It holds no state: everything that
// must outlive a call goes through the host session, because the host pools
// and discards instances freely.
type Connector struct {
	// memo keeps the sync-wide lists decoded once per instance (see
	// syncMemo); it is the only state kept between calls.
	memo syncMemo
}

var _ guest.Connector = (*Connector)(nil)

// New returns a Segment connector.
func New() *Connector { return &Connector{} }

// writesPerMinute is Segment's documented limit of the IAM write endpoints
// (Rate Limits page, docs.segmentapis.com).
const writesPerMinute = 60

// Metadata describes the connector and its resource types. Workspace
// membership is not provisionable: accounts are created by invitation
// (create account makes an invite), and users and invites are deleted.
func (*Connector) Metadata() abi.Metadata {
	return abi.Metadata{
		ABIVersion:  abi.Version,
		DisplayName: "Segment",
		Description: "Segment workspace access: users, pending invites, groups, roles and role grants on sources, warehouses, spaces and functions.",
		ResourceTypes: []abi.ResourceType{
			// Segment keeps permissions on principals: only users and
			// groups list grants, and users have no entitlements.
			{ID: typeWorkspace, DisplayName: "Workspace", Traits: []abi.Trait{abi.TraitApp}, NoGrants: true, Gettable: true},
			{ID: typeUser, DisplayName: "User", Traits: []abi.Trait{abi.TraitUser}, NoEntitlements: true, Gettable: true, Deletable: true},
			inviteType,
			{ID: typeGroup, DisplayName: "Group", Traits: []abi.Trait{abi.TraitGroup}, Provisionable: true, Gettable: true},
			{ID: typeRole, DisplayName: "Role", Traits: []abi.Trait{abi.TraitRole}, Provisionable: true, NoGrants: true},
			{ID: typeSource, DisplayName: "Source", Provisionable: true, NoGrants: true},
			{ID: typeWarehouse, DisplayName: "Warehouse", Provisionable: true, NoGrants: true},
			{ID: typeSpace, DisplayName: "Space", Provisionable: true, NoGrants: true},
			{ID: typeFunction, DisplayName: "Function", Provisionable: true, NoGrants: true},
		},
		// Segment documents 60 requests a minute for every IAM write
		// endpoint (permissions and group membership), far below the
		// read limit; the host paces writes so grants are not refused.
		WritesPerMinute: writesPerMinute,
	}
}

// Validate checks the credentials: GET / must answer 200 with a workspace.
func (conn *Connector) Validate(ctx context.Context, env guest.Env, req abi.Call) error {
	c, err := conn.callFor(env, abi.Call{Config: req.Config})
	if err != nil {
		return err
	}
	var doc envelope[struct {
		Workspace *workspace `json:"workspace"`
	}]
	if err = c.api.get(ctx, "validate credentials", "/", &doc); err != nil {
		return err
	}
	if doc.Data.Workspace == nil || doc.Data.Workspace.ID == "" {
		return abi.Errorf(abi.CodeUnavailable, "validate credentials (GET /): response has no workspace id")
	}
	return nil
}

// ListResources lists one page of resources of one type.
func (conn *Connector) ListResources(ctx context.Context, env guest.Env, req abi.ListResourcesRequest) (abi.ResourcePage, error) {
	c := conn.newCall(env, req.SyncID)
	tok, err := parseToken(req.PageToken)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	page, err := c.listResources(ctx, req.ResourceType, req.Parent, tok)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	if page.Resources == nil {
		page.Resources = []abi.Resource{}
	}
	return page, sameToken(req.PageToken, page.NextPageToken)
}

// ListEntitlements lists the entitlements of one resource.
func (conn *Connector) ListEntitlements(ctx context.Context, env guest.Env, req abi.ListEntitlementsRequest) (abi.EntitlementPage, error) {
	c, err := conn.callFor(env, req.Call)
	if err != nil {
		return abi.EntitlementPage{}, err
	}
	ents, err := c.entitlements(ctx, req.Resource)
	if err != nil {
		return abi.EntitlementPage{}, err
	}
	if ents == nil {
		ents = []abi.Entitlement{}
	}
	return abi.EntitlementPage{Entitlements: ents}, nil
}

// ListGrants lists one page of grants of one resource. Segment keeps
// permissions on principals, so only users and groups have grants; a group
// lists its members page by page.
func (conn *Connector) ListGrants(ctx context.Context, env guest.Env, req abi.ListGrantsRequest) (abi.GrantPage, error) {
	c, err := conn.callFor(env, req.Call)
	if err != nil {
		return abi.GrantPage{}, err
	}
	tok, err := parseToken(req.PageToken)
	if err != nil {
		return abi.GrantPage{}, err
	}
	var page abi.GrantPage
	switch req.Resource.ID.Type {
	case typeUser:
		page, err = c.userGrants(ctx, req.Resource)
	case typeGroup:
		page, err = c.groupGrants(ctx, req.Resource, tok)
	}
	if err != nil {
		return abi.GrantPage{}, err
	}
	if page.Grants == nil {
		page.Grants = []abi.Grant{}
	}
	return page, sameToken(req.PageToken, page.NextPageToken)
}

// call is the state of one export call: the API client, the session cache
// and memos that live only as long as the call.
type call struct {
	api   *client
	cache cache
	log   logger

	roleList   []role
	sourceList []source

	// batonSegmentIDs is the entitlement_ids setting (entitlementids.go);
	// names are its role slugs, once computed.
	batonSegmentIDs bool
	names           *segmentids.Names
}

// newCall prepares one call; syncID scopes the memo ("" outside a sync,
// where nothing is memoised).
func (conn *Connector) newCall(env guest.Env, syncID string) *call {
	l := logger(env.Log)
	return &call{
		api:   &client{http: env.HTTP, now: time.Now},
		cache: cache{s: env.Session, log: l, memo: &conn.memo, syncID: syncID},
		log:   l,
	}
}

// logger forwards to the host logger, tolerating its absence.
type logger guest.Logger

func (l logger) logf(level guest.LogLevel, format string, args ...any) {
	if l != nil {
		l(level, fmt.Sprintf(format, args...))
	}
}

func (l logger) debugf(format string, args ...any) { l.logf(guest.LogDebug, format, args...) }
func (l logger) infof(format string, args ...any)  { l.logf(guest.LogInfo, format, args...) }
func (l logger) warnf(format string, args ...any)  { l.logf(guest.LogWarn, format, args...) }

// pageToken is the connector's page token, opaque to the host: a phase
// (function resource type index), Segment's cursor within it or an offset
// into a list cached in the session, and the number of pages already
// returned (which also keys the extras pages and guarantees the token
// changes from call to call).
type pageToken struct {
	Phase  int    `json:"p,omitempty"`
	Cursor string `json:"c,omitempty"`
	Offset int    `json:"o,omitempty"`
	Page   int    `json:"n,omitempty"`
}

func parseToken(s string) (pageToken, error) {
	var t pageToken
	if s == "" {
		return t, nil
	}
	if err := json.Unmarshal([]byte(s), &t); err != nil || t.Phase < 0 || t.Page < 0 || t.Offset < 0 {
		return pageToken{}, abi.Errorf(abi.CodeInvalidArgument, "invalid page token %q", s)
	}
	return t, nil
}

func (t pageToken) String() string {
	b, _ := json.Marshal(t) // a struct of strings and ints always encodes
	return string(b)
}

// sameToken is the last guard against a host-side infinite loop: baton-sdk
// fails a sync whose connector returns the token it was given.
func sameToken(in, out string) error {
	if out != "" && out == in {
		return abi.Errorf(abi.CodeUnavailable, "pagination cursor did not advance (page token %s)", in)
	}
	return nil
}
