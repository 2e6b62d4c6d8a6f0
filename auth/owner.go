package auth

import (
	"context"
	"fmt"

	"casino"
)

// OwnerSettingsDiffering names the owner settings of the environment that
// differ from the owner in the database: "CASINO_OWNER_EMAIL" when email
// (normalised) is not the owner's, "CASINO_OWNER_PASSWORD" when password is
// set and does not verify against the owner's hash. An empty email or
// password is not compared. serve warns about each (never with the value);
// the database is left alone, since 'casino user reset-password' is the
// way to apply a new password.
func OwnerSettingsDiffering(ctx context.Context, h *Hasher, owner *casino.Credentials, email, password string) ([]string, error) {
	var out []string
	if email != "" && casino.NormalizeEmail(email) != owner.Email {
		out = append(out, "CASINO_OWNER_EMAIL")
	}
	if password != "" {
		ok, _, err := h.Verify(ctx, password, owner.PasswordHash)
		if err != nil && err != ErrBadHash {
			return out, fmt.Errorf("compare the owner password: %w", err)
		}
		if !ok {
			out = append(out, "CASINO_OWNER_PASSWORD")
		}
	}
	return out, nil
}
