// Package service runs a tenant in ConductorOne service mode: it connects
// with the connector's client credentials, takes tasks (full sync, grant,
// revoke, …) and processes them with baton-sdk's own c1api task manager,
// which uploads c1z files and reports results. The connector it serves is
// the tenant's sandboxed guest, reached in-process.
package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
	"github.com/conductorone/baton-sdk/pkg/tasks"
	"github.com/conductorone/baton-sdk/pkg/tasks/c1api"
	"github.com/conductorone/baton-sdk/pkg/types"
	taskTypes "github.com/conductorone/baton-sdk/pkg/types/tasks"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
)

// Config configures service mode.
type Config struct {
	// ClientID and ClientSecret are the connector's ConductorOne
	// credentials. The ID names the tenant's ConductorOne host, which is
	// reached over TLS with the system's roots: baton-sdk's task manager
	// takes no TLS configuration, so a private CA is trusted through the
	// process's environment (SSL_CERT_FILE), set before its first TLS
	// connection.
	ClientID     string
	ClientSecret secret.Secret
	// Provisioning lets grant and revoke tasks through; without it they
	// fail with a message saying how to enable it.
	Provisioning bool
	// TaskConcurrency bounds the tasks processed at once (default 1).
	TaskConcurrency int
	// TempDir holds c1z files while they are built and uploaded, in a
	// directory of each Run's own (default: the system's).
	TempDir string
	// ShutdownTimeout is how long tasks in flight may run after the
	// context is cancelled before they are cancelled too (and reported as
	// failed); default 30s, Kubernetes' default grace period.
	ShutdownTimeout time.Duration
	// StorageEngine is the c1z storage engine of sync tasks; empty means
	// localsync.DefaultStorageEngine, as for local syncs. It is passed to
	// baton-sdk's task manager, where it takes precedence over the engine
	// a task may ask for.
	StorageEngine c1zstore.Engine
	// Admit, if set, admits each full-sync task's sync (the task that
	// builds a c1z, and needs the memory) before it starts, as a memory
	// budget does: it waits until the sync may start and returns release,
	// called once the task has ended, ok saying the sync succeeded. Its
	// error fails the task, its text reaching ConductorOne, and the
	// service takes the next. A task waiting here holds one of
	// TaskConcurrency and is heartbeated; ctx ends if ConductorOne
	// cancels the task.
	Admit  func(ctx context.Context) (release func(ok bool), err error)
	Logger *zap.Logger
}

// Service is a running service-mode loop.
type Service struct {
	cfg   Config
	ready atomic.Bool
}

// New returns a Service; Run starts it.
func New(cfg Config) *Service {
	if cfg.TaskConcurrency <= 0 {
		cfg.TaskConcurrency = 1
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.StorageEngine == "" {
		cfg.StorageEngine = localsync.DefaultStorageEngine
	}
	return &Service{cfg: cfg}
}

// Ready reports whether ConductorOne accepted the connector's Hello.
func (s *Service) Ready() bool { return s.ready.Load() }

// ErrCredentials marks a failure to authenticate to ConductorOne.
var ErrCredentials = errors.New("ConductorOne rejected the client credentials: check BATON_CLIENT_ID and BATON_CLIENT_SECRET")

// Run validates the connector's upstream credentials, says Hello to
// ConductorOne and processes tasks until ctx is cancelled; then it stops
// taking tasks and lets those in flight finish (or be reported failed)
// within ShutdownTimeout.
func (s *Service) Run(ctx context.Context, t *tenant.Tenant) error {
	cfg := s.cfg
	if cfg.ClientID == "" || cfg.ClientSecret.IsZero() {
		return errors.New("service mode needs BATON_CLIENT_ID and BATON_CLIENT_SECRET (--client-id, --client-secret)")
	}
	// Tasks run on their own context so that a shutdown signal stops the
	// polling at once but gives work in flight its grace period.
	taskCtx, cancelTasks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTasks()

	dir, release, err := runDir(cfg.TempDir)
	if err != nil {
		return err
	}
	defer release()
	// Every sync's c1z and working files live in dir, so the tracker's
	// probe holds them to the connector's MaxC1ZBytes (the syncs of
	// concurrent tasks together).
	disk := &synclimits.Disk{}
	disk.Watch(dir)
	cc, err := t.Client(taskCtx, tenant.ClientOptions{Provisioning: cfg.Provisioning, Disk: disk})
	if err != nil {
		return err
	}
	defer cc.Close()
	if _, err := cc.Validate(ctx, &v2.ConnectorServiceValidateRequest{}); err != nil {
		return fmt.Errorf("validating the connector's credentials: %w", err)
	}

	// A sync task runs a worker per guest instance; the tenant's pool and
	// egress client bound the calls and requests of all tasks together.
	workers := t.Workers()
	tm, err := c1api.NewC1TaskManager(taskCtx, cfg.ClientID, cfg.ClientSecret.Reveal(), dir,
		false, "", "", nil, nil, nil, workers, cfg.StorageEngine, cfg.TaskConcurrency, false)
	if err != nil {
		return fmt.Errorf("configuring ConductorOne client: %w", err)
	}
	if err := tm.Bootstrap(ctx, cc); err != nil {
		if code := status.Code(err); code == codes.Unauthenticated || code == codes.PermissionDenied {
			return fmt.Errorf("%w (%v)", ErrCredentials, err)
		}
		return fmt.Errorf("saying hello to ConductorOne: %w", err)
	}
	s.ready.Store(true)
	cfg.Logger.Info("connected to ConductorOne; waiting for tasks")

	var inflight sync.WaitGroup
	err = s.loop(ctx, taskCtx, tm, cc, func() { t.ReleaseIdle(taskCtx) }, &inflight)

	done := make(chan struct{})
	go func() { inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.ShutdownTimeout):
		cfg.Logger.Warn("tasks still running at the end of the shutdown grace period; cancelling them", zap.Duration("grace", cfg.ShutdownTimeout))
		cancelTasks()
		<-done
	}
	return err
}

