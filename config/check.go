package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/segmentids"
)

// The file is checked against one table of keys (spec) per TOML table,
// walked by one checker: the tables alone say which keys a table takes,
// what each holds and where it goes. Decoding into a generic map rather
// than into structs lets the checker report every problem (a struct
// decode stops at the first wrong type), name keys with their array
// index, and never echo a wrongly typed secret; it also makes unknown-key
// detection exact, which toml.MetaData.Undecoded cannot be for arrays of
// tables.

// checker collects the problems of one file.
type checker struct {
	problems
	dir        string               // the config file's directory, absolute
	connectors map[string]Connector // the file's, which its tenants name
}

// spec is one key of a TOML table whose settings go into a T.
type spec[T any] struct {
	name string
	// need, for a required key, says what it holds.
	need string
	// absent, for a key with a default, stores the default in dst.
	absent func(dst *T)
	// read checks v, the key's value, reporting each problem at key, and
	// stores it in dst.
	read func(ck *checker, key string, v any, dst *T)
}

func (s spec[T]) required(need string) spec[T] {
	s.need = need
	return s
}

// value is a key holding a TOML R (a string, an integer or a boolean),
// which parse turns into the V that set stores, or into what is wrong
// with it. def, if given, is the V stored when the key is absent.
func value[T, R, V any](name string, parse func(R) (V, string), set func(*T, V), def ...V) spec[T] {
	s := spec[T]{name: name}
	if len(def) > 0 {
		s.absent = func(dst *T) { set(dst, def[0]) }
	}
	s.read = func(ck *checker, key string, v any, dst *T) {
		r, ok := v.(R)
		if !ok {
			want := typeName(r)
			if want == "a boolean" {
				want = "true or false"
			}
			ck.add(key, "must be %s, not %s", want, typeName(v))
			return
		}
		x, problem := parse(r)
		if problem != "" {
			ck.add(key, "%s", problem)
			return
		}
		set(dst, x)
	}
	return s
}

// list is a key holding an array of strings, each of which add stores
// into dst or says what is wrong with (at the entry's own key).
func list[T any](name string, add func(dst *T, s string) string) spec[T] {
	return spec[T]{name: name, read: func(ck *checker, key string, v any, dst *T) {
		arr, ok := v.([]any)
		if !ok {
			ck.add(key, "must be an array of strings, not %s", typeName(v))
			return
		}
		for i, e := range arr {
			if s, ok := e.(string); !ok {
				ck.add(indexKey(key, i), "must be a string, not %s", typeName(e))
			} else if problem := add(dst, s); problem != "" {
				ck.add(indexKey(key, i), "%s", problem)
			}
		}
	}}
}

// within reads specs, keys of an S, into the S of a T that at returns.
func within[T, S any](specs []spec[S], at func(*T) *S) []spec[T] {
	out := make([]spec[T], len(specs))
	for i, s := range specs {
		out[i] = spec[T]{name: s.name, need: s.need, read: func(ck *checker, key string, v any, dst *T) { s.read(ck, key, v, at(dst)) }}
		if s.absent != nil {
			out[i].absent = func(dst *T) { s.absent(at(dst)) }
		}
	}
	return out
}

// walk reads the keys of table m, at key, that specs name into dst, the
// defaults of those absent, and reports each required one that is absent
// at the table.
func walk[T any](ck *checker, key string, m map[string]any, specs []spec[T], dst *T) {
	for _, s := range specs {
		_, present := m[s.name]
		switch {
		case present:
			s.read(ck, joinKey(key, s.name), m[s.name], dst)
		case s.need != "":
			ck.add(joinKey(key, s.name), "is required: %s", s.need)
		case s.absent != nil:
			s.absent(dst)
		}
	}
}

// table walks specs over m, the table what at key, and reports its
// unknown keys.
func table[T any](ck *checker, key string, m map[string]any, what string, specs []spec[T], dst *T) {
	walk(ck, key, m, specs, dst)
	ck.unknown(key, m, what, names(specs))
}

func names[T any](specs []spec[T]) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.name)
	}
	return out
}

