package sqlstore

import (
	"context"
	"fmt"
)

// MigrateTo applies the pending migrations up to and including version, and
// no further, and returns those it applied. A restore builds the schema of
// a backup taken at an older version this way before loading its data, so
// the data meets exactly the schema it was dumped from. It refuses a
// version this binary does not know, and a database already past version.
func (db *DB) MigrateTo(ctx context.Context, version int) ([]Migration, error) {
	ms, err := Migrations(db.Dialect())
	if err != nil {
		return nil, err
	}
	if version < 1 || version > len(ms) {
		return nil, fmt.Errorf("schema version %d: this binary knows versions 1 to %d", version, len(ms))
	}
	if err := db.createMigrationsTable(ctx); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	cur, err := db.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if cur > version {
		return nil, fmt.Errorf("the database is at schema version %d, past %d", cur, version)
	}
	var done []Migration
	for _, m := range ms[cur:version] {
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
