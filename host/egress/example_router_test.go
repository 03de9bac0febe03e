package egress_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/secret"
)

// A baton-sdk guest's tenant has a Client per allowed origin behind a
// Router. The guest authenticates itself with the placeholder it was
// given for its secret field; the host puts the value in its place only
// in a request bound for an allowed origin, and refuses any other origin.
func ExampleRouter() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("API: got the real key:", r.Header.Get("X-Api-Key") == "k-123")
	}))
	defer api.Close()

	placeholder := abi.SecretPlaceholder("api_key") // what the guest's configuration holds
	c, err := egress.New(egress.Config{
		BaseURL:          api.URL,
		GuestCredentials: true,
		Secrets:          []egress.Placeholder{{Text: placeholder, Value: secret.New("k-123")}},
		Audit: func(r egress.Record) {
			fmt.Printf("audit: %s substituted=%d denied=%t\n", r.Path, r.Secrets, r.Denied != "")
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := egress.NewRouter(c)
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	auth := map[string][]string{"X-Api-Key": {placeholder}}
	resp := r.Do(ctx, abi.HTTPRequest{Origin: api.URL, Method: http.MethodGet, Path: "/users", Headers: auth})
	fmt.Println(resp.Status)
	resp = r.Do(ctx, abi.HTTPRequest{Origin: "https://collector.example", Method: http.MethodGet, Path: "/steal", Headers: auth})
	fmt.Println(resp.Error.Code)
	// Output:
	// API: got the real key: true
	// audit: /users substituted=1 denied=false
	// 200
	// audit: /steal substituted=0 denied=true
	// egress_denied
}
