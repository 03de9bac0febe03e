// Package inspect reads a c1z file written by a sync, with baton-sdk's
// dotc1z store, and summarises what it holds.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/connectorstore"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
)

// Snapshot is the content of the latest finished sync in a c1z.
type Snapshot struct {
	SyncID       string
	Resources    []*v2.Resource
	Entitlements []*v2.Entitlement
	Grants       []*v2.Grant

	index *index
}

// Load reads the latest finished sync of the c1z at path. tmpDir holds the
// store's scratch files ("" = system default).
func Load(ctx context.Context, path, tmpDir string) (*Snapshot, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	opts := []dotc1z.C1ZOption{dotc1z.WithReadOnly(true)}
	if tmpDir != "" {
		opts = append(opts, dotc1z.WithTmpDir(tmpDir))
	}
	st, err := dotc1z.NewStore(ctx, path, opts...)
	if err != nil {
		return nil, fmt.Errorf("opening %s as a c1z: %w", path, err)
	}
	defer st.Close(ctx)
	run, err := st.SyncMeta().LatestFinishedSyncOfAnyType(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading syncs of %s: %w", path, err)
	}
	if run == nil {
		return nil, fmt.Errorf("%s holds no finished sync", path)
	}
	sr, ok := st.(connectorstore.StreamingReader)
	if !ok {
		return nil, errors.New("this c1z store cannot be streamed; re-sync with the default storage engine")
	}
	s := &Snapshot{SyncID: run.ID}
	for r, err := range sr.StreamResources(ctx, run.ID, connectorstore.StreamResourcesOptions{}) {
		if err != nil {
			return nil, fmt.Errorf("reading resources: %w", err)
		}
		s.Resources = append(s.Resources, r)
	}
	for e, err := range sr.StreamEntitlements(ctx, run.ID) {
		if err != nil {
			return nil, fmt.Errorf("reading entitlements: %w", err)
		}
		s.Entitlements = append(s.Entitlements, e)
	}
	for g, err := range sr.StreamGrants(ctx, run.ID, connectorstore.StreamGrantsOptions{IncludeExpansion: true}) {
		if err != nil {
			return nil, fmt.Errorf("reading grants: %w", err)
		}
		s.Grants = append(s.Grants, g)
	}
	return s, nil
}

// TypeCount counts what a sync holds for one resource type. Entitlements and
// grants are counted under the type of the resource they are on.
type TypeCount struct {
	ResourceType                    string
	Resources, Entitlements, Grants int
}

// Counts returns the per-type counts, sorted by resource type.
func (s *Snapshot) Counts() []TypeCount {
	by := map[string]*TypeCount{}
	get := func(t string) *TypeCount {
		if by[t] == nil {
			by[t] = &TypeCount{ResourceType: t}
		}
		return by[t]
	}
	for _, r := range s.Resources {
		get(r.GetId().GetResourceType()).Resources++
	}
	for _, e := range s.Entitlements {
		get(e.GetResource().GetId().GetResourceType()).Entitlements++
	}
	for _, g := range s.Grants {
		get(g.GetEntitlement().GetResource().GetId().GetResourceType()).Grants++
	}
	out := make([]TypeCount, 0, len(by))
	for _, c := range by {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceType < out[j].ResourceType })
	return out
}

// CountTable is the per-type counts as an explorer table, totals last.
func (s *Snapshot) CountTable() *Table {
	t := &Table{Columns: []string{"resource_type", "resources", "entitlements", "grants"}}
	for _, c := range s.Counts() {
		t.Rows = append(t.Rows, []string{c.ResourceType, fmt.Sprint(c.Resources), fmt.Sprint(c.Entitlements), fmt.Sprint(c.Grants)})
	}
	t.Rows = append(t.Rows, []string{"total", fmt.Sprint(len(s.Resources)), fmt.Sprint(len(s.Entitlements)), fmt.Sprint(len(s.Grants))})
	return t
}

// WriteSummary prints the per-type counts and totals as a table.
func (s *Snapshot) WriteSummary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "resource type\tresources\tentitlements\tgrants\t\n")
	for _, c := range s.Counts() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", c.ResourceType, c.Resources, c.Entitlements, c.Grants)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t\n", len(s.Resources), len(s.Entitlements), len(s.Grants))
	return tw.Flush()
}
