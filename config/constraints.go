package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/conductorone/baton-sdk/pkg/field"
)

// Constraint is a relationship between a baton-sdk connector's fields, as
// its module exports it (baton-sdk's field.SchemaFieldRelationship).
type Constraint struct {
	// Kind is one of the Constraint* kinds.
	Kind   string   `json:"kind"`
	Fields []string `json:"fields"`
	// Expected are the fields Fields depend on (ConstraintDependentOn).
	Expected []string `json:"expected"`
}

// The kinds of a Constraint, as baton-sdk's field.Relationship.
const (
	// ConstraintRequiredTogether: every field of Fields set, or none.
	ConstraintRequiredTogether = "required_together"
	// ConstraintMutuallyExclusive: at most one field of Fields set.
	ConstraintMutuallyExclusive = "mutually_exclusive"
	// ConstraintAtLeastOne: at least one field of Fields set.
	ConstraintAtLeastOne = "at_least_one"
	// ConstraintDependentOn: a field of Fields set only with every field
	// of Expected.
	ConstraintDependentOn = "dependent_on"
	// ConstraintInvalid is a relationship baton-sdk's constructors refused
	// (say, a required field declared mutually exclusive): baton-sdk's
	// field.Validate fails every configuration of the connector on it.
	ConstraintInvalid = "invalid"
)

var relationships = map[string]field.Relationship{
	ConstraintRequiredTogether:  field.RequiredTogether,
	ConstraintMutuallyExclusive: field.MutuallyExclusive,
	ConstraintAtLeastOne:        field.AtLeastOne,
	ConstraintDependentOn:       field.Dependents,
}

// Violation is a Constraint a configuration breaks.
type Violation struct {
	Constraint
	// Set are the fields of the constraint that have a value and break
	// it: those set together (mutually exclusive, required together), or
	// the dependents set (dependent on).
	Set []string
	// Missing are the fields of the constraint that lack a value and
	// would satisfy it.
	Missing []string
	// Defaulted are the fields of Set whose value is their default, not
	// one given: baton-sdk counts a default as set.
	Defaulted []string
}

// Violations returns the constraints of s that values break, in the
// schema's order. values are fields as the guest reads them
// (FieldValue.Value), by name; a field absent from values has its
// default. Each constraint is decided by baton-sdk's own field.Validate,
// as the connector's own binary decides it: a field is set when its value
// is not its type's zero ("", false, 0, no items), its default included.
func (s Schema) Violations(values map[string]string) []Violation {
	conf := configurable{}
	defaulted := map[string]bool{}
	var fields []field.SchemaField
	for _, f := range s.Fields {
		v, given := values[f.Name]
		if !given {
			v, defaulted[f.Name] = defaultValue(f.Default), true
		}
		conf[f.Name] = v
		fields = append(fields, f.typ().sdk(f.Name))
	}
	var out []Violation
	for _, c := range s.Constraints {
		rel := field.SchemaFieldRelationship{Kind: relationships[c.Kind], Fields: named(c.Fields), ExpectedFields: named(c.Expected)}
		one := field.Configuration{Fields: fields, Constraints: []field.SchemaFieldRelationship{rel}}
		if field.Validate(one, conf) == nil {
			continue
		}
		if c.Kind != ConstraintInvalid && rel.Kind == field.Invalid {
			c.Kind = ConstraintInvalid // a kind this host does not know
		}
		out = append(out, violation(c, func(name string) bool {
			f, ok := s.Field(name)
			return ok && conf.set(f)
		}, defaulted))
	}
	return out
}

// violation words what c's fields are, set telling which have a value.
func violation(c Constraint, set func(string) bool, defaulted map[string]bool) Violation {
	v := Violation{Constraint: c}
	for _, name := range c.Fields {
		if set(name) {
			v.Set = append(v.Set, name)
		} else {
			v.Missing = append(v.Missing, name)
		}
	}
	if c.Kind == ConstraintDependentOn {
		v.Missing = nil
		for _, name := range c.Expected {
			if !set(name) {
				v.Missing = append(v.Missing, name)
			}
		}
	}
	for _, name := range v.Set {
		if defaulted[name] {
			v.Defaulted = append(v.Defaulted, name)
		}
	}
	return v
}

