package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"casino"
)

var _ casino.UserService = (*DB)(nil)

const userColumns = "u.id, u.email, u.role, u.tenant_id, u.created_at, u.updated_at"

func scanUser(r scanner, extra ...any) (*casino.User, error) {
	var u casino.User
	var tid sql.NullInt64
	if err := r.Scan(append([]any{&u.ID, &u.Email, &u.Role, &tid, &u.CreatedAt, &u.UpdatedAt}, extra...)...); err != nil {
		return nil, err
	}
	u.TenantID = ptrInt(tid)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// FindCredentials implements casino.AuthStore.
func (db *DB) FindCredentials(ctx context.Context, email string) (*casino.Credentials, error) {
	var c casino.Credentials
	var status sql.NullString
	u, err := scanUser(db.QueryRowContext(ctx, "SELECT "+userColumns+", u.password_hash, t.status FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id WHERE u.email = ?", casino.NormalizeEmail(email)), &c.PasswordHash, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, casino.Errorf(casino.ENOTFOUND, "No such user.")
	} else if err != nil {
		return nil, fmt.Errorf("find credentials: %w", err)
	}
	c.User, c.TenantStatus = *u, status.String
	return &c, nil
}

// UpdatePasswordHash implements casino.AuthStore.
func (db *DB) UpdatePasswordHash(ctx context.Context, userID int64, hash string) error {
	_, err := db.ExecContext(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", hash, Now(), userID)
	return err
}

// CreateTenantAdmin implements casino.UserService.
func (db *DB) CreateTenantAdmin(ctx context.Context, tenantID int64, email, passwordHash string) (*casino.User, error) {
	if err := casino.Authorize(ctx, casino.CapTenantAdminsCreate, tenantID); err != nil {
		return nil, err
	}
	email = casino.NormalizeEmail(email)
	var u *casino.User
	err := db.inTx(ctx, func(tx *Tx) error {
		if _, err := findTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		now := Now()
		u = &casino.User{Email: email, Role: casino.RoleTenantAdmin, TenantID: &tenantID, CreatedAt: now, UpdatedAt: now}
		err := tx.QueryRowContext(ctx, "INSERT INTO users (tenant_id, email, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
			tenantID, email, passwordHash, u.Role, now, now).Scan(&u.ID)
		if isUnique(err) {
			return &casino.Error{Code: casino.ECONFLICT, Message: "A user with this email already exists.", Fields: map[string]string{"email": "is already taken"}}
		} else if err != nil {
			return fmt.Errorf("create tenant admin: %w", err)
		}
		return insertAudit(ctx, tx, &casino.AuditEvent{Action: casino.ActionAdminCreate, TenantID: &tenantID, Target: "user:" + strconv.FormatInt(u.ID, 10), After: casino.AuditJSON(u)})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// FindTenantAdmins implements casino.UserService.
func (db *DB) FindTenantAdmins(ctx context.Context, tenantID int64) ([]*casino.User, error) {
	if err := casino.Authorize(ctx, casino.CapTenantAdminsRead, tenantID); err != nil {
		return nil, err
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := findTenant(ctx, tx, tenantID); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+userColumns+" FROM users u WHERE u.tenant_id = ? ORDER BY u.id", tenantID)
	if err != nil {
		return nil, fmt.Errorf("find tenant admins: %w", err)
	}
	defer rows.Close()
	out := []*casino.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// EnsureOwner implements casino.UserService. Two replicas starting at once
// create one owner: the insert is conditional on there being none, and the
// email is unique.
func (db *DB) EnsureOwner(ctx context.Context, email, passwordHash string) (bool, error) {
	email = casino.NormalizeEmail(email)
	created := false
	err := db.inTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE role = 'owner'").Scan(&n); err != nil {
			return fmt.Errorf("count owners: %w", err)
		}
		if n > 0 {
			return nil
		}
		now := Now()
		var id int64
		err := tx.QueryRowContext(ctx, "INSERT INTO users (tenant_id, email, password_hash, role, created_at, updated_at) VALUES (NULL, ?, ?, 'owner', ?, ?) RETURNING id", email, passwordHash, now, now).Scan(&id)
		if isUnique(err) {
			return casino.Errorf(casino.ECONFLICT, "The owner email %s is already a tenant admin's.", email)
		} else if err != nil {
			return fmt.Errorf("create owner: %w", err)
		}
		created = true
		return insertAudit(ctx, tx, &casino.AuditEvent{ActorEmail: "system", Action: casino.ActionOwnerBootstrap, Target: "user:" + strconv.FormatInt(id, 10), After: casino.AuditJSON(map[string]any{"email": email})})
	})
	if isUnique(err) { // lost a race with another replica
		return false, nil
	}
	return created, err
}

// ResetPassword implements casino.UserService: break-glass only. Tokens
// issued before the reset stop working.
func (db *DB) ResetPassword(ctx context.Context, email, passwordHash string) error {
	if !casino.IsBreakGlass(ctx) {
		return casino.Errorf(casino.EFORBIDDEN, "Password reset is a break-glass command.")
	}
	email = casino.NormalizeEmail(email)
	return db.inTx(ctx, func(tx *Tx) error {
		var id int64
		var tid sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT id, tenant_id FROM users WHERE email = ?", email).Scan(&id, &tid)
		if errors.Is(err, sql.ErrNoRows) {
			return casino.Errorf(casino.ENOTFOUND, "No user with email %s.", email)
		} else if err != nil {
			return err
		}
		now := Now()
		if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", passwordHash, now, id); err != nil {
			return err
		}
		// Tokens issued before this instant are refused.
		v, _ := json.Marshal(now)
		if err := putState(ctx, tx, tokensAfterKey(id), string(v)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE scope = 'account' AND key = ?", email); err != nil {
			return err
		}
		return insertAudit(ctx, tx, &casino.AuditEvent{Action: casino.ActionPasswordReset, TenantID: ptrInt(tid), Target: "user:" + strconv.FormatInt(id, 10)})
	})
}

func tokensAfterKey(userID int64) string {
	return "tokens_valid_after:" + strconv.FormatInt(userID, 10)
}
