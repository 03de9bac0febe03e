//go:build wasip1

package batonsdk

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"os"

	"github.com/conductorone/baton-sdk/pkg/field"
	"github.com/extism/go-pdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/guest/batonsdk/internal/hostproxy"
	"github.com/baton-runner/baton-runner/guest/wasmenv"
)

var registered *Server

// The connector's HTTP clients reach the host through the in-guest proxy
// (see package hostproxy). This runs before the connector's packages use
// the network: net/http reads the proxy variables once, on first use, and
// crypto/x509 its roots. A wasip1 guest has no system roots, so the
// fallback roots, the proxy's CA alone, are the ones it trusts.
func init() {
	host := wasmenv.Env().HTTP
	p, err := hostproxy.Listen("127.0.0.1:0", func(reqs []abi.HTTPRequest) []abi.HTTPResponse {
		return guest.DoAll(context.Background(), host, reqs)
	})
	if err != nil {
		panic(err) // the in-process network is the runtime's: cannot fail
	}
	for _, v := range []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"} {
		_ = os.Setenv(v, p.URL())
	}
	_ = os.Unsetenv("NO_PROXY")
	_ = os.Unsetenv("no_proxy")
	// uhttp keeps GET answers for an hour in a cache per process, which
	// baton-sdk clears when a sync ends; here a process is one of the
	// tenant's instances, and that call reaches only one of them, so the
	// others would answer the next sync from pages older than the
	// change it is to see.
	_ = os.Setenv("BATON_DISABLE_HTTP_CACHE", "true")
	x509.SetFallbackRoots(p.Roots())
	go func() { _ = p.Serve() }()
}

// Register makes the connector build builds the one this module serves.
// Call it from an init function of the wasip1 main package.
func Register[T field.Configurable, C any](name string, schema field.Configuration, build Builder[T, C]) {
	registered = New(name, schema, build)
}

//go:wasmexport baton_grpc
func exportGRPC() int32 {
	if registered == nil {
		pdk.SetError(errNotRegistered)
		return 1
	}
	out, err := registered.Handle(context.Background(), pdk.Input())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	pdk.Output(out)
	return 0
}

//go:wasmexport baton_sdk_schema
func exportSchema() int32 {
	if registered == nil {
		pdk.SetError(errNotRegistered)
		return 1
	}
	out, err := json.Marshal(registered.Schema())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	pdk.Output(out)
	return 0
}
