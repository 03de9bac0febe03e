package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/conductorone/baton-sdk/pkg/field"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/internal/segmentids"
)

// Kind says which contract a connector's module speaks, and so which keys
// its tenants take. The file declares it ([connectors.X] kind) rather than
// leaving it to the compiled module, so that Load checks every tenant's
// keys, with their lines, without compiling anything; the runner checks the
// module agrees when it compiles it (see CheckSchemas).
type Kind string

const (
	// KindABI is a guest of baton-runner's own JSON ABI, such as the
	// Segment connector (the default): one API origin (base_url) and a
	// token the host injects.
	KindABI Kind = "baton-runner"
	// KindBatonSDK is a connector written with baton-sdk: its fields in
	// [tenants.config], its API origins in origins.
	KindBatonSDK Kind = "baton-sdk"
)

// Schema is a baton-sdk connector's configuration schema, as its module
// exports it (guest/batonsdk.Schema, read by sandbox.Module.BatonSDKSchema).
type Schema struct {
	// Name is the connector's name, e.g. "baton-demo".
	Name   string  `json:"name"`
	Fields []Field `json:"fields"`
	// Constraints are the relationships between fields the connector
	// declares; Violations checks them.
	Constraints []Constraint `json:"constraints"`
}

// Field is one configuration field of a baton-sdk connector.
type Field struct {
	// Name is the field's name, its flag without the dashes.
	Name string `json:"name"`
	// Type is one of the Field* types.
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Secret      bool   `json:"secret"`
	Description string `json:"description"`
	Default     any    `json:"default"`
}

// The types of a Field, as baton-sdk's field variants.
const (
	FieldString      = "string"
	FieldBool        = "bool"
	FieldInt         = "int"
	FieldStringSlice = "string_slice"
	FieldStringMap   = "string_map"
)

// fieldType is what the host knows of a type of Field: the TOML type a
// value of it is written as; the value a reference counts as when
// constraints are decided, before the tenant starts and reads it; and
// baton-sdk's field of the type, without rules, as the host checks
// required fields and types itself and asks baton-sdk only about
// constraints.
type fieldType struct {
	toml, ref string
	sdk       func(name string) field.SchemaField
}

var fieldTypes = map[string]fieldType{
	FieldString:      {"a string", "set", func(n string) field.SchemaField { return field.StringField(n) }},
	FieldBool:        {"a boolean", "true", func(n string) field.SchemaField { return field.BoolField(n) }},
	FieldInt:         {"an integer", "1", func(n string) field.SchemaField { return field.IntField(n) }},
	FieldStringSlice: {"an array", "set", func(n string) field.SchemaField { return field.StringSliceField(n) }},
	FieldStringMap:   {"a table", "set", func(n string) field.SchemaField { return field.StringMapField(n) }},
}

// typ returns f's type; one the host does not know is read as a string.
func (f Field) typ() fieldType {
	if t, ok := fieldTypes[f.Type]; ok {
		return t
	}
	return fieldTypes[FieldString]
}

// ParseSchema reads a module's exported schema.
func ParseSchema(raw []byte) (Schema, error) {
	var s Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return Schema{}, fmt.Errorf("reading the connector's configuration schema: %w", err)
	}
	return s, nil
}

