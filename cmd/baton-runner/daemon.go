package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/membudget"
	"github.com/baton-runner/baton-runner/host/runner"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/segmentids"
)

func configFlag(required bool) cli.Flag {
	return &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Required: required, Usage: "runner.toml describing the tenants", EnvVars: []string{"BATON_CONFIG"}}
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run every tenant of runner.toml in one process; SIGHUP reloads the file",
		Flags: concat([]cli.Flag{
			configFlag(true),
			&cli.IntFlag{Name: "shard-index", Value: -1, Usage: "this process's shard (default: the StatefulSet pod ordinal from HOSTNAME; required with --shard-count > 1 elsewhere)", EnvVars: []string{"BATON_SHARD_INDEX"}},
			&cli.IntFlag{Name: "shard-count", Value: 1, Usage: "number of shards tenants are spread over", EnvVars: []string{"BATON_SHARD_COUNT"}},
			&cli.DurationFlag{Name: "restart-backoff", Value: 5 * time.Second, Usage: "first wait before a failed tenant restarts; it doubles while failures continue, up to 5m", EnvVars: []string{"BATON_RESTART_BACKOFF"}},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, Usage: "on SIGTERM, how long service-mode tasks in flight may finish before they are cancelled", EnvVars: []string{"BATON_SHUTDOWN_TIMEOUT"}},
			&cli.DurationFlag{Name: "watch-secrets", Value: 30 * time.Second, Usage: "how often the files of file: secret references are read; a change reloads the configuration as SIGHUP does (0: only SIGHUP)", EnvVars: []string{"BATON_WATCH_SECRETS"}},
			processMemoryFlag(),
		}, logFlags()),
		Action: runServe,
	}
}

// processMemoryFlag is the process's memory budget, serve's and
// service's. It is not --memory-limit-mib ([runtime] memory_limit_mib),
// which caps each guest instance and means that in every command.
func processMemoryFlag() cli.Flag {
	return &cli.IntFlag{Name: "process-memory-mib", Usage: fmt.Sprintf("memory budget of the whole process, MiB: a sync (serve's scheduled syncs, service mode's sync tasks) starts only once its estimated peak fits beside those running; "+
		"the Go runtime's soft limit is %d MiB less (serve's default: runner.toml's [runtime] process_memory_mib; 0: none)", membudget.HeadroomMiB), EnvVars: []string{"BATON_PROCESS_MEMORY_MIB"}}
}

// processMemory returns the budget the process runs with: the flag's, if
// given, else serve's runner.toml's (cfg; nil for service: none).
func processMemory(c *cli.Context, cfg *config.Config) (int, error) {
	if !c.IsSet("process-memory-mib") {
		if cfg == nil {
			return 0, nil
		}
		return cfg.Runtime.ProcessMemoryMiB, nil
	}
	n := c.Int("process-memory-mib")
	if n != 0 && (n < config.MinProcessMemoryMiB || n > config.MaxProcessMemoryMiB) {
		return 0, fmt.Errorf("--process-memory-mib (BATON_PROCESS_MEMORY_MIB) must be 0 (no budget) or between %d and %d, not %d",
			config.MinProcessMemoryMiB, config.MaxProcessMemoryMiB, n)
	}
	return n, nil
}

// applyMemoryBudget sets spec's budget and the Go runtime's limit from it.
func applyMemoryBudget(c *cli.Context, cfg *config.Config, spec *runner.Spec, logger *zap.Logger) error {
	n, err := processMemory(c, cfg)
	if err != nil {
		return err
	}
	spec.ProcessMemoryMiB = n
	limitGoMemory(n, logger)
	return nil
}

// limitGoMemory sets the Go runtime's soft memory limit from a process
// memory budget of n MiB (0: none).
func limitGoMemory(n int, logger *zap.Logger) {
	if n > 0 {
		logger.Info("process memory budget", zap.Int("budget_mib", n), zap.Int64("go_memory_limit_mib", membudget.SetGoMemoryLimit(n)>>20))
	} else {
		membudget.SetGoMemoryLimit(0)
	}
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:        "config",
		Usage:       "work with runner.toml",
		Subcommands: []*cli.Command{configCheckCommand()},
	}
}

