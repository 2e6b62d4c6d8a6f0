package casino

import (
	"context"
	"time"
)

// RestoreMarkKey is the system_state key under which a restore writes its
// RestoreMark into the restored copy.
const RestoreMarkKey = "restore_id"

// RestoreMark is the system_state value a restore writes into the copy it
// restores: {"restore_id":"<32 hex>","backup":"<name>","restored_at":"RFC3339"}.
// Only that copy carries it, so a service answering another restore_id (or
// none) is not running on the restored data.
type RestoreMark struct {
	RestoreID  string    `json:"restore_id"`
	Backup     string    `json:"backup"`
	RestoredAt time.Time `json:"restored_at"`
}

// DataSummary is the owner-only answer of GET /api/v1/admin/data-summary:
// which data the running service reads. dr validate's data check compares it
// with the restore's typed facts.
type DataSummary struct {
	// RestoreID is the RestoreMark's restore_id, "" when the database
	// carries none (never restored, or a fresh empty database).
	RestoreID string       `json:"restore_id"`
	Restore   *RestoreMark `json:"restore,omitempty"`
	// RowCounts are per-table row counts of the application's tables.
	RowCounts map[string]int64 `json:"row_counts"`
	// Identity names the database: engine, database name and
	// system_identifier (PostgreSQL) or the file's path (SQLite).
	Identity RestoreTarget `json:"identity"`
	// IdentityError says why part of the identity is missing (the
	// system_identifier needs pg_read_all_settings or superuser).
	IdentityError string `json:"identity_error,omitempty"`
}

// DataSummaryService answers which data the service runs on.
type DataSummaryService interface {
	// DataSummary returns the summary. Errors: EUNAUTHORIZED, EFORBIDDEN
	// (owner only: capability admin:status).
	DataSummary(ctx context.Context) (*DataSummary, error)
}
