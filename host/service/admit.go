package service

import (
	"context"
	"sync"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/types"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// admittedSync is the connector of one full-sync task under Config.Admit.
// The sync is admitted at its first connector call, Validate, which
// baton-sdk's syncer makes once it has opened its c1z store (a few MiB)
// and the task manager heartbeats the task: a task waiting for memory
// stays alive in ConductorOne, and one that ConductorOne cancels, or the
// shutdown grace period ends, stops waiting. A refusal fails the sync,
// and so the task, with the refusal's text.
type admittedSync struct {
	types.ConnectorClient
	admit func(ctx context.Context) (release func(ok bool), err error)
	log   *zap.Logger

	mu      sync.Mutex
	release func(ok bool) // set once admitted
	sealed  bool
}

func (a *admittedSync) Validate(ctx context.Context, in *v2.ConnectorServiceValidateRequest, opts ...grpc.CallOption) (*v2.ConnectorServiceValidateResponse, error) {
	if err := a.enter(ctx); err != nil {
		return nil, err
	}
	return a.ConnectorClient.Validate(ctx, in, opts...)
}

// Cleanup is what baton-sdk's syncer calls only once the sync's c1z is
// sealed: the sync succeeded, whatever then becomes of its upload, so its
// peak is a sync's.
func (a *admittedSync) Cleanup(ctx context.Context, in *v2.ConnectorServiceCleanupRequest, opts ...grpc.CallOption) (*v2.ConnectorServiceCleanupResponse, error) {
	a.mu.Lock()
	a.sealed = true
	a.mu.Unlock()
	return a.ConnectorClient.Cleanup(ctx, in, opts...)
}

func (a *admittedSync) enter(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.release != nil {
		return nil
	}
	start := time.Now()
	release, err := a.admit(ctx)
	if err != nil {
		return err
	}
	a.release = release
	a.log.Info("sync task started", zap.Duration("waited", time.Since(start).Round(time.Millisecond)))
	return nil
}

// end releases the admission, if the sync got one, when its task has
// ended: the c1z built, uploaded and removed.
func (a *admittedSync) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.release != nil {
		a.release(a.sealed)
		a.release = nil
	}
}
