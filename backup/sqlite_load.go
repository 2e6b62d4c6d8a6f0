package backup

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"casino/sqlstore"
)

// A SQLite backup is a copy of the database file, so its schema comes with
// it: an edited copy can carry an extra trigger (one that deletes every
// login failure, switching off login throttling), a view, a table, or a
// changed CHECK. Before a restored file is used, its sqlite_master (tables,
// indexes, triggers, views and their SQL) must equal exactly what casino's
// migrations create at the backup's schema version, and its
// schema_migrations must record exactly versions 1 to that version.

// sqliteInternal are the tables SQLite itself may add to a database with
// their fixed SQL (ANALYZE, PRAGMA optimize); their presence is not a
// schema change.
var sqliteInternal = map[string]string{
	"sqlite_stat1": "CREATE TABLE sqlite_stat1(tbl,idx,stat)",
	"sqlite_stat4": "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)",
}

// sqliteSchemaRow is one sqlite_master row.
type sqliteSchemaRow struct{ typ, name, table, sql string }

func (r sqliteSchemaRow) String() string {
	return fmt.Sprintf("%s %s on %s: %s", r.typ, r.name, r.table, r.sql)
}

func readSQLiteMaster(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]sqliteSchemaRow, error) {
	rows, err := db.QueryContext(ctx, `SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master`)
	if err != nil {
		return nil, fmt.Errorf("read sqlite_master: %v", err)
	}
	defer rows.Close()
	out := map[string]sqliteSchemaRow{}
	for rows.Next() {
		var r sqliteSchemaRow
		if err := rows.Scan(&r.typ, &r.name, &r.table, &r.sql); err != nil {
			return nil, err
		}
		out[r.typ+" "+r.name] = r
	}
	return out, rows.Err()
}

// sqliteReference caches the migrated schema per version.
var sqliteReference sync.Map

// sqliteMigratedSchema is sqlite_master of a new database migrated to
// version, built once per process in a temporary file under dir.
func sqliteMigratedSchema(ctx context.Context, dir string, version int) (map[string]sqliteSchemaRow, error) {
	if v, ok := sqliteReference.Load(version); ok {
		return v.(map[string]sqliteSchemaRow), nil
	}
	f, err := os.CreateTemp(dir, ".casino-schema-*.db")
	if err != nil {
		return nil, err
	}
	path := f.Name()
	f.Close()
	os.Remove(path)
	defer removeSQLiteFiles(path)
	db, err := sqlstore.Open(ctx, "sqlite:"+path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.MigrateTo(ctx, version); err != nil {
		return nil, fmt.Errorf("build casino's schema at version %d: %w", version, err)
	}
	ref, err := readSQLiteMaster(ctx, db)
	if err != nil {
		return nil, err
	}
	sqliteReference.Store(version, ref)
	return ref, nil
}

// checkSQLiteSchema refuses a SQLite file whose schema is not exactly
// casino's at version (0: the version the file's schema_migrations
// records, for a backup without a manifest). dir holds the temporary
// reference database.
func checkSQLiteSchema(ctx context.Context, path, dir string, version int) (int, error) {
	db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(path))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	got, err := readSQLiteMaster(ctx, db)
	if err != nil {
		return 0, err
	}
	var versions []int
	if _, ok := got["table schema_migrations"]; ok {
		rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			return 0, fmt.Errorf("read schema_migrations: %v", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return 0, err
			}
			versions = append(versions, v)
		}
		rows.Close()
	}
	fileVersion := len(versions)
	for i, v := range versions {
		if v != i+1 {
			return 0, fmt.Errorf("schema_migrations records versions %v, not 1 to %d", versions, len(versions))
		}
	}
	if version == 0 {
		version = fileVersion
	}
	latest := sqlstore.LatestVersion(sqlstore.SQLite)
	if version < 1 || version > latest {
		return 0, fmt.Errorf("schema version %d is not one this binary knows (1 to %d)", version, latest)
	}
	if fileVersion != version {
		return 0, fmt.Errorf("the file's schema_migrations records version %d, the manifest says %d", fileVersion, version)
	}
	want, err := sqliteMigratedSchema(ctx, dir, version)
	if err != nil {
		return 0, err
	}
	var diffs []string
	for k, g := range got {
		if sql, ok := sqliteInternal[g.name]; ok && g.typ == "table" && g.sql == sql {
			continue
		}
		w, ok := want[k]
		switch {
		case !ok:
			diffs = append(diffs, "extra "+g.String())
		case w != g:
			diffs = append(diffs, "changed "+g.String())
		}
	}
	for k, w := range want {
		if _, ok := got[k]; !ok {
			diffs = append(diffs, "missing "+w.typ+" "+w.name)
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 5 {
			diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
		}
		return 0, fmt.Errorf("the SQLite file's schema differs from what casino's migrations create at version %d: %s", version, strings.Join(diffs, "; "))
	}
	return version, nil
}
