package segmentsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
)

// maxBodyBytes bounds request bodies; larger ones get the documented 413.
const maxBodyBytes = 1 << 20

// parseQuery parses the raw query strictly: url.Values from r.URL.Query()
// would silently drop malformed pairs and hide client encoding bugs.
func parseQuery(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeValidation(w, invalid("query", "malformed query string: "+err.Error()))
		return nil, false
	}
	return q, true
}

// pageParams parses the query and its pagination object, answering 422
// itself on failure.
func pageParams(w http.ResponseWriter, r *http.Request) (url.Values, page, bool) {
	q, ok := parseQuery(w, r)
	if !ok {
		return nil, page{}, false
	}
	p, verr := parsePage(q)
	if verr != nil {
		writeValidation(w, verr)
		return nil, page{}, false
	}
	return q, p, true
}

// writePage answers {"data":{key:[…page…],"pagination":{…}}}.
func writePage[T, W any](w http.ResponseWriter, key string, items []T, p page, conv func(T) W) {
	pageItems, po := paginate(items, p)
	out := make([]W, 0, len(pageItems))
	for _, it := range pageItems {
		out = append(out, conv(it))
	}
	writeData(w, http.StatusOK, map[string]any{key: out, "pagination": po})
}

func identity[T any](v T) T { return v }

// decodeBody reads a JSON body into v, answering 413/422 itself on failure.
// Unknown keys are ignored, as the API does (older clients send extra ones).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeErrors(w, http.StatusRequestEntityTooLarge, apiError{
				Type: "PayloadTooLarge", Message: "Request body too large", Status: http.StatusRequestEntityTooLarge,
			})
			return false
		}
		writeValidation(w, invalid("body", "could not read request body"))
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		writeValidation(w, invalid("body", "request body is required"))
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		field := "body"
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			field = typeErr.Field
		}
		writeValidation(w, invalid(field, "invalid JSON body: "+err.Error()))
		return false
	}
	return true
}

func writeSuccessStatus(w http.ResponseWriter) {
	writeData(w, http.StatusOK, map[string]string{"status": "SUCCESS"})
}
