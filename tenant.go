package casino

import (
	"context"
	"regexp"
	"time"
	"unicode/utf8"
)

// Tenant statuses. A suspended tenant keeps its data but its admins cannot
// log in, and their tokens stop working.
const (
	TenantActive    = "active"
	TenantSuspended = "suspended"
)

// Tenant is one casino brand run on the platform.
type Tenant struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TenantFilter selects a page of tenants.
type TenantFilter struct {
	Limit  int // 1-200, default 50
	Offset int
}

// TenantUpdate holds the fields PATCH may change; nil leaves a field alone.
type TenantUpdate struct {
	Name   *string `json:"name"`
	Status *string `json:"status"`
}

// TenantService manages tenants. Every method scopes by the caller in ctx:
// the owner sees every tenant, a tenant admin only their own.
type TenantService interface {
	// FindTenants returns a page of the tenants visible to the caller and
	// how many there are in all.
	FindTenants(ctx context.Context, f TenantFilter) ([]*Tenant, int, error)
	// FindTenantByID returns a tenant, or ENOTFOUND when it does not exist
	// or is not visible to the caller.
	FindTenantByID(ctx context.Context, id int64) (*Tenant, error)
	// CreateTenant creates a tenant (owner only). Errors: EFORBIDDEN,
	// EINVALID (with fields), ECONFLICT (slug taken).
	CreateTenant(ctx context.Context, t *Tenant) error
	// UpdateTenant applies upd (owner only), suspending or activating the
	// tenant when Status is set. Errors: EFORBIDDEN, ENOTFOUND, EINVALID.
	UpdateTenant(ctx context.Context, id int64, upd TenantUpdate) (*Tenant, error)
}

var slugRE = regexp.MustCompile(`^[a-z0-9-]{2,63}$`)

// Validate checks a new tenant: name 1-100 characters, slug [a-z0-9-]{2,63}.
func (t *Tenant) Validate() error {
	fields := map[string]string{}
	if msg := validateTenantName(t.Name); msg != "" {
		fields["name"] = msg
	}
	if !slugRE.MatchString(t.Slug) {
		fields["slug"] = "must be 2-63 characters of a-z, 0-9 and -"
	}
	return fieldsError(fields)
}

// Validate checks an update.
func (u *TenantUpdate) Validate() error {
	fields := map[string]string{}
	if u.Name != nil {
		if msg := validateTenantName(*u.Name); msg != "" {
			fields["name"] = msg
		}
	}
	if u.Status != nil && *u.Status != TenantActive && *u.Status != TenantSuspended {
		fields["status"] = "must be active or suspended"
	}
	if u.Name == nil && u.Status == nil {
		return Errorf(EINVALID, "Nothing to update: give name or status.")
	}
	return fieldsError(fields)
}

func validateTenantName(name string) string {
	n := utf8.RuneCountInString(name)
	switch {
	case TextProblem(name, false) != "":
		return TextProblem(name, false)
	case n < 1:
		return "is required"
	case n > 100:
		return "must be at most 100 characters"
	}
	return ""
}
