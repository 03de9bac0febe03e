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
	s := &Snapshot{}
	id, err := read(ctx, path, tmpDir,
		func(r *v2.Resource) { s.Resources = append(s.Resources, r) },
		func(e *v2.Entitlement) { s.Entitlements = append(s.Entitlements, e) },
		func(g *v2.Grant) { s.Grants = append(s.Grants, g) })
	if err != nil {
		return nil, err
	}
	s.SyncID = id
	return s, nil
}

// Summarize counts what the latest finished sync of the c1z at path holds,
// keeping none of it: what a sync reports at its end, where Load would
// hold every grant at once (a 10k-user Segment file: ~250 MiB).
func Summarize(ctx context.Context, path, tmpDir string) (*Summary, error) {
	var t tally
	id, err := read(ctx, path, tmpDir, t.resource, t.entitlement, t.grant)
	if err != nil {
		return nil, err
	}
	s := t.summary()
	s.SyncID = id
	return s, nil
}

// read streams the latest finished sync of the c1z at path to the
// functions, in the store's order, and returns its ID.
func read(ctx context.Context, path, tmpDir string, resource func(*v2.Resource), entitlement func(*v2.Entitlement), grant func(*v2.Grant)) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	opts := []dotc1z.C1ZOption{dotc1z.WithReadOnly(true)}
	if tmpDir != "" {
		opts = append(opts, dotc1z.WithTmpDir(tmpDir))
	}
	st, err := dotc1z.NewStore(ctx, path, opts...)
	if err != nil {
		return "", fmt.Errorf("opening %s as a c1z: %w", path, err)
	}
	defer st.Close(ctx)
	run, err := st.SyncMeta().LatestFinishedSyncOfAnyType(ctx)
	if err != nil {
		return "", fmt.Errorf("reading syncs of %s: %w", path, err)
	}
	if run == nil {
		return "", fmt.Errorf("%s holds no finished sync", path)
	}
	sr, ok := st.(connectorstore.StreamingReader)
	if !ok {
		return "", errors.New("this c1z store cannot be streamed; re-sync with the default storage engine")
	}
	for r, err := range sr.StreamResources(ctx, run.ID, connectorstore.StreamResourcesOptions{}) {
		if err != nil {
			return "", fmt.Errorf("reading resources: %w", err)
		}
		resource(r)
	}
	for e, err := range sr.StreamEntitlements(ctx, run.ID) {
		if err != nil {
			return "", fmt.Errorf("reading entitlements: %w", err)
		}
		entitlement(e)
	}
	for g, err := range sr.StreamGrants(ctx, run.ID, connectorstore.StreamGrantsOptions{IncludeExpansion: true}) {
		if err != nil {
			return "", fmt.Errorf("reading grants: %w", err)
		}
		grant(g)
	}
	return run.ID, nil
}

// TypeCount counts what a sync holds for one resource type. Entitlements and
// grants are counted under the type of the resource they are on.
type TypeCount struct {
	ResourceType                    string
	Resources, Entitlements, Grants int
}

// Summary is what a sync holds, counted: per resource type and in all.
type Summary struct {
	SyncID                          string
	Types                           []TypeCount // sorted by resource type
	Resources, Entitlements, Grants int
	// Expanded are the grants baton-sdk derived through group membership
	// (grant expansion) rather than the connector's listing.
	Expanded int
}

// tally counts a sync's objects as they are read.
type tally struct {
	by       map[string]*TypeCount
	expanded int
}

func (t *tally) of(resourceType string) *TypeCount {
	if t.by == nil {
		t.by = map[string]*TypeCount{}
	}
	if t.by[resourceType] == nil {
		t.by[resourceType] = &TypeCount{ResourceType: resourceType}
	}
	return t.by[resourceType]
}

func (t *tally) resource(r *v2.Resource) {
	t.of(r.GetId().GetResourceType()).Resources++
}

func (t *tally) entitlement(e *v2.Entitlement) {
	t.of(e.GetResource().GetId().GetResourceType()).Entitlements++
}

func (t *tally) grant(g *v2.Grant) {
	t.of(g.GetEntitlement().GetResource().GetId().GetResourceType()).Grants++
	if !heldDirectly(g) {
		t.expanded++
	}
}

func (t *tally) summary() *Summary {
	s := &Summary{Expanded: t.expanded}
	for _, c := range t.by {
		s.Types = append(s.Types, *c)
		s.Resources += c.Resources
		s.Entitlements += c.Entitlements
		s.Grants += c.Grants
	}
	sort.Slice(s.Types, func(i, j int) bool { return s.Types[i].ResourceType < s.Types[j].ResourceType })
	return s
}

// Summary counts the snapshot as Summarize counts its file.
func (s *Snapshot) Summary() *Summary {
	var t tally
	for _, r := range s.Resources {
		t.resource(r)
	}
	for _, e := range s.Entitlements {
		t.entitlement(e)
	}
	for _, g := range s.Grants {
		t.grant(g)
	}
	sum := t.summary()
	sum.SyncID = s.SyncID
	return sum
}

// CountTable is the per-type counts as an explorer table, totals last.
func (s *Summary) CountTable() *Table {
	t := &Table{Columns: []string{"resource_type", "resources", "entitlements", "grants"}}
	for _, c := range s.Types {
		t.Rows = append(t.Rows, []string{c.ResourceType, fmt.Sprint(c.Resources), fmt.Sprint(c.Entitlements), fmt.Sprint(c.Grants)})
	}
	t.Rows = append(t.Rows, []string{"total", fmt.Sprint(s.Resources), fmt.Sprint(s.Entitlements), fmt.Sprint(s.Grants)})
	return t
}

// Write prints the per-type counts and totals as a table.
func (s *Summary) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "resource type\tresources\tentitlements\tgrants\t\n")
	for _, c := range s.Types {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", c.ResourceType, c.Resources, c.Entitlements, c.Grants)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t\n", s.Resources, s.Entitlements, s.Grants)
	return tw.Flush()
}
