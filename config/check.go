package config

import (
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/segmentids"
)

// checker walks the decoded TOML tree. Decoding into a generic map rather
// than into structs lets it report every problem (a struct decode stops at
// the first wrong type), name keys with their array index, and never echo a
// wrongly typed secret; it also makes unknown-key detection exact, which
// toml.MetaData.Undecoded cannot be for arrays of tables.
type checker struct {
	problems
	dir string // the config file's directory, absolute
}

// table is one TOML table being checked; it remembers which keys were
// asked for, so that the rest can be reported as unknown.
type table struct {
	ck    *checker
	key   string
	m     map[string]any
	known []string
	// handled are keys of the table that are reported otherwise than as
	// unknown (a key of the other kind of tenant) and are not listed as
	// valid.
	handled []string
}

func (ck *checker) table(key string, m map[string]any) *table {
	return &table{ck: ck, key: key, m: m}
}

func (t *table) child(name string) string { return joinKey(t.key, name) }

// get returns the value of name and records name as a known key.
func (t *table) get(name string) (any, bool) {
	t.known = append(t.known, name)
	v, ok := t.m[name]
	return v, ok
}

// allow records names as known keys without reading them, for keys that
// are read only in some cases but must always be listed as valid.
func (t *table) allow(names ...string) { t.known = append(t.known, names...) }

// unknown reports every key that was not asked for, listing the known
// ones, since a misspelt key is the usual cause.
func (t *table) unknown(what string) {
	var bad []string
	for k := range t.m {
		if !slices.Contains(t.known, k) && !slices.Contains(t.handled, k) {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad)
	known := slices.Clone(t.known)
	slices.Sort(known)
	known = slices.Compact(known)
	for _, k := range bad {
		t.ck.add(t.child(k), "unknown key; the keys of %s are %s", what, strings.Join(known, ", "))
	}
}

// typeName names a decoded value's TOML type for messages; it never shows
// the value itself.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	}
	return "a date/time"
}

func (t *table) str(name string) (string, bool) {
	v, ok := t.get(name)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.ck.add(t.child(name), "must be a string, not %s", typeName(v))
	}
	return s, ok
}

func (t *table) integer(name string) (int64, bool) {
	v, ok := t.get(name)
	if !ok {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		t.ck.add(t.child(name), "must be an integer, not %s", typeName(v))
	}
	return n, ok
}

func (t *table) boolean(name string) (bool, bool) {
	v, ok := t.get(name)
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		t.ck.add(t.child(name), "must be true or false, not %s", typeName(v))
	}
	return b, ok
}

// intRange reads an optional integer in [lo, hi] into *dst.
func (t *table) intRange(name string, lo, hi int64, dst *int) {
	n, ok := t.integer(name)
	if !ok {
		return
	}
	if n < lo || n > hi {
		t.ck.add(t.child(name), "must be between %d and %d, not %d", lo, hi, n)
		return
	}
	*dst = int(n)
}

// int64Range reads an optional integer in [lo, hi].
func (t *table) int64Range(name string, lo, hi int64) (int64, bool) {
	n, ok := t.integer(name)
	if !ok {
		return 0, false
	}
	if n < lo || n > hi {
		t.ck.add(t.child(name), "must be between %d and %d, not %d", lo, hi, n)
		return 0, false
	}
	return n, true
}

// duration reads an optional Go duration string ("90s", "1h30m").
func (t *table) duration(name string) (time.Duration, bool) {
	s, ok := t.str(name)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.ck.add(t.child(name), `must be a duration such as "90s", "5m" or "1h", not %q`, s)
		return 0, false
	}
	return d, true
}

// sub returns the table name, or nil if it is absent or not a table.
func (t *table) sub(name string) *table {
	v, ok := t.get(name)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.ck.add(t.child(name), "must be a table ([%s]), not %s", t.child(name), typeName(v))
		return nil
	}
	return t.ck.table(t.child(name), m)
}

// path makes a configured path absolute relative to the config file, so
// that the daemon's working directory does not matter.
func (ck *checker) path(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(ck.dir, p)
	}
	return filepath.Clean(p)
}

func (ck *checker) config(c *Config, raw map[string]any) {
	root := ck.table("", raw)
	ck.runtime(&c.Runtime, root.sub("runtime"))
	c.Connectors = ck.connectors(root)
	c.Tenants = ck.tenants(root, c.Connectors, c.Runtime)
	root.unknown("the file")
}

