package sqlstore

import (
	"context"
	"fmt"
	"time"

	"casino"
)

// failureRetention is how long login failures are kept at most; throttle
// windows are shorter.
const failureRetention = 24 * time.Hour

// RecordLoginFailure implements casino.AuthStore: one row for the account
// (with the address and whether it is fresh), one for the client IP, and
// old rows of both keys purged.
func (db *DB) RecordLoginFailure(ctx context.Context, email, ip string, at time.Time, fresh bool) error {
	at = at.UTC().Truncate(time.Microsecond)
	email = casino.NormalizeEmail(email)
	return db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE ((scope = 'account' AND key = ?) OR (scope = 'ip' AND key = ?)) AND at < ?", email, ip, at.Add(-failureRetention)); err != nil {
			return fmt.Errorf("purge login failures: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO login_failures (scope, key, at, ip, fresh) VALUES ('account', ?, ?, ?, ?)", email, at, ip, fresh); err != nil {
			return fmt.Errorf("record login failure: %w", err)
		}
		if ip != "" {
			if _, err := tx.ExecContext(ctx, "INSERT INTO login_failures (scope, key, at, ip, fresh) VALUES ('ip', ?, ?, ?, ?)", ip, at, ip, fresh); err != nil {
				return fmt.Errorf("record login failure: %w", err)
			}
		}
		return nil
	})
}

// loginFailuresQuery counts, in one statement, the account's failures, the
// (account, address) pair's, the account's fresh ones and the address's.
const loginFailuresQuery = `SELECT 'account', COUNT(*), MIN(at), MAX(at) FROM login_failures WHERE scope = 'account' AND key = ? AND at >= ?
UNION ALL SELECT 'pair', COUNT(*), MIN(at), MAX(at) FROM login_failures WHERE scope = 'account' AND key = ? AND ip = ? AND at >= ?
UNION ALL SELECT 'fresh', COUNT(*), MIN(at), MAX(at) FROM login_failures WHERE scope = 'account' AND key = ? AND fresh = ? AND at >= ?
UNION ALL SELECT 'ip', COUNT(*), MIN(at), MAX(at) FROM login_failures WHERE scope = 'ip' AND key = ? AND at >= ?`

// LoginFailures implements casino.AuthStore.
func (db *DB) LoginFailures(ctx context.Context, email, ip string, since time.Time) (casino.FailureCounts, error) {
	var fc casino.FailureCounts
	email, since = casino.NormalizeEmail(email), since.UTC()
	tx, err := db.readTx(ctx)
	if err != nil {
		return fc, fmt.Errorf("count login failures: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, loginFailuresQuery, email, since, email, ip, since, email, true, since, ip, since)
	if err != nil {
		return fc, fmt.Errorf("count login failures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var scope string
		var n int
		var oldest, newest any
		if err := rows.Scan(&scope, &n, &oldest, &newest); err != nil {
			return fc, err
		}
		switch scope {
		case "account":
			fc.Account, fc.LastAccount = n, anyTime(newest)
		case "pair":
			fc.Pair, fc.OldestPair = n, anyTime(oldest)
		case "fresh":
			fc.LastFresh = anyTime(newest)
		case "ip":
			fc.IP, fc.OldestIP = n, anyTime(oldest)
		}
	}
	return fc, rows.Err()
}

// ClearLoginFailures implements casino.AuthStore.
func (db *DB) ClearLoginFailures(ctx context.Context, email, ip string) error {
	return db.inTx(ctx, func(tx *Tx) error { return clearLoginFailures(ctx, tx, email, ip) })
}

func clearLoginFailures(ctx context.Context, tx *Tx, email, ip string) error {
	q, args := "DELETE FROM login_failures WHERE scope = 'account' AND key = ?", []any{casino.NormalizeEmail(email)}
	if ip != "" {
		q, args = q+" AND ip = ?", append(args, ip)
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}

// UnlockLogin forgets every failed login of the account, so no throttle
// holds it back: casino user unlock. Break-glass only; audited. It reports
// how many it cleared, whether or not a user has the email.
func (db *DB) UnlockLogin(ctx context.Context, email string) (int64, error) {
	if !casino.IsBreakGlass(ctx) {
		return 0, casino.Errorf(casino.EFORBIDDEN, "Unlock is a break-glass command.")
	}
	email = casino.NormalizeEmail(email)
	var n int64
	err := db.inTx(ctx, func(tx *Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM login_failures WHERE scope = 'account' AND key = ?", email).Scan(&n); err != nil {
			return fmt.Errorf("count login failures: %w", err)
		}
		if err := clearLoginFailures(ctx, tx, email, ""); err != nil {
			return err
		}
		return insertAudit(ctx, tx, &casino.AuditEvent{Action: casino.ActionLoginUnlock, Target: "user:" + email, After: casino.AuditJSON(map[string]any{"failures_cleared": n})})
	})
	return n, err
}

// anyTime reads a timestamp from an aggregate, which SQLite returns as text.
func anyTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t.UTC()
	case string:
		return parseSQLiteTime(t)
	case []byte:
		return parseSQLiteTime(string(t))
	}
	return time.Time{}
}

func parseSQLiteTime(s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
