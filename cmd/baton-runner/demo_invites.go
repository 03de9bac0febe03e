package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/baton-runner/baton-runner/host/inspect"
)

// printInviteExample shows one pending invite of the synced c1z and the
// groups it will join on accepting, preferring one that a group lists.
func printInviteExample(ctx context.Context, w io.Writer, file string) error {
	snap, err := inspect.Load(ctx, file, "")
	if err != nil {
		return err
	}
	groups := map[string][]string{} // invite email → group names
	names := map[string]string{}
	for _, r := range snap.Resources {
		names[r.GetId().GetResourceType()+":"+r.GetId().GetResource()] = r.GetDisplayName()
	}
	for _, g := range snap.Grants {
		p, res := g.GetPrincipal().GetId(), g.GetEntitlement().GetResource().GetId()
		if p.GetResourceType() == "invite" && res.GetResourceType() == "group" {
			groups[p.GetResource()] = append(groups[p.GetResource()], names["group:"+res.GetResource()])
		}
	}
	var example string
	for _, r := range snap.Resources {
		if r.GetId().GetResourceType() != "invite" {
			continue
		}
		if e := r.GetId().GetResource(); example == "" || len(groups[e]) > len(groups[example]) {
			example = e
		}
	}
	if example == "" {
		return nil
	}
	slices.Sort(groups[example])
	fmt.Fprintf(w, "\npending invite %s (disabled until accepted)", example)
	if len(groups[example]) > 0 {
		fmt.Fprintf(w, ", already in group(s) %v", groups[example])
	}
	fmt.Fprintf(w, "\n  invite: --create-account-email <email>; cancel: --delete-resource %s --delete-resource-type invite\n", example)
	return nil
}