// Field returns the field called name.
func (s Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// FieldNames returns the names of the fields, sorted.
func (s Schema) FieldNames() []string {
	names := make([]string, 0, len(s.Fields))
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

// FieldValue is one field of a baton-sdk tenant's [tenants.config], as
// written.
type FieldValue struct {
	// Ref is set when the value was written as a reference ("env:VAR" or
	// "file:/path"); a secret field must be one, any other field may be.
	Ref SecretRef
	// Value is the value as the guest reads it, when it is not a
	// reference: a string as is, an integer in decimal, a boolean "true"
	// or "false", an array of strings comma-separated (as BATON_*
	// variables give them), a table of strings as k=v,k2=v2.
	Value string
	// Type is the TOML type written: a string, an integer, … (typeName).
	Type string
}

// Origin is an API origin a baton-sdk tenant's guest may reach.
type Origin struct {
	// URL is scheme://host[:port].
	URL string
	// ConnectTo is the "address:port" dialled in place of URL's host and
	// port (curl's --connect-to), or "" to resolve the host.
	ConnectTo string
}

// ParseConnectTo reads a connect_to entry (--connect-to), curl's
// HOST:PORT:ADDRESS:PORT, and returns the index in origins of the origin
// whose host and port it names and "ADDRESS:PORT". An IPv6 address is
// written in brackets, as curl takes it. problem says what is wrong; it
// quotes spec, which holds no secret.
func ParseConnectTo(spec string, origins []string) (int, string, string) {
	const want = "want HOST:PORT:ADDRESS:PORT as curl's --connect-to, e.g. api.example.com:443:127.0.0.1:8443"
	host, rest, ok1 := cutHost(spec)
	port, rest, ok2 := strings.Cut(rest, ":")
	addr, rest, ok3 := cutHost(rest)
	if !ok1 || !ok2 || !ok3 || host == "" || addr == "" || !validPort(port) || !validPort(rest) {
		return -1, "", fmt.Sprintf("%q: %s", spec, want)
	}
	target := net.JoinHostPort(addr, rest)
	var ce *egress.ConnectToError
	if err := egress.CheckConnectTo(target); errors.As(err, &ce) {
		return -1, "", fmt.Sprintf("%q: address %s", spec, ce.Problem)
	}
	for i, o := range origins {
		u, err := url.Parse(o)
		if err != nil {
			continue
		}
		if strings.EqualFold(u.Hostname(), host) && portOf(u) == port {
			return i, target, ""
		}
	}
	if len(origins) == 0 {
		return -1, "", fmt.Sprintf("%q names %s, but no origin is allowed; connect-to only redirects an allowed origin", spec, net.JoinHostPort(host, port))
	}
	return -1, "", fmt.Sprintf("%q names %s, which is not the host:port of an allowed origin (%s)", spec, net.JoinHostPort(host, port), strings.Join(origins, ", "))
}

// cutHost cuts a host, bracketed if it is an IPv6 literal, and the colon
// after it from s.
func cutHost(s string) (host, rest string, ok bool) {
	if strings.HasPrefix(s, "[") {
		h, r, found := strings.Cut(s[1:], "]")
		if !found || (r != "" && !strings.HasPrefix(r, ":")) {
			return "", "", false
		}
		return h, strings.TrimPrefix(r, ":"), r != ""
	}
	return strings.Cut(s, ":")
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == s
}

// batonSDKTenantKeys are the keys only a baton-sdk connector's tenant
// takes; origins come before connect_to, which redirects them.
func (ck *checker) batonSDKTenantKeys() []spec[Tenant] {
	return []spec[Tenant]{
		{name: "config", read: readFieldValues},
		list("origins", addOrigin),
		list("connect_to", redirectOrigin),
		value("ca_file", ck.path("; leave it out to trust the system's roots only"), func(tn *Tenant, p string) { tn.CAFile = p }),
		list("reveal_secrets", revealSecret),
	}
}

// batonSDKInstead says what a baton-sdk connector's tenant has in place
// of a key of the Segment connector's.
var batonSDKInstead = map[string]string{
	"base_url":         `list the API origins it may reach in origins = ["https://…"]`,
	"token":            `its credentials are fields of its [tenants.config], given as references ("env:VAR" or "file:/path")`,
	segmentids.Setting: "it is a setting of the Segment connector",
}

func readFieldValues(ck *checker, key string, v any, tn *Tenant) {
	m, ok := ck.sub(key, v)
	if !ok {
		return
	}
	tn.Config = map[string]FieldValue{}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if fv, ok := ck.fieldValue(joinKey(key, name), m[name]); ok {
			tn.Config[name] = fv
		}
	}
}

func addOrigin(tn *Tenant, s string) string {
	if msg := checkBaseURL(s); msg != "" {
		return msg
	}
	if slices.ContainsFunc(tn.Origins, func(o Origin) bool { return normalOrigin(o.URL) == normalOrigin(s) }) {
		return "is allowed twice"
	}
	tn.Origins = append(tn.Origins, Origin{URL: s})
	return ""
}

func redirectOrigin(tn *Tenant, s string) string {
	var urls []string
	for _, o := range tn.Origins {
		urls = append(urls, o.URL)
	}
	j, addr, msg := ParseConnectTo(s, urls)
	switch {
	case msg != "":
		return msg
	case tn.Origins[j].ConnectTo != "":
		return tn.Origins[j].URL + " is redirected twice"
	}
	tn.Origins[j].ConnectTo = addr
	return ""
}

func revealSecret(tn *Tenant, name string) string {
	if slices.Contains(tn.RevealSecrets, name) {
		return "names " + name + " twice"
	}
	tn.RevealSecrets = append(tn.RevealSecrets, name)
	return ""
}

// normalOrigin returns an origin URL already checked as scheme://host:port,
// lower-cased, the port defaulted by scheme, as egress compares origins.
func normalOrigin(origin string) string {
	u, _ := url.Parse(origin)
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), portOf(u))
}

