package demoapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/baton-runner/baton-runner/examples/baton-demo/demoapi"
)

// A client gets a token from the auth host, then lists the API host's
// users with it; the server counts both requests.
func Example() {
	api := demoapi.New(demoapi.Options{Seed: 1, Users: 3})
	ts := httptest.NewServer(api)
	defer ts.Close()

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {demoapi.DefaultClientID}, "client_secret": {demoapi.DefaultClientSecret}}
	req, _ := http.NewRequest("POST", ts.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Host = demoapi.DefaultAuthHost
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("token:", resp.Status)

	req, _ = http.NewRequest("GET", ts.URL+"/v1/users", nil)
	req.Host = demoapi.DefaultAPIHost
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("users without the token:", resp.Status)
	fmt.Println(api.Requests("/oauth/token"), api.Requests("/v1/users"), len(api.Users()))
	// Output:
	// token: 200 OK
	// users without the token: 401 Unauthorized
	// 1 1 3
}
