package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"casino/internal/testdb"
	"casino/sqlstore"
)

func TestMigrateBothEngines(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, testdb.URL(t, engine))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if v, err := db.SchemaVersion(ctx); err != nil || v != 0 {
			t.Fatalf("empty database: version %d, %v", v, err)
		}
		if err := db.CheckSchema(ctx); err == nil || !strings.Contains(err.Error(), "migrate up") {
			t.Errorf("CheckSchema on empty db: %v", err)
		}

		// Two migrators at once (two replicas starting): each migration
		// applies exactly once and neither fails.
		var wg sync.WaitGroup
		applied := make([]int, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ms, err := db.Migrate(ctx)
				applied[i], errs[i] = len(ms), err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent migrate: %v", err)
			}
		}
		latest := sqlstore.LatestVersion(engine)
		if applied[0]+applied[1] != latest {
			t.Errorf("migrations applied %v, want %d in total", applied, latest)
		}
		if err := db.CheckSchema(ctx); err != nil {
			t.Errorf("CheckSchema after migrate: %v", err)
		}
		if ms, err := db.Migrate(ctx); err != nil || len(ms) != 0 {
			t.Errorf("second migrate: %v %v", ms, err)
		}
		counts, err := db.RowCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts["schema_migrations"] != int64(latest) {
			t.Errorf("schema_migrations rows: %d", counts["schema_migrations"])
		}

		// audit_events is append-only.
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_events (ts, action) VALUES (?, 'test')`, sqlstore.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `UPDATE audit_events SET action = 'changed'`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("UPDATE audit_events: %v, want append-only refusal", err)
		}
		if _, err := db.ExecContext(ctx, `DELETE FROM audit_events`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("DELETE audit_events: %v, want append-only refusal", err)
		}

		// A newer schema is refused by name.
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', ?)`, latest+5, sqlstore.Now()); err != nil {
			t.Fatal(err)
		}
		var newer *sqlstore.SchemaNewerError
		if _, err := db.Migrate(ctx); !errors.As(err, &newer) || newer.Database != latest+5 || newer.Binary != latest {
			t.Errorf("Migrate on newer schema: %v", err)
		}
		if err := db.CheckSchema(ctx); !errors.As(err, &newer) {
			t.Errorf("CheckSchema on newer schema: %v", err)
		}
	})
}

func TestVersionsUpsert(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		db := testdb.Open(t, engine)
		for _, v := range []string{"1.0.0", "1.1.0", "1.0.0"} {
			if err := db.RecordVersion(ctx, v, "abc"); err != nil {
				t.Fatal(err)
			}
		}
		vs, err := db.Versions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || vs[0].Version != "1.0.0" || vs[1].Version != "1.1.0" {
			t.Errorf("versions: %+v, want 1.0.0 (seen last) then 1.1.0", vs)
		}
	})
}

func TestParseURLAndRedact(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		dialect sqlstore.Dialect
		path    string
		wantErr string
	}{
		{"sqlite:data/casino.db", sqlstore.SQLite, "data/casino.db", ""},
		{"sqlite:///var/lib/casino.db", sqlstore.SQLite, "/var/lib/casino.db", ""},
		{"postgres://u:p@h:5432/casino_db", sqlstore.Postgres, "", ""},
		{"postgresql://h/casino_db?sslmode=disable", sqlstore.Postgres, "", ""},
		{"mysql://x", "", "", "unsupported database scheme \"mysql\""},
		{"sqlite:", "", "", "no file path"},
		{"postgres://u:secret@h:5432", "", "", "names no database"},
		{"", "", "", "empty"},
	}
	for _, c := range cases {
		got, err := sqlstore.ParseURL(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseURL(%q): err %v, want %q", c.in, err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseURL(%q) leaks the password: %v", c.in, err)
			}
			continue
		}
		if err != nil || got.Dialect != c.dialect || got.Path != c.path {
			t.Errorf("ParseURL(%q) = %+v, %v", c.in, got, err)
		}
	}
	for in, want := range map[string]string{
		"postgres://casino:hunter2@db:5432/casino_db": "postgres://casino:***@db:5432/casino_db",
		"postgres://db/casino_db?password=hunter2":    "postgres://db/casino_db?password=***",
		"postgres://casino@db/casino_db":              "postgres://casino@db/casino_db",
		"postgres://u:hunter2@bad host/x":             "postgres://***@bad host/x",
	} {
		if got := sqlstore.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	tg, _ := sqlstore.ParseURL("postgres://casino:hunter2@db/casino_db")
	if id := tg.Identity(); id != "postgres://db:5432/casino_db" {
		t.Errorf("Identity: %q", id)
	}
}
