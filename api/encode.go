package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"casino"
	"casino/observe"
)

// MaxBodyBytes is the largest request body the API reads.
const MaxBodyBytes = 1 << 20

// statusOf maps each casino error code to its HTTP status.
var statusOf = map[string]int{
	casino.EINVALID:      http.StatusBadRequest,
	casino.EUNAUTHORIZED: http.StatusUnauthorized,
	casino.EFORBIDDEN:    http.StatusForbidden,
	casino.ENOTFOUND:     http.StatusNotFound,
	"method_not_allowed": http.StatusMethodNotAllowed,
	casino.ECONFLICT:     http.StatusConflict,
	casino.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	casino.ETHROTTLED:    http.StatusTooManyRequests,
	casino.EUNAVAILABLE:  http.StatusServiceUnavailable,
	casino.ELOGINFROZEN:  http.StatusServiceUnavailable,
	casino.EINTERNAL:     http.StatusInternalServerError,
}

// StatusOf returns the HTTP status for a casino error code.
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the one shape of every error response.
type ErrorBody struct {
	Error     ErrorDetail `json:"error"`
	RequestID string      `json:"request_id"`
}

// ErrorDetail is the error inside ErrorBody.
type ErrorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Error writes err as a JSON error body. Internal errors are logged with the
// request id and answered with a generic message.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := casino.ErrorCode(err), casino.ErrorMessage(err)
	body := ErrorBody{Error: ErrorDetail{Code: code, Message: msg}, RequestID: observe.RequestID(r.Context())}
	var e *casino.Error
	if errors.As(err, &e) {
		body.Error.Fields = e.Fields
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
		}
	}
	if code == casino.EINTERNAL {
		observe.SetError(r.Context(), err)
	}
	JSON(w, StatusOf(code), body)
}

// JSON writes v as JSON with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"Internal error."}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// Decode reads one JSON value from the body into v: at most MaxBodyBytes,
// unknown fields refused, nothing after the value. Every failure is a
// casino.Error with code invalid or too_large, naming what was wrong.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return casino.Errorf(casino.EINVALID, "Content-Type must be application/json, not %q.", ct)
	}
	return DecodeReader(http.MaxBytesReader(w, r.Body, MaxBodyBytes), v)
}

// DecodeReader is Decode's core, shared with the fuzz target.
func DecodeReader(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		if err == nil {
			return casino.Errorf(casino.EINVALID, "Request body must hold a single JSON value.")
		}
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return casino.Errorf(casino.ETOOLARGE, "Request body is larger than %d bytes.", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return casino.Errorf(casino.EINVALID, "Request body is empty; a JSON object is required.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return casino.Errorf(casino.EINVALID, "Request body is truncated JSON.")
	case errors.As(err, &syntax):
		return casino.Errorf(casino.EINVALID, "Request body is not valid JSON (at byte %d).", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return &casino.Error{Code: casino.EINVALID, Message: fmt.Sprintf("Field %q must be %s.", typ.Field, jsonKind(typ.Type.Kind().String())), Fields: map[string]string{typ.Field: "must be " + jsonKind(typ.Type.Kind().String())}}
		}
		return casino.Errorf(casino.EINVALID, "Request body must be a JSON object.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &casino.Error{Code: casino.EINVALID, Message: fmt.Sprintf("Unknown field %q.", name), Fields: map[string]string{name: "unknown field"}}
	}
	return casino.Errorf(casino.EINVALID, "Request body could not be read as JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint64", "float64", "float32":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "a different type"
}
