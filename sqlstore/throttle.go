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

// RecordLoginFailure implements casino.AuthStore: one row for the account,
// one for the client IP, and old rows of both keys purged.
func (db *DB) RecordLoginFailure(ctx context.Context, email, ip string, at time.Time) error {
	at = at.UTC().Truncate(time.Microsecond)
	return db.inTx(ctx, func(tx *Tx) error {
		keys := [][2]string{{"account", casino.NormalizeEmail(email)}}
		if ip != "" {
			keys = append(keys, [2]string{"ip", ip})
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, "DELETE FROM login_failures WHERE scope = ? AND key = ? AND at < ?", k[0], k[1], at.Add(-failureRetention)); err != nil {
				return fmt.Errorf("purge login failures: %w", err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO login_failures (scope, key, at) VALUES (?, ?, ?)", k[0], k[1], at); err != nil {
				return fmt.Errorf("record login failure: %w", err)
			}
		}
		return nil
	})
}

// LoginFailures implements casino.AuthStore.
func (db *DB) LoginFailures(ctx context.Context, email, ip string, since time.Time) (casino.FailureCounts, error) {
	var fc casino.FailureCounts
	rows, err := db.QueryContext(ctx, `SELECT scope, COUNT(*), MIN(at) FROM login_failures
WHERE ((scope = 'account' AND key = ?) OR (scope = 'ip' AND key = ?)) AND at >= ? GROUP BY scope`,
		casino.NormalizeEmail(email), ip, since.UTC())
	if err != nil {
		return fc, fmt.Errorf("count login failures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var scope string
		var n int
		var oldest any
		if err := rows.Scan(&scope, &n, &oldest); err != nil {
			return fc, err
		}
		t := anyTime(oldest)
		if scope == "account" {
			fc.Account, fc.OldestAccount = n, t
		} else {
			fc.IP, fc.OldestIP = n, t
		}
	}
	return fc, rows.Err()
}

// ClearLoginFailures implements casino.AuthStore.
func (db *DB) ClearLoginFailures(ctx context.Context, email string) error {
	_, err := db.ExecContext(ctx, "DELETE FROM login_failures WHERE scope = 'account' AND key = ?", casino.NormalizeEmail(email))
	return err
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
