package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"

	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/synclimits"
)

// Defaults for [runtime]. The CLI's flags use the same constants, so that
// moving a tenant into the daemon changes nothing about its sandbox; the
// sandbox's own defaults are the source of the first two.
const (
	DefaultMemoryLimitMiB     = sandbox.DefaultMemoryLimitMiB
	DefaultCallTimeout        = sandbox.DefaultCallTimeout
	DefaultInstancesPerTenant = sandbox.DefaultInstances
	// DefaultMaxConcurrentSyncs matches a small machine: each running sync
	// holds baton-sdk's c1z store (well over 100 MiB for a 1k-user
	// workspace), so running every tenant's sync at once costs memory
	// without finishing sooner on two cores.
	DefaultMaxConcurrentSyncs = 2
)

// Limits enforced on the configuration. The memory bounds keep a guest
// runnable (16 MiB) and a typo from reserving a host's memory many times
// over (4096 MiB per instance); MinSyncInterval keeps a misconfigured tenant
// from hammering its API.
const (
	MinMemoryLimitMiB     = 16
	MaxMemoryLimitMiB     = 4096
	MinInstancesPerTenant = 1
	MaxInstancesPerTenant = 64
	MaxConcurrentSyncs    = 256
	MinSyncInterval       = time.Minute
	// A process memory budget below MinProcessMemoryMiB cannot hold an
	// idle serve (~100 MiB: the binary, a compiled module, the runtime)
	// and one sync beside it; MaxProcessMemoryMiB (1 TiB) is far above
	// any host.
	MinProcessMemoryMiB = 128
	MaxProcessMemoryMiB = 1 << 20
)

// Ranges of the sync limits (sync_timeout, max_pages, max_empty_pages,
// max_items, max_depth, max_c1z_mib, request_budget). A limit cannot be
// turned off, only raised: the upper bounds are far above any real
// workspace (see synclimits' defaults) and keep a typo from removing the
// protection, and the lower bounds keep a typo from failing every sync.
const (
	MinSyncTimeout   = time.Minute
	MaxSyncTimeout   = 7 * 24 * time.Hour
	MaxMaxPages      = 1_000_000_000
	MaxMaxItems      = 10_000_000_000
	MaxMaxDepth      = 64
	MinMaxC1ZMiB     = 16
	MaxMaxC1ZMiB     = 1 << 20 // 1 TiB
	MaxRequestBudget = 1<<31 - 1
	// MaxMaxInFlight matches MaxInstancesPerTenant: each request in flight
	// holds a guest instance.
	MaxMaxInFlight = MaxInstancesPerTenant
)

// EmbeddedPrefix marks a connector's Wasm as a module built into the binary
// ("embedded:segment") rather than a file.
const EmbeddedPrefix = "embedded:"

// defaultBaseURLs are the API origins used when a tenant gives no base_url,
// by connector name (or the embedded module's name).
var defaultBaseURLs = map[string]string{
	"segment": "https://api.segmentapis.com",
}

// DefaultBaseURL returns the API origin of the connector called name (or
// running the embedded module name) when a tenant gives no base_url, or ""
// if it has none. The CLI's --base-url default is DefaultBaseURL("segment").
func DefaultBaseURL(name string) string { return defaultBaseURLs[name] }

// namePattern is what tenant and connector names must match: they appear in
// file names, metric labels and log fields, so they are kept to characters
// that need no quoting anywhere.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Config is a parsed and validated configuration file. Paths in it are
// absolute; secrets are references, never values.
type Config struct {
	// Path is the file's absolute path.
	Path string
	// Runtime holds the sandbox and daemon settings, defaults applied.
	Runtime Runtime
	// Connectors are the [connectors.X] tables, by X.
	Connectors map[string]Connector
	// Tenants are the [[tenants]], in file order.
	Tenants []Tenant

	file string     // Path as given, for error messages
	pos  *positions // key lines, for CheckSecrets errors
}

