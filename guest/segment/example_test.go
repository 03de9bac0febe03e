//go:build !wasip1

// The example serves the simulator over real HTTP, so it needs sockets,
// as sim_test.go does.

package segment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/guest/segment"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// egressHTTP lends the connector the host's egress client (origin
// checks, the token, retries) as its guest.HTTP, as the sandbox's
// baton_http host function does.
type egressHTTP struct{ c *egress.Client }

func (h egressHTTP) Do(ctx context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	resp := h.c.Do(ctx, req)
	if resp.Error != nil {
		return abi.HTTPResponse{}, resp.Error
	}
	return resp, nil
}

// The Segment connector is plain Go: it builds and runs natively, outside
// the sandbox, exactly as bin/segment.wasm runs it. Dispatch takes an
// export's JSON input and returns its result envelope; here it lists the
// first page of users of the Segment simulator. This is how to debug the
// connector's logic against an API without building the guest.
func Example() {
	ctx := context.Background()
	api := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(150)), segmentsim.Options{}))
	defer api.Close()
	hc, err := egress.New(egress.Config{BaseURL: api.URL, Token: secret.New(segmentsim.DefaultToken)})
	if err != nil {
		fmt.Println(err)
		return
	}

	conn := segment.New()
	fmt.Print("resource types:")
	for _, rt := range conn.Metadata().ResourceTypes {
		fmt.Print(" ", rt.ID)
	}
	fmt.Println()

	env := guest.Env{HTTP: egressHTTP{hc}, Log: func(guest.LogLevel, string) {}}
	out, err := guest.Dispatch(ctx, conn, env, abi.ExportListResources, []byte(`{"resourceType":"user"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	var page abi.Result[abi.ResourcePage]
	if err := json.Unmarshal(out, &page); err != nil {
		fmt.Println(err)
		return
	}
	if page.Error != nil {
		fmt.Println(page.Error)
		return
	}
	fmt.Println("users on the first page:", len(page.OK.Resources))
	fmt.Println("first:", page.OK.Resources[0].DisplayName)
	fmt.Println("more pages:", page.OK.NextPageToken != "")
	// Output:
	// resource types: workspace user invite group role source warehouse space function
	// users on the first page: 100
	// first: Sam Lopez
	// more pages: true
}
