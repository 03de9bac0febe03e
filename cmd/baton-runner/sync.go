package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
)

const defaultBaseURL = "https://api.segmentapis.com"

// tenantFlags say which API to reach and with what credential.
func tenantFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "token", Usage: "Segment Public API token", EnvVars: []string{"BATON_TOKEN"}},
		&cli.StringFlag{Name: "base-url", Value: defaultBaseURL, Usage: "Segment API origin (EU: https://eu1.api.segmentapis.com)", EnvVars: []string{"BATON_BASE_URL"}},
		&cli.StringFlag{Name: "audit-log", Usage: "append a JSON line per outbound request to this file (default: debug log)", EnvVars: []string{"BATON_AUDIT_LOG"}},
	}
}

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "sync a Segment workspace into a c1z file through the sandboxed connector",
		Flags: concat(tenantFlags(), []cli.Flag{
			fileFlag(),
			storageEngineFlag(),
			configFlag(false),
			&cli.StringSliceFlag{Name: "tenant", Usage: "with --config: the tenant to sync (repeatable)"},
			&cli.BoolFlag{Name: "all", Usage: "with --config: every sync-mode tenant"},
		}, runtimeFlags(), limitFlags(), logFlags(), lifecycleFlags()),
		Action: func(c *cli.Context) error {
			if ok, err := lifecycleAction(c); ok {
				return err
			}
			if c.String("config") != "" {
				return syncFromConfig(c)
			}
			return syncAction(c)
		},
	}
}

func fileFlag() cli.Flag {
	return &cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: "sync.c1z", Usage: "c1z file to write (replaced only if the sync succeeds)", EnvVars: []string{"BATON_FILE"}}
}

func syncAction(c *cli.Context) error {
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	return runSync(c.Context, c, logger, c.String("token"), c.String("base-url"), c.String("file"))
}

// openTenant compiles the guest and binds it to the tenant at baseURL,
// with limits on its syncs (zero for a command that runs none); close
// releases everything.
func openTenant(ctx context.Context, c *cli.Context, logger *zap.Logger, token, baseURL string, limits synclimits.Limits) (t *tenant.Tenant, close func(), err error) {
	if token == "" {
		return nil, nil, errors.New("no Segment API token: pass --token or set BATON_TOKEN")
	}
	audit, closeAudit, err := auditSink(c.String("audit-log"), logger)
	if err != nil {
		return nil, nil, err
	}
	m, err := compileModule(ctx, c, logger)
	if err != nil {
		closeAudit()
		return nil, nil, err
	}
	t, err = tenant.New(m, tenant.Config{
		Name:      "default",
		Egress:    egress.Config{BaseURL: baseURL, Token: egress.NewSecret(token), Audit: audit},
		Instances: c.Int("instances"),
		Limits:    limits,
		Logger:    logger,
	})
	if err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		closeAudit()
		return nil, nil, err
	}
	return t, func() {
		t.Close(context.WithoutCancel(ctx))
		_ = m.Close(context.WithoutCancel(ctx))
		closeAudit()
	}, nil
}

// runSync syncs the tenant at baseURL into file; shared by sync and demo.
func runSync(ctx context.Context, c *cli.Context, logger *zap.Logger, token, baseURL, file string) error {
	limits, err := syncLimits(c)
	if err != nil {
		return err
	}
	engine, err := storageEngine(c)
	if err != nil {
		return err
	}
	t, closeTenant, err := openTenant(ctx, c, logger, token, baseURL, limits)
	if err != nil {
		return err
	}
	defer closeTenant()

	start := time.Now()
	opts := localsync.Options{Path: file, StorageEngine: engine}
	var prog *progress
	if isTerminal(os.Stderr) {
		prog = newProgress(os.Stderr)
		opts.OnProgress = prog.update
	}
	err = t.Sync(ctx, opts)
	if prog != nil {
		prog.done()
	}
	if err != nil {
		return explainSyncError(err, file)
	}
	logger.Info("sync complete", zap.String("file", file), zap.Duration("took", time.Since(start).Round(time.Millisecond)))
	return nil
}

// explainSyncError turns a failed sync into a message that says what failed,
// what to do, and that the previous file is intact.
func explainSyncError(err error, file string) error {
	return fmt.Errorf("%w; %s was not modified", explain("sync", err), file)
}

// explain turns a failure of a connector operation into a message that says
// what failed and what to do.
func explain(op string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s failed: %v", op, err)
	}
	switch st.Code() {
	case codes.Unauthenticated:
		return fmt.Errorf("%s: Segment rejected the API token (HTTP 401): check BATON_TOKEN / --token, and that the token belongs to this workspace and region (--base-url)\n  detail: %s", op, st.Message())
	case codes.PermissionDenied:
		return fmt.Errorf("%s refused: %s (a Segment 403 means the token lacks the Workspace Owner role; an egress refusal names the blocked address)", op, st.Message())
	}
	return fmt.Errorf("%s failed (%s): %s", op, st.Code(), st.Message())
}

// auditSink returns where egress audit records go: a JSON-lines file, or
// the logger at debug level.
func auditSink(path string, logger *zap.Logger) (func(egress.Record), func(), error) {
	if path == "" {
		return func(r egress.Record) {
			logger.Debug("egress", zap.Any("request", r))
		}, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening audit log: %w", err)
	}
	return jsonLines(f), func() { _ = f.Close() }, nil
}

func jsonLines(w io.Writer) func(egress.Record) {
	enc := json.NewEncoder(w)
	var mu sync.Mutex
	return func(r egress.Record) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(r)
	}
}

func concat(groups ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