// unknown reports every key of m neither known nor ignored, listing the
// known ones, since a misspelt key is the usual cause.
func (ck *checker) unknown(key string, m map[string]any, what string, known []string, ignored ...string) {
	known = slices.Sorted(slices.Values(known))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(known, k) && !slices.Contains(ignored, k) {
			ck.add(joinKey(key, k), "unknown key; the keys of %s are %s", what, strings.Join(known, ", "))
		}
	}
}

// sub returns v, the value at key, as a table.
func (ck *checker) sub(key string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		ck.add(key, "must be a table ([%s]), not %s", key, typeName(v))
	}
	return m, ok
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

// The parsers of values, for value.

func asIs[V any](v V) (V, string) { return v, "" }

// valid takes a string check finds nothing wrong with.
func valid(check func(string) string) func(string) (string, string) {
	return func(s string) (string, string) { return s, check(s) }
}

func between(lo, hi int64) func(int64) (int64, string) {
	return func(n int64) (int64, string) {
		if n < lo || n > hi {
			return 0, fmt.Sprintf("must be between %d and %d, not %d", lo, hi, n)
		}
		return n, ""
	}
}

// duration takes a Go duration string ("90s", "1h30m") from lo up to hi,
// or without an upper bound when hi is 0.
func duration(lo, hi time.Duration) func(string) (time.Duration, string) {
	return func(s string) (time.Duration, string) {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			return 0, fmt.Sprintf(`must be a duration such as "90s", "5m" or "1h", not %q`, s)
		case hi > 0 && (d < lo || d > hi):
			return 0, fmt.Sprintf("must be between %s and %s, not %s", lo, hi, d)
		case d < lo && lo == 1:
			return 0, "must be greater than 0"
		case d < lo:
			return 0, "must be at least " + strings.TrimSuffix(strings.TrimSuffix(lo.String(), "0s"), "0m")
		}
		return d, ""
	}
}

// oneOf takes one of values; want says what they are, after "must be".
func oneOf[V ~string](want string, values ...V) func(string) (V, string) {
	return func(s string) (V, string) {
		if !slices.Contains(values, V(s)) {
			return "", fmt.Sprintf("must be %s, not %q", want, s)
		}
		return V(s), ""
	}
}

// path takes a path, made absolute relative to the config file so that
// the daemon's working directory does not matter; ifEmpty ends the
// message about an empty one.
func (ck *checker) path(ifEmpty string) func(string) (string, string) {
	return func(p string) (string, string) {
		if p == "" {
			return "", "must not be empty" + ifEmpty
		}
		return ck.abs(p), ""
	}
}

func (ck *checker) abs(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(ck.dir, p)
	}
	return filepath.Clean(p)
}

// ref takes a secret reference, or with literal the value itself.
func (ck *checker) ref(literal bool) func(string) (SecretRef, string) {
	return func(s string) (SecretRef, string) { return parseRef(s, ck.dir, literal) }
}

// The tables of keys.

func (ck *checker) config(c *Config, raw map[string]any) {
	c.Runtime.Limits = synclimits.Limits{}.WithDefaults()
	var runtime map[string]any // nil, whose keys all take their defaults, unless [runtime] is a table
	if v, ok := raw["runtime"]; ok {
		runtime, _ = ck.sub("runtime", v)
	}
	table(ck, "runtime", runtime, "[runtime]", ck.runtimeKeys(), &c.Runtime)
	ck.connectors = map[string]Connector{}
	if v, ok := raw["connectors"]; ok {
		if m, ok := ck.sub("connectors", v); ok {
			ck.readConnectors(m)
		}
	}
	c.Connectors = ck.connectors
	v, ok := raw["tenants"]
	c.Tenants = ck.tenants(v, ok, c.Runtime.Limits)
	ck.unknown("", raw, "the file", []string{"runtime", "connectors", "tenants"})
}

