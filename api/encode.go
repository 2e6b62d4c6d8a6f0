package api

import (
	"bytes"
	"casino/logging"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

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
//
// An unexpected error that says the database cannot be reached (see
// databaseUnreachable) is answered 503 unavailable with Retry-After: the
// client may retry, and monitoring tells an outage from a bug.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := casino.ErrorCode(err), casino.ErrorMessage(err)
	internal := code == casino.EINTERNAL
	if internal && databaseUnreachable(err) {
		code, msg = casino.EUNAVAILABLE, "The database is unreachable. Try again shortly."
		w.Header().Set("Retry-After", strconv.Itoa(unreachableRetryAfter))
	}
	body := ErrorBody{Error: ErrorDetail{Code: code, Message: msg}, RequestID: observe.RequestID(r.Context())}
	var e *casino.Error
	if errors.As(err, &e) {
		body.Error.Fields = e.Fields
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
		}
	}
	if internal {
		observe.SetError(r.Context(), err)
	}
	JSON(w, StatusOf(code), body)
}

// unreachableRetryAfter is the Retry-After, in seconds, of a 503 for an
// unreachable database.
const unreachableRetryAfter = 5

// databaseUnreachable reports whether err says the database could not be
// reached or the connection broke: a network error (refused, reset, timed
// out, unknown host), a bad or closed connection, a deadline that ran out,
// or an error that says it is safe to retry because it happened before the
// database saw the statement (pgconn's SafeToRetry, such as "conn closed").
// Both drivers wrap these so that errors.As and errors.Is find them.
func databaseUnreachable(err error) bool {
	var ne net.Error
	var retry interface{ SafeToRetry() bool }
	return errors.As(err, &ne) || (errors.As(err, &retry) && retry.SafeToRetry()) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF)
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
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONType(ct) {
		return casino.Errorf(casino.EINVALID, "Content-Type must be application/json, not %q.", ct)
	}
	return DecodeReader(http.MaxBytesReader(w, r.Body, MaxBodyBytes), v)
}

// isJSONType reports whether a Content-Type is exactly application/json,
// optionally with charset=utf-8: "application/jsonx" or
// "application/json-patch+json" are other types.
func isJSONType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// DecodeReader is Decode's core, shared with the fuzz target. After the
// JSON decodes, every text in it is checked (casino.TextProblem): invalid
// UTF-8, which encoding/json would silently replace, and control
// characters are refused with the top-level field named.
func DecodeReader(body io.Reader, v any) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return decodeError(err)
	}
	if err := decodeJSON(data, v); err != nil {
		return err
	}
	return checkText(data)
}

// checkText answers EINVALID naming the first top-level field of a JSON
// object whose value is not valid UTF-8 or holds a control character other
// than tab, newline and carriage return, in any string or key inside it.
// Fields with stricter rules (emails, passwords, names) are checked again
// by their own validators.
func checkText(data []byte) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		if !utf8.Valid(data) {
			return casino.Errorf(casino.EINVALID, "Request body must be valid UTF-8.")
		}
		return nil
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := obj[name]
		msg := ""
		if !utf8.Valid(raw) {
			msg = "must be valid UTF-8"
		} else {
			var val any
			json.Unmarshal(raw, &val)
			msg = textProblemIn(val)
		}
		if msg != "" {
			return &casino.Error{Code: casino.EINVALID, Message: fmt.Sprintf("Field %q %s.", name, msg), Fields: map[string]string{name: msg}}
		}
	}
	return nil
}

// textProblemIn checks every string and key of a decoded JSON value.
func textProblemIn(v any) string {
	switch x := v.(type) {
	case string:
		return casino.TextProblem(x, true)
	case []any:
		for _, e := range x {
			if msg := textProblemIn(e); msg != "" {
				return msg
			}
		}
	case map[string]any:
		for k, e := range x {
			if msg := casino.TextProblem(k, true); msg != "" {
				return msg
			}
			if msg := textProblemIn(e); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// checkQuery answers EINVALID naming the first query parameter whose name
// or value is not valid UTF-8 or holds a control character.
func checkQuery(r *http.Request) error {
	for k, vs := range r.URL.Query() {
		for _, s := range append([]string{k}, vs...) {
			if msg := casino.TextProblem(s, false); msg != "" {
				return &casino.Error{Code: casino.EINVALID, Message: fmt.Sprintf("Query parameter %q %s.", strings.ToValidUTF8(k, "?"), msg), Fields: map[string]string{strings.ToValidUTF8(k, "?"): msg}}
			}
		}
	}
	return nil
}

func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
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

// appendJSONString appends s exactly as encoding/json encodes a string.
func appendJSONString(b []byte, s string) []byte { return logging.AppendJSONString(b, s, true) }
