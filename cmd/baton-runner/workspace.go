package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/connectorstore"
	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/tenant"
)

// workspaceType is the resource type of the tenant itself, which parents
// every other resource of a sync.
const workspaceType = "workspace"

// c1zWorkspaces lists the workspaces a c1z holds: one, for a sync of a
// Segment tenant.
func c1zWorkspaces(ctx context.Context, st connectorstore.Reader) ([]*v2.Resource, error) {
	resp, err := st.ListResources(ctx, v2.ResourcesServiceListResourcesRequest_builder{ResourceTypeId: workspaceType}.Build())
	if err != nil {
		return nil, fmt.Errorf("reading the workspace the c1z is of: %w", err)
	}
	return resp.GetList(), nil
}

// sameWorkspace refuses provisioning from the c1z of one workspace with
// the token of another: the IDs it names are looked up in the c1z and
// acted on in the token's workspace, where they mean nothing (the request
// fails as if they had been deleted since the sync) or, for IDs Segment
// shares across workspaces (roles, a user in both), something else. A
// tenant that cannot say its workspace (another guest; an API error the
// operation itself will report) is not checked.
func sameWorkspace(ctx context.Context, t *tenant.Tenant, file string, inC1Z []*v2.Resource, logger *zap.Logger) error {
	if len(inC1Z) == 0 {
		return nil
	}
	cc, err := t.Client(ctx, tenant.ClientOptions{})
	if err != nil {
		return err
	}
	defer cc.Close()
	resp, err := cc.ListResources(ctx, v2.ResourcesServiceListResourcesRequest_builder{ResourceTypeId: workspaceType}.Build())
	if err != nil || len(resp.GetList()) == 0 {
		logger.Debug("the tenant's workspace is unknown; not compared with the c1z's", zap.Error(err))
		return nil
	}
	reached := resp.GetList()
	for _, w := range reached {
		if slices.ContainsFunc(inC1Z, func(r *v2.Resource) bool { return inspect.ResourceKey(r.GetId()) == inspect.ResourceKey(w.GetId()) }) {
			return nil
		}
	}
	return fmt.Errorf("%s is a sync of %s, but the token and base URL reach %s, where grant and revoke would act on IDs looked up in %s; "+
		"sync that workspace into a c1z of its own (`baton-runner sync -f OTHER.c1z`) and look the IDs up there, or use the token of %s",
		file, workspaceNames(inC1Z), workspaceNames(reached), file, workspaceNames(inC1Z))
}

func workspaceNames(ws []*v2.Resource) string {
	var names []string
	for _, w := range ws {
		key := inspect.ResourceKey(w.GetId())
		if n := w.GetDisplayName(); n != "" && n != w.GetId().GetResource() {
			key = fmt.Sprintf("%q (%s)", n, key)
		}
		names = append(names, key)
	}
	return strings.Join(names, ", ")
}
