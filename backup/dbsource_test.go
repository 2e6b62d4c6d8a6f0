package backup_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/backup"
	"casino/internal/testpg"
	"casino/sqlstore"
)

// openMigrated opens a fresh migrated PostgreSQL database and returns it
// with its URL.
func openMigrated(t *testing.T) (*sqlstore.DB, string) {
	t.Helper()
	u := testpg.NewDatabase(t)
	db, err := sqlstore.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, u
}

func tenantSlugs(t *testing.T, url string) string {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), "SELECT slug FROM tenants ORDER BY slug")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// TestRestoreFromDatabase: a restore whose source is a live database (a
// point-in-time restore's temporary instance) streams its pg_dump into the
// loader with no file between: the live database becomes the source's
// data, the facts name the source, the snapshot instant given, the key
// given and the streamed dump's sha256, and the row counts are the
// source's. A source holding anything but casino's schema is refused with
// the live database untouched, and a SQLite target is refused.
func TestRestoreFromDatabase(t *testing.T) {
	ctx := context.Background()
	src, srcURL := openMigrated(t)
	seed(t, src, 3)
	live, liveURL := openMigrated(t)
	seed(t, live, 1)
	mustExec(t, live, `INSERT INTO tenants (name, slug, status, created_at, updated_at) VALUES ('Late', 'late', 'active', ?, ?)`, sqlstore.Now(), sqlstore.Now())
	live.Close()
	target, err := sqlstore.ParseURL(liveURL)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
	source := &backup.DatabaseSource{URL: srcURL, Name: "pitr-20261202T030000Z", Location: "/var/lib/casino/pitr", SnapshotAt: at, KeyFingerprint: "SHA256:stream-key"}
	wantSlugs := tenantSlugs(t, srcURL)

	res, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, Database: source, Target: target, BackupDir: t.TempDir(), NoSafetyBackup: true})
	if err != nil {
		t.Fatalf("restore from a database: %v", err)
	}
	if got := tenantSlugs(t, liveURL); got != wantSlugs {
		t.Errorf("live tenants after the restore: %q, want the source's %q", got, wantSlugs)
	}
	f := res.Facts
	if sum, err := hex.DecodeString(f.Backup.SHA256); err != nil || len(sum) != 32 {
		t.Errorf("facts backup.sha256 %q: want the streamed dump's sha256", f.Backup.SHA256)
	}
	if f.Backup.Name != source.Name || f.Backup.Location != source.Location || !f.Backup.SnapshotAt.Equal(at) || f.Backup.KeyFingerprint != source.KeyFingerprint || f.Backup.SchemaVersion != sqlstore.LatestVersion(sqlstore.Postgres) {
		t.Errorf("facts backup %+v: want name %s, location %s, snapshot_at %s, key %s, the latest schema", f.Backup, source.Name, source.Location, at, source.KeyFingerprint)
	}
	if f.RowCounts["tenants"] != 3 || res.KeptAside == "" || f.Target.Database == "" {
		t.Errorf("facts: row counts %v, kept aside %q, target %+v; want 3 tenants, the old database kept aside", f.RowCounts, res.KeptAside, f.Target)
	}
	if m := res.Plan.Manifest; m == nil || m.RowCounts["tenants"] != 3 || len(res.Plan.Checks) == 0 {
		t.Errorf("plan: manifest %+v, checks %v; want the source's row counts and the checks named", m, res.Plan.Checks)
	}

	// Hostile: a source with a table of its own. Its pg_dump carries DDL
	// casino's migrations do not make: refused, the live database kept.
	mustExec(t, src, `CREATE TABLE evil (id int)`)
	before := tenantSlugs(t, liveURL)
	_, err = backup.Restore(ctx, backup.RestoreOptions{Keys: tk, Database: source, Target: target, BackupDir: t.TempDir(), NoSafetyBackup: true})
	if err == nil || casino.ErrorCode(err) != casino.EINVALID || !strings.Contains(err.Error(), "evil") {
		t.Errorf("restore from a source with an extra table: %v; want EINVALID naming it", err)
	}
	if got := tenantSlugs(t, liveURL); got != before {
		t.Errorf("after the refused restore the live tenants are %q, want %q", got, before)
	}

	sq, err := sqlstore.ParseURL("sqlite:" + t.TempDir() + "/casino.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, Database: source, Target: sq, BackupDir: t.TempDir()}); err == nil || casino.ErrorCode(err) != casino.EINVALID {
		t.Errorf("a database source over a SQLite target: %v; want EINVALID", err)
	}
}
