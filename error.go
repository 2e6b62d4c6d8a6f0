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
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("casino error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

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