// specFromConfig turns a validated configuration into what the runner
// runs: it resolves secret references and loads (and checks the pins of)
// the modules. Errors name the tenant, key and reference, never a value.
func specFromConfig(cfg *config.Config) (runner.Spec, error) {
	return buildSpec(cfg, true)
}

// buildSpec is specFromConfig; without requireSecrets, a secret that does
// not resolve here is left empty rather than an error (config check
// reports it apart).
func buildSpec(cfg *config.Config, requireSecrets bool) (runner.Spec, error) {
	spec := runner.Spec{
		Runtime: runner.Runtime{
			CacheDir: cfg.Runtime.CacheDir, MemoryLimitMiB: cfg.Runtime.MemoryLimitMiB, CallTimeout: cfg.Runtime.CallTimeout,
		},
		MaxConcurrentSyncs: cfg.Runtime.MaxConcurrentSyncs,
		ProcessMemoryMiB:   cfg.Runtime.ProcessMemoryMiB,
	}
	var errs []error
	if err := cfg.CheckSecrets(); err != nil && requireSecrets {
		errs = append(errs, err)
	}
	for _, c := range cfg.Connectors {
		wasm, err := loadConnector(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: connector %s: %w", cfg.Path, c.Name, err))
			continue
		}
		spec.Modules = append(spec.Modules, runner.Module{Name: c.Name, Wasm: wasm})
	}
	schemas := moduleSchemas(context.Background(), spec)
	if err := cfg.CheckSchemas(schemas); err != nil {
		errs = append(errs, err)
	}
	for i, t := range cfg.Tenants {
		ts := runner.TenantSpec{
			Name: t.Name, Module: t.Connector, BaseURL: t.BaseURL, RequestsPerMinute: t.RequestsPerMinute,
			Limits: t.Limits, Instances: cfg.Runtime.InstancesPerTenant, Provisioning: t.Provisioning,
			StorageEngine: cfg.Runtime.StorageEngine,
		}
		if cfg.Connectors[t.Connector].Kind == config.KindBatonSDK {
			if err := batonSDKTenant(cfg, i, schemas[t.Connector], &ts); err != nil {
				errs = append(errs, err)
			}
		} else {
			if t.EntitlementIDs != segmentids.RoleID {
				ts.Settings = map[string]string{segmentids.Setting: t.EntitlementIDs}
			}
			token, err := t.Token.Resolve()
			if err != nil && requireSecrets {
				continue // reported by CheckSecrets
			}
			ts.Token = secret.New(token)
		}
		switch t.Mode {
		case config.ModeSync:
			ts.Mode, ts.Interval, ts.Output = runner.ModeSync, t.Sync.Interval, t.Sync.Output
		case config.ModeService:
			ts.Mode = runner.ModeService
			id, err1 := t.Service.ClientID.Resolve()
			clientSecret, err2 := t.Service.ClientSecret.Resolve()
			if (err1 != nil || err2 != nil) && requireSecrets {
				continue // reported by CheckSecrets
			}
			ts.ClientID, ts.ClientSecret = id, secret.New(clientSecret)
		}
		spec.Tenants = append(spec.Tenants, ts)
	}
	return spec, errors.Join(errs...)
}

// loadConnector reads a connector's module and checks its pin.
func loadConnector(c config.Connector) ([]byte, error) {
	var wasm []byte
	var err error
	if name, ok := c.Embedded(); ok {
		wasm, err = fs.ReadFile(guests, "guests/"+name+".wasm")
		if err != nil {
			return nil, fmt.Errorf("this binary embeds no module %q (build with `make build`, or give a path)", name)
		}
	} else if wasm, err = os.ReadFile(c.Wasm); err != nil {
		return nil, err
	}
	if c.SHA256 != "" {
		sum := sha256.Sum256(wasm)
		if got := hex.EncodeToString(sum[:]); got != c.SHA256 {
			return nil, fmt.Errorf("module %s has sha256 %s but the configuration pins %s; refusing to run it", c.Wasm, got, c.SHA256)
		}
	}
	return wasm, nil
}

