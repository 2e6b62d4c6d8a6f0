package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one embedded schema change. Files are named NNNN_name.sql in
// migrations/<dialect>/ and applied in order, each in its own transaction,
// recorded in the schema_migrations table.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// MigrationState is a migration and whether (and when) it is applied.
type MigrationState struct {
	Migration
	Applied   bool
	AppliedAt time.Time
}

// SchemaNewerError is returned when the database carries a schema version this
// binary does not know: a newer build migrated it. Running an older binary
// against it could corrupt data, so casino refuses. It protects the Scenario A
// rollback (old image, new schema).
type SchemaNewerError struct {
	Database int // version recorded in the database
	Binary   int // newest version this binary knows
}

func (e *SchemaNewerError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this binary knows (%d): run a casino build that knows schema %d, or restore a backup taken at schema %d or older (see docs/ops/dr_runbook.md, Scenario A)", e.Database, e.Binary, e.Database, e.Binary)
}

var migrationCache = map[Dialect]func() ([]Migration, error){
	SQLite:   sync.OnceValues(func() ([]Migration, error) { return loadMigrations(SQLite) }),
	Postgres: sync.OnceValues(func() ([]Migration, error) { return loadMigrations(Postgres) }),
}

// Migrations returns the embedded migrations of a dialect, in order. They
// are parsed once; callers must not modify the slice.
func Migrations(d Dialect) ([]Migration, error) {
	if f, ok := migrationCache[d]; ok {
		return f()
	}
	return nil, fmt.Errorf("unknown dialect %q", d)
}

func loadMigrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := range ms {
		if ms[i].Version != i+1 {
			return nil, fmt.Errorf("migrations of %s are not numbered 1..n without gaps (found %d at position %d)", d, ms[i].Version, i+1)
		}
	}
	return ms, nil
}

// LatestVersion is the newest schema version this binary knows.
func LatestVersion(d Dialect) int {
	ms, err := Migrations(d)
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  TIMESTAMP NOT NULL
)`

// migrationsTableExists reports whether the schema_migrations table exists.
func (db *DB) migrationsTableExists(ctx context.Context) (bool, error) {
	var n int
	var err error
	switch db.Dialect() {
	case Postgres:
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'`).Scan(&n)
	default:
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	}
	return n > 0, err
}

// SchemaVersion returns the newest applied schema version, 0 for an empty
// database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	ok, err := db.migrationsTableExists(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	} else if !ok {
		return 0, nil
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// CheckSchema returns nil when the database schema is exactly the binary's,
// a *SchemaNewerError when it is newer, and an error naming the pending
// versions when it is older.
func (db *DB) CheckSchema(ctx context.Context) error {
	cur, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	latest := LatestVersion(db.Dialect())
	switch {
	case cur > latest:
		return &SchemaNewerError{Database: cur, Binary: latest}
	case cur < latest:
		return fmt.Errorf("database schema version %d is behind this binary (%d): run casino migrate up", cur, latest)
	}
	return nil
}

// MigrationStatus lists every known migration and whether it is applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	ms, err := Migrations(db.Dialect())
	if err != nil {
		return nil, err
	}
	applied := map[int]time.Time{}
	if ok, err := db.migrationsTableExists(ctx); err != nil {
		return nil, err
	} else if ok {
		rows, err := db.QueryContext(ctx, `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			var at time.Time
			if err := rows.Scan(&v, &at); err != nil {
				return nil, err
			}
			applied[v] = at
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]MigrationState, len(ms))
	for i, m := range ms {
		at, ok := applied[m.Version]
		out[i] = MigrationState{Migration: m, Applied: ok, AppliedAt: at}
	}
	return out, nil
}

// Migrate applies every pending migration, each in its own transaction, and
// returns those it applied. It refuses a database whose schema is newer than
// the binary knows. Concurrent callers (two replicas starting at once) are
// serialised: PostgreSQL by an advisory lock, SQLite by its write lock.
func (db *DB) Migrate(ctx context.Context) ([]Migration, error) {
	ms, err := Migrations(db.Dialect())
	if err != nil {
		return nil, err
	}
	if err := db.createMigrationsTable(ctx); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	cur, err := db.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if latest := len(ms); cur > latest {
		return nil, &SchemaNewerError{Database: cur, Binary: latest}
	}
	var done []Migration
	for _, m := range ms {
		if m.Version <= cur {
			continue
		}
		applied, err := db.applyMigration(ctx, m)
		if err != nil {
			return done, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if applied {
			done = append(done, m)
		}
	}
	return done, nil
}

// createMigrationsTable creates schema_migrations under the migration lock:
// CREATE TABLE IF NOT EXISTS alone races between two PostgreSQL sessions.
func (db *DB) createMigrationsTable(ctx context.Context) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if db.Dialect() == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, migrationLockID); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return err
	}
	return tx.Commit()
}

// migrationLockID is the PostgreSQL advisory lock key held while migrating.
const migrationLockID = 7215_2026

func (db *DB) applyMigration(ctx context.Context, m Migration) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	if db.Dialect() == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, migrationLockID); err != nil {
			return false, fmt.Errorf("take migration lock: %w", err)
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 { // another process applied it while we waited for the lock
		return false, nil
	}
	if _, err := tx.execScript(ctx, m.SQL); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.Version, m.Name, Now()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
