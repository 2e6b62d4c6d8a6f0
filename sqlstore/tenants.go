package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"casino"
)

var _ casino.TenantService = (*DB)(nil)

// FindTenants implements casino.TenantService.
func (db *DB) FindTenants(ctx context.Context, f casino.TenantFilter) ([]*casino.Tenant, int, error) {
	if err := casino.Authorize(ctx, casino.CapTenantsRead, 0); err != nil {
		return nil, 0, err
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	cond, args := "", []any{}
	if id := casino.IdentityFromContext(ctx); !id.IsOwner() {
		cond, args = " WHERE id = ?", append(args, id.TenantID)
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM tenants"+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count tenants: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, name, slug, status, created_at, updated_at FROM tenants"+cond+" ORDER BY id LIMIT ? OFFSET ?", append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("find tenants: %w", err)
	}
	defer rows.Close()
	out := []*casino.Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, t)
	}
	return out, total, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanTenant(r scanner) (*casino.Tenant, error) {
	var t casino.Tenant
	if err := r.Scan(&t.ID, &t.Name, &t.Slug, &t.Status, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return &t, nil
}

// findTenant reads one tenant inside tx, ENOTFOUND when missing.
func findTenant(ctx context.Context, tx *Tx, id int64) (*casino.Tenant, error) {
	t, err := scanTenant(tx.QueryRowContext(ctx, "SELECT id, name, slug, status, created_at, updated_at FROM tenants WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, casino.Errorf(casino.ENOTFOUND, "Tenant %d not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find tenant: %w", err)
	}
	return t, nil
}

// FindTenantByID implements casino.TenantService.
func (db *DB) FindTenantByID(ctx context.Context, id int64) (*casino.Tenant, error) {
	if err := casino.Authorize(ctx, casino.CapTenantsRead, id); err != nil {
		return nil, err
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findTenant(ctx, tx, id)
}

// CreateTenant implements casino.TenantService.
func (db *DB) CreateTenant(ctx context.Context, t *casino.Tenant) error {
	if err := casino.Authorize(ctx, casino.CapTenantsCreate, 0); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		now := Now()
		t.Status, t.CreatedAt, t.UpdatedAt = casino.TenantActive, now, now
		err := tx.QueryRowContext(ctx, "INSERT INTO tenants (name, slug, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
			t.Name, t.Slug, t.Status, now, now).Scan(&t.ID)
		if isUnique(err) {
			return &casino.Error{Code: casino.ECONFLICT, Message: fmt.Sprintf("A tenant with slug %q already exists.", t.Slug), Fields: map[string]string{"slug": "is already taken"}}
		} else if err != nil {
			return fmt.Errorf("create tenant: %w", err)
		}
		return insertAudit(ctx, tx, &casino.AuditEvent{Action: casino.ActionTenantCreate, TenantID: &t.ID, Target: "tenant:" + strconv.FormatInt(t.ID, 10), After: casino.AuditJSON(t)})
	})
}

// UpdateTenant implements casino.TenantService.
func (db *DB) UpdateTenant(ctx context.Context, id int64, upd casino.TenantUpdate) (*casino.Tenant, error) {
	if err := casino.Authorize(ctx, casino.CapTenantsUpdate, id); err != nil {
		return nil, err
	}
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var out *casino.Tenant
	err := db.inTx(ctx, func(tx *Tx) error {
		before, err := findTenant(ctx, tx, id)
		if err != nil {
			return err
		}
		after := *before
		if upd.Name != nil {
			after.Name = *upd.Name
		}
		if upd.Status != nil {
			after.Status = *upd.Status
		}
		after.UpdatedAt = Now()
		if _, err := tx.ExecContext(ctx, "UPDATE tenants SET name = ?, status = ?, updated_at = ? WHERE id = ?", after.Name, after.Status, after.UpdatedAt, id); err != nil {
			return fmt.Errorf("update tenant: %w", err)
		}
		if before.Status != casino.TenantSuspended && after.Status == casino.TenantSuspended {
			if err := invalidateTenantTokens(ctx, tx, id, after.UpdatedAt); err != nil {
				return err
			}
		}
		out = &after
		return insertAudit(ctx, tx, &casino.AuditEvent{Action: casino.ActionTenantUpdate, TenantID: &id, Target: "tenant:" + strconv.FormatInt(id, 10), Before: casino.AuditJSON(before), After: casino.AuditJSON(after)})
	})
	return out, err
}

// invalidateTenantTokens moves tokens_valid_after of every admin of the
// tenant to at, so tokens issued before a suspension stay refused after the
// tenant is reactivated.
func invalidateTenantTokens(ctx context.Context, tx *Tx, tenantID int64, at time.Time) error {
	rows, err := tx.QueryContext(ctx, "SELECT id FROM users WHERE tenant_id = ?", tenantID)
	if err != nil {
		return fmt.Errorf("find tenant admins: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	v, _ := json.Marshal(at)
	for _, id := range ids {
		if err := putState(ctx, tx, tokensAfterKey(id), string(v)); err != nil {
			return err
		}
	}
	return nil
}