// Describe says what is wrong, naming each field with name (a flag, a
// key): e.g. "--a (BATON_A) and --b (BATON_B) are mutually exclusive:
// give only one of them".
func (v Violation) Describe(name func(field string) string) string {
	names := func(fields []string, conj string) string {
		var out []string
		for _, f := range fields {
			s := name(f)
			if slices.Contains(v.Defaulted, f) {
				s += " (set by its default)"
			}
			out = append(out, s)
		}
		switch len(out) {
		case 0:
			return ""
		case 1:
			return out[0]
		}
		return strings.Join(out[:len(out)-1], ", ") + " " + conj + " " + out[len(out)-1]
	}
	switch v.Kind {
	case ConstraintRequiredTogether:
		return fmt.Sprintf("%s go together: %s %s set without %s; give all of them or none",
			names(v.Fields, "and"), names(v.Set, "and"), itThey(v.Set, "is", "are"), names(v.Missing, "and"))
	case ConstraintMutuallyExclusive:
		return fmt.Sprintf("%s are mutually exclusive: give only one of them", names(v.Set, "and"))
	case ConstraintAtLeastOne:
		return fmt.Sprintf("one of %s is required", names(v.Fields, "or"))
	case ConstraintDependentOn:
		return fmt.Sprintf("%s %s %s: give %s too, or leave out %s",
			names(v.Set, "and"), itThey(v.Set, "needs", "need"), names(v.Expected, "and"), names(v.Missing, "and"), names(v.Set, "and"))
	}
	return fmt.Sprintf("the connector declares an invalid constraint (%q) between %s, which baton-sdk refuses every configuration of: a bug of the connector, for its authors to fix",
		v.Kind, names(slices.Concat(v.Fields, v.Expected), "and"))
}

func itThey(fields []string, one, many string) string {
	if len(fields) == 1 {
		return one
	}
	return many
}

// configurable is a configuration as baton-sdk's field.Validate reads
// one: the values by field name, each read as its field's type as the
// guest's configuration decodes it.
type configurable map[string]string

func (c configurable) GetString(key string) string { return c[key] }

func (c configurable) GetBool(key string) bool {
	b, _ := strconv.ParseBool(c[key])
	return b
}

func (c configurable) GetInt(key string) int {
	n, _ := strconv.Atoi(c[key])
	return n
}

func (c configurable) GetStringSlice(key string) []string {
	if c[key] == "" {
		return nil
	}
	return strings.Split(c[key], ",")
}

func (c configurable) GetStringMap(key string) map[string]any {
	out := map[string]any{}
	for kv := range strings.SplitSeq(c[key], ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// set reports whether f has a value, as field.Validate counts one.
func (c configurable) set(f Field) bool {
	sf := f.typ().sdk(f.Name)
	var present bool
	switch sf.Variant {
	case field.BoolVariant:
		present, _ = field.ValidateField(&sf, c.GetBool(f.Name))
	case field.IntVariant:
		present, _ = field.ValidateField(&sf, c.GetInt(f.Name))
	case field.StringSliceVariant:
		present, _ = field.ValidateField(&sf, c.GetStringSlice(f.Name))
	case field.StringMapVariant:
		present, _ = field.ValidateField(&sf, c.GetStringMap(f.Name))
	default:
		present, _ = field.ValidateField(&sf, c.GetString(f.Name))
	}
	return present
}

func named(names []string) []field.SchemaField {
	var out []field.SchemaField
	for _, n := range names {
		out = append(out, field.SchemaField{FieldName: n})
	}
	return out
}

// defaultValue is a default from the exported schema (JSON) as a value
// the guest reads (FieldValue.Value).
func defaultValue(d any) string {
	switch x := d.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatInt(int64(x), 10)
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, ",")
	case map[string]any:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, k+"="+fmt.Sprint(x[k]))
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(d)
}