// shardIndex is --shard-index, or else (with more than one shard) the
// ordinal of a StatefulSet pod, HOSTNAME "name-N". Without either it is an
// error rather than shard 0: every such pod would take shard 0, run the
// same tenants, and provision one principal from two processes at once.
func shardIndex(c *cli.Context) (int, error) {
	idx, count := c.Int("shard-index"), c.Int("shard-count")
	if count < 1 {
		return 0, fmt.Errorf("--shard-count must be at least 1, not %d", count)
	}
	if idx < 0 {
		idx = 0
		if count > 1 {
			host := os.Getenv("HOSTNAME")
			n, ok := podOrdinal(host)
			if !ok {
				return 0, fmt.Errorf("--shard-count %d needs this process's shard: HOSTNAME %q is not a StatefulSet pod name <name>-<ordinal>; "+
					"pass --shard-index (BATON_SHARD_INDEX) to each process", count, host)
			}
			idx = n
		}
	}
	if idx >= count {
		return 0, fmt.Errorf("shard index %d is not below --shard-count %d", idx, count)
	}
	return idx, nil
}

// podOrdinal returns N of a StatefulSet pod's host name "name-N".
func podOrdinal(host string) (int, bool) {
	i := strings.LastIndexByte(host, '-')
	if i <= 0 || i == len(host)-1 {
		return 0, false
	}
	digits := host[i+1:]
	if strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

func runServe(c *cli.Context) error {
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	idx, err := shardIndex(c)
	if err != nil {
		return err
	}
	path := c.String("config")
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	spec, err := specFromConfig(cfg)
	if err != nil {
		return err
	}
	if err := applyMemoryBudget(c, cfg, &spec, logger); err != nil {
		return err
	}
	metrics := runner.NewMetrics()
	grace := c.Duration("shutdown-timeout")
	r := runner.New(runner.Options{Logger: logger, Metrics: metrics, ShardIndex: idx, ShardCount: c.Int("shard-count"), ShutdownTimeout: grace,
		RestartBackoff: c.Duration("restart-backoff")})
	var started atomic.Bool // set once every tenant has started
	if cfg.Runtime.Listen != "" {
		ready := func() (bool, string) { return readiness(started.Load, r) }
		stop, err := serveOps(cfg.Runtime.Listen, opsEndpoints{
			name: "health and metrics", setting: "runtime.listen", ready: ready,
			more: map[string]http.Handler{"/status": statusHandler(r), "/metrics": metrics.Handler()},
		}, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	ctx := c.Context
	if err := r.Apply(ctx, spec); err != nil {
		return err
	}
	started.Store(true)
	logger.Info("serving tenants", zap.Strings("tenants", r.Tenants()), zap.Int("shard", idx), zap.Int("shards", c.Int("shard-count")))

	// Reloads run beside the wait for SIGTERM: a reload may wait for
	// changed tenants to stop, and shutdown must not wait behind it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if every := c.Duration("watch-secrets"); every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	reloads := make(chan struct{})
	go func() {
		defer close(reloads)
		seen := secretFiles(cfg)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if cfg := reload(c, r, path, "SIGHUP", logger); cfg != nil {
					seen = secretFiles(cfg)
				}
			case <-tick:
				// A rotated token in a Secret volume heals its tenant
				// without a signal. A file that does not load is left to
				// the next SIGHUP to report: every tick would log it.
				cfg, err := config.Load(path)
				if err != nil {
					continue
				}
				if now := secretFiles(cfg); now != seen {
					seen = now
					reload(c, r, path, "secret file changed", logger)
				}
			}
		}
	}()
	<-ctx.Done()
	// Service tasks get the grace period, then are cancelled; a little
	// more lets their cancellation land before the process gives up.
	logger.Info("stopping every tenant", zap.Duration("grace", grace))
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+5*time.Second)
	defer cancel()
	r.Stop(stopCtx)
	select {
	case <-reloads:
	case <-stopCtx.Done():
	}
	return nil
}

