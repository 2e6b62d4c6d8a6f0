package sqlstore

import (
	"context"
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
