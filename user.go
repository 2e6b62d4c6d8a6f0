package casino

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// User is an admin of the platform: the owner, or a tenant admin.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	TenantID  *int64    `json:"tenant_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// UserService manages admins. Password hashes are computed by the caller
// (auth.Hasher); the store never sees a password.
type UserService interface {
	// CreateTenantAdmin adds an admin to a tenant. Owner only. Errors:
	// EFORBIDDEN, ENOTFOUND (no such tenant, or not visible), EINVALID,
	// ECONFLICT (email taken).
	CreateTenantAdmin(ctx context.Context, tenantID int64, email, passwordHash string) (*User, error)
	// FindTenantAdmins lists a tenant's admins, scoped like FindTenantByID.
	FindTenantAdmins(ctx context.Context, tenantID int64) ([]*User, error)
	// EnsureOwner creates the owner with the email and hash when the
	// database has no owner; it reports whether it created one.
	EnsureOwner(ctx context.Context, email, passwordHash string) (bool, error)
	// ResetPassword replaces the password hash of the user with the email
	// and invalidates the user's existing tokens. Break-glass only (CLI).
	// Errors: EFORBIDDEN, ENOTFOUND.
	ResetPassword(ctx context.Context, email, passwordHash string) error
}

// NormalizeEmail lower-cases and trims an email; emails are unique
// case-insensitively.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Password length bounds for new passwords.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// ValidateNewAdmin checks an admin's email and password, returning EINVALID
// with per-field messages.
func ValidateNewAdmin(email, password string) error {
	fields := map[string]string{}
	if msg := validateEmail(email); msg != "" {
		fields["email"] = msg
	}
	if n := len([]rune(password)); n < MinPasswordLen {
		fields["password"] = "must be at least 12 characters"
	} else if len(password) > MaxPasswordLen {
		fields["password"] = "must be at most 1024 bytes"
	}
	return fieldsError(fields)
}

func validateEmail(email string) string {
	email = strings.TrimSpace(email)
	if email == "" {
		return "is required"
	}
	if len(email) > 254 {
		return "must be at most 254 characters"
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email, "@") {
		return "must be an email address like name@example.com"
	}
	return ""
}

// fieldsError turns per-field messages into one EINVALID error, nil when
// there are none.
func fieldsError(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "Some fields are invalid.", Fields: fields}
}
