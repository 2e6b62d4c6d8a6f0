package backup

import (
	"context"
	"strings"
	"testing"

	"casino/internal/testpg"
	"casino/sqlstore"
)

// TestLoaderCatalogCheck: whatever changes the scratch database's catalog
// besides the data (here, as if something in a dump had run) is found by
// the comparison with the migrated schema, and the set-aside constraints
// and indexes come back exactly as the migrations made them.
func TestLoaderCatalogCheck(t *testing.T) {
	ctx := context.Background()
	url := testpg.NewDatabase(t)
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	l := &pgLoader{version: 1, jobs: 2}
	defer l.close()
	if err := l.connect(ctx, url); err != nil {
		t.Fatal(err)
	}
	if err := l.describe(ctx, "", url); err != nil {
		t.Fatal(err)
	}
	if err := l.setAside(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.checkCatalog(ctx); err == nil || !strings.Contains(err.Error(), "missing constraint public.audit_events_pkey") {
		t.Errorf("with the indexes set aside: %v, want the primary keys missing", err)
	}
	if err := l.rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.checkCatalog(ctx); err != nil {
		t.Fatalf("after the rebuild: %v", err)
	}
	for stmt, want := range map[string]string{
		`CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'`:                                              "extra function public.f()",
		`ALTER TABLE public.tenants ALTER COLUMN status SET DEFAULT 'suspended'`:                                         "default 'suspended'",
		`CREATE TRIGGER t BEFORE INSERT ON public.users FOR EACH ROW EXECUTE FUNCTION public.audit_events_append_only()`: "extra trigger CREATE TRIGGER t",
		`ALTER TABLE public.audit_events DISABLE TRIGGER audit_events_no_change`:                                         "enabled D",
		`CREATE VIEW public.v AS SELECT 1 AS x`:                                                                          "extra relation public.v",
	} {
		tx, err := l.ctl.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		// Same session: the check sees the uncommitted change.
		err = l.checkCatalog(ctx)
		tx.Rollback(ctx)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a difference naming %q", stmt, err, want)
		}
	}
}