func (ck *checker) runtime(r *Runtime, t *table) {
	*r = Runtime{
		MemoryLimitMiB:     DefaultMemoryLimitMiB,
		CallTimeout:        DefaultCallTimeout,
		InstancesPerTenant: DefaultInstancesPerTenant,
		MaxConcurrentSyncs: DefaultMaxConcurrentSyncs,
	}
	r.CacheDir = DefaultCacheDir()
	r.StorageEngine = localsync.DefaultStorageEngine
	r.Limits = synclimits.Limits{}.WithDefaults()
	if t == nil {
		return
	}
	r.Limits = ck.limits(t, r.Limits)
	if s, ok := t.str("cache_dir"); ok {
		if s == "" {
			ck.add(t.child("cache_dir"), "must not be empty; leave it out for the default")
		} else {
			r.CacheDir = ck.path(s)
		}
	}
	t.intRange("memory_limit_mib", MinMemoryLimitMiB, MaxMemoryLimitMiB, &r.MemoryLimitMiB)
	if d, ok := t.duration("call_timeout"); ok {
		if d <= 0 {
			ck.add(t.child("call_timeout"), "must be greater than 0")
		} else {
			r.CallTimeout = d
		}
	}
	t.intRange("instances_per_tenant", MinInstancesPerTenant, MaxInstancesPerTenant, &r.InstancesPerTenant)
	t.intRange("max_concurrent_syncs", 1, MaxConcurrentSyncs, &r.MaxConcurrentSyncs)
	if n, ok := t.integer("process_memory_mib"); ok {
		if n != 0 && (n < MinProcessMemoryMiB || n > MaxProcessMemoryMiB) {
			ck.add(t.child("process_memory_mib"), "must be 0 (no budget) or between %d and %d, not %d", MinProcessMemoryMiB, MaxProcessMemoryMiB, n)
		} else {
			r.ProcessMemoryMiB = int(n)
		}
	}
	if s, ok := t.str("listen"); ok && s != "" {
		if msg := checkListen(s); msg != "" {
			ck.add(t.child("listen"), "%s", msg)
		} else {
			r.Listen = s
		}
	}
	if s, ok := t.str("storage_engine"); ok {
		if e, err := localsync.ParseStorageEngine(s); err != nil {
			ck.add(t.child("storage_engine"), "%v", err)
		} else {
			r.StorageEngine = e
		}
	}
	t.unknown("[runtime]")
}

// DefaultCacheDir is the compiled-module cache used when [runtime] sets no
// cache_dir, and the CLI's --cache-dir default, so the daemon and one-shot
// commands share compiled modules.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "baton-runner", "wazero")
	}
	return filepath.Join(os.TempDir(), "baton-runner-wazero")
}

func checkListen(s string) string {
	const want = `must be host:port such as "127.0.0.1:9090" (or "" for no health and metrics server)`
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return want
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return want + "; the port must be a number up to 65535"
	}
	return ""
}