// Runtime is the [runtime] table: settings shared by every tenant.
type Runtime struct {
	// CacheDir holds the compiled-module cache; default DefaultCacheDir().
	CacheDir string
	// MemoryLimitMiB caps each guest instance's memory (16..4096, default 256).
	MemoryLimitMiB int
	// CallTimeout caps each guest call (> 0, default 2m).
	CallTimeout time.Duration
	// InstancesPerTenant bounds each tenant's concurrent guest calls
	// (1..64, default 2).
	InstancesPerTenant int
	// MaxConcurrentSyncs bounds the scheduled syncs running at once across
	// all tenants (1..256, default 2); the others wait their turn.
	MaxConcurrentSyncs int
	// ProcessMemoryMiB is the memory budget of the whole process (0: none,
	// else 128..1048576): syncs are admitted while their estimated peaks
	// fit, and the Go runtime's soft memory limit is set from it. It is
	// not memory_limit_mib, which caps each guest instance.
	ProcessMemoryMiB int
	// Listen is the health and metrics address, host:port; "" serves none.
	Listen string
	// StorageEngine is the c1z storage engine of every tenant's syncs
	// (sqlite or pebble); default localsync.DefaultStorageEngine.
	StorageEngine c1zstore.Engine
	// Limits are the sync limits every tenant inherits unless it sets its
	// own: synclimits' defaults, and RequestBudget 0 (unlimited), unless
	// the file says otherwise.
	Limits synclimits.Limits
}

// Connector is a [connectors.X] table: a guest module tenants can run.
type Connector struct {
	// Name is X.
	Name string
	// Wasm is "embedded:<name>" for a module built into the binary, or the
	// absolute path of a .wasm file.
	Wasm string
	// SHA256 is the lower-case hex SHA-256 the module must have, or "" for
	// no pin. The runner checks it when it loads the module.
	SHA256 string
	// Kind is the contract the module speaks (kind; default KindABI),
	// which decides the keys its tenants take.
	Kind Kind
}

// Embedded returns the embedded module's name and true when Wasm is
// "embedded:<name>".
func (c Connector) Embedded() (string, bool) {
	return strings.CutPrefix(c.Wasm, EmbeddedPrefix)
}

// Mode is how a tenant runs.
type Mode string

const (
	// ModeSync syncs on an interval into a local c1z file.
	ModeSync Mode = "sync"
	// ModeService takes tasks from ConductorOne with client credentials.
	ModeService Mode = "service"
)

// Tenant is one [[tenants]] entry: one connector configuration with its
// own API origin and credential.
type Tenant struct {
	// Name identifies the tenant; unique, [a-z0-9][a-z0-9-]{0,62}.
	Name string
	// Connector names an entry of Config.Connectors.
	Connector string
	// BaseURL is the API origin, scheme://host[:port]; https unless the
	// host is loopback. A baton-sdk connector's tenant has Origins instead.
	BaseURL string
	// Token references the API token; a baton-sdk connector's tenant has
	// none (its credentials are fields of Config).
	Token SecretRef
	// Config is a baton-sdk connector's tenant's [tenants.config]: the
	// connector's fields by name, as written. CheckSchemas checks it
	// against the module's schema.
	Config map[string]FieldValue
	// Origins are the API origins a baton-sdk connector's tenant may reach
	// (origins), each with its connect_to address; the first is where
	// requests that name no origin go. None: no network at all.
	Origins []Origin
	// CAFile is the absolute path of a PEM bundle trusted, besides the
	// system's roots, for the certificates of Origins (ca_file); "" for
	// none.
	CAFile string
	// RevealSecrets names the secret fields of Config whose values the
	// guest receives in place of placeholders (reveal_secrets), for a
	// connector that computes with one; a weaker guarantee (SECURITY.md).
	// CheckSchemas checks they are secret fields Config sets.
	RevealSecrets []string
	// Mode is ModeSync or ModeService; exactly the matching one of Sync
	// and Service is set.
	Mode Mode
	// Provisioning allows grant and revoke.
	Provisioning bool
	// EntitlementIDs names the Segment connector's role entitlements on
	// sources, warehouses, spaces and functions (entitlement_ids):
	// segmentids.RoleID, the default, or segmentids.BatonSegment, the IDs
	// of ConductorOne's baton-segment connector, for an app migrating
	// from it. The guest receives it as a setting.
	EntitlementIDs string
	// RequestsPerMinute limits the tenant's API requests; 0 = unlimited.
	RequestsPerMinute int
	// Limits bound each whole sync of the tenant: [runtime]'s, with the
	// keys the tenant sets itself in their place.
	Limits synclimits.Limits
	// Sync is set when Mode is ModeSync.
	Sync *SyncSettings
	// Service is set when Mode is ModeService.
	Service *ServiceSettings
}