// portOf returns u's port, or its scheme's default.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
}

// fieldValue reads one [tenants.config] value. It never quotes a value: a
// field may be a secret, which the schema tells only later.
func (ck *checker) fieldValue(key string, v any) (FieldValue, bool) {
	fv := FieldValue{Type: typeName(v)}
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "env:") || strings.HasPrefix(x, "file:") {
			r, msg := parseRef(x, ck.dir, false)
			if msg != "" {
				ck.add(key, "%s", msg)
				return fv, false
			}
			fv.Ref = r
			return fv, true
		}
		fv.Value = x
	case int64:
		fv.Value = strconv.FormatInt(x, 10)
	case bool:
		fv.Value = strconv.FormatBool(x)
	case []any:
		var parts []string
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				ck.add(indexKey(key, i), "must be a string, not %s: the connector takes arrays of strings only", typeName(e))
				return fv, false
			}
			if strings.Contains(s, ",") {
				ck.add(indexKey(key, i), "must not contain a comma: the connector reads the array comma-separated, as its BATON_* variable")
				return fv, false
			}
			parts = append(parts, s)
		}
		fv.Value = strings.Join(parts, ",")
	case map[string]any:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			s, ok := x[k].(string)
			if !ok || strings.ContainsAny(k+s, ",=") {
				ck.add(joinKey(key, k), "must be a string without , or =: the connector reads a map as k=v,k2=v2")
				return fv, false
			}
			parts = append(parts, k+"="+s)
		}
		fv.Value = strings.Join(parts, ",")
	default:
		ck.add(key, "must be a string, an integer, a boolean or an array of strings, not %s", typeName(v))
		return fv, false
	}
	return fv, true
}

