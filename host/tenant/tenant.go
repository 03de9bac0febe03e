// Package tenant assembles what one tenant (one connector configuration
// with its own API origin and secret) needs to run: an egress client holding
// the secret, a pool of sandboxed guest instances bound to it, and the
// baton-sdk connector in front of the pool.
//
// A Tenant syncs into a c1z (Sync), provisions (Grant, Revoke,
// CreateAccount, DeleteResource) and, for anything else baton-sdk does with
// a connector, hands out baton-sdk's own ConnectorClient (Client);
// host/service runs it in ConductorOne service mode, host/runner runs many.
package tenant

import (
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/connector"
	"github.com/baton-runner/baton-runner/internal/synctrack"
)

// Config describes a tenant.
type Config struct {
	// Name identifies the tenant in logs and audit records.
	Name string
	// Egress holds the API origin, the secret and the network limits.
	// A zero Egress.WritesPerMinute takes the guest's declared write rate;
	// a negative one disables write pacing.
	Egress egress.Config
	// Settings are non-secret settings passed to the guest with every call.
	Settings map[string]string
	// Origins are the API origins a baton-sdk guest may reach, each
	// through an egress client of its own (its rate limits, connect-to
	// address and roots) with Egress's limits and audit; requests that
	// name no origin go to the first. Without Origins such a guest has no
	// network. A JSON-ABI guest reaches Egress.BaseURL only.
	Origins []Origin
	// Secrets are a baton-sdk guest's secret configuration values by
	// field name. The guest receives abi.SecretPlaceholder(name) in their
	// place; the egress clients of Origins put the value back into the
	// requests they send, and only there.
	Secrets map[string]secret.Secret
	// Revealed names the Secrets the operator lets the guest hold
	// (reveal_secrets, --reveal-secret): a connector that computes with a
	// secret, as one signing a JWT with a private key, needs its value.
	// The guest receives those values themselves, a weaker guarantee
	// (SECURITY.md); the egress clients still keep them out of errors and
	// audit records and turn their echoes into placeholders.
	Revealed []string
	// Instances bounds concurrent guest calls (see sandbox.PoolConfig)
	// and is the number of sync workers; default sandbox.DefaultInstances.
	Instances int
	// Limits bound each whole sync (wall time, pages, items, depth, disk,
	// API requests); zero fields take synclimits' defaults.
	Limits synclimits.Limits
	// MaxCallAttempts bounds consecutive retryable failures of one guest
	// call (default 10).
	MaxCallAttempts int
	// Logger receives the tenant's logs, guest logs included.
	Logger *zap.Logger
}

// Origin is one API origin of a baton-sdk guest.
type Origin struct {
	// URL is scheme://host[:port].
	URL string
	// ConnectTo, if set, is the host:port dialed in place of URL's host
	// (egress.Config.ConnectTo).
	ConnectTo string
	// RootCAs, if set, verify the origin's certificate in place of the
	// system roots (egress.LoadCABundle).
	RootCAs *x509.CertPool
}

// Tenant is a running tenant.
type Tenant struct {
	name   string
	logger *zap.Logger
	pool   *sandbox.Pool
	// connector adapts a JSON-ABI guest to baton-sdk; nil for a baton-sdk
	// guest, which speaks baton-sdk's messages itself (sdk).
	connector *connector.Connector
	sdk       *sdkGuest
}

// sdkGuest is what a tenant of a baton-sdk guest keeps in place of the
// adapter.
type sdkGuest struct {
	config  map[string]string
	limits  synclimits.Limits
	workers int
}

// New binds a tenant to a compiled guest module.
func New(m *sandbox.Module, cfg Config) (*Tenant, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	logger = logger.With(zap.String("tenant", cfg.Name))
	if cfg.Egress.WritesPerMinute == 0 {
		cfg.Egress.WritesPerMinute = m.Metadata().WritesPerMinute
	}
	// The syncer runs one worker per instance; their requests, a page's
	// batch included, share the client's max_in_flight.
	if cfg.Egress.MaxInFlight == 0 {
		cfg.Egress.MaxInFlight = cfg.Limits.WithDefaults().MaxInFlight
	}
	if cfg.Instances <= 0 {
		cfg.Instances = sandbox.DefaultInstances
	}
	if m.Kind() == sandbox.GuestBatonSDK {
		hc, err := sdkEgress(cfg)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", cfg.Name, err)
		}
		settings := maps.Clone(cfg.Settings)
		if settings == nil {
			settings = map[string]string{}
		}
		for name, value := range cfg.Secrets {
			settings[name] = abi.SecretPlaceholder(name)
			if slices.Contains(cfg.Revealed, name) {
				settings[name] = value.Reveal()
			}
		}
		for _, name := range cfg.Revealed {
			if _, ok := cfg.Secrets[name]; !ok {
				return nil, fmt.Errorf("tenant %s: secret %q is to be revealed to the guest but has no value; reveal only secret fields the connector is given", cfg.Name, name)
			}
		}
		pool := m.NewPool(sandbox.PoolConfig{Instances: cfg.Instances, HTTP: budget{next: hc}, Logger: logger})
		return &Tenant{name: cfg.Name, logger: logger, pool: pool,
			sdk: &sdkGuest{config: settings, limits: cfg.Limits.WithDefaults(), workers: cfg.Instances}}, nil
	}
	hc, err := egress.New(cfg.Egress)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", cfg.Name, err)
	}
	pool := m.NewPool(sandbox.PoolConfig{Instances: cfg.Instances, HTTP: budget{next: hc}, Logger: logger})
	return &Tenant{
		name:   cfg.Name,
		logger: logger,
		pool:   pool,
		connector: connector.New(pool, m.Metadata(), cfg.Settings,
			connector.WithMaxAttempts(cfg.MaxCallAttempts), connector.WithLimits(cfg.Limits),
			connector.WithWorkers(cfg.Instances)),
	}, nil
}

