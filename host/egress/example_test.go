package egress_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/secret"
)

// An embedder builds one Client per tenant: the API origin, its token and
// an audit sink. Requests the guest names by path reach that origin with
// the token added; anything naming another host is refused before the
// network, and every request leaves an audit Record without the token.
func ExampleClient_Do() {
	const token = "sk-example-token"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("API: Authorization is the token:", r.Header.Get("Authorization") == "Bearer "+token)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":{"users":[]}}`)
	}))
	defer api.Close()

	var audit []egress.Record // Do calls Audit before it returns
	c, err := egress.New(egress.Config{
		BaseURL: api.URL, // http is allowed only for a loopback simulator
		Token:   secret.New(token),
		Audit:   func(r egress.Record) { audit = append(audit, r) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	for _, path := range []string{
		"/v1/users?pagination.count=200",
		"http://169.254.169.254/latest/meta-data/", // a guest may name only a path
		"//169.254.169.254/latest/meta-data/",
	} {
		resp := c.Do(ctx, abi.HTTPRequest{Method: http.MethodGet, Path: path})
		if resp.Error != nil {
			fmt.Println(resp.Error.Code+":", resp.Error.Message)
			continue
		}
		fmt.Println(resp.Status, string(resp.Body))
	}

	for _, r := range audit { // paths without the query, which may hold personal data
		leaks := strings.Contains(fmt.Sprintf("%+v", r), token)
		fmt.Printf("audit: %s %s status=%d denied=%t holds token=%t\n", r.Method, r.Path, r.Status, r.Denied != "", leaks)
	}
	// Output:
	// API: Authorization is the token: true
	// 200 {"data":{"users":[]}}
	// egress_denied: egress denied: path must start with "/" (the guest names only a path on the API origin, never a scheme or host)
	// egress_denied: egress denied: path must not start with "//" (that names another host)
	// audit: GET /v1/users status=200 denied=false holds token=false
	// audit: GET http://169.254.169.254/latest/meta-data/ status=0 denied=true holds token=false
	// audit: GET //169.254.169.254/latest/meta-data/ status=0 denied=true holds token=false
}

// Configuration loaders check a base URL before building a client; the
// refusal says what is wrong and how to fix it, and never echoes a path or
// query, where a pasted credential could sit.
func ExampleCheckBaseURL() {
	for _, u := range []string{
		"https://api.segmentapis.com",
		"http://api.segmentapis.com",
		"https://api.segmentapis.com/v1?token=sk-pasted-here",
	} {
		err := egress.CheckBaseURL(u)
		var bad *egress.BaseURLError
		if errors.As(err, &bad) {
			fmt.Println(bad.Shown, "->", bad.Problem)
			continue
		}
		fmt.Println(u, "->", err)
	}
	// Output:
	// https://api.segmentapis.com -> <nil>
	// http://api.segmentapis.com -> uses plain http, which is allowed only for a loopback host (127.0.0.1, ::1, localhost); use https://api.segmentapis.com
	// https://api.segmentapis.com/…?… -> has a path; give only scheme://host[:port], the connector supplies every path
}
