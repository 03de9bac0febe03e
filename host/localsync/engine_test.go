package localsync_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
	"google.golang.org/protobuf/proto"

	"github.com/baton-runner/baton-runner/guest/segment"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/connector"
	"github.com/baton-runner/baton-runner/internal/native"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// syncSegment syncs the simulated workspace at url with the Segment
// connector logic (natively: the engine is what is under test, not the
// sandbox) into path with engine.
func syncSegment(t *testing.T, url, path string, engine c1zstore.Engine, onCollected func()) {
	t.Helper()
	hc, err := egress.New(egress.Config{BaseURL: url, Token: secret.New(segmentsim.DefaultToken)})
	if err != nil {
		t.Fatal(err)
	}
	seg := segment.New()
	cc, err := connector.NewClient(context.Background(), connector.New(&native.Runner{Connector: seg, HTTP: hc}, seg.Metadata(), nil), connector.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := localsync.Run(context.Background(), cc, localsync.Options{Path: path, StorageEngine: engine, OnCollected: onCollected}); err != nil {
		t.Fatalf("%s sync: %v", engine, err)
	}
}

// format is the c1z format of the file at path: v1 is SQLite, v3 Pebble.
func format(t *testing.T, path string) dotc1z.C1ZFormat {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := dotc1z.ReadHeaderFormat(f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Both engines write a c1z that inspect reads back, in the engine's own
// format, with the same resources, entitlements and grants.
func TestBothStorageEnginesWriteTheSameReadableC1Z(t *testing.T) {
	ts := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(60)), segmentsim.Options{}))
	defer ts.Close()
	dir := t.TempDir()
	wantFormat := map[c1zstore.Engine]dotc1z.C1ZFormat{c1zstore.EngineSQLite: dotc1z.C1ZFormatV1, c1zstore.EnginePebble: dotc1z.C1ZFormatV3}
	snaps := map[c1zstore.Engine]*inspect.Snapshot{}
	for _, engine := range localsync.StorageEngines {
		path := filepath.Join(dir, string(engine)+".c1z")
		syncSegment(t, ts.URL, path, engine, nil)
		if got := format(t, path); got != wantFormat[engine] {
			t.Errorf("%s sync wrote a %v c1z, want %v", engine, got, wantFormat[engine])
		}
		snap, err := inspect.Load(context.Background(), path, t.TempDir())
		if err != nil {
			t.Fatalf("reading the %s c1z: %v", engine, err)
		}
		if len(snap.Resources) == 0 || len(snap.Grants) == 0 {
			t.Fatalf("the %s c1z holds %d resources and %d grants", engine, len(snap.Resources), len(snap.Grants))
		}
		snaps[engine] = snap
	}
	a, b := snaps[c1zstore.EngineSQLite], snaps[c1zstore.EnginePebble]
	same(t, "resource", a.Resources, b.Resources, func(r *v2.Resource) string {
		return r.GetId().GetResourceType() + "/" + r.GetId().GetResource()
	})
	// Pebble stores the entitlement's resource, its grantable-to types and
	// a grant's entitlement as references (baton-sdk's slim records);
	// SQLite stores them whole. Compared as references, they must match.
	same(t, "entitlement", slimEntitlements(a.Entitlements), slimEntitlements(b.Entitlements), (*v2.Entitlement).GetId)
	same(t, "grant", slimGrants(a.Grants), slimGrants(b.Grants), (*v2.Grant).GetId)
}

func slimEntitlement(e *v2.Entitlement) *v2.Entitlement {
	e = proto.CloneOf(e)
	e.SetResource(v2.Resource_builder{Id: e.GetResource().GetId()}.Build())
	var types []*v2.ResourceType
	for _, rt := range e.GetGrantableTo() {
		types = append(types, v2.ResourceType_builder{Id: rt.GetId()}.Build())
	}
	e.SetGrantableTo(types)
	return e
}

func slimEntitlements(es []*v2.Entitlement) []*v2.Entitlement {
	out := make([]*v2.Entitlement, len(es))
	for i, e := range es {
		out[i] = slimEntitlement(e)
	}
	return out
}

func slimGrants(gs []*v2.Grant) []*v2.Grant {
	out := make([]*v2.Grant, len(gs))
	for i, g := range gs {
		g = proto.CloneOf(g)
		g.SetEntitlement(v2.Entitlement_builder{Id: g.GetEntitlement().GetId(),
			Resource: v2.Resource_builder{Id: g.GetEntitlement().GetResource().GetId()}.Build()}.Build())
		g.SetPrincipal(v2.Resource_builder{Id: g.GetPrincipal().GetId()}.Build())
		out[i] = g
	}
	return out
}

// same fails unless a and b hold equal messages under the same keys, in
// any order.
func same[M proto.Message](t *testing.T, what string, a, b []M, key func(M) string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%d %ss with sqlite, %d with pebble", len(a), what, len(b))
		return
	}
	byKey := func(x, y M) int { return strings.Compare(key(x), key(y)) }
	slices.SortFunc(a, byKey)
	slices.SortFunc(b, byKey)
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			t.Errorf("%s %d differs:\nsqlite: %v\npebble: %v", what, i, a[i], b[i])
			return
		}
	}
}
