package segmentsim

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// apiError is Segment's RequestError.
type apiError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Data    any    `json:"data,omitempty"`
	Status  int    `json:"status,omitempty"`
}

// writeJSON encodes v and writes it with status. Encoding to a buffer first
// means a marshalling failure can still become a proper 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"errors":[{"type":"InternalServerError","message":"encoding failed","status":500}]}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeData writes the success envelope {"data": data}.
func writeData(w http.ResponseWriter, status int, data any) {
	writeJSON(w, status, struct {
		Data any `json:"data"`
	}{data})
}

// writeErrors writes the failure envelope {"errors": [...]}.
func writeErrors(w http.ResponseWriter, status int, errs ...apiError) {
	writeJSON(w, status, struct {
		Errors []apiError `json:"errors"`
	}{errs})
}

func writeNotFound(w http.ResponseWriter) {
	writeErrors(w, http.StatusNotFound, apiError{Type: "NotFound", Message: "Resource not found", Status: http.StatusNotFound})
}

func writeUnauthorized(w http.ResponseWriter) {
	writeErrors(w, http.StatusUnauthorized, apiError{Type: "unauthorized", Message: "Unauthorized", Status: http.StatusUnauthorized})
}

// validationError is a 422 ValidationFailure about one input field.
type validationError struct {
	Field, Message string
	Data           any
}

func (e *validationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, msg string) *validationError {
	return &validationError{Field: field, Message: msg}
}

func writeValidation(w http.ResponseWriter, e *validationError) {
	writeErrors(w, http.StatusUnprocessableEntity, apiError{
		Type: "ValidationFailure", Message: e.Message, Field: e.Field, Data: e.Data, Status: http.StatusUnprocessableEntity,
	})
}

func writeFeatureNotEnabled(w http.ResponseWriter, feature string) {
	writeErrors(w, http.StatusForbidden, apiError{
		Type: "FeatureNotEnabled", Message: feature + " is not enabled for this workspace", Status: http.StatusForbidden,
	})
}

// statusErrorTypes names the error type used for an injected status.
var statusErrorTypes = map[int]string{
	400: "BadRequest", 401: "unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
	413: "PayloadTooLarge", 422: "ValidationFailure", 429: "RateLimited",
	500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout",
}

// badGatewayPage is what a load balancer in front of the API answers with:
// HTML, not JSON, so clients must look at the status before decoding.
const badGatewayPage = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"

// writeStatus answers with an arbitrary status: 502 as the proxy HTML page,
// 204/304 without a body, other non-errors with an empty data envelope and
// errors with the envelope (429 uses the spec's short RateLimited example).
func writeStatus(w http.ResponseWriter, status int) {
	switch {
	case status == http.StatusBadGateway:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(badGatewayPage))
	case status == http.StatusNoContent || status == http.StatusNotModified:
		w.WriteHeader(status)
	case status < 400:
		writeData(w, status, struct{}{})
	case status == http.StatusUnauthorized:
		writeUnauthorized(w)
	case status == http.StatusNotFound:
		writeNotFound(w)
	default:
		typ, ok := statusErrorTypes[status]
		if !ok {
			typ = "RequestError"
		}
		msg := http.StatusText(status)
		if status == http.StatusTooManyRequests {
			msg = "Rate limit exceeded"
		} else if msg == "" {
			msg = "Error"
		}
		writeErrors(w, status, apiError{Type: typ, Message: msg, Status: status})
	}
}
