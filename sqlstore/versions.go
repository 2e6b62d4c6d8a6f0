package sqlstore

import (
	"context"
	"fmt"

	"casino"
)

var _ casino.VersionService = (*DB)(nil)

// RecordVersion inserts the running build into the versions table, or bumps
// its last_seen. Every start calls it.
func (db *DB) RecordVersion(ctx context.Context, version, commit string) error {
	now := Now()
	_, err := db.ExecContext(ctx, `INSERT INTO versions (version, commit_hash, first_seen, last_seen) VALUES (?, ?, ?, ?)
ON CONFLICT (version, commit_hash) DO UPDATE SET last_seen = excluded.last_seen`, version, commit, now, now)
	if err != nil {
		return fmt.Errorf("record version: %w", err)
	}
	return nil
}

// Versions returns the version history, most recently seen first.
func (db *DB) Versions(ctx context.Context) ([]casino.VersionRecord, error) {
	rows, err := db.QueryContext(ctx, `SELECT version, commit_hash, first_seen, last_seen FROM versions ORDER BY last_seen DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	defer rows.Close()
	var out []casino.VersionRecord
	for rows.Next() {
		var v casino.VersionRecord
		if err := rows.Scan(&v.Version, &v.Commit, &v.FirstSeen, &v.LastSeen); err != nil {
			return nil, err
		}
		v.FirstSeen, v.LastSeen = v.FirstSeen.UTC(), v.LastSeen.UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}
