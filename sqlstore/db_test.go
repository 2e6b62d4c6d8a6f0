package sqlstore_test

import (
	"context"
	"testing"

	"casino/internal/testdb"
	"casino/sqlstore"
)

// Every way into the database takes '?' placeholders: the pool, a
// transaction and a pinned connection all rebind, so no caller needs Rebind.
func TestEveryMethodSetRebinds(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		t.Parallel()
		db := testdb.Open(t, engine)
		ctx := context.Background()
		const q = `SELECT COUNT(*) FROM tenants WHERE id = ? OR slug = ?`
		if _, err := db.ExecContext(ctx, `INSERT INTO tenants (name, slug, created_at, updated_at) VALUES (?, ?, ?, ?)`, "A", "a", sqlstore.Now(), sqlstore.Now()); err != nil {
			t.Fatalf("DB.ExecContext: %v", err)
		}
		count := func(name string, scan func() error) {
			t.Helper()
			if err := scan(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		var n1, n2, n3 int
		count("DB.QueryRowContext", func() error { return db.QueryRowContext(ctx, q, -1, "a").Scan(&n1) })
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		count("Tx.QueryRowContext", func() error { return tx.QueryRowContext(ctx, q, -1, "a").Scan(&n2) })
		tx.Rollback()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		count("Conn.QueryRowContext", func() error { return conn.QueryRowContext(ctx, q, -1, "a").Scan(&n3) })
		conn.Close()
		if n1 != 1 || n2 != 1 || n3 != 1 {
			t.Errorf("counts = %d, %d, %d; want 1, 1, 1", n1, n2, n3)
		}
	})
}

// The session-state statement is prepared per DB: a closed DB answers an
// error (never a statement of another pool), and a DB opened afterwards on
// the same database prepares its own.
func TestPreparedStatementsArePerDB(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		t.Parallel()
		url := testdb.URL(t, engine)
		ctx := context.Background()
		first, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := first.SessionState(ctx, "jti", 1, 1); err != nil {
			t.Fatalf("first DB: %v", err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := first.SessionState(ctx, "jti", 1, 1); err == nil {
			t.Error("closed DB answered a session state")
		}
		second, err := sqlstore.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		st, err := second.SessionState(ctx, "jti", 1, 1)
		if err != nil {
			t.Fatalf("second DB: %v", err)
		}
		if st.Revoked || st.UserExists {
			t.Errorf("state = %+v, want nothing revoked and no user", st)
		}
	})
}
