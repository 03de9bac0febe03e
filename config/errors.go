package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Error is one problem in a configuration file. Load and Parse return every
// problem they find, joined with errors.Join, so that an operator fixes a file
// in one pass instead of one error per run; use Errors to get them back.
//
// No Error ever contains the value of a secret: messages about secret-bearing
// keys name the key and the reference, never what was written in its place.
type Error struct {
	// File is the configuration file's path as given to Load or Parse.
	File string
	// Line is the 1-based line the problem is on; 0 when the problem is
	// about something absent from the file (e.g. no [[tenants]] at all).
	Line int
	// Key is the dotted key the problem concerns, with array indexes, e.g.
	// "tenants[2].sync.interval"; "" for syntax errors.
	Key string
	// Msg says what is wrong and, where it is not obvious, how to fix it.
	Msg string
}

// Error formats the problem as "file:line: key: msg", the form editors and
// terminals recognise as a jump target; the line and key are left out when
// unknown.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if s != "" {
		s += ": "
	}
	if e.Key != "" {
		s += e.Key + ": "
	}
	return s + e.Msg
}

// Errors returns the *Error values in err: err itself, or the members of an
// errors.Join (recursively). Other errors, such as a failure to read the
// file, are not included.
func Errors(err error) []*Error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Error
		for _, m := range joined.Unwrap() {
			out = append(out, Errors(m)...)
		}
		return out
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return nil
}

// problems collects Errors while a file is checked.
type problems struct {
	file string
	pos  *positions
	errs []*Error
}

// add records a problem with key; the line is the key's own line, or that
// of its nearest ancestor present in the file, so that "missing key" errors
// point at the table that lacks it.
func (p *problems) add(key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: p.pos.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// err joins the problems in file order; problems without a line (things
// absent from the file) come last.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	order := func(e *Error) int {
		if e.Line == 0 {
			return math.MaxInt
		}
		return e.Line
	}
	slices.SortStableFunc(p.errs, func(a, b *Error) int { return cmp.Compare(order(a), order(b)) })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}