// CheckSchemas checks every baton-sdk tenant's [tenants.config] against
// its connector's schema, schemas by connector name: an unknown field, a
// missing required one, a value of the wrong type and a secret written as
// a value rather than a reference are each an *Error at the key's line,
// each constraint the fields break (Schema.Violations) one at
// [tenants.config]'s, and each reveal_secrets entry that is not a secret
// field [tenants.config] sets one at its own, all reported at once,
// joined. A connector whose module turned out to be
// of the other kind than the file declares is reported at its table: its
// schema is in schemas when it is a baton-sdk module, absent otherwise.
// No message quotes a value.
func (c *Config) CheckSchemas(schemas map[string]Schema) error {
	p := c.problems()
	for _, name := range slices.Sorted(maps.Keys(c.Connectors)) {
		conn := c.Connectors[name]
		_, isSDK := schemas[name]
		switch {
		case conn.Kind == KindBatonSDK && !isSDK:
			p.add(joinKey(joinKey("connectors", name), "kind"), `the module is not a baton-sdk connector: remove kind = %q (a baton-runner ABI guest such as the Segment connector)`, KindBatonSDK)
		case conn.Kind != KindBatonSDK && isSDK:
			p.add(joinKey("connectors", name), `the module is a baton-sdk connector (%s): add kind = %q, then give its tenants [tenants.config] and origins in place of token and base_url`, schemas[name].Name, KindBatonSDK)
		}
	}
	for i, t := range c.Tenants {
		schema, ok := schemas[t.Connector]
		if !ok || c.Connectors[t.Connector].Kind != KindBatonSDK {
			continue
		}
		key := joinKey(indexKey("tenants", i), "config")
		for _, name := range slices.Sorted(maps.Keys(t.Config)) {
			fv := t.Config[name]
			fkey := joinKey(key, name)
			f, known := schema.Field(name)
			switch {
			case !known:
				p.add(fkey, "unknown field; the fields of %s are %s", schema.Name, strings.Join(schema.FieldNames(), ", "))
			case f.Secret && fv.Ref == (SecretRef{}):
				p.add(fkey, `is a secret field of %s: must be a secret reference, "env:VAR" or "file:/path"; inline secrets are not allowed (the value is not shown here)`, schema.Name)
			case fv.Ref == (SecretRef{}) && fv.Type != f.typ().toml:
				p.add(fkey, "must be %s (%s field of %s), not %s", f.typ().toml, f.Type, schema.Name, fv.Type)
			}
		}
		for _, f := range schema.Fields {
			if _, set := t.Config[f.Name]; f.Required && !set {
				p.add(joinKey(key, f.Name), "is required by %s: add %s = … to [tenants.config]%s", schema.Name, f.Name, refHint(f))
			}
		}
		for _, v := range schema.Violations(writtenValues(schema, t.Config)) {
			p.add(key, "%s (a constraint of %s)", v.Describe(func(f string) string { return f }), schema.Name)
		}
		checkRevealed(p, indexKey("tenants", i), t, schema)
	}
	return p.err()
}

// writtenValues are the values of config as Violations reads them. A
// reference counts as set: it is read only when the tenant starts.
func writtenValues(schema Schema, config map[string]FieldValue) map[string]string {
	out := map[string]string{}
	for name, fv := range config {
		out[name] = fv.Value
		if fv.Ref != (SecretRef{}) {
			f, _ := schema.Field(name)
			out[name] = f.typ().ref
		}
	}
	return out
}

// checkRevealed checks the reveal_secrets of tenant t, at key: each must
// name a secret field of schema that its [tenants.config] sets.
func checkRevealed(p *problems, key string, t Tenant, schema Schema) {
	var secrets []string
	for _, f := range schema.Fields {
		if f.Secret {
			secrets = append(secrets, f.Name)
		}
	}
	which := "its secret fields are " + strings.Join(secrets, ", ")
	if len(secrets) == 0 {
		which = "it has no secret field"
	}
	for j, name := range t.RevealSecrets {
		rkey := indexKey(joinKey(key, "reveal_secrets"), j)
		f, known := schema.Field(name)
		_, set := t.Config[name]
		switch {
		case !known:
			p.add(rkey, "%s has no field %q; %s", schema.Name, name, which)
		case !f.Secret:
			p.add(rkey, "%s is not a secret field of %s: the guest receives its value already; reveal_secrets names secret fields only (%s)", name, schema.Name, which)
		case !set:
			p.add(rkey, "reveals %s, which [tenants.config] does not set: add %s = \"env:VAR\" (or \"file:/path\") there, or remove it here", name, name)
		}
	}
}

func refHint(f Field) string {
	if f.Secret {
		return ` as a secret reference, "env:VAR" or "file:/path"`
	}
	return ""
}

// Problem returns an *Error about key (as Error.Key names keys:
// "tenants[2].ca_file", "connectors.demo") at its line in the file, for
// what is checked outside this package, such as a CA bundle that does not
// load.
func (c *Config) Problem(key, format string, args ...any) *Error {
	p := c.problems()
	p.add(key, format, args...)
	return p.errs[0]
}

func (c *Config) problems() *problems {
	p := &problems{file: c.file, pos: c.pos}
	if p.file == "" {
		p.file = c.Path
	}
	return p
}