// reload applies the configuration file anew, which trigger asked for; an
// invalid file is logged and the running configuration stays. The outcome
// is in /status and the config metrics. It returns the configuration it
// loaded, nil if the file did not load.
func reload(c *cli.Context, r *runner.Runner, path, trigger string, logger *zap.Logger) *config.Config {
	ctx := c.Context
	cfg, err := config.Load(path)
	var spec runner.Spec
	if err == nil {
		spec, err = specFromConfig(cfg)
	}
	if err == nil {
		err = applyMemoryBudget(c, cfg, &spec, logger)
	}
	if err == nil {
		err = r.Apply(ctx, spec)
	}
	if errors.Is(err, runner.ErrStopped) || ctx.Err() != nil {
		return nil // shutting down
	}
	r.Reloaded(trigger, err)
	if err != nil {
		logger.Error("reload rejected; the previous configuration keeps running", zap.String("trigger", trigger), zap.Error(err))
		return cfg
	}
	logger.Info("configuration reloaded", zap.String("trigger", trigger), zap.Int("generation", r.Config().Generation), zap.Strings("tenants", r.Tenants()))
	return cfg
}

// secretFiles fingerprints what the file: secret references and the CA
// bundles of cfg hold now (or why they cannot be read), never the values
// themselves.
func secretFiles(cfg *config.Config) string {
	h := sha256.New()
	add := func(ref config.SecretRef) {
		if !strings.HasPrefix(ref.String(), "file:") {
			return
		}
		v, err := ref.Resolve()
		fmt.Fprintf(h, "%s\x00%s\x00%v\x00", ref, v, err)
	}
	for _, t := range cfg.Tenants {
		add(t.Token)
		for _, name := range slices.Sorted(maps.Keys(t.Config)) {
			add(t.Config[name].Ref)
		}
		if t.CAFile != "" {
			b, err := os.ReadFile(t.CAFile)
			fmt.Fprintf(h, "%s\x00%x\x00%v\x00", t.CAFile, sha256.Sum256(b), err)
		}
		if t.Service != nil {
			add(t.Service.ClientID)
			add(t.Service.ClientSecret)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// syncFromConfig runs one sync of the named tenants (or all sync-mode
// tenants) of runner.toml, concurrently, each into its configured output.
// checkTenantNames reports a --tenant the configuration does not have,
// with the names it has: checked before the secrets are resolved, so a
// typo is not reported as another tenant's missing secret.
func checkTenantNames(cfg *config.Config, names []string) error {
	var known []string
	for _, t := range cfg.Tenants {
		known = append(known, t.Name)
	}
	for _, n := range names {
		if slices.Contains(known, n) {
			continue
		}
		if len(known) == 0 {
			return fmt.Errorf("%s has no tenant %q: it has no tenants", cfg.Path, n)
		}
		return fmt.Errorf("%s has no tenant %q; its tenants are %s", cfg.Path, n, strings.Join(known, ", "))
	}
	return nil
}

func syncFromConfig(c *cli.Context) error {
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return err
	}
	if err := refuseEntitlementIDsWithConfig(c); err != nil {
		return err
	}
	names := c.StringSlice("tenant")
	if c.Bool("all") == (len(names) > 0) {
		return errors.New("with --config, name tenants with --tenant NAME (repeatable) or pass --all")
	}
	if err := checkTenantNames(cfg, names); err != nil {
		return err
	}
	spec, err := specFromConfig(cfg)
	if err != nil {
		return err
	}
	var chosen []runner.TenantSpec
	for _, t := range spec.Tenants {
		if (c.Bool("all") && t.Mode == runner.ModeSync) || slices.Contains(names, t.Name) {
			chosen = append(chosen, t)
		}
	}
	if spec.ProcessMemoryMiB > 0 {
		membudget.SetGoMemoryLimit(spec.ProcessMemoryMiB)
	}
	results := runner.SyncOnce(c.Context, spec, chosen, logger)
	var errs []error
	for _, t := range chosen {
		if err := results[t.Name]; err != nil {
			errs = append(errs, explain("sync of tenant "+t.Name, err))
		} else {
			fmt.Printf("%s: wrote %s\n", t.Name, t.Output)
		}
	}
	return errors.Join(errs...)
}
