package casino

import (
	"context"
	"time"
)

// Switch is a platform-wide on/off state: the admin login freeze or
// maintenance mode.
type Switch struct {
	Enabled   bool      `json:"enabled"`
	Reason    string    `json:"reason"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// SystemStatus is the owner-readable platform state.
type SystemStatus struct {
	LoginFreeze Switch `json:"login_freeze"`
	Maintenance Switch `json:"maintenance"`
}

// SystemService holds the platform switches every replica shares. The
// owner changes them over the API; the break-glass CLI straight on the
// database. Every change is audited.
type SystemService interface {
	// SystemStatus returns both switches. Errors: EFORBIDDEN.
	SystemStatus(ctx context.Context) (*SystemStatus, error)
	// SetLoginFreeze turns the admin login freeze on or off: while on,
	// non-owner logins and tokens are refused. Errors: EFORBIDDEN.
	SetLoginFreeze(ctx context.Context, enabled bool, reason string) (*Switch, error)
	// SetMaintenance turns maintenance mode on or off: while on, mutating
	// API calls answer EUNAVAILABLE. Errors: EFORBIDDEN.
	SetMaintenance(ctx context.Context, enabled bool, reason string) (*Switch, error)
}