// loop claims tasks while ctx lives, processing up to TaskConcurrency of
// them at once, as baton-sdk's connector runner does. A sync task calls
// collected when it has read everything from cc.
func (s *Service) loop(ctx, taskCtx context.Context, tm tasks.Manager, cc types.ConnectorClient, collected func(), inflight *sync.WaitGroup) error {
	log := s.cfg.Logger
	slots := make(chan struct{}, s.cfg.TaskConcurrency)
	// After a failed Next the loop backs off from 1s doubling to a minute,
	// each wait jittered ±50% (and still at most a minute), so that the
	// connectors of many tenants do not poll a recovering ConductorOne in
	// lockstep; a successful Next waits what ConductorOne asked for.
	retry := backoff.ExponentialBackOff{InitialInterval: time.Second, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: time.Minute}
	retry.Reset()
	var wait time.Duration
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down: no new tasks will be taken")
			return nil
		case <-time.After(wait):
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		task, next, err := tm.Next(ctx)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			wait = min(retry.NextBackOff(), time.Minute)
			log.Warn("asking ConductorOne for a task failed", zap.Error(err), zap.Duration("retry_in", wait))
			continue
		}
		retry.Reset()
		wait = next
		if task == nil {
			<-slots
			continue
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer func() { <-slots }()
			l := log.With(zap.String("task_id", task.GetId()), zap.String("task_type", tasks.GetType(task).String()))
			l.Info("processing task")
			tctx, tc := taskCtx, cc
			if tasks.Is(task, taskTypes.FullSyncType) {
				// As a local sync does: what only served the connector's
				// calls is released when grant expansion starts, and
				// Pebble's arenas are kept off used pages.
				var end func()
				tctx, end = localsync.WatchTask(taskCtx, s.cfg.StorageEngine, collected)
				defer end()
				if s.cfg.Admit != nil {
					a := &admittedSync{ConnectorClient: cc, admit: s.cfg.Admit, log: l}
					// After the task's last line, so that its end is
					// logged before a sync waiting for it starts.
					defer a.end()
					tc = a
				}
			}
			if err := tm.Process(tctx, task, tc); err != nil {
				l.Error("task failed", zap.Error(err))
				return
			}
			l.Info("task done")
		}()
	}
}

// runDirPrefix names the per-Run directories under Config.TempDir;
// runDirGrace is the least age of one that runDir may sweep.
const (
	runDirPrefix = "baton-runner-service-"
	runDirGrace  = time.Minute
)

// runDir creates the directory of one Run under base (os.TempDir() if
// empty) and locks it for the Run. First it removes the directories of
// Runs that are gone (killed before they could clean up), which it can
// lock; those of live Runs, locked, are left alone. release
// unlocks and removes the directory.
func runDir(base string) (dir string, release func(), err error) {
	if base == "" {
		base = os.TempDir()
	}
	if entries, err := os.ReadDir(base); err == nil {
		for _, e := range entries {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), runDirPrefix) {
				continue
			}
			// A Run locks its directory just after creating it: one
			// created a moment ago may not be locked yet.
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < runDirGrace {
				continue
			}
			old := filepath.Join(base, e.Name())
			unlock, err := localsync.Lock(filepath.Join(old, ".lock"))
			if err != nil {
				continue // in use, or not ours to judge
			}
			_ = os.RemoveAll(old)
			unlock()
		}
	}
	dir, err = os.MkdirTemp(base, runDirPrefix+"*")
	if err != nil {
		return "", nil, fmt.Errorf("creating a working directory in %s: %w (set the service's temp dir to a writable directory)", base, err)
	}
	unlock, err := localsync.Lock(filepath.Join(dir, ".lock"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return dir, func() {
		_ = os.RemoveAll(dir)
		unlock()
	}, nil
}
