package batondemo_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"go.uber.org/zap/zaptest"

	"github.com/baton-runner/baton-runner/examples/baton-demo/demoapi"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// TestSandboxedRevealedSecret: the connector validates both its
// credentials whether the API key is revealed to it or not, and the API
// accepts the key both ways. Revealed, the guest sends the value itself:
// the host substitutes nothing in the roles requests. Not revealed, it
// sends the placeholder, which the host substitutes. The client secret,
// never revealed, is substituted in the token request either way.
func TestSandboxedRevealedSecret(t *testing.T) {
	ctx := context.Background()
	api := startAPI(t, func(*demoapi.Options) {})
	wasm, err := wasmbuild.Read(guestPkg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm, CacheDir: wasmbuild.CacheDir, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(ctx) })
	roots, err := egress.LoadCABundle(api.caFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := api.ts.Listener.Addr().String()

	for _, tc := range []struct {
		name     string
		revealed []string
		roles    int // substitutions in each roles request
	}{
		{"placeholder", nil, 1},
		{"revealed", []string{"api-key"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			substituted := map[string][]int{} // path: Record.Secrets of each request
			tn, err := tenant.New(m, tenant.Config{Name: "demo",
				Egress: egress.Config{Audit: func(r egress.Record) {
					mu.Lock()
					defer mu.Unlock()
					substituted[r.Path] = append(substituted[r.Path], r.Secrets)
				}},
				Origins: []tenant.Origin{
					{URL: "https://" + demoapi.DefaultAPIHost, ConnectTo: addr, RootCAs: roots},
					{URL: "https://" + demoapi.DefaultAuthHost, ConnectTo: addr, RootCAs: roots},
				},
				Settings: map[string]string{"demo-client-id": demoapi.DefaultClientID},
				Secrets: map[string]secret.Secret{
					"demo-client-secret": secret.New(demoapi.DefaultClientSecret),
					"api-key":            secret.New(demoapi.DefaultAPIKey),
				},
				Revealed: tc.revealed,
				Logger:   zaptest.NewLogger(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer tn.Close(ctx)
			cc, err := tn.Client(ctx, tenant.ClientOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			if _, err := cc.Validate(ctx, v2.ConnectorServiceValidateRequest_builder{}.Build()); err != nil {
				t.Fatalf("validate: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			var roles int
			for path, counts := range substituted {
				for _, n := range counts {
					switch {
					case path == "/oauth/token" && n != 1:
						t.Errorf("the token request had %d substitutions, want the client secret's", n)
					case strings.HasPrefix(path, "/v1/roles"):
						roles++
						if n != tc.roles {
							t.Errorf("a request of %s had %d substitutions, want %d", path, n, tc.roles)
						}
					}
				}
			}
			if roles == 0 || len(substituted["/oauth/token"]) == 0 {
				t.Errorf("validate made no token or roles request: %v", substituted)
			}
		})
	}
}