func (ck *checker) runtimeKeys() []spec[Runtime] {
	return append([]spec[Runtime]{
		value("cache_dir", ck.path("; leave it out for the default"), func(r *Runtime, p string) { r.CacheDir = p }, DefaultCacheDir()),
		value("memory_limit_mib", between(MinMemoryLimitMiB, MaxMemoryLimitMiB), func(r *Runtime, n int64) { r.MemoryLimitMiB = int(n) }, DefaultMemoryLimitMiB),
		value("call_timeout", duration(1, 0), func(r *Runtime, d time.Duration) { r.CallTimeout = d }, DefaultCallTimeout),
		value("instances_per_tenant", between(MinInstancesPerTenant, MaxInstancesPerTenant), func(r *Runtime, n int64) { r.InstancesPerTenant = int(n) }, DefaultInstancesPerTenant),
		value("max_concurrent_syncs", between(1, MaxConcurrentSyncs), func(r *Runtime, n int64) { r.MaxConcurrentSyncs = int(n) }, DefaultMaxConcurrentSyncs),
		value("process_memory_mib", processMemory, func(r *Runtime, n int64) { r.ProcessMemoryMiB = int(n) }),
		value("listen", valid(checkListen), func(r *Runtime, s string) { r.Listen = s }),
		value("storage_engine", storageEngine, func(r *Runtime, e c1zstore.Engine) { r.StorageEngine = e }, localsync.DefaultStorageEngine),
	}, within(limitKeys, func(r *Runtime) *synclimits.Limits { return &r.Limits })...)
}

// limitKeys are the sync limits, which [runtime] and every tenant take.
var limitKeys = []spec[synclimits.Limits]{
	value("sync_timeout", duration(MinSyncTimeout, MaxSyncTimeout), func(l *synclimits.Limits, d time.Duration) { l.Timeout = d }),
	value("max_pages", between(1, MaxMaxPages), func(l *synclimits.Limits, n int64) { l.MaxPages = n }),
	// A listing is part of a sync: max_pages bounds it too.
	value("max_empty_pages", between(1, MaxMaxPages), func(l *synclimits.Limits, n int64) { l.MaxEmptyPages = n }),
	value("max_items", between(1, MaxMaxItems), func(l *synclimits.Limits, n int64) { l.MaxItems = n }),
	value("max_depth", between(1, MaxMaxDepth), func(l *synclimits.Limits, n int64) { l.MaxDepth = int(n) }),
	value("max_c1z_mib", between(MinMaxC1ZMiB, MaxMaxC1ZMiB), func(l *synclimits.Limits, n int64) { l.MaxC1ZBytes = n << 20 }),
	value("request_budget", between(0, MaxRequestBudget), func(l *synclimits.Limits, n int64) { l.RequestBudget = n }),
	value("max_in_flight", between(1, MaxMaxInFlight), func(l *synclimits.Limits, n int64) { l.MaxInFlight = int(n) }),
}

func processMemory(n int64) (int64, string) {
	if n != 0 && (n < MinProcessMemoryMiB || n > MaxProcessMemoryMiB) {
		return 0, fmt.Sprintf("must be 0 (no budget) or between %d and %d, not %d", MinProcessMemoryMiB, MaxProcessMemoryMiB, n)
	}
	return n, ""
}

func checkListen(s string) string {
	const want = `must be host:port such as "127.0.0.1:9090" (or "" for no health and metrics server)`
	if s == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return want
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return want + "; the port must be a number up to 65535"
	}
	return ""
}

func storageEngine(s string) (c1zstore.Engine, string) {
	e, err := localsync.ParseStorageEngine(s)
	if err != nil {
		return "", err.Error()
	}
	return e, ""
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

func (ck *checker) readConnectors(m map[string]any) {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		key := joinKey("connectors", name)
		cm, ok := ck.sub(key, m[name])
		if !ok {
			continue
		}
		if !namePattern.MatchString(name) {
			ck.add(key, "connector name must be 1-63 of a-z, 0-9 and - (not starting with -)")
		}
		c := Connector{Name: name}
		table(ck, key, cm, "a connector", ck.connectorKeys(name), &c)
		ck.connectors[name] = c
	}
}

// connectorKeys are the keys of [connectors.name].
func (ck *checker) connectorKeys(name string) []spec[Connector] {
	return []spec[Connector]{
		value("wasm", ck.wasm(name), func(c *Connector, w string) { c.Wasm = w }).required(`"embedded:<name>" or a path to a .wasm file`),
		value("sha256", sha256Hex, func(c *Connector, h string) { c.SHA256 = h }),
		value("kind", oneOf(fmt.Sprintf("%q (a connector written with baton-sdk) or %q (the default: a guest of baton-runner's ABI, such as the Segment connector)", KindBatonSDK, KindABI),
			KindBatonSDK, KindABI), func(c *Connector, k Kind) { c.Kind = k }, KindABI),
	}
}

