package casino

import (
	"context"
	_ "embed"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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

// NormalizeEmail trims an email and folds it to NFKC and lower case, so
// that addresses which look alike (full-width letters, composed or
// decomposed accents, upper case) name one account. Emails are unique in
// this form; ValidateEmail refuses what folding cannot make unambiguous.
func NormalizeEmail(s string) string {
	s = norm.NFKC.String(strings.TrimSpace(s))
	return norm.NFKC.String(strings.ToLower(s))
}

// Password length bounds for new passwords.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// ValidateNewAdmin checks an admin's email and password, returning EINVALID
// with per-field messages.
func ValidateNewAdmin(email, password string) error {
	fields := map[string]string{}
	if msg := ValidateEmail(email); msg != "" {
		fields["email"] = msg
	}
	if msg := ValidatePassword(password); msg != "" {
		fields["password"] = msg
	}
	return fieldsError(fields)
}

// ValidatePassword says what is wrong with a new password, "" when nothing
// is: at least MinPasswordLen characters, at most MaxPasswordLen bytes, not
// only whitespace, no control characters, and not one of the most common
// passwords (common_passwords.txt, compared case-insensitively).
func ValidatePassword(pw string) string {
	if msg := TextProblem(pw, false); msg != "" {
		return msg
	}
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return "must be at least 12 characters"
	case len(pw) > MaxPasswordLen:
		return "must be at most 1024 bytes"
	case strings.TrimFunc(pw, unicode.IsSpace) == "":
		return "must not be only whitespace"
	case commonPasswords()[strings.ToLower(pw)]:
		return "is one of the most common passwords; choose another"
	}
	return ""
}

//go:embed common_passwords.txt
var commonPasswordsTxt string

var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsTxt, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
})

// ValidateEmail says what is wrong with an email for a new account, ""
// when nothing is. It judges the normalised form (NormalizeEmail), and
// refuses invisible characters (zero-width and other format characters,
// variation selectors, fillers) and a local part or domain label that mixes
// scripts (a Cyrillic "а" among Latin letters), which would let two
// different accounts look the same.
func ValidateEmail(email string) string {
	if msg := TextProblem(email, false); msg != "" {
		return msg
	}
	email = NormalizeEmail(email)
	if email == "" {
		return "is required"
	}
	if len(email) > 254 {
		return "must be at most 254 characters"
	}
	for _, r := range email {
		if invisible(r) {
			return fmt.Sprintf("must not contain invisible characters (found U+%04X)", r)
		}
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email, "@") {
		return "must be an email address like name@example.com"
	}
	local, domain, _ := strings.Cut(email, "@")
	for _, part := range append([]string{local}, strings.Split(domain, ".")...) {
		if scripts := scriptsOf(part); len(scripts) > 1 {
			return "must not mix scripts in one part (found " + strings.Join(scripts, " and ") + ")"
		}
	}
	return ""
}

// invisible reports whether r renders as nothing (or as a blank that is not
// a space): format characters such as U+200B ZERO WIDTH SPACE, variation
// selectors, other default-ignorable code points such as U+3164 HANGUL
// FILLER, and every kind of space.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Co, unicode.Cs, unicode.Z, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point, unicode.Noncharacter_Code_Point)
}

// scriptsOf lists the scripts of the letters in s, in order of first use;
// Common and Inherited characters (digits, punctuation, combining marks)
// belong to none.
func scriptsOf(s string) []string {
	var out []string
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		for name, table := range unicode.Scripts {
			if name == "Common" || name == "Inherited" || !unicode.Is(table, r) {
				continue
			}
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
			break
		}
	}
	return out
}

// fieldsError turns per-field messages into one EINVALID error, nil when
// there are none.
func fieldsError(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "Some fields are invalid.", Fields: fields}
}
