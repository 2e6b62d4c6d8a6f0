package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"casino"
)

var _ casino.AuthStore = (*DB)(nil)

// RevokeToken implements casino.AuthStore. Expired revocations are purged
// on the way: an expired token is refused anyway.
func (db *DB) RevokeToken(ctx context.Context, jti string, userID int64, expiresAt time.Time) error {
	return db.inTx(ctx, func(tx *Tx) error {
		now := Now()
		if _, err := tx.ExecContext(ctx, "DELETE FROM revoked_tokens WHERE expires_at < ?", now.Add(-time.Minute)); err != nil {
			return fmt.Errorf("purge revoked tokens: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO revoked_tokens (jti, user_id, revoked_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING", jti, userID, now, expiresAt.UTC()); err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		return nil
	})
}

// sessionStateQuery reads, in one statement, everything verifying a token
// needs.
const sessionStateQuery = `SELECT
 (SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?),
 (SELECT COUNT(*) FROM users WHERE id = ?),
 COALESCE((SELECT status FROM tenants WHERE id = ?), ''),
 COALESCE((SELECT value FROM system_state WHERE key = ?), ''),
 COALESCE((SELECT value FROM system_state WHERE key = ?), ''),
 COALESCE((SELECT value FROM system_state WHERE key = ?), '')`

// SessionState implements casino.AuthStore in one statement, so a request
// pays one round trip for revocation, user, tenant and both switches.
func (db *DB) SessionState(ctx context.Context, jti string, userID, tenantID int64) (*casino.SessionState, error) {
	var revoked, users int
	var status, after, freeze, maint string
	// Prepared once per DB: every authenticated request runs it, and on
	// SQLite preparing it cost two thirds of the query.
	stmt, err := db.prepared(ctx, sessionStateQuery)
	if err != nil {
		return nil, fmt.Errorf("session state: %w", err)
	}
	err = stmt.QueryRowContext(ctx, jti, userID, tenantID, tokensAfterKey(userID), stateLoginFreeze, stateMaintenance).Scan(&revoked, &users, &status, &after, &freeze, &maint)
	if err != nil {
		return nil, fmt.Errorf("session state: %w", err)
	}
	st := &casino.SessionState{Revoked: revoked > 0, UserExists: users > 0, TenantStatus: status, LoginFreeze: parseSwitch(freeze), Maintenance: parseSwitch(maint)}
	if after != "" {
		json.Unmarshal([]byte(after), &st.TokensValidAfter)
	}
	return st, nil
}
