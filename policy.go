package casino

import "context"

// Capabilities name what a caller may do. GET /api/v1/tenants/capabilities
// lists the ones the caller holds, computed by the same Allowed that every
// service calls to enforce them.
const (
	CapTenantsRead           = "tenants:read"
	CapTenantsCreate         = "tenants:create"
	CapTenantsUpdate         = "tenants:update"
	CapTenantAdminsRead      = "tenant_admins:read"
	CapTenantAdminsCreate    = "tenant_admins:create"
	CapSettingsRead          = "settings:read"
	CapSettingsWrite         = "settings:write"
	CapPlatformSettingsRead  = "platform_settings:read"
	CapPlatformSettingsWrite = "platform_settings:write"
	CapAuditRead             = "audit:read"
	CapVersionsRead          = "versions:read"
	CapAdminStatus           = "admin:status"
	CapAdminLoginFreeze      = "admin:login_freeze"
	CapAdminMaintenance      = "admin:maintenance"
)

// AllCapabilities lists every capability, in the order they are listed.
var AllCapabilities = []string{
	CapTenantsRead, CapTenantsCreate, CapTenantsUpdate,
	CapTenantAdminsRead, CapTenantAdminsCreate,
	CapSettingsRead, CapSettingsWrite,
	CapPlatformSettingsRead, CapPlatformSettingsWrite,
	CapAuditRead, CapVersionsRead,
	CapAdminStatus, CapAdminLoginFreeze, CapAdminMaintenance, CapAdminDR,
}

// tenantAdminCaps are what a tenant admin may do, always within their own
// tenant.
var tenantAdminCaps = map[string]bool{
	CapTenantsRead:      true,
	CapTenantAdminsRead: true,
	CapSettingsRead:     true,
	CapSettingsWrite:    true,
	CapAuditRead:        true,
	CapVersionsRead:     true,
}

// breakGlassCaps are what the local CLI may do straight on the database.
var breakGlassCaps = map[string]bool{
	CapAdminStatus: true, CapAdminLoginFreeze: true, CapAdminMaintenance: true,
}

// Allowed is the one policy function: it reports whether id may use the
// capability on an object of tenantID (0 for platform-wide objects and for
// lists, which the stores scope by the identity). The owner may do
// everything; a tenant admin only their tenant's reads and settings.
func Allowed(id *Identity, capability string, tenantID int64) bool {
	switch {
	case id == nil:
		return false
	case id.Role == RoleOwner:
		return true
	case id.Role == RoleTenantAdmin:
		if !tenantAdminCaps[capability] || id.TenantID == 0 {
			return false
		}
		return tenantID == 0 || tenantID == id.TenantID
	}
	return false
}

// CapabilitiesOf lists the capabilities id holds, by asking Allowed about
// each one, so the list can never disagree with enforcement.
func CapabilitiesOf(id *Identity) []string {
	caps := []string{}
	for _, c := range AllCapabilities {
		if Allowed(id, c, id.TenantID) {
			caps = append(caps, c)
		}
	}
	return caps
}

// Capabilities is the body of GET /api/v1/tenants/capabilities.
type Capabilities struct {
	IsOwner      bool     `json:"is_owner"`
	Role         string   `json:"role"`
	TenantID     *int64   `json:"tenant_id"`
	UserID       int64    `json:"user_id"`
	Email        string   `json:"email"`
	Capabilities []string `json:"capabilities"`
}

// CapabilitiesFor builds the capabilities answer of an identity.
func CapabilitiesFor(id *Identity) Capabilities {
	c := Capabilities{IsOwner: id.IsOwner(), Role: id.Role, UserID: id.UserID, Email: id.Email, Capabilities: CapabilitiesOf(id)}
	if id.TenantID != 0 {
		t := id.TenantID
		c.TenantID = &t
	}
	return c
}

// Authorize returns nil when the caller in ctx may use the capability on an
// object of tenantID, EUNAUTHORIZED without a caller, and EFORBIDDEN
// otherwise. A tenant admin asking about another tenant's object gets
// ENOTFOUND, so object ids of other tenants are not even confirmed to exist.
func Authorize(ctx context.Context, capability string, tenantID int64) error {
	id := IdentityFromContext(ctx)
	if id == nil {
		if IsBreakGlass(ctx) && breakGlassCaps[capability] {
			return nil
		}
		return Errorf(EUNAUTHORIZED, "Authentication required.")
	}
	if Allowed(id, capability, tenantID) {
		return nil
	}
	if id.Role == RoleTenantAdmin && tenantID != 0 && tenantID != id.TenantID {
		return Errorf(ENOTFOUND, "Not found.")
	}
	return Errorf(EFORBIDDEN, "You do not have the %s capability.", capability)
}
