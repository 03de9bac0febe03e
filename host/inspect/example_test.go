package inspect_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// syncer syncs the Segment simulator at url into c1z files, through the
// sandboxed guest, as `baton-runner sync` does. The compilation cache
// (shared with this module's tests) makes every compile after the first
// quick.
func syncer(ctx context.Context, url string) (sync func(path string) error, done func(), err error) {
	wasm, err := wasmbuild.Read("guest/segment/wasm") // bin/segment.wasm
	if err != nil {
		return nil, nil, err
	}
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm, CacheDir: wasmbuild.CacheDir})
	if err != nil {
		return nil, nil, err
	}
	t, err := tenant.New(m, tenant.Config{Name: "acme",
		Egress: egress.Config{BaseURL: url, Token: secret.New(segmentsim.DefaultToken)}})
	if err != nil {
		m.Close(ctx)
		return nil, nil, err
	}
	sync = func(path string) error { return t.Sync(ctx, localsync.Options{Path: path}) }
	return sync, func() { t.Close(ctx); m.Close(ctx) }, nil
}

// Summarize counts what the latest sync of a c1z holds per resource type,
// reading it without holding it (Load holds it all, for queries);
// CountTable is the table the explorer prints. This is the first look
// after a sync: did it find the users and groups it should?
func ExampleSummarize() {
	ctx := context.Background()
	api := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(20)), segmentsim.Options{}))
	defer api.Close()
	sync, done, err := syncer(ctx, api.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()

	dir, err := os.MkdirTemp("", "inspect-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "acme.c1z")
	if err := sync(file); err != nil {
		fmt.Println(err)
		return
	}

	sum, err := inspect.Summarize(ctx, file, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range sum.Types {
		if c.ResourceType == "user" {
			fmt.Println("users:", c.Resources)
		}
	}
	if err := sum.CountTable().Write(os.Stdout, "table"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// users: 20
	// resource_type  resources  entitlements  grants
	// function       10         20            24
	// group          3          3             23
	// invite         2          0             0
	// role           18         18            36
	// source         3          7             44
	// space          2          10            12
	// user           20         0             0
	// warehouse      2          4             1
	// workspace      1          1             20
	// total          61         63            160
}

// Diff compares two syncs of the same tenant: who gained or lost what
// in between, the question an access review asks. Here a user is added to
// a group in Segment between the two syncs.
func ExampleDiff() {
	ctx := context.Background()
	ws := segmentsim.Generate(segmentsim.DefaultConfig(20))
	group := ws.Groups[0]
	newcomer := ws.Users[slices.IndexFunc(ws.Users, func(u *segmentsim.User) bool { return !slices.Contains(group.MemberIDs, u.ID) })]
	api := httptest.NewServer(segmentsim.NewServer(ws, segmentsim.Options{}))
	defer api.Close()
	sync, done, err := syncer(ctx, api.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()

	dir, err := os.MkdirTemp("", "inspect-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	before, after := filepath.Join(dir, "monday.c1z"), filepath.Join(dir, "tuesday.c1z")
	if err := sync(before); err != nil {
		fmt.Println(err)
		return
	}
	// Someone adds the user to the group in Segment.
	req, err := http.NewRequest("POST", api.URL+"/groups/"+group.ID+"/users", strings.NewReader(`{"emails":["`+newcomer.Email+`"]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+segmentsim.DefaultToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Println("adding the member:", resp.Status)
		return
	}
	if err := sync(after); err != nil {
		fmt.Println(err)
		return
	}

	old, err := inspect.Load(ctx, before, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	cur, err := inspect.Load(ctx, after, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, row := range inspect.Diff(old, cur).Rows { // change, kind, id, name, via
		if row[4] != "" {
			row[3] += " (via " + row[4] + ")"
		}
		fmt.Println(row[0], row[1]+":", row[3])
	}
	// Output:
	// added grant: Ivan Varga → Member of Data Engineering
	// added grant: Ivan Varga → Warehouse Destination Read-only (via group:GoGFg7qAQAJhHjttvZwukQ:member)
	// added grant: Ivan Varga → Source Admin on Checkout (prod) (via group:GoGFg7qAQAJhHjttvZwukQ:member)
	// added grant: Ivan Varga → Source Admin on Backend (dev) (via group:GoGFg7qAQAJhHjttvZwukQ:member)
}
