// Package testdb opens real, migrated databases of both engines for tests:
// a fresh SQLite file in a temp folder, or a fresh database on the test
// PostgreSQL server (internal/testpg).
package testdb

import (
	"context"
	"path/filepath"
	"testing"

	"casino/internal/testpg"
	"casino/sqlstore"
)

// Engines are the engines every store and API test runs against.
var Engines = []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres}

// URL returns the URL of a fresh, empty database of the engine.
func URL(t testing.TB, engine sqlstore.Dialect) string {
	t.Helper()
	if engine == sqlstore.Postgres {
		return testpg.NewDatabase(t)
	}
	return "sqlite:" + filepath.Join(t.TempDir(), "casino.db")
}

// Open returns a fresh, migrated database of the engine, closed when the
// test ends.
func Open(t testing.TB, engine sqlstore.Dialect) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), URL(t, engine))
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return db
}

// Each runs fn as a subtest for each engine.
func Each(t *testing.T, fn func(t *testing.T, engine sqlstore.Dialect)) {
	t.Helper()
	for _, e := range Engines {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}
