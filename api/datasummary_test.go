package api_test

import (
	"context"
	"strings"
	"testing"

	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestDataSummaryOwnerOnly: the owner reads the restore mark, the row
// counts and the database's identity; a tenant admin and an anonymous
// caller read nothing.
func TestDataSummaryOwnerOnly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		tenant := e.createTenant(owner, "acme")
		admin := e.createAdmin(owner, tenant, "ta@acme.test")

		r := e.call("GET", "/api/v1/admin/data-summary", owner, nil)
		if r.Status != 200 || r.Body["restore_id"] != "" {
			t.Fatalf("before any restore: %s", r)
		}
		counts, _ := r.Body["row_counts"].(map[string]any)
		if counts["tenants"] != float64(1) || counts["users"] != float64(2) {
			t.Errorf("row_counts = %v, want tenants 1, users 2", counts)
		}
		id, _ := r.Body["identity"].(map[string]any)
		switch engine {
		case sqlstore.SQLite:
			if p, _ := id["path"].(string); !strings.HasPrefix(p, "/") || id["engine"] != "sqlite" {
				t.Errorf("sqlite identity = %v, want engine and absolute path", id)
			}
		case sqlstore.Postgres:
			if id["engine"] != "postgres" || id["database"] == "" || id["database"] == nil {
				t.Errorf("postgres identity = %v", id)
			}
			// the test server's role is a superuser: the identifier is readable
			if sid, _ := id["system_identifier"].(string); len(sid) < 10 {
				t.Errorf("system_identifier = %q (%v)", sid, r.Body["identity_error"])
			}
		}

		// what a restore writes into the copy it restores
		mark := `{"restore_id":"0123456789abcdef0123456789abcdef","backup":"casino_db_20261129_020000.sql.gz","restored_at":"2026-11-29T03:10:00Z"}`
		if _, err := e.db.ExecContext(context.Background(), "INSERT INTO system_state (key, value, updated_at) VALUES ('restore_id', ?, ?)", mark, sqlstore.Now()); err != nil {
			t.Fatal(err)
		}
		r = e.call("GET", "/api/v1/admin/data-summary", owner, nil)
		if r.Status != 200 || r.Body["restore_id"] != "0123456789abcdef0123456789abcdef" {
			t.Fatalf("after the mark: %s", r)
		}

		if r := e.call("GET", "/api/v1/admin/data-summary", admin, nil); r.Status != 403 || strings.Contains(string(r.Raw), "row_counts") {
			t.Errorf("tenant admin: %s, want 403 and no data", r)
		}
		if r := e.call("GET", "/api/v1/admin/data-summary", "", nil); r.Status != 401 {
			t.Errorf("anonymous: %s, want 401", r)
		}
	})
}
