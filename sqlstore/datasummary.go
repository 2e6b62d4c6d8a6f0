package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"casino"
)

var _ casino.DataSummaryService = (*DB)(nil)

// DataSummary implements casino.DataSummaryService: the restore mark, the
// row counts of every application table and the database's identity, read
// in one transaction.
func (db *DB) DataSummary(ctx context.Context) (*casino.DataSummary, error) {
	if err := casino.Authorize(ctx, casino.CapAdminStatus, 0); err != nil {
		return nil, err
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	s := &casino.DataSummary{RowCounts: make(map[string]int64, len(Tables)), Identity: casino.RestoreTarget{Engine: string(db.Dialect())}}
	for _, t := range Tables {
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("data summary: count %s: %w", t, err)
		}
		s.RowCounts[t] = n
	}
	v, err := getState(ctx, tx, casino.RestoreMarkKey)
	if err != nil {
		return nil, fmt.Errorf("data summary: read restore mark: %w", err)
	}
	if v != "" {
		var m casino.RestoreMark
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			// A mark that does not parse is no proof of anything: answer
			// none, and say so in the identity error.
			s.IdentityError = "system_state restore_id does not parse: " + err.Error()
		} else {
			s.Restore, s.RestoreID = &m, m.RestoreID
		}
	}
	switch db.Dialect() {
	case SQLite:
		p := db.Target.Path
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		s.Identity.Path = p
	case Postgres:
		if err := tx.QueryRowContext(ctx, "SELECT current_database()").Scan(&s.Identity.Database); err != nil {
			return nil, fmt.Errorf("data summary: current_database: %w", err)
		}
		// pg_control_system() is readable by superusers and pg_monitor
		// members only; without it the name must do.
		var id string
		if err := tx.QueryRowContext(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&id); err != nil {
			s.IdentityError = strings.TrimSpace(s.IdentityError + " system_identifier not readable: " + Redact(err.Error()))
		} else {
			s.Identity.SystemIdentifier = id
		}
	}
	return s, nil
}
