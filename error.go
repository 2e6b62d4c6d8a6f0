package casino

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to exactly one HTTP status in the api package.
const (
	EINVALID      = "invalid"      // 400: the input is malformed or fails validation
	EUNAUTHORIZED = "unauthorized" // 401: no valid credentials
	EFORBIDDEN    = "forbidden"    // 403: authenticated, but not allowed
	ENOTFOUND     = "not_found"    // 404: no such object, or not visible to the caller
	ECONFLICT     = "conflict"     // 409: the object already exists or changed
	ETOOLARGE     = "too_large"    // 413: the request body is over the limit
	ETHROTTLED    = "throttled"    // 429: too many attempts; retry later
	EUNAVAILABLE  = "unavailable"  // 503: maintenance, dependency down
	ELOGINFROZEN  = "login_frozen" // 503: the disaster-recovery login freeze refuses a non-owner
	EINTERNAL     = "internal"     // 500: a bug or an unexpected failure; details go to the log only
)

// Error is the one error type of the application. Code is machine-readable,
// Message is safe to show to the caller. Fields carries per-field validation
// messages for EINVALID. RetryAfter, in seconds, accompanies ETHROTTLED.
type Error struct {
	Code       string
	Message    string
	Fields     map[string]string
	RetryAfter int

	// Err is the cause the error wraps, for errors.Is and errors.As (Errorf
	// sets it from a %w verb); its text is already in Message, and it is
	// never shown on its own.
	Err error `json:"-"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("casino error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message. A %w
// verb wraps its operand as in fmt.Errorf: errors.Is and errors.As match it
// through the *Error, whose Message is the formatted text all the same.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: err.Error()}
	switch err.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		e.Err = err
	}
	return e
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for any other error, so internals never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