// SyncSettings is a tenant's [tenants.sync] table.
type SyncSettings struct {
	// Interval is the time from one sync's start to the next (>= 1m).
	Interval time.Duration
	// Output is the absolute path of the c1z file each sync replaces.
	Output string
}

// ServiceSettings is a tenant's [tenants.service] table.
type ServiceSettings struct {
	// ClientID is the ConductorOne client id; it is not secret, so it may
	// be a literal as well as a reference.
	ClientID SecretRef
	// ClientSecret references the ConductorOne client secret.
	ClientSecret SecretRef
}

// Tenant returns the tenant called name.
func (c *Config) Tenant(name string) (Tenant, bool) {
	for _, t := range c.Tenants {
		if t.Name == name {
			return t, true
		}
	}
	return Tenant{}, false
}

// CheckSecrets resolves every secret reference and reports each one that
// does not resolve (unset variable, unreadable or empty file) as an *Error
// naming the tenant, the key and the reference, never a value; the errors
// are joined. Load does not resolve secrets, so that a daemon reads them
// only when it starts a tenant; `config check` calls this too, to catch a
// missing secret before deployment.
func (c *Config) CheckSecrets() error {
	p := c.problems()
	for i, t := range c.Tenants {
		key := indexKey("tenants", i)
		check := func(k string, r SecretRef) {
			if _, err := r.Resolve(); err != nil {
				p.add(k, "tenant %q: %v", t.Name, err)
			}
		}
		if t.Token != (SecretRef{}) {
			check(joinKey(key, "token"), t.Token)
		}
		for _, name := range slices.Sorted(maps.Keys(t.Config)) {
			if r := t.Config[name].Ref; r != (SecretRef{}) {
				check(joinKey(joinKey(key, "config"), name), r)
			}
		}
		if t.Service != nil {
			check(joinKey(joinKey(key, "service"), "client_id"), t.Service.ClientID)
			check(joinKey(joinKey(key, "service"), "client_secret"), t.Service.ClientSecret)
		}
	}
	return p.err()
}

// Load reads and checks the configuration file at path. It returns every
// problem, each an *Error, joined (see Errors); a file that cannot be read
// is returned as that error, wrapped.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse checks data as the contents of the configuration file at path. path
// names the file in errors and anchors relative paths; the file itself is
// not read, and nothing else is touched.
func Parse(path string, data []byte) (*Config, error) {
	var raw map[string]any
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, syntaxError(path, data, err)
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	c := &Config{Path: filepath.Join(dir, filepath.Base(path)), file: path, pos: keyPositions(string(data), md, raw)}
	ck := &checker{problems: problems{file: path, pos: c.pos}, dir: dir}
	ck.config(c, raw)
	if err := ck.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// syntaxError turns toml's error into an *Error with its line. toml's
// messages can quote the offending input ("expected value but found
// \"sk_live…\""), and the offending input may be a pasted secret, so on a
// line whose key looks secret-bearing the message is replaced, and
// elsewhere any word of the line's value is cut from it.
func syntaxError(path string, data []byte, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return errors.Join(&Error{File: path, Msg: "invalid TOML"})
	}
	line := pe.Position.Line
	if line <= 0 {
		// toml leaves some errors at the end of input (`"\` for one)
		// without a line; count up to the byte offset it does give.
		line = 1 + strings.Count(string(data[:min(max(pe.Position.Start, 0), len(data))]), "\n")
	}
	msg := pe.Message
	text := lineText(data, line)
	k, v, hasValue := strings.Cut(text, "=")
	k = strings.ToLower(k)
	switch {
	case strings.Contains(k, "token") || strings.Contains(k, "secret") || strings.Contains(k, "password") || strings.Contains(k, "client_id"):
		msg = "the value is not valid TOML (not shown, as it may be a secret); quote it, and use a reference such as \"env:VAR\""
	case hasValue:
		for _, w := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(" \t\"',[]{}#=", r) }) {
			if len(w) >= 4 {
				msg = strings.ReplaceAll(msg, w, "…")
			}
		}
	}
	return errors.Join(&Error{File: path, Line: line, Msg: "invalid TOML: " + msg})
}

// lineText returns the 1-based line n of data, or "".
func lineText(data []byte, n int) string {
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return lines[n-1]
}
