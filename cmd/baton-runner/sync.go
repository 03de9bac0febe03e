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

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/host/waitlog"
)

// defaultBaseURL is runner.toml's default for a Segment tenant, so that a
// tenant moved from the CLI into the daemon reaches the same API.
var defaultBaseURL = config.DefaultBaseURL("segment")

// tenantFlags say which API to reach and with what credential.
func tenantFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "token", Usage: "Segment Public API token", EnvVars: []string{"BATON_TOKEN"}},
		&cli.StringFlag{Name: "base-url", Value: defaultBaseURL, Usage: "Segment API origin (EU: https://eu1.api.segmentapis.com)", EnvVars: []string{"BATON_BASE_URL"}},
		&cli.StringFlag{Name: "audit-log", Usage: "append a JSON line per outbound request to this file (default: debug log)", EnvVars: []string{"BATON_AUDIT_LOG"}},
		entitlementIDsFlag(),
	}
}

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "sync a Segment workspace into a c1z file through the sandboxed connector",
		Flags: concat(tenantFlags(), syncScopeFlags(), []cli.Flag{
			fileFlag(),
			storageEngineFlag(),
			configFlag(false),
			&cli.StringSliceFlag{Name: "tenant", Usage: "with --config: the tenant to sync (repeatable)", EnvVars: []string{"BATON_TENANT"}},
			&cli.BoolFlag{Name: "all", Usage: "with --config: every sync-mode tenant", EnvVars: []string{"BATON_ALL_TENANTS"}},
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

// withTenant runs do on a tenant opened from the command's flags for one
// operation that is not a sync (create account, delete, grant, revoke), so
// no sync limits apply.
func withTenant(c *cli.Context, do func(*tenant.Tenant, *zap.Logger) error) error {
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	t, _, closeTenant, err := openTenant(c.Context, c, logger, c.String("token"), c.String("base-url"), synclimits.Limits{}, nil)
	if err != nil {
		return err
	}
	defer closeTenant()
	return do(t, logger)
}

// openTenant compiles the guest (m) and binds it to the tenant at baseURL,
// with limits on its syncs (zero for a command that runs none); close
// releases everything.
// A report, if given, is told of every request and wait.
func openTenant(ctx context.Context, c *cli.Context, logger *zap.Logger, token, baseURL string, limits synclimits.Limits, report *syncReport) (t *tenant.Tenant, m *sandbox.Module, close func(), err error) {
	audit, closeAudit, err := auditSink(c.String("audit-log"), logger)
	if err != nil {
		return nil, nil, nil, err
	}
	waits := waitlog.New(logger, c.Duration("progress-interval"))
	sink := audit
	audit = func(r egress.Record) {
		if report != nil {
			report.record(r)
		}
		sink(r)
		waits.Record(r)
	}
	onWait := func(w egress.Wait) {
		if report != nil {
			report.wait(w)
		}
		waits.Wait(w)
	}
	onHeld := func(d time.Duration) {
		if report != nil {
			report.held(d)
		}
		waits.Held(d)
	}
	m, err = compileModule(ctx, c, logger)
	if err != nil {
		closeAudit()
		return nil, nil, nil, err
	}
	tc := tenant.Config{
		Name:      "default",
		Egress:    egress.Config{Audit: audit, OnWait: onWait, OnHeld: onHeld},
		Instances: c.Int("instances"),
		Limits:    limits,
		Logger:    logger,
	}
	if m.Kind() == sandbox.GuestBatonSDK {
		var gc guestConfig
		gc, err = batonSDKConfig(c, m, true)
		gc.apply(&tc)
		tc.Egress.BaseURLSetting, tc.Egress.ConnectToSetting = "--allow-origin (BATON_ALLOW_ORIGIN)", "--connect-to (BATON_CONNECT_TO)"
	} else {
		tc.Settings, err = guestSettings(c)
		tc.Egress.BaseURL, tc.Egress.Token, tc.Egress.BaseURLSetting = baseURL, secret.New(token), "--base-url (BATON_BASE_URL)"
		if err == nil && token == "" {
			err = errors.New("no Segment API token: pass --token or set BATON_TOKEN")
		}
	}
	if err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		closeAudit()
		return nil, nil, nil, err
	}
	t, err = tenant.New(m, tc)
	if err != nil {
		_ = m.Close(context.WithoutCancel(ctx))
		closeAudit()
		// tenant.New names the tenant; here there is only the one the
		// flags describe, and its internal name means nothing to the user.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return nil, nil, nil, err
	}
	return t, m, func() {
		waits.Flush()
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
	report := newSyncReport(logger, isTerminal(os.Stderr), c.Duration("progress-interval"))
	t, m, closeTenant, err := openTenant(ctx, c, logger, token, baseURL, limits, report)
	if err != nil {
		return err
	}
	defer closeTenant()
	opts := localsync.Options{Path: file, OnProgress: report.update, StorageEngine: engine}
	// The process runs this one sync and exits (GOMEMLIMIT overrides).
	// The limit is sized for JSON-ABI guests: a baton-sdk guest's decoded
	// module alone is ~60 MiB of live heap (the demo's 48 MB module),
	// which a 96 MiB limit would have the collector chase all sync long
	// (3,000 users: 21.4 s of CPU instead of 12.3).
	if t.Kind() == sandbox.GuestABI {
		localsync.LimitOneShotMemory()
		opts.OnCollected = closeWhenCollected(ctx, m)
	}
	syncScope(c, &opts)
	err = t.Sync(ctx, opts)
	report.done()
	if err != nil {
		return explainSyncError(err, file)
	}
	return report.summary(ctx, os.Stdout, file)
}

// closeWhenCollected is a one-shot sync's OnCollected for a JSON-ABI
// guest: nothing calls such a guest once grant expansion starts (its ABI
// has no cleanup; a baton-sdk guest's Cleanup still runs in it), so its
// module is closed there, and its compiled code (18 MiB for the Segment
// guest) and decoded module are not part of the sync's peak, the end
// (10k users: 265 -> 245 MiB, native 241).
func closeWhenCollected(ctx context.Context, m *sandbox.Module) func() {
	return func() { _ = m.Close(context.WithoutCancel(ctx)) }
}

// explainSyncError turns a failed sync into a message that says what failed,
// what to do, and that the previous file is intact.
func explainSyncError(err error, file string) error {
	return fmt.Errorf("%w; %s was not modified", explain("sync", err), file)
}

// explain turns a failure of a connector operation into a message that says
// what failed and what to do.
func explain(op string, err error) error {
	if _, ok := status.FromError(err); !ok {
		return fmt.Errorf("%s failed: %v", op, err)
	}
	msg, code := oneSentence(err, op)
	switch code {
	case codes.Unauthenticated:
		return fmt.Errorf("%s: Segment rejected the API token (HTTP 401): check BATON_TOKEN / --token, and that the token belongs to this workspace and region (--base-url)\n  detail: %s", op, msg)
	case codes.PermissionDenied:
		return fmt.Errorf("%s refused: %s (a Segment 403 means the token lacks the Workspace Owner role; an egress refusal names the blocked address)", op, msg)
	}
	return fmt.Errorf("%s failed (%s): %s", op, code, msg)
}

// auditSink returns where egress audit records go: a JSON-lines file, or
// the logger at debug level (never sampled, see newLogger). A record that
// cannot be written is reported as an error in the log, with the request it
// was for, and the close reports how many were lost.
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
	write, lost := jsonLines(f, path, logger)
	return write, func() {
		err := f.Close()
		if n := lost(); n > 0 || err != nil {
			logger.Error("the audit log is incomplete", zap.String("file", path), zap.Int("records_lost", n), zap.NamedError("close_error", err))
		}
	}, nil
}

func jsonLines(w io.Writer, path string, logger *zap.Logger) (write func(egress.Record), lost func() int) {
	enc := json.NewEncoder(w)
	var mu sync.Mutex
	n := 0
	return func(r egress.Record) {
			mu.Lock()
			defer mu.Unlock()
			if err := enc.Encode(r); err != nil {
				n++
				logger.Error("cannot write to the audit log; this request is not recorded there",
					zap.String("file", path), zap.Error(err), zap.Any("request", r))
			}
		}, func() int {
			mu.Lock()
			defer mu.Unlock()
			return n
		}
}

func concat(groups ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
