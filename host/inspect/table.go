package inspect

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Table is the answer to an explorer query: named columns and rows of
// strings, written as an aligned table, JSON or CSV.
type Table struct {
	Columns []string
	Rows    [][]string
}

// Formats are the output formats Write accepts.
var Formats = []string{"table", "json", "csv"}

// Write writes t in format: "table" (aligned columns with a header), "json"
// (one array of objects keyed by column name, full IDs, [] when empty) or
// "csv" (a header line, then one line per row).
func (t *Table) Write(w io.Writer, format string) error {
	switch format {
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.Columns, "\t"))
		for _, r := range t.Rows {
			fmt.Fprintln(tw, strings.Join(dashIfEmpty(r), "\t"))
		}
		return tw.Flush()
	case "json":
		objs := make([]map[string]string, 0, len(t.Rows))
		for _, r := range t.Rows {
			o := make(map[string]string, len(t.Columns))
			for i, c := range t.Columns {
				o[c] = r[i]
			}
			objs = append(objs, o)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(objs)
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(t.Columns); err != nil {
			return err
		}
		if err := cw.WriteAll(t.Rows); err != nil {
			return err
		}
		return cw.Error()
	}
	return fmt.Errorf("output format must be one of %s, not %q", strings.Join(Formats, ", "), format)
}

// dashIfEmpty keeps the aligned table readable: an empty cell would shift
// nothing but looks like a missing column.
func dashIfEmpty(r []string) []string {
	out := make([]string, len(r))
	for i, s := range r {
		if s == "" {
			s = "-"
		}
		out[i] = s
	}
	return out
}
