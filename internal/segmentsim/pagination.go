package segmentsim

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
)

// Pagination limits of the current API (Pagination page, docs.segmentapis.com): count 1–1000,
// 200 when omitted.
const (
	defaultPageCount = 200
	maxPageCount     = 1000
)

// page is a parsed pagination request.
type page struct{ offset, count int }

// paginationOut is PaginationOutput. next/previous are omitted (not null) on
// the last/first page, the spelling the docs show.
type paginationOut struct {
	Current      string `json:"current"`
	Next         string `json:"next,omitempty"`
	Previous     string `json:"previous,omitempty"`
	TotalEntries int    `json:"totalEntries"`
}

// encodeCursor is the cursor format observed in practice: standard, padded
// base64 of the decimal offset ("MA==" is offset 0).
func encodeCursor(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(offset)))
}

func decodeCursor(c string) (int, bool) {
	// An unescaped '+' in a query string arrives as a space; undo that so a
	// sloppy client still gets its page.
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(c, " ", "+"))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 || strconv.Itoa(n) != string(b) {
		return 0, false
	}
	return n, true
}

// paginationParam returns the value of pagination[name] or pagination.name
// (the Go SDK and the docs spell it differently; both are accepted).
func paginationParam(q url.Values, name string) (string, string, bool) {
	for _, key := range []string{"pagination[" + name + "]", "pagination." + name} {
		if vs, ok := q[key]; ok {
			return key, vs[0], true
		}
	}
	return "", "", false
}

// parsePage reads the pagination query object.
func parsePage(q url.Values) (page, *validationError) {
	p := page{count: defaultPageCount}
	if key, v, ok := paginationParam(q, "count"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return p, invalid(key, "pagination.count must be an integer")
		}
		if n < 1 || n > maxPageCount {
			return p, invalid(key, "pagination.count must be between 1 and 1000")
		}
		p.count = n
	}
	if key, v, ok := paginationParam(q, "cursor"); ok && v != "" {
		off, ok := decodeCursor(v)
		if !ok {
			return p, invalid(key, "pagination.cursor is invalid")
		}
		p.offset = off
	}
	return p, nil
}

// paginate cuts one page out of items. An offset past the end (items were
// deleted between pages) yields an empty last page rather than an error.
func paginate[T any](items []T, p page) ([]T, paginationOut) {
	total := len(items)
	start := min(p.offset, total)
	end := min(start+p.count, total)
	out := paginationOut{Current: encodeCursor(p.offset), TotalEntries: total}
	if end < total {
		out.Next = encodeCursor(end)
	}
	if p.offset > 0 {
		out.Previous = encodeCursor(max(0, p.offset-p.count))
	}
	return items[start:end:end], out
}
