package casino

import (
	"context"
	"encoding/json"
	"time"
)

// Audit actions.
const (
	ActionLoginSuccess   = "auth.login.success"
	ActionLoginFailure   = "auth.login.failure"
	ActionLoginThrottled = "auth.login.throttled"
	ActionLogout         = "auth.logout"
	ActionTenantCreate   = "tenant.create"
	ActionTenantUpdate   = "tenant.update"
	ActionAdminCreate    = "tenant_admin.create"
	ActionSettingUpdate  = "setting.update"
	ActionLoginFreeze    = "admin.login_freeze"
	ActionMaintenance    = "admin.maintenance"
	ActionOwnerBootstrap = "user.owner_bootstrap"
	ActionPasswordReset  = "user.password_reset"
	ActionPasswordRehash = "user.password_rehash"
	// ActionRestore is written into a restored database by the restore
	// itself (target "backup:NAME", after: its restore_id).
	ActionRestore = "system.restore"
)

// AuditEvent is one append-only record of who did what. ActorID, ActorEmail,
// RequestID and RemoteIP are filled from the context when left empty.
type AuditEvent struct {
	ID         int64           `json:"id"`
	TS         time.Time       `json:"ts"`
	ActorID    *int64          `json:"actor_id"`
	ActorEmail string          `json:"actor_email"`
	TenantID   *int64          `json:"tenant_id"`
	Action     string          `json:"action"`
	Target     string          `json:"target"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	RequestID  string          `json:"request_id"`
	RemoteIP   string          `json:"remote_ip"`
}

// AuditFilter selects audit events. Zero fields do not filter.
type AuditFilter struct {
	Action   string
	TenantID int64 // owner only; a tenant admin always sees their own
	Since    time.Time
	Until    time.Time
	Limit    int // 1-500, default 100
	Offset   int
}

// AuditService reads the audit log. Writes happen inside the services that
// make the changes, in the same transaction.
type AuditService interface {
	// FindAuditEvents returns the events visible to the caller, newest
	// first, and how many match in all. The owner sees all; a tenant admin
	// their tenant's.
	FindAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, int, error)
}

// AuditJSON marshals v for AuditEvent.Before/After; nil stays nil.
func AuditJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
