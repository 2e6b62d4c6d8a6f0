package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"casino"
)

// Keys of system_state.
const (
	stateSigningKey  = "jwt_signing_key"
	stateLoginFreeze = "login_freeze"
	stateMaintenance = "maintenance"
)

var _ casino.SystemService = (*DB)(nil)

// putState upserts a system_state value inside tx.
func putState(ctx context.Context, tx *Tx, key, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO system_state (key, value, updated_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, Now())
	if err != nil {
		return fmt.Errorf("put system state %s: %w", key, err)
	}
	return nil
}

// getState reads a system_state value inside tx, "" when absent.
func getState(ctx context.Context, tx *Tx, key string) (string, error) {
	var v string
	err := tx.QueryRowContext(ctx, "SELECT value FROM system_state WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// LegacySigningKey returns the token signing key that versions before the
// key file kept in system_state, or nil when there is none. It is read only
// to move it out (see DropLegacySigningKey).
func (db *DB) LegacySigningKey(ctx context.Context) ([]byte, error) {
	var v string
	err := db.QueryRowContext(ctx, "SELECT value FROM system_state WHERE key = ?", stateSigningKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read legacy signing key: %w", err)
	}
	var k struct{ Key string }
	if err := json.Unmarshal([]byte(v), &k); err != nil {
		return nil, fmt.Errorf("read legacy signing key: %w", err)
	}
	return base64.StdEncoding.DecodeString(k.Key)
}

// DropLegacySigningKey deletes the system_state row of the old token
// signing key, then rewrites the storage so its bytes leave the free pages
// too (SQLite: VACUUM; PostgreSQL: VACUUM FULL system_state). It reports
// whether there was a row.
func (db *DB) DropLegacySigningKey(ctx context.Context) (bool, error) {
	res, err := db.ExecContext(ctx, "DELETE FROM system_state WHERE key = ?", stateSigningKey)
	if err != nil {
		return false, fmt.Errorf("delete legacy signing key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	q := "VACUUM"
	if db.Dialect() == Postgres {
		q = "VACUUM FULL system_state"
	}
	if _, err := db.ExecContext(ctx, q); err != nil {
		return true, fmt.Errorf("vacuum after deleting the legacy signing key: %w", err)
	}
	if db.Dialect() == SQLite {
		// the WAL still holds the frames that wrote the key
		db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return true, nil
}

func parseSwitch(s string) casino.Switch {
	var sw casino.Switch
	if s != "" {
		json.Unmarshal([]byte(s), &sw)
	}
	sw.UpdatedAt = sw.UpdatedAt.UTC()
	return sw
}

// SystemStatus implements casino.SystemService.
func (db *DB) SystemStatus(ctx context.Context) (*casino.SystemStatus, error) {
	if err := casino.Authorize(ctx, casino.CapAdminStatus, 0); err != nil {
		return nil, err
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	f, err := getState(ctx, tx, stateLoginFreeze)
	if err != nil {
		return nil, err
	}
	m, err := getState(ctx, tx, stateMaintenance)
	if err != nil {
		return nil, err
	}
	return &casino.SystemStatus{LoginFreeze: parseSwitch(f), Maintenance: parseSwitch(m)}, nil
}

// SetLoginFreeze implements casino.SystemService.
func (db *DB) SetLoginFreeze(ctx context.Context, enabled bool, reason string) (*casino.Switch, error) {
	if err := casino.Authorize(ctx, casino.CapAdminLoginFreeze, 0); err != nil {
		return nil, err
	}
	return db.setSwitch(ctx, stateLoginFreeze, casino.ActionLoginFreeze, enabled, reason)
}

// SetMaintenance implements casino.SystemService.
func (db *DB) SetMaintenance(ctx context.Context, enabled bool, reason string) (*casino.Switch, error) {
	if err := casino.Authorize(ctx, casino.CapAdminMaintenance, 0); err != nil {
		return nil, err
	}
	return db.setSwitch(ctx, stateMaintenance, casino.ActionMaintenance, enabled, reason)
}

func (db *DB) setSwitch(ctx context.Context, key, action string, enabled bool, reason string) (*casino.Switch, error) {
	if len(reason) > 500 {
		return nil, &casino.Error{Code: casino.EINVALID, Message: "Reason is too long.", Fields: map[string]string{"reason": "must be at most 500 characters"}}
	}
	by := "cli"
	if id := casino.IdentityFromContext(ctx); id != nil {
		by = id.Email
	}
	after := casino.Switch{Enabled: enabled, Reason: reason, UpdatedAt: Now(), UpdatedBy: by}
	err := db.inTx(ctx, func(tx *Tx) error {
		s, err := getState(ctx, tx, key)
		if err != nil {
			return err
		}
		before := parseSwitch(s)
		v, _ := json.Marshal(after)
		if err := putState(ctx, tx, key, string(v)); err != nil {
			return err
		}
		return insertAudit(ctx, tx, &casino.AuditEvent{Action: action, Target: "system:" + key, Before: casino.AuditJSON(before), After: casino.AuditJSON(after)})
	})
	if err != nil {
		return nil, err
	}
	return &after, nil
}
