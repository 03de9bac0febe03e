package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/internal/localca"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// simFlags shape the generated workspace; defaultUsers sets its size.
func simFlags(defaultUsers int) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "users", Value: defaultUsers, Usage: "users in the generated workspace (groups, sources… scale with it)", EnvVars: []string{"BATON_SIM_USERS"}},
		&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of the generated workspace (same seed, same data)", EnvVars: []string{"BATON_SIM_SEED"}},
		&cli.DurationFlag{Name: "latency", Usage: "latency added to every request", EnvVars: []string{"BATON_SIM_LATENCY"}},
		&cli.IntFlag{Name: "read-limit", Usage: "read requests per minute per token before 429 (0: unlimited)", EnvVars: []string{"BATON_SIM_READ_LIMIT"}},
		&cli.IntFlag{Name: "write-limit", Usage: "IAM write requests per minute per token before 429 (0: Segment's 60)", EnvVars: []string{"BATON_SIM_WRITE_LIMIT"}},
		&cli.Float64Flag{Name: "failure-rate", Usage: "fraction of requests answered with a random 5xx", EnvVars: []string{"BATON_SIM_FAILURE_RATE"}},
		&cli.BoolFlag{Name: "no-spaces", Usage: "workspace without the Spaces feature", EnvVars: []string{"BATON_SIM_NO_SPACES"}},
		&cli.BoolFlag{Name: "no-functions", Usage: "workspace without the Functions feature", EnvVars: []string{"BATON_SIM_NO_FUNCTIONS"}},
	}
}

func simCommand() *cli.Command {
	return &cli.Command{
		Name:  "sim",
		Usage: "serve the bundled Segment Public API simulator",
		Flags: append(simFlags(1000),
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8765", Usage: "listen address", EnvVars: []string{"BATON_SIM_ADDR"}},
			&cli.StringFlag{Name: "token", Value: segmentsim.DefaultToken, Usage: "bearer token the simulator accepts", EnvVars: []string{"BATON_SIM_TOKEN"}},
			&cli.StringFlag{Name: "tls-dir", Usage: "serve HTTPS as " + segmentHost + " (and localhost, 127.0.0.1) with a certificate from a CA made at start, whose PEM goes to DIR/ca.pem: " +
				"for connectors that hard-code Segment's origin, reached through --connect-to and --ca-file", EnvVars: []string{"BATON_SIM_TLS_DIR"}},
		),
		Action: func(c *cli.Context) error {
			var tlsConf *tls.Config
			var caFile string
			if dir := c.String("tls-dir"); dir != "" {
				var err error
				if tlsConf, caFile, err = simTLS(dir); err != nil {
					return err
				}
			}
			url, stop, err := startSim(c, c.String("addr"), c.String("token"), tlsConf)
			if err != nil {
				return err
			}
			defer stop()
			if tlsConf == nil {
				fmt.Fprintf(os.Stderr, "Segment simulator on %s (token %q)\ntry: baton-runner sync --base-url %s --token %s\n",
					url, c.String("token"), url, c.String("token"))
			} else {
				addr := strings.TrimPrefix(url, "https://")
				fmt.Fprintf(os.Stderr, "Segment simulator on %s as https://%s (token %q), CA in %s\n"+
					"try: baton-runner sync --module baton-segment.wasm --token %s --allow-origin https://%s --connect-to %s:443:%s --ca-file %s\n",
					url, segmentHost, c.String("token"), caFile, c.String("token"), segmentHost, segmentHost, addr, caFile)
			}
			<-c.Context.Done()
			return nil
		},
	}
}

// segmentHost is the host of Segment's US API, which connectors that take
// no base URL hard-code.
const segmentHost = "api.segmentapis.com"

// simTLS makes a CA and a server certificate it signed for segmentHost and
// the loopback names, valid for a day, writes the CA's PEM to dir/ca.pem for
// clients to trust, and returns the listener's configuration and that path.
// The CA's key never leaves memory, so the file lets a client trust this
// simulator run and nothing else.
func simTLS(dir string) (*tls.Config, string, error) {
	ca, err := localca.New("baton-runner sim CA")
	if err != nil {
		return nil, "", fmt.Errorf("simulator: %w", err)
	}
	leaf, err := ca.Server(segmentHost, "localhost", "127.0.0.1")
	if err != nil {
		return nil, "", fmt.Errorf("simulator: %w", err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("--tls-dir: %w (pick a directory you can write)", err)
	}
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		return nil, "", fmt.Errorf("--tls-dir: writing the CA: %w (pick a directory you can write)", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{leaf},
		MinVersion:   tls.VersionTLS12,
	}, caFile, nil
}

// startSim serves a generated workspace on addr, over TLS when tlsConf is
// set, and returns its base URL.
func startSim(c *cli.Context, addr, token string, tlsConf *tls.Config) (string, func(), error) {
	cfg := segmentsim.DefaultConfig(c.Int("users"))
	cfg.Seed = c.Int64("seed")
	cfg.Token = token
	cfg.SpacesEnabled = !c.Bool("no-spaces")
	cfg.FunctionsEnabled = !c.Bool("no-functions")
	srv := segmentsim.NewServer(segmentsim.Generate(cfg), segmentsim.Options{
		Latency:             c.Duration("latency"),
		ReadLimitPerMinute:  c.Int("read-limit"),
		WriteLimitPerMinute: c.Int("write-limit"),
		FailureRate:         c.Float64("failure-rate"),
		FailureSeed:         cfg.Seed,
	})
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("simulator cannot listen on %s: %w (pick another --addr)", addr, err)
	}
	scheme := "http"
	if tlsConf != nil {
		lis, scheme = tls.NewListener(lis, tlsConf), "https"
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "simulator: %v\n", err)
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}
	return scheme + "://" + lis.Addr().String(), stop, nil
}
