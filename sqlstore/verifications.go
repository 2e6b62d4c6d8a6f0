package sqlstore

import (
	"context"
	"fmt"

	"casino"
)

var _ casino.VerificationStore = (*DB)(nil)

// RecordVerification implements casino.VerificationStore: it appends one
// verification result.
func (db *DB) RecordVerification(ctx context.Context, v casino.BackupVerification) error {
	at := v.VerifiedAt
	if at.IsZero() {
		at = Now()
	}
	_, err := db.ExecContext(ctx, `INSERT INTO backup_verifications (backup_name, sha256, kind, ok, detail, verified_at) VALUES (?, ?, ?, ?, ?, ?)`,
		v.BackupName, v.SHA256, v.Kind, v.OK, v.Detail, at.UTC().Truncate(1000))
	if err != nil {
		return fmt.Errorf("record backup verification: %w", err)
	}
	return nil
}

// LastVerifications implements casino.VerificationStore: the newest result
// per backup name.
func (db *DB) LastVerifications(ctx context.Context) (map[string]casino.BackupVerification, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, backup_name, sha256, kind, ok, detail, verified_at FROM backup_verifications v
WHERE id = (SELECT MAX(id) FROM backup_verifications w WHERE w.backup_name = v.backup_name)`)
	if err != nil {
		return nil, fmt.Errorf("read backup verifications: %w", err)
	}
	defer rows.Close()
	out := map[string]casino.BackupVerification{}
	for rows.Next() {
		var v casino.BackupVerification
		if err := rows.Scan(&v.ID, &v.BackupName, &v.SHA256, &v.Kind, &v.OK, &v.Detail, &v.VerifiedAt); err != nil {
			return nil, err
		}
		v.VerifiedAt = v.VerifiedAt.UTC()
		out[v.BackupName] = v
	}
	return out, rows.Err()
}
