package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/urfave/cli/v2"

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
		),
		Action: func(c *cli.Context) error {
			url, stop, err := startSim(c, c.String("addr"), c.String("token"))
			if err != nil {
				return err
			}
			defer stop()
			fmt.Fprintf(os.Stderr, "Segment simulator on %s (token %q)\ntry: baton-runner sync --base-url %s --token %s\n",
				url, c.String("token"), url, c.String("token"))
			<-c.Context.Done()
			return nil
		},
	}
}

// startSim serves a generated workspace on addr and returns its base URL.
func startSim(c *cli.Context, addr, token string) (string, func(), error) {
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
	return "http://" + lis.Addr().String(), stop, nil
}