// wasm takes the module of the connector called name.
func (ck *checker) wasm(name string) func(string) (string, string) {
	return func(s string) (string, string) {
		if mod, ok := strings.CutPrefix(s, EmbeddedPrefix); ok && !namePattern.MatchString(mod) {
			return "", `must be "embedded:<name>" with a module name of a-z, 0-9 and -, or a path to a .wasm file`
		} else if ok {
			return s, ""
		}
		if s == "" {
			return "", fmt.Sprintf(`must not be empty; use "embedded:%s" or a path to a .wasm file`, name)
		}
		return ck.abs(s), ""
	}
}

func sha256Hex(s string) (string, string) {
	if _, err := hex.DecodeString(s); err != nil || len(s) != 64 {
		return "", "must be 64 hexadecimal digits (a SHA-256 as printed by sha256sum)"
	}
	return strings.ToLower(s), ""
}

// tenants reads the [[tenants]], v (present says whether it is there at
// all), each inheriting limits.
func (ck *checker) tenants(v any, present bool, limits synclimits.Limits) []Tenant {
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
		if present {
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
		tn := ck.tenant(key, m, limits)
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

// tenant reads one tenant: the keys of every tenant, then those of its
// connector's kind. The other kind's keys are reported as such, or, when
// the connector is unknown (and reported), ignored.
func (ck *checker) tenant(key string, m map[string]any, limits synclimits.Limits) Tenant {
	tn := Tenant{Limits: limits}
	common := ck.tenantKeys()
	walk(ck, key, m, common, &tn)
	kind := ck.connectors[tn.Connector].Kind
	own, other := ck.abiTenantKeys(), ck.batonSDKTenantKeys()
	if kind == KindBatonSDK {
		own, other = other, own
	}
	walk(ck, key, m, own, &tn)
	for _, s := range other {
		if _, present := m[s.name]; !present || tn.Connector == "" {
			continue
		}
		if kind == KindBatonSDK {
			ck.add(joinKey(key, s.name), "is not a key of a baton-sdk connector's tenant (connector %q): %s", tn.Connector, batonSDKInstead[s.name])
		} else {
			ck.add(joinKey(key, s.name), "is a key of baton-sdk connectors' tenants only; connector %q is not one (its [connectors.%s] has no kind = %q)", tn.Connector, tn.Connector, KindBatonSDK)
		}
	}
	ck.unknown(key, m, "a tenant", slices.Concat(names(common), names(own)), names(other)...)

	if _, present := m["base_url"]; !present && kind != KindBatonSDK && tn.Connector != "" {
		if tn.BaseURL = defaultBaseURL(ck.connectors[tn.Connector]); tn.BaseURL == "" {
			ck.add(joinKey(key, "base_url"), "is required: connector %q has no default API origin", tn.Connector)
		}
	}
	for _, sec := range []Mode{ModeSync, ModeService} {
		_, present := m[string(sec)]
		switch {
		case tn.Mode == "" && !present:
			// Unknown or missing mode, already reported; nothing to check.
		case tn.Mode == sec && !present:
			ck.add(joinKey(key, string(sec)), "is required when mode = %q: add a [tenants.%s] table", sec, sec)
		case tn.Mode != "" && tn.Mode != sec && present:
			ck.add(joinKey(key, string(sec)), "is not allowed when mode = %q: remove [tenants.%s] or set mode = %q", tn.Mode, sec, sec)
		}
	}
	return tn
}

// tenantKeys are the keys of every tenant. mode comes before the sections
// it decides.
func (ck *checker) tenantKeys() []spec[Tenant] {
	return append([]spec[Tenant]{
		value("name", valid(tenantName), func(tn *Tenant, s string) { tn.Name = s }).required(`a unique name such as "acme-prod"`),
		value("connector", ck.connector, func(tn *Tenant, c Connector) { tn.Connector = c.Name }).required("the name of a [connectors.X] table" + declared(ck.connectors)),
		value("mode", oneOf(`"sync" or "service"`, ModeSync, ModeService), func(tn *Tenant, m Mode) { tn.Mode = m }).required(`"sync" or "service"`),
		value("provisioning", asIs[bool], func(tn *Tenant, b bool) { tn.Provisioning = b }),
		value("requests_per_minute", between(0, 1<<31-1), func(tn *Tenant, n int64) { tn.RequestsPerMinute = int(n) }),
		section(ModeSync, ck.syncKeys(), func(tn *Tenant, s *SyncSettings) { tn.Sync = s }),
		section(ModeService, ck.serviceKeys(), func(tn *Tenant, s *ServiceSettings) { tn.Service = s }),
	}, within(limitKeys, func(tn *Tenant) *synclimits.Limits { return &tn.Limits })...)
}

func (ck *checker) syncKeys() []spec[SyncSettings] {
	return []spec[SyncSettings]{
		value("interval", duration(MinSyncInterval, 0), func(s *SyncSettings, d time.Duration) { s.Interval = d }).required(`the time from one sync's start to the next, e.g. "1h" (at least 1m)`),
		value("output", ck.path(""), func(s *SyncSettings, p string) { s.Output = p }).required(`the c1z file to write, e.g. "out/acme-prod.c1z"`),
	}
}

func (ck *checker) serviceKeys() []spec[ServiceSettings] {
	return []spec[ServiceSettings]{
		value("client_id", ck.ref(true), func(s *ServiceSettings, r SecretRef) { s.ClientID = r }).required(`the ConductorOne client id, or a reference "env:VAR" or "file:/path"`),
		value("client_secret", ck.ref(false), func(s *ServiceSettings, r SecretRef) { s.ClientSecret = r }).required(`a reference to the ConductorOne client secret, "env:VAR" or "file:/path"`),
	}
}

// abiTenantKeys are the keys of a tenant of a baton-runner ABI guest (the
// Segment connector): one API origin and the token the host injects.
func (ck *checker) abiTenantKeys() []spec[Tenant] {
	return []spec[Tenant]{
		value("base_url", valid(checkBaseURL), func(tn *Tenant, u string) { tn.BaseURL = u }),
		value("token", ck.ref(false), func(tn *Tenant, r SecretRef) { tn.Token = r }).required(`a reference to the API token, "env:VAR" or "file:/path"`),
		value(segmentids.Setting, oneOf(fmt.Sprintf("%q (the default: role IDs) or %q (the IDs of ConductorOne's baton-segment connector)", segmentids.RoleID, segmentids.BatonSegment),
			segmentids.Schemes...), func(tn *Tenant, s string) { tn.EntitlementIDs = s }, segmentids.RoleID),
	}
}

// section is the sub-table of a tenant of mode, read whenever it is there
// unless the tenant's mode rules it out (so that a file with a missing
// mode still gets checked), and kept when mode is the tenant's.
func section[S any](mode Mode, specs []spec[S], set func(*Tenant, *S)) spec[Tenant] {
	return spec[Tenant]{name: string(mode), read: func(ck *checker, key string, v any, tn *Tenant) {
		if tn.Mode != "" && tn.Mode != mode {
			return
		}
		if m, ok := ck.sub(key, v); ok {
			s := new(S)
			table(ck, key, m, "[tenants."+string(mode)+"]", specs, s)
			if tn.Mode == mode {
				set(tn, s)
			}
		}
	}}
}

func tenantName(s string) string {
	if !namePattern.MatchString(s) {
		return `must be 1-63 of a-z, 0-9 and - (not starting with -), e.g. "acme-prod"`
	}
	return ""
}

// connector takes the name of one of the file's connectors.
func (ck *checker) connector(s string) (Connector, string) {
	if c, ok := ck.connectors[s]; ok {
		return c, ""
	}
	if namePattern.MatchString(s) {
		return Connector{}, fmt.Sprintf("names no connector: declare [connectors.%s]%s", s, declared(ck.connectors))
	}
	return Connector{}, "names no connector" + declared(ck.connectors)
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
