// Command demo-api serves the demo connector's API (examples/baton-demo/
// demoapi) over TLS, for trying the connector by hand: natively, or in
// the sandbox with the host's connect-to overrides sending api.demo.test
// and auth.demo.test to this listener. The certificate is signed by a CA
// made at start, whose PEM it writes to --ca-file for the client to trust.
//
//	go run ./examples/baton-demo/cmd/demo-api --addr 127.0.0.1:8443 --ca-file demo-ca.pem
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/baton-runner/baton-runner/examples/baton-demo/demoapi"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo-api:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8443", "address to listen on")
	caFile := flag.String("ca-file", "demo-api-ca.pem", "where to write the PEM of the CA that signed the server's certificate")
	var opts demoapi.Options
	flag.Uint64Var(&opts.Seed, "seed", 0, "seed of the organisation's names, memberships and role assignments")
	flag.IntVar(&opts.Users, "users", demoapi.DefaultUsers, "users")
	flag.IntVar(&opts.Groups, "groups", demoapi.DefaultGroups, "groups")
	flag.IntVar(&opts.Roles, "roles", demoapi.DefaultRoles, "roles")
	flag.StringVar(&opts.APIHost, "api-host", demoapi.DefaultAPIHost, "the host the API answers for (127.0.0.1 to reach it natively without a resolver entry)")
	flag.StringVar(&opts.AuthHost, "auth-host", demoapi.DefaultAuthHost, "the host the token endpoint answers for (localhost, natively)")
	flag.Parse()

	certs, err := demoapi.NewCerts()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*caFile, certs.CAPEM, 0o644); err != nil {
		return fmt.Errorf("writing the CA certificate: %w (choose another --ca-file)", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("%w (choose another --addr)", err)
	}
	srv := &http.Server{Handler: demoapi.New(opts), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("demo API on https://%s for %s (API) and %s (tokens), CA in %s\n",
		ln.Addr(), opts.APIHost, opts.AuthHost, *caFile)
	fmt.Printf("credentials: --demo-client-id %s --demo-client-secret %s --api-key %s\n",
		demoapi.DefaultClientID, demoapi.DefaultClientSecret, demoapi.DefaultAPIKey)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(ln, certs.ServerConfig())) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
