package inspect

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
)

func rid(typ, id string) *v2.ResourceId {
	return v2.ResourceId_builder{ResourceType: typ, Resource: id}.Build()
}

func res(typ, id, name string) *v2.Resource {
	return v2.Resource_builder{Id: rid(typ, id), DisplayName: name}.Build()
}

func ent(typ, id, slug string) *v2.Entitlement {
	return v2.Entitlement_builder{Id: typ + ":" + id + ":" + slug, Resource: res(typ, id, ""), DisplayName: slug + " of " + id}.Build()
}

// grant to principal; via lists the entitlements it was expanded through.
func grant(e *v2.Entitlement, ptyp, pid string, via ...string) *v2.Grant {
	b := v2.Grant_builder{Id: e.GetId() + ":" + ptyp + ":" + pid, Entitlement: e, Principal: res(ptyp, pid, "")}
	if len(via) > 0 {
		src := map[string]*v2.GrantSources_GrantSource{}
		for _, v := range via {
			src[v] = &v2.GrantSources_GrantSource{}
		}
		b.Sources = v2.GrantSources_builder{Sources: src}.Build()
	}
	return b.Build()
}

// snapshot: ann is in group eng; eng holds admin on source s1; bob holds
// read on s1 directly.
func snapshot() *Snapshot {
	member, admin, read := ent("group", "eng", "member"), ent("source", "s1", "admin"), ent("source", "s1", "read")
	return &Snapshot{
		Resources:    []*v2.Resource{res("user", "ann", "Ann"), res("user", "bob", "Bob"), res("group", "eng", "Eng"), res("source", "s1", "Web")},
		Entitlements: []*v2.Entitlement{member, admin, read},
		Grants: []*v2.Grant{
			grant(member, "user", "ann"),
			grant(admin, "group", "eng"),
			grant(admin, "user", "ann", member.GetId()),
			grant(read, "user", "bob"),
		},
	}
}

// TestSummary counts per resource type of the entitlement's resource, and
// tells the grant expanded through eng's membership from those listed.
func TestSummary(t *testing.T) {
	s := snapshot()
	s.SyncID = "sync-1"
	got := s.Summary()
	want := &Summary{SyncID: "sync-1", Resources: 4, Entitlements: 3, Grants: 4, Expanded: 1, Types: []TypeCount{
		{ResourceType: "group", Resources: 1, Entitlements: 1, Grants: 1},
		{ResourceType: "source", Resources: 1, Entitlements: 2, Grants: 3},
		{ResourceType: "user", Resources: 2},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary:\n got %+v\nwant %+v", got, want)
	}
}

func TestAccessThroughGroups(t *testing.T) {
	s := snapshot()
	got, err := s.AccessOf("user:ann")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"group:eng", "Eng", "group:eng:member", "member of eng", "", "group:eng:member:user:ann"},
		{"source:s1", "Web", "source:s1:admin", "admin of s1", "group:eng:member", "source:s1:admin:user:ann"},
	}
	if len(got.Rows) != len(want) || strings.Join(got.Rows[1], "|") != strings.Join(want[1], "|") || strings.Join(got.Rows[0], "|") != strings.Join(want[0], "|") {
		t.Errorf("access of ann = %v, want %v", got.Rows, want)
	}
	who, err := s.AccessTo("source:s1")
	if err != nil {
		t.Fatal(err)
	}
	var principals []string
	for _, r := range who.Rows {
		principals = append(principals, r[0]+"/"+r[4])
	}
	if strings.Join(principals, ",") != "group:eng/,user:ann/group:eng:member,user:bob/" {
		t.Errorf("who can access source:s1: %v", principals)
	}
	// The bare ID grant takes names the same principal.
	if bare, err := s.AccessOf("ann"); err != nil || len(bare.Rows) != len(got.Rows) {
		t.Errorf("AccessOf(ann) = %v, %v; want the rows of user:ann", bare, err)
	}
	for _, bad := range []string{"nobody", "user:nobody", "user:"} {
		if _, err := s.AccessOf(bad); err == nil {
			t.Errorf("AccessOf(%q) succeeded", bad)
		}
	}
}

func TestHolding(t *testing.T) {
	member, admin := ent("group", "eng", "member"), ent("source", "s1", "admin")
	for _, tc := range []struct {
		g       *v2.Grant
		direct  bool
		through string
	}{
		{grant(admin, "user", "bob"), true, ""},
		{grant(admin, "user", "ann", member.GetId()), false, "group:eng:member"},
		{grant(admin, "user", "cy", admin.GetId(), member.GetId()), true, "group:eng:member"},
		{grant(admin, "user", "di", "group:ops:member", member.GetId()), false, "group:eng:member group:ops:member"},
	} {
		direct, through := Holding(tc.g)
		if direct != tc.direct || strings.Join(through, " ") != tc.through {
			t.Errorf("Holding(%s) = %v, %v; want %v, %s", tc.g.GetId(), direct, through, tc.direct, tc.through)
		}
	}
}

func TestDiff(t *testing.T) {
	old, cur := snapshot(), snapshot()
	cur.Resources = append(cur.Resources[:1], cur.Resources[2:]...) // bob left
	cur.Grants = cur.Grants[:3]                                     // and his grant with him
	d := Diff(old, cur)
	var rows []string
	for _, r := range d.Rows {
		rows = append(rows, r[0]+" "+r[1]+" "+r[2])
	}
	if strings.Join(rows, "; ") != "removed resource user:bob; removed grant source:s1:read:user:bob" {
		t.Errorf("diff = %v", rows)
	}
	if n := len(Diff(cur, cur).Rows); n != 0 {
		t.Errorf("a snapshot diffed with itself has %d changes", n)
	}
}

func TestTableFormats(t *testing.T) {
	tb := &Table{Columns: []string{"a", "b"}}
	var out bytes.Buffer
	if err := tb.Write(&out, "json"); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("empty json = %q, %v", out.String(), err)
	}
	tb.Rows = [][]string{{"x,y", ""}}
	out.Reset()
	if err := tb.Write(&out, "csv"); err != nil || out.String() != "a,b\n\"x,y\",\n" {
		t.Errorf("csv = %q, %v", out.String(), err)
	}
	out.Reset()
	if err := tb.Write(&out, "table"); err != nil || !strings.Contains(out.String(), "x,y  -") {
		t.Errorf("table = %q, %v", out.String(), err)
	}
	if err := tb.Write(&out, "yaml"); err == nil || !strings.Contains(err.Error(), "table, json, csv") {
		t.Errorf("yaml: %v", err)
	}
}