func (ck *checker) connectors(root *table) map[string]Connector {
	out := map[string]Connector{}
	t := root.sub("connectors")
	if t == nil {
		return out
	}
	for _, name := range slices.Sorted(maps.Keys(t.m)) {
		v, _ := t.get(name)
		key := t.child(name)
		m, ok := v.(map[string]any)
		if !ok {
			ck.add(key, "must be a table ([%s]), not %s", key, typeName(v))
			continue
		}
		if !namePattern.MatchString(name) {
			ck.add(key, "connector name must be 1-63 of a-z, 0-9 and - (not starting with -)")
		}
		ct := ck.table(key, m)
		c := Connector{Name: name}
		if s, ok := ct.str("wasm"); ok {
			if mod, ok := strings.CutPrefix(s, EmbeddedPrefix); ok {
				if !namePattern.MatchString(mod) {
					ck.add(ct.child("wasm"), `must be "embedded:<name>" with a module name of a-z, 0-9 and -, or a path to a .wasm file`)
				}
				c.Wasm = s
			} else if s == "" {
				ck.add(ct.child("wasm"), `must not be empty; use "embedded:%s" or a path to a .wasm file`, name)
			} else {
				c.Wasm = ck.path(s)
			}
		} else if _, present := m["wasm"]; !present {
			ck.add(ct.child("wasm"), `is required: "embedded:<name>" or a path to a .wasm file`)
		}
		if s, ok := ct.str("sha256"); ok {
			if !isHex64(s) {
				ck.add(ct.child("sha256"), "must be 64 hexadecimal digits (a SHA-256 as printed by sha256sum)")
			} else {
				c.SHA256 = strings.ToLower(s)
			}
		}
		c.Kind = KindABI
		if s, ok := ct.str("kind"); ok {
			switch Kind(s) {
			case KindABI, KindBatonSDK:
				c.Kind = Kind(s)
			default:
				ck.add(ct.child("kind"), "must be %q (a connector written with baton-sdk) or %q (the default: a guest of baton-runner's ABI, such as the Segment connector), not %q", KindBatonSDK, KindABI, s)
			}
		}
		ct.unknown("a connector")
		out[name] = c
	}
	return out
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (ck *checker) tenants(root *table, connectors map[string]Connector, runtime Runtime) []Tenant {
	v, ok := root.get("tenants")
	var list []map[string]any
	switch x := v.(type) {
	case nil:
	case []map[string]any:
		list = x
	case []any: // tenants = [{...}, ...], an inline array of tables
		for i, e := range x {
			if m, ok := e.(map[string]any); ok {
				list = append(list, m)
			} else {
				ck.add(indexKey("tenants", i), "must be a table, not %s", typeName(e))
			}
		}
		if len(list) != len(x) {
			return nil
		}
	default:
		ck.add("tenants", "must be an array of tables, each starting with [[tenants]], not %s", typeName(v))
		return nil
	}
	if len(list) == 0 {
		key := ""
		if ok {
			key = "tenants"
		}
		ck.add(key, "no tenants: add at least one [[tenants]] table")
		return nil
	}
	var out []Tenant
	names := map[string]int{}   // name -> index of first use
	outputs := map[string]int{} // sync output -> index of first use
	for i, m := range list {
		key := indexKey("tenants", i)
		tn := ck.tenant(ck.table(key, m), connectors, runtime)
		if tn.Name != "" {
			if j, dup := names[tn.Name]; dup {
				ck.add(joinKey(key, "name"), "duplicate tenant name %q (also tenants[%d], line %d)", tn.Name, j, ck.pos.line(joinKey(indexKey("tenants", j), "name")))
			} else {
				names[tn.Name] = i
			}
		}
		if tn.Sync != nil && tn.Sync.Output != "" {
			if j, dup := outputs[tn.Sync.Output]; dup {
				ck.add(joinKey(joinKey(key, "sync"), "output"), "same output file as tenants[%d]; each tenant needs its own", j)
			} else {
				outputs[tn.Sync.Output] = i
			}
		}
		out = append(out, tn)
	}
	return out
}

func (ck *checker) tenant(t *table, connectors map[string]Connector, runtime Runtime) Tenant {
	var tn Tenant
	t.allow(string(ModeSync), string(ModeService))
	required := func(name, what string) {
		if _, ok := t.m[name]; !ok {
			ck.add(t.child(name), "is required: %s", what)
		}
	}

	if s, ok := t.str("name"); ok {
		if namePattern.MatchString(s) {
			tn.Name = s
		} else {
			ck.add(t.child("name"), "must be 1-63 of a-z, 0-9 and - (not starting with -), e.g. \"acme-prod\"")
		}
	}
	required("name", `a unique name such as "acme-prod"`)

	var conn Connector
	if s, ok := t.str("connector"); ok {
		if c, found := connectors[s]; found {
			tn.Connector, conn = s, c
		} else if namePattern.MatchString(s) {
			ck.add(t.child("connector"), "names no connector: declare [connectors.%s]%s", s, declared(connectors))
		} else {
			ck.add(t.child("connector"), "names no connector%s", declared(connectors))
		}
	}
	required("connector", "the name of a [connectors.X] table"+declared(connectors))

	if conn.Kind == KindBatonSDK {
		ck.batonSDKTenant(t, &tn)
		for _, k := range []string{"base_url", "token", segmentids.Setting} {
			if _, present := t.m[k]; present {
				ck.add(t.child(k), "is not a key of a baton-sdk connector's tenant (connector %q): %s", tn.Connector, batonSDKInstead[k])
				t.handled = append(t.handled, k)
			}
		}
	} else {
		ck.abiTenant(t, &tn, conn)
		if tn.Connector == "" {
			// Which keys apply is unknown; the connector is reported.
			t.handled = append(t.handled, batonSDKKeys...)
		} else {
			for _, k := range batonSDKKeys {
				if _, present := t.m[k]; present {
					ck.add(t.child(k), "is a key of baton-sdk connectors' tenants only; connector %q is not one (its [connectors.%s] has no kind = %q)", tn.Connector, tn.Connector, KindBatonSDK)
					t.handled = append(t.handled, k)
				}
			}
		}
	}

	if s, ok := t.str("mode"); ok {
		switch Mode(s) {
		case ModeSync, ModeService:
			tn.Mode = Mode(s)
		default:
			ck.add(t.child("mode"), `must be "sync" or "service", not %q`, s)
		}
	}
	required("mode", `"sync" or "service"`)

	tn.Provisioning, _ = t.boolean("provisioning")
	t.intRange("requests_per_minute", 0, 1<<31-1, &tn.RequestsPerMinute)
	tn.Limits = ck.limits(t, runtime.Limits)

	for _, sec := range []Mode{ModeSync, ModeService} {
		_, present := t.m[string(sec)]
		switch {
		case tn.Mode == "" && !present:
			// Unknown or missing mode, already reported; nothing to check.
		case tn.Mode == sec && !present:
			ck.add(t.child(string(sec)), "is required when mode = %q: add a [tenants.%s] table", sec, sec)
		case tn.Mode != "" && tn.Mode != sec && present:
			ck.add(t.child(string(sec)), "is not allowed when mode = %q: remove [tenants.%s] or set mode = %q", tn.Mode, sec, sec)
		}
	}
	// Check a section's contents whenever it is there, unless the mode
	// rules it out, so that a file with a missing mode still gets checked.
	if tn.Mode != ModeService {
		if st := t.sub(string(ModeSync)); st != nil {
			s := ck.syncSettings(st)
			if tn.Mode == ModeSync {
				tn.Sync = s
			}
		}
	}
	if tn.Mode != ModeSync {
		if st := t.sub(string(ModeService)); st != nil {
			s := ck.serviceSettings(st)
			if tn.Mode == ModeService {
				tn.Service = s
			}
		}
	}
	t.unknown("a tenant")
	return tn
}

// batonSDKKeys are the keys only a baton-sdk connector's tenant takes.
var batonSDKKeys = []string{"config", "origins", "connect_to", "ca_file", "reveal_secrets"}

// batonSDKInstead says what a baton-sdk connector's tenant has in place
// of a key of the Segment connector's.
var batonSDKInstead = map[string]string{
	"base_url":         `list the API origins it may reach in origins = ["https://…"]`,
	"token":            `its credentials are fields of its [tenants.config], given as references ("env:VAR" or "file:/path")`,
	segmentids.Setting: "it is a setting of the Segment connector",
}

// abiTenant reads the keys of a tenant of a baton-runner ABI guest (the
// Segment connector): one API origin and the token the host injects.
func (ck *checker) abiTenant(t *table, tn *Tenant, conn Connector) {
	required := func(name, what string) {
		if _, ok := t.m[name]; !ok {
			ck.add(t.child(name), "is required: %s", what)
		}
	}
	if s, ok := t.str("base_url"); ok {
		if msg := checkBaseURL(s); msg != "" {
			ck.add(t.child("base_url"), "%s", msg)
		} else {
			tn.BaseURL = s
		}
	} else if _, present := t.m["base_url"]; !present && tn.Connector != "" {
		tn.BaseURL = defaultBaseURL(conn)
		if tn.BaseURL == "" {
			ck.add(t.child("base_url"), "is required: connector %q has no default API origin", tn.Connector)
		}
	}

	if s, ok := t.str("token"); ok {
		if r, msg := parseRef(s, ck.dir, false); msg != "" {
			ck.add(t.child("token"), "%s", msg)
		} else {
			tn.Token = r
		}
	}
	required("token", `a reference to the API token, "env:VAR" or "file:/path"`)

	tn.EntitlementIDs = segmentids.RoleID
	if s, ok := t.str(segmentids.Setting); ok {
		if slices.Contains(segmentids.Schemes, s) {
			tn.EntitlementIDs = s
		} else {
			ck.add(t.child(segmentids.Setting), "must be %q (the default: role IDs) or %q (the IDs of ConductorOne's baton-segment connector), not %q", segmentids.RoleID, segmentids.BatonSegment, s)
		}
	}
}

func declared(connectors map[string]Connector) string {
	if len(connectors) == 0 {
		return " (the file declares none)"
	}
	return " (declared: " + strings.Join(slices.Sorted(maps.Keys(connectors)), ", ") + ")"
}

func defaultBaseURL(c Connector) string {
	if u := DefaultBaseURL(c.Name); u != "" {
		return u
	}
	if mod, ok := c.Embedded(); ok {
		return DefaultBaseURL(mod)
	}
	return ""
}

// checkBaseURL applies the egress client's own origin rules, so that
// `config check` catches what the tenant would fail on at start. The
// message is egress's Problem, which never quotes the URL: it could carry
// user:password.
func checkBaseURL(raw string) string {
	var be *egress.BaseURLError
	if err := egress.CheckBaseURL(raw); errors.As(err, &be) {
		return be.Problem
	} else if err != nil {
		return err.Error()
	}
	return ""
}

// limits reads the sync-limit keys of [runtime] or a tenant, each in
// place of the same field of base.
func (ck *checker) limits(t *table, base synclimits.Limits) synclimits.Limits {
	l := base
	if d, ok := t.duration("sync_timeout"); ok {
		if d < MinSyncTimeout || d > MaxSyncTimeout {
			ck.add(t.child("sync_timeout"), "must be between %s and %s, not %s", MinSyncTimeout, MaxSyncTimeout, d)
		} else {
			l.Timeout = d
		}
	}
	if n, ok := t.int64Range("max_pages", 1, MaxMaxPages); ok {
		l.MaxPages = n
	}
	// A listing is part of a sync: max_pages bounds it too.
	if n, ok := t.int64Range("max_empty_pages", 1, MaxMaxPages); ok {
		l.MaxEmptyPages = n
	}
	if n, ok := t.int64Range("max_items", 1, MaxMaxItems); ok {
		l.MaxItems = n
	}
	if n, ok := t.int64Range("max_depth", 1, MaxMaxDepth); ok {
		l.MaxDepth = int(n)
	}
	if n, ok := t.int64Range("max_c1z_mib", MinMaxC1ZMiB, MaxMaxC1ZMiB); ok {
		l.MaxC1ZBytes = n << 20
	}
	if n, ok := t.int64Range("request_budget", 0, MaxRequestBudget); ok {
		l.RequestBudget = n
	}
	if n, ok := t.int64Range("max_in_flight", 1, MaxMaxInFlight); ok {
		l.MaxInFlight = int(n)
	}
	return l
}

func (ck *checker) syncSettings(t *table) *SyncSettings {
	s := &SyncSettings{}
	if d, ok := t.duration("interval"); ok {
		if d < MinSyncInterval {
			ck.add(t.child("interval"), "must be at least 1m")
		} else {
			s.Interval = d
		}
	} else if _, present := t.m["interval"]; !present {
		ck.add(t.child("interval"), `is required: the time between syncs, e.g. "1h" (at least 1m)`)
	}
	if p, ok := t.str("output"); ok {
		if p == "" {
			ck.add(t.child("output"), "must not be empty")
		} else {
			s.Output = ck.path(p)
		}
	} else if _, present := t.m["output"]; !present {
		ck.add(t.child("output"), `is required: the c1z file to write, e.g. "out/acme-prod.c1z"`)
	}
	t.unknown("[tenants.sync]")
	return s
}

func (ck *checker) serviceSettings(t *table) *ServiceSettings {
	s := &ServiceSettings{}
	ref := func(name string, literal bool, what string) SecretRef {
		v, ok := t.str(name)
		if !ok {
			if _, present := t.m[name]; !present {
				ck.add(t.child(name), "is required: %s", what)
			}
			return SecretRef{}
		}
		r, msg := parseRef(v, ck.dir, literal)
		if msg != "" {
			ck.add(t.child(name), "%s", msg)
		}
		return r
	}
	s.ClientID = ref("client_id", true, `the ConductorOne client id, or a reference "env:VAR" or "file:/path"`)
	s.ClientSecret = ref("client_secret", false, `a reference to the ConductorOne client secret, "env:VAR" or "file:/path"`)
	t.unknown("[tenants.service]")
	return s
}
