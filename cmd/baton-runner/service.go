package main

import (
	"context"
	"errors"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/membudget"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/service"
)

// serviceFlags are ConductorOne's service-mode settings, with the
// environment names of ConductorOne's connector images.
func serviceFlags() []cli.Flag {
	return concat([]cli.Flag{
		&cli.StringFlag{Name: "client-id", Usage: "ConductorOne client ID (service mode)", EnvVars: []string{"BATON_CLIENT_ID"}},
		&cli.StringFlag{Name: "client-secret", Usage: "ConductorOne client secret (service mode)", EnvVars: []string{"BATON_CLIENT_SECRET"}},
		&cli.BoolFlag{Name: "provisioning", Aliases: []string{"p"}, Usage: "let ConductorOne grant and revoke access", EnvVars: []string{"BATON_PROVISIONING"}},
		&cli.IntFlag{Name: "task-concurrency", Value: 3, Usage: "tasks processed at once", EnvVars: []string{"BATON_TASK_CONCURRENCY"}},
		&cli.StringFlag{Name: "c1z-temp-dir", Usage: "directory for c1z files being built and uploaded (default: system temp dir)", EnvVars: []string{"BATON_C1Z_TEMP_DIR"}},
		&cli.IntFlag{Name: "health-port", Usage: "serve /healthz and /readyz on this port, every interface (0: off; baton-sdk's spelling is --health-check)", EnvVars: []string{"BATON_HEALTH_PORT"}},
		&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, Usage: "on SIGTERM, how long tasks in flight may finish before they are cancelled", EnvVars: []string{"BATON_SHUTDOWN_TIMEOUT"}},
		processMemoryFlag(),
	}, healthCheckFlags())
}

func serviceCommand() *cli.Command {
	return &cli.Command{
		Name:   "service",
		Usage:  "run in ConductorOne service mode: take sync, grant and revoke tasks and upload the results",
		Flags:  concat(tenantFlags(), serviceFlags(), []cli.Flag{storageEngineFlag()}, runtimeFlags(), limitFlags(), logFlags()),
		Action: runService,
	}
}

func runService(c *cli.Context) error {
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	ctx := c.Context
	limits, err := syncLimits(c)
	if err != nil {
		return err
	}
	engine, err := storageEngine(c)
	if err != nil {
		return err
	}
	budgetMiB, err := processMemory(c, nil)
	if err != nil {
		return err
	}
	limitGoMemory(budgetMiB, logger)
	t, _, closeTenant, err := openTenant(ctx, c, logger, c.String("token"), c.String("base-url"), limits, nil)
	if err != nil {
		return err
	}
	defer closeTenant()

	svc := service.New(service.Config{
		ClientID:        c.String("client-id"),
		ClientSecret:    secret.New(c.String("client-secret")),
		Provisioning:    c.Bool("provisioning"),
		TaskConcurrency: c.Int("task-concurrency"),
		TempDir:         c.String("c1z-temp-dir"),
		ShutdownTimeout: c.Duration("shutdown-timeout"),
		StorageEngine:   engine,
		Admit:           admitByBudget(budgetMiB, logger),
		Logger:          logger,
	})
	if addr := healthAddr(c); addr != "" {
		ready := func() (bool, string) {
			if !svc.Ready() {
				return false, "not connected to ConductorOne yet"
			}
			return true, "ready"
		}
		stop, err := serveOps(addr, opsEndpoints{name: "health", setting: "set --health-check-port or --health-port", ready: ready}, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	err = svc.Run(ctx, t)
	if err != nil && !errors.Is(err, service.ErrCredentials) {
		return explain("service", err)
	}
	return err
}

// serviceMemorySetting is what an operator raises when a sync task cannot
// fit in service's memory budget, as its error names it.
const serviceMemorySetting = "--process-memory-mib (BATON_PROCESS_MEMORY_MIB)"

// admitByBudget admits sync tasks into a process memory budget of
// budgetMiB (nil, admitting every task at once, without one): a task
// reserves the peak of the last sync task that ran alone, the first
// membudget.DefaultSyncPeakMiB.
func admitByBudget(budgetMiB int, logger *zap.Logger) func(ctx context.Context) (func(ok bool), error) {
	if budgetMiB <= 0 {
		return nil
	}
	b := membudget.New(membudget.Config{Setting: serviceMemorySetting, OnEstimate: func(_ string, peak int64) {
		logger.Info("sync task measured", zap.Int64("sync_peak_mib", membudget.MiB(peak)))
	}})
	b.SetLimit(int64(budgetMiB) << 20)
	return func(ctx context.Context) (func(ok bool), error) {
		// One tenant: its syncs are the process's, under no name.
		t, err := b.Acquire(ctx, "", func() { logger.Info("sync task waiting for the process memory budget") })
		if err != nil {
			return nil, err
		}
		return t.Release, nil
	}
}