// Kind returns the contract the tenant's guest speaks.
func (t *Tenant) Kind() sandbox.GuestKind {
	if t.sdk != nil {
		return sandbox.GuestBatonSDK
	}
	return sandbox.GuestABI
}

// Stats returns the tenant's sandbox counters.
func (t *Tenant) Stats() sandbox.Stats { return t.pool.Stats() }

// Sync runs one full sync into opts.Path, bounded by the tenant's limits
// (which replace opts.Limits).
func (t *Tenant) Sync(ctx context.Context, opts localsync.Options) error {
	opts.Limits = t.limits()
	opts.Workers = t.Workers()
	if opts.Disk == nil {
		opts.Disk = &synclimits.Disk{}
	}
	cc, err := t.Client(ctx, ClientOptions{Disk: opts.Disk})
	if err != nil {
		return err
	}
	defer cc.Close()
	// The guest's instances (their linear memory, ~6 MiB each for the
	// Segment guest, and their share of the heap) are not needed while
	// the syncer expands grants and seals the c1z, where a large sync
	// peaks; a later call makes a new one.
	collected := opts.OnCollected
	opts.OnCollected = func() {
		t.ReleaseIdle(ctx)
		if collected != nil {
			collected()
		}
	}
	return localsync.Run(ctx, cc, opts)
}

func (t *Tenant) limits() synclimits.Limits {
	if t.sdk != nil {
		return t.sdk.limits
	}
	return t.connector.Limits()
}

// ReleaseIdle closes the tenant's idle guest instances; the next call
// creates new ones from the compiled module.
func (t *Tenant) ReleaseIdle(ctx context.Context) { t.pool.ReleaseIdle(ctx) }

// budget charges each API request to the sync (or the single call outside
// a sync) it belongs to, found in the call's context, and refuses those
// past its request budget. A request with no sync in its context did not
// come through the connector, which always sets one: it is refused.
type budget struct{ next sandbox.HTTPDoer }

func (b budget) Do(ctx context.Context, req abi.HTTPRequest) abi.HTTPResponse {
	s := synctrack.FromContext(ctx)
	if s == nil {
		return abi.HTTPResponse{Error: abi.Errorf(abi.CodeEgressDenied, "request outside any sync or call scope")}
	}
	if err := s.ChargeRequest(); err != nil {
		return abi.HTTPResponse{Error: abi.Errorf(abi.CodeEgressDenied, "%v", err)}
	}
	return b.next.Do(ctx, req)
}

// sdkEgress is a baton-sdk guest's network: a client per allowed origin,
// each authenticating with the credentials the guest sets (placeholders,
// which it fills in) rather than a token of the host's.
func sdkEgress(cfg Config) (sandbox.HTTPDoer, error) {
	if len(cfg.Origins) == 0 {
		return noNetwork{audit: cfg.Egress.Audit}, nil
	}
	names := slices.Sorted(maps.Keys(cfg.Secrets))
	placeholders := make([]egress.Placeholder, 0, len(names))
	for _, name := range names {
		placeholders = append(placeholders, egress.Placeholder{Text: abi.SecretPlaceholder(name), Value: cfg.Secrets[name]})
	}
	clients := make([]*egress.Client, 0, len(cfg.Origins))
	for _, o := range cfg.Origins {
		ec := cfg.Egress
		ec.BaseURL, ec.ConnectTo, ec.RootCAs = o.URL, o.ConnectTo, o.RootCAs
		ec.Token, ec.GuestCredentials, ec.Secrets = secret.Secret{}, true, placeholders
		c, err := egress.New(ec)
		if err != nil {
			return nil, fmt.Errorf("origin %s: %w", o.URL, err)
		}
		clients = append(clients, c)
	}
	return egress.NewRouter(clients...)
}

// noNetwork refuses every request of a baton-sdk guest given no origins.
type noNetwork struct{ audit func(egress.Record) }

const noNetworkReason = "this connector was allowed no API origin: allow its API with --allow-origin https://host (origins = [...] in the tenant's table of runner.toml)"

func (n noNetwork) Do(_ context.Context, req abi.HTTPRequest) abi.HTTPResponse {
	if n.audit != nil {
		// The guest's strings stay out of the record: only the refusal.
		n.audit(egress.Record{Time: time.Now(), Denied: noNetworkReason})
	}
	return abi.HTTPResponse{Error: abi.Errorf(abi.CodeEgressDenied, "egress denied: %s", noNetworkReason)}
}

// Close releases the tenant's instances.
func (t *Tenant) Close(ctx context.Context) { t.pool.Close(ctx) }
