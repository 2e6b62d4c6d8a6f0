package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"casino"
)

var _ casino.SettingService = (*DB)(nil)

// settingCaps returns the capabilities guarding a scope.
func settingCaps(scope casino.SettingScope) (read, write string) {
	if scope.TenantID == 0 {
		return casino.CapPlatformSettingsRead, casino.CapPlatformSettingsWrite
	}
	return casino.CapSettingsRead, casino.CapSettingsWrite
}

// scopeCond is the WHERE clause of a scope's settings.
func scopeCond(scope casino.SettingScope) (string, []any) {
	if scope.TenantID == 0 {
		return "tenant_id IS NULL", nil
	}
	return "tenant_id = ?", []any{scope.TenantID}
}

func scanSetting(r scanner) (*casino.Setting, error) {
	var s casino.Setting
	var tid, by sql.NullInt64
	var value string
	if err := r.Scan(&s.Key, &s.Type, &value, &tid, &s.UpdatedAt, &by); err != nil {
		return nil, err
	}
	s.Value, s.TenantID, s.UpdatedBy = []byte(value), ptrInt(tid), ptrInt(by)
	s.UpdatedAt = s.UpdatedAt.UTC()
	return &s, nil
}

// FindSettings implements casino.SettingService.
func (db *DB) FindSettings(ctx context.Context, scope casino.SettingScope) ([]*casino.Setting, error) {
	read, _ := settingCaps(scope)
	if err := casino.Authorize(ctx, read, scope.TenantID); err != nil {
		return nil, err
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if scope.TenantID != 0 {
		if _, err := findTenant(ctx, tx, scope.TenantID); err != nil {
			return nil, err
		}
	}
	cond, args := scopeCond(scope)
	// SUBSTR keeps the list small however long the values, as for audit.
	rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT key, type, SUBSTR(value, 1, %d), tenant_id, updated_at, updated_by FROM settings WHERE ", casino.AuditListValueMax+1)+cond+" ORDER BY key LIMIT ?", append(args, casino.MaxSettingsPerScope)...)
	if err != nil {
		return nil, fmt.Errorf("find settings: %w", err)
	}
	defer rows.Close()
	out := []*casino.Setting{}
	for rows.Next() {
		s, err := scanSetting(rows)
		if err != nil {
			return nil, err
		}
		s.Value, s.Truncated = truncateListValue(s.Value, false)
		out = append(out, s)
	}
	return out, rows.Err()
}

// FindSetting implements casino.SettingService.
func (db *DB) FindSetting(ctx context.Context, scope casino.SettingScope, key string) (*casino.Setting, error) {
	read, _ := settingCaps(scope)
	if err := casino.Authorize(ctx, read, scope.TenantID); err != nil {
		return nil, err
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if scope.TenantID != 0 {
		if _, err := findTenant(ctx, tx, scope.TenantID); err != nil {
			return nil, err
		}
	}
	cond, args := scopeCond(scope)
	s, err := scanSetting(tx.QueryRowContext(ctx, "SELECT key, type, value, tenant_id, updated_at, updated_by FROM settings WHERE "+cond+" AND key = ?", append(args, key)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, casino.Errorf(casino.ENOTFOUND, "Setting %q not found.", key)
	} else if err != nil {
		return nil, fmt.Errorf("find setting: %w", err)
	}
	return s, nil
}

// PutSetting implements casino.SettingService, auditing before and after.
func (db *DB) PutSetting(ctx context.Context, scope casino.SettingScope, s *casino.Setting) (*casino.Setting, error) {
	_, write := settingCaps(scope)
	if err := casino.Authorize(ctx, write, scope.TenantID); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var out *casino.Setting
	err := db.inTx(ctx, func(tx *Tx) error {
		var tid any
		if scope.TenantID != 0 {
			if _, err := findTenant(ctx, tx, scope.TenantID); err != nil {
				return err
			}
			tid = scope.TenantID
		}
		cond, args := scopeCond(scope)
		before, err := scanSetting(tx.QueryRowContext(ctx, "SELECT key, type, value, tenant_id, updated_at, updated_by FROM settings WHERE "+cond+" AND key = ?", append(args, s.Key)...))
		if errors.Is(err, sql.ErrNoRows) {
			before = nil
		} else if err != nil {
			return fmt.Errorf("read setting: %w", err)
		}
		var by any
		if id := casino.IdentityFromContext(ctx); id != nil {
			by = id.UserID
		}
		now := Now()
		if before == nil {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM settings WHERE "+cond, args...).Scan(&n); err != nil {
				return fmt.Errorf("count settings: %w", err)
			}
			if n >= casino.MaxSettingsPerScope {
				return &casino.Error{Code: casino.EINVALID, Message: fmt.Sprintf("This scope already holds %d settings, the most allowed; change or reuse one.", n), Fields: map[string]string{"key": fmt.Sprintf("is new, and the scope holds the most settings allowed (%d)", casino.MaxSettingsPerScope)}}
			}
			_, err = tx.ExecContext(ctx, "INSERT INTO settings (tenant_id, key, type, value, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)", tid, s.Key, s.Type, string(s.Value), now, by)
		} else {
			_, err = tx.ExecContext(ctx, "UPDATE settings SET type = ?, value = ?, updated_at = ?, updated_by = ? WHERE "+cond+" AND key = ?", append([]any{s.Type, string(s.Value), now, by}, append(args, s.Key)...)...)
		}
		if isUnique(err) {
			return casino.Errorf(casino.ECONFLICT, "Setting %s changed concurrently; retry.", s.Key)
		} else if err != nil {
			return fmt.Errorf("put setting: %w", err)
		}
		out, err = scanSetting(tx.QueryRowContext(ctx, "SELECT key, type, value, tenant_id, updated_at, updated_by FROM settings WHERE "+cond+" AND key = ?", append(args, s.Key)...))
		if err != nil {
			return fmt.Errorf("read setting: %w", err)
		}
		ev := &casino.AuditEvent{Action: casino.ActionSettingUpdate, Target: "setting:" + s.Key, After: casino.AuditJSON(out)}
		if before != nil {
			ev.Before = casino.AuditJSON(before)
		}
		if scope.TenantID != 0 {
			t := scope.TenantID
			ev.TenantID = &t
		}
		return insertAudit(ctx, tx, ev)
	})
	return out, err
}
