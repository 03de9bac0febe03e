package segment

import (
	"context"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

// Account lifecycle and targeted sync (abi/lifecycle.go): the exports
// dispatch here to the resource type's file (invites.go creates accounts;
// users.go and invites.go delete; each gettable type gets its own).

var (
	_ guest.AccountCreator  = (*Connector)(nil)
	_ guest.ResourceDeleter = (*Connector)(nil)
	_ guest.ResourceGetter  = (*Connector)(nil)
)

// GetResource reads one workspace, user, invite or group, for a targeted
// sync. A resource that does not exist is NotFound.
func (conn *Connector) GetResource(ctx context.Context, env guest.Env, req abi.GetResourceRequest) (abi.Resource, error) {
	c := conn.newCall(env, req.SyncID)
	id := req.Resource
	if strings.TrimSpace(id.ID) == "" {
		return abi.Resource{}, abi.Errorf(abi.CodeInvalidArgument, "the resource to get has an empty id")
	}
	if id.Type == typeWorkspace {
		return c.getWorkspace(ctx, id.ID)
	}
	ws, err := c.parentWorkspace(ctx, req.Parent)
	if err != nil {
		return abi.Resource{}, err
	}
	switch id.Type {
	case typeUser:
		return c.getUser(ctx, ws, id.ID)
	case typeInvite:
		return c.getInvite(ctx, ws, id.ID)
	case typeGroup:
		return c.getGroup(ctx, ws, id.ID)
	}
	return abi.Resource{}, abi.Errorf(abi.CodeUnimplemented, "resources of type %q cannot be read one by one; targeted syncs support workspace, user, invite and group", id.Type)
}

// DeleteResource deletes a user (removes it from the workspace) or
// cancels a pending invite. Deleting what is already gone succeeds with
// AlreadyDeleted.
func (conn *Connector) DeleteResource(ctx context.Context, env guest.Env, req abi.DeleteResourceRequest) (abi.DeleteResourceResult, error) {
	c := conn.newCall(env, req.SyncID)
	id := req.Resource
	if strings.TrimSpace(id.ID) == "" {
		return abi.DeleteResourceResult{}, abi.Errorf(abi.CodeInvalidArgument, "the resource to delete has an empty id")
	}
	switch id.Type {
	case typeUser:
		return c.deleteUser(ctx, id.ID)
	case typeInvite:
		return c.deleteInvite(ctx, id.ID)
	}
	return abi.DeleteResourceResult{}, abi.Errorf(abi.CodeUnimplemented, "resources of type %q cannot be deleted; only users and invites can", id.Type)
}

// CreateAccount invites an email to the workspace (see invites.go).
func (conn *Connector) CreateAccount(ctx context.Context, env guest.Env, req abi.CreateAccountRequest) (abi.CreateAccountResult, error) {
	c := conn.newCall(env, req.SyncID)
	if req.ResourceType != typeInvite {
		return abi.CreateAccountResult{}, abi.Errorf(abi.CodeInvalidArgument, "accounts are created as %q resources (a Segment invitation), not %q", typeInvite, req.ResourceType)
	}
	p, err := parseAccountProfile(req)
	if err != nil {
		return abi.CreateAccountResult{}, err
	}
	return c.invite(ctx, p)
}

// sendStatus sends a write whose response is {"data":{"status":"SUCCESS"}}
// and insists on that status: a 200 that does not say SUCCESS is not a
// success (reference bug 6 is the opposite mistake).
func (c *call) sendStatus(ctx context.Context, method, path string) error {
	var out envelope[struct {
		Status string `json:"status"`
	}]
	if err := c.api.send(ctx, method, path, nil, &out); err != nil {
		return err
	}
	if out.Data.Status != "SUCCESS" {
		return abi.Errorf(abi.CodeUnavailable, "%s %s: Segment answered with status %q, not SUCCESS", method, stripQuery(path), out.Data.Status)
	}
	return nil
}
