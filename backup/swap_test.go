package backup_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/backup"
	"casino/internal/testdb"
	"casino/internal/testpg"
	"casino/sqlstore"
)

// anyState renders every table the database has (whatever its schema),
// every row ordered by every column: two databases render the same only
// when they hold the same tables and rows.
func anyState(t testing.TB, url string) string {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name`
	if db.Dialect() == sqlstore.Postgres {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, tbl := range tables {
		r, err := db.QueryContext(ctx, "SELECT * FROM "+tbl)
		if err != nil {
			t.Fatalf("select %s: %v", tbl, err)
		}
		cols, _ := r.Columns()
		var lines []string
		for r.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			r.Scan(ptrs...)
			var parts []string
			for _, v := range vals {
				parts = append(parts, v.String)
			}
			lines = append(lines, strings.Join(parts, "|"))
		}
		r.Close()
		sort.Strings(lines)
		fmt.Fprintf(&b, "== %s (%s)\n%s\n", tbl, strings.Join(cols, ","), strings.Join(lines, "\n"))
	}
	return b.String()
}

func mustExec(t testing.TB, db *sqlstore.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestScenarioBDroppedTableUndo: a table is dropped from the live
// database (it can no longer be dumped); the restore still goes through,
// --undo brings back the damaged state exactly, and a second --undo the
// restored one.
func TestScenarioBDroppedTableUndo(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		live := testdb.Open(t, engine)
		seed(t, live, 3)
		dir := t.TempDir()
		good, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		// The incident: a late tenant, then settings dropped.
		mustExec(t, live, `INSERT INTO tenants (name, slug, created_at, updated_at) VALUES ('Late', 'late', ?, ?)`, sqlstore.Now(), sqlstore.Now())
		mustExec(t, live, `DROP TABLE settings`)
		live.Close()
		damaged := anyState(t, live.Target.URL)

		rr, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: good.Path, Target: live.Target, BackupDir: dir})
		if err != nil {
			t.Fatalf("restore over the damaged database: %v", err)
		}
		if rr.SafetyBackupError == "" {
			t.Errorf("the safety dump of a database without settings should fail (and not block the restore); it made %q", rr.SafetyBackup)
		}
		if rr.KeptAside == "" {
			t.Fatal("no database kept aside")
		}
		t.Logf("kept aside %s; safety backup error: %s", rr.KeptAside, rr.SafetyBackupError)
		restored := anyState(t, live.Target.URL)
		if !strings.Contains(restored, "== settings") || strings.Contains(restored, "|late|") {
			t.Fatalf("after the restore the database is not the backup's:\n%s", restored)
		}

		u, err := backup.Undo(ctx, backup.UndoOptions{Target: live.Target})
		if err != nil {
			t.Fatalf("undo: %v", err)
		}
		if got := anyState(t, live.Target.URL); got != damaged {
			t.Fatalf("after --undo the database is not the damaged one exactly:\n got %s\nwant %s", got, damaged)
		}
		if u.KeptAside == "" || u.Restored != filepath.Base(rr.KeptAside) && u.Restored != rr.KeptAside {
			t.Errorf("undo result %+v, kept aside by the restore %q", u, rr.KeptAside)
		}
		if _, err := backup.Undo(ctx, backup.UndoOptions{Target: live.Target}); err != nil {
			t.Fatalf("second undo: %v", err)
		}
		if got := anyState(t, live.Target.URL); got != restored {
			t.Fatalf("after a second --undo the database is not the restored one:\n got %s\nwant %s", got, restored)
		}
		kept, err := backup.ListKeptAside(ctx, live.Target)
		// Each undo swaps the two: one database stays aside, the damaged
		// one, under a fresh name (the second in the same second gets _2).
		if err != nil || len(kept) != 1 {
			t.Fatalf("kept aside after restore + 2 undos: %v %v, want 1", kept, err)
		}
		names := map[string]bool{}
		for _, k := range kept {
			if names[k.Name] || k.SizeBytes <= 0 || (engine == sqlstore.Postgres && len(k.Name) > 63) {
				t.Errorf("kept-aside %+v: duplicate, empty or too long", k)
			}
			names[k.Name] = true
		}
		// Prune: a dry run removes nothing, --yes removes both.
		got, err := backup.PruneKeptAside(ctx, backup.PruneKeptAsideOptions{Target: live.Target, OlderThan: time.Hour, Now: time.Now().Add(2 * time.Hour)})
		if err != nil || len(got) != 1 {
			t.Fatalf("prune dry run: %v %v", got, err)
		}
		if k, _ := backup.ListKeptAside(ctx, live.Target); len(k) != 1 {
			t.Fatalf("a dry-run prune removed kept-aside databases: %v", k)
		}
		if _, err := backup.PruneKeptAside(ctx, backup.PruneKeptAsideOptions{Target: live.Target, OlderThan: time.Hour, Yes: true}); err != nil {
			t.Fatal(err)
		}
		if k, _ := backup.ListKeptAside(ctx, live.Target); len(k) != 1 {
			t.Fatalf("prune removed kept-aside databases younger than --older-than: %v", k)
		}
		if _, err := backup.PruneKeptAside(ctx, backup.PruneKeptAsideOptions{Target: live.Target, OlderThan: time.Hour, Yes: true, Now: time.Now().Add(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if k, _ := backup.ListKeptAside(ctx, live.Target); len(k) != 0 {
			t.Fatalf("prune --yes left %v", k)
		}
		if got := anyState(t, live.Target.URL); got != restored {
			t.Fatalf("prune touched the live database")
		}
	})
}

// TestRestoreCarriesLiveState: the login freeze on, a token revoked and a
// password reset after the backup all still hold after the restore, and
// their audit events are carried; a user created since is listed, not
// carried.
func TestRestoreCarriesLiveState(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		live := testdb.Open(t, engine)
		seed(t, live, 2)
		dir := t.TempDir()
		good, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		bg := casino.NewBreakGlassContext(ctx)
		if _, err := live.SetLoginFreeze(bg, true, "incident 7"); err != nil {
			t.Fatal(err)
		}
		var adminID int64
		live.QueryRowContext(ctx, `SELECT id FROM users WHERE email = 'admin1@example.com'`).Scan(&adminID)
		exp := time.Now().Add(time.Hour)
		if err := live.RevokeToken(ctx, "jti-stolen", adminID, exp); err != nil {
			t.Fatal(err)
		}
		if err := live.ResetPassword(bg, "admin2@example.com", "$argon2id$new-hash"); err != nil {
			t.Fatal(err)
		}
		mustExec(t, live, `INSERT INTO users (tenant_id, email, password_hash, role, created_at, updated_at) VALUES (NULL, 'late@example.com', 'h', 'owner', ?, ?)`, sqlstore.Now(), sqlstore.Now())
		// A drill and a verification after the backup belong to the live
		// database: both are carried.
		if err := live.StartDrill(ctx, casino.Drill{ID: "drill-after-backup", Backup: filepath.Base(good.Path)}); err != nil {
			t.Fatal(err)
		}
		if err := live.RecordVerification(ctx, casino.BackupVerification{BackupName: filepath.Base(good.Path), Kind: "drill", OK: true}); err != nil {
			t.Fatal(err)
		}
		var liveAudit int
		live.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events`).Scan(&liveAudit)
		live.Close()

		rr, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: good.Path, Target: live.Target, BackupDir: dir})
		if err != nil {
			t.Fatalf("restore: %v", err)
		}
		c := rr.Carried
		if c == nil || !c.LoginFreeze || c.RevokedTokens != 1 || len(c.PasswordHashes) != 1 || c.PasswordHashes[0] != "admin2@example.com" || c.TokensValidAfter != 1 || c.AuditEvents != 2 {
			t.Errorf("carried %+v: want the freeze, 1 revocation, admin2's hash, 1 cut-off, 2 audit events", c)
		}
		if c == nil || c.Drills != 1 || c.Verifications != 1 {
			t.Errorf("carried %+v: want 1 drill and 1 verification", c)
		}
		if c == nil || len(c.NotCarriedUsers) != 1 || !strings.Contains(c.NotCarriedUsers[0], "late@example.com") {
			t.Errorf("not carried users %v: want late@example.com listed", c.NotCarriedUsers)
		}
		db, err := sqlstore.Open(ctx, live.Target.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		st, err := db.SystemStatus(bg)
		if err != nil || !st.LoginFreeze.Enabled || st.LoginFreeze.Reason != "incident 7" {
			t.Errorf("after the restore the login freeze is %+v (%v), want on with its reason", st, err)
		}
		ss, err := db.SessionState(ctx, "jti-stolen", adminID, 1)
		if err != nil || !ss.Revoked {
			t.Errorf("after the restore the revoked token is %+v (%v), want revoked", ss, err)
		}
		cr, err := db.FindCredentials(ctx, "admin2@example.com")
		if err != nil || cr.PasswordHash != "$argon2id$new-hash" {
			t.Errorf("after the restore admin2's password hash is %+v (%v), want the reset one", cr, err)
		}
		var id2 int64
		db.QueryRowContext(ctx, `SELECT id FROM users WHERE email = 'admin2@example.com'`).Scan(&id2)
		if ss, err := db.SessionState(ctx, "any-old-token", id2, 2); err != nil || ss.TokensValidAfter.IsZero() {
			t.Errorf("after the restore admin2's tokens_valid_after is %+v (%v), want the reset's cut-off", ss, err)
		}
		var n int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE action IN (?, ?)`, casino.ActionLoginFreeze, casino.ActionPasswordReset).Scan(&n)
		if n != 2 {
			t.Errorf("after the restore %d freeze/reset audit events, want 2", n)
		}
		if ds, err := db.Drills(ctx, 10); err != nil || len(ds) != 1 || ds[0].ID != "drill-after-backup" {
			t.Errorf("after the restore the drills are %+v (%v), want the live one", ds, err)
		}
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE email = 'late@example.com'`).Scan(&n)
		if n != 0 {
			t.Error("a user created after the backup was carried")
		}
		// The restored copy carries its restore_id, as the facts say.
		var v string
		db.QueryRowContext(ctx, `SELECT value FROM system_state WHERE key = 'restore_id'`).Scan(&v)
		var rid backup.RestoreIDValue
		if err := json.Unmarshal([]byte(v), &rid); err != nil || rid.RestoreID != rr.Facts.RestoreID || len(rid.RestoreID) != 32 || rid.Backup != filepath.Base(good.Path) {
			t.Errorf("restore_id in system_state %q, facts %q", v, rr.Facts.RestoreID)
		}
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = ? AND after LIKE ?`, casino.ActionRestore, "%"+rr.Facts.RestoreID+"%").Scan(&n)
		if n != 1 {
			t.Errorf("the restored copy has %d system.restore audit events naming its restore_id, want 1", n)
		}
		f := rr.Facts
		if f.Backup.SHA256 != good.Manifest.SHA256 || !f.Backup.SnapshotAt.Equal(good.Manifest.SnapshotAt) || f.KeptAside == "" || f.Carried == nil || f.RowCounts["tenants"] != 2 || f.DryRun {
			t.Errorf("facts %+v", f)
		}
		switch engine {
		case sqlstore.Postgres:
			if f.Target.Engine != casino.EnginePostgres || f.Target.Database == "" || f.Target.SystemIdentifier == "" {
				t.Errorf("facts target %+v: want the database and system_identifier", f.Target)
			}
		default:
			if f.Target.Engine != casino.EngineSQLite || !filepath.IsAbs(f.Target.Path) {
				t.Errorf("facts target %+v: want the absolute path", f.Target)
			}
		}
	})
}

// TestRestoreRefusesForeignTarget: a database with tables but no casino
// schema is refused and left intact; --force-foreign-target replaces it and
// keeps it aside. A damaged casino database without schema_migrations is
// still recognised as casino's.
func TestRestoreRefusesForeignTarget(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		src := testdb.Open(t, engine)
		seed(t, src, 2)
		dir := t.TempDir()
		good, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: src.Target, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		foreign, err := sqlstore.Open(ctx, testdb.URL(t, engine))
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, foreign, `CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)`)
		mustExec(t, foreign, `INSERT INTO orders (id, item) VALUES (1, 'chips'), (2, 'cards')`)
		foreign.Close()
		before := anyState(t, foreign.Target.URL)
		_, err = backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: good.Path, Target: foreign.Target, BackupDir: dir})
		if casino.ErrorCode(err) != casino.EINVALID || !strings.Contains(err.Error(), "no casino schema") || !strings.Contains(err.Error(), "orders") {
			t.Fatalf("restore over a foreign database: err %v, want a refusal naming its tables", err)
		}
		if got := anyState(t, foreign.Target.URL); got != before {
			t.Fatalf("a refused restore changed the foreign database")
		}
		if k, _ := backup.ListKeptAside(ctx, foreign.Target); len(k) != 0 {
			t.Errorf("a refused restore kept something aside: %v", k)
		}
		rr, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: good.Path, Target: foreign.Target, BackupDir: dir, ForceForeignTarget: true})
		if err != nil {
			t.Fatalf("--force-foreign-target: %v", err)
		}
		if rr.KeptAside == "" || !strings.Contains(strings.Join(rr.Facts.Overrides, ","), "force_foreign_target") {
			t.Fatalf("forced restore: kept aside %q, overrides %v", rr.KeptAside, rr.Facts.Overrides)
		}
		if _, err := backup.Undo(ctx, backup.UndoOptions{Target: foreign.Target}); err != nil {
			t.Fatal(err)
		}
		if got := anyState(t, foreign.Target.URL); got != before {
			t.Fatalf("the foreign database kept aside by a forced restore is not intact")
		}

		// A casino database that lost schema_migrations is still casino's.
		damaged := testdb.Open(t, engine)
		seed(t, damaged, 1)
		mustExec(t, damaged, `DROP TABLE schema_migrations`)
		damaged.Close()
		rr, err = backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: good.Path, Target: damaged.Target, BackupDir: dir})
		if err != nil || rr.KeptAside == "" {
			t.Fatalf("restore over casino without schema_migrations: %v (kept aside %v)", err, rr)
		}
	})
}

// TestRestoreRefusesOtherSessions: a PostgreSQL restore refuses while
// another session is connected, naming it; with --terminate-connections a
// write that session had answered before it was terminated is not lost.
func TestRestoreRefusesOtherSessions(t *testing.T) {
	ctx := context.Background()
	url := testpg.NewDatabase(t)
	live, err := sqlstore.Open(ctx, url+"&application_name=other-app")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	seed(t, live, 2)
	dir := t.TempDir()
	good, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := sqlstore.ParseURL(url)
	before := anyState(t, url)
	_, err = backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: good.Path, Target: target, BackupDir: dir})
	if casino.ErrorCode(err) != casino.ECONFLICT || !strings.Contains(err.Error(), "other-app") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("restore beside another session: err %v, want a conflict naming other-app and its address", err)
	}
	if got := anyState(t, url); got != before {
		t.Fatal("a refused restore changed the database")
	}
	// The other session answers a write (the freeze), and stays connected.
	if _, err := live.SetLoginFreeze(casino.NewBreakGlassContext(ctx), true, "written before termination"); err != nil {
		t.Fatal(err)
	}
	if err := live.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// A backend that reconnects after the termination and writes after the
	// live state was read: the swap sees it, ends it again and carries
	// again, so that write is not lost either.
	var late *sqlstore.DB
	defer func() {
		if late != nil {
			late.Close()
		}
	}()
	pause := func(point string) {
		if point != "carried" || late != nil {
			return
		}
		var err error
		if late, err = sqlstore.Open(ctx, url+"&application_name=late-app"); err != nil {
			t.Errorf("reconnect: %v", err)
			return
		}
		if err := late.RevokeToken(ctx, "jti-late", 1, time.Now().Add(time.Hour)); err != nil {
			t.Errorf("late write: %v", err)
		}
	}
	rr, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: good.Path, Target: target, BackupDir: dir, TerminateConnections: true, Pause: pause})
	if err != nil {
		t.Fatalf("restore --terminate-connections: %v", err)
	}
	if late == nil || len(rr.Terminated) < 2 || rr.Terminated[len(rr.Terminated)-1].ApplicationName != "late-app" {
		t.Errorf("terminated %v, want other-app, then late-app after it came back", rr.Terminated)
	}
	if len(rr.Terminated) == 0 || rr.Terminated[0].ApplicationName != "other-app" {
		t.Errorf("terminated %v, want other-app", rr.Terminated)
	}
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.SystemStatus(casino.NewBreakGlassContext(ctx))
	if err != nil || !st.LoginFreeze.Enabled || st.LoginFreeze.Reason != "written before termination" {
		t.Errorf("the freeze written before termination was lost: %+v %v", st, err)
	}
	if ss, err := db.SessionState(ctx, "jti-late", 1, 0); err != nil || !ss.Revoked {
		t.Errorf("the revocation written by the reconnected session was lost: %+v %v", ss, err)
	}
	// Undo refuses beside a session too.
	if err := live.Ping(ctx); err != nil {
		t.Logf("the other session reconnects: %v", err)
	}
	live.Ping(ctx)
	if _, err := backup.Undo(ctx, backup.UndoOptions{Target: target}); casino.ErrorCode(err) != casino.ECONFLICT {
		t.Errorf("undo beside another session: err %v, want a conflict", err)
	}
}

// TestSQLiteKeptAsideNames: restores in the same second keep distinct
// names aside.
func TestSQLiteKeptAsideNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "casino.db")
	live, err := sqlstore.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	live.Migrate(ctx)
	seed(t, live, 1)
	good, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: filepath.Join(dir, "backups")})
	if err != nil {
		t.Fatal(err)
	}
	live.Close()
	// Two restores and two undos in the same second: every kept-aside
	// name is distinct.
	for i := 0; i < 2; i++ {
		if _, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: good.Path, Target: live.Target, BackupDir: filepath.Join(dir, "backups"), NoSafetyBackup: true}); err != nil {
			t.Fatal(err)
		}
	}
	kept, _ := backup.ListKeptAside(ctx, live.Target)
	if len(kept) != 2 || kept[0].Name == kept[1].Name {
		t.Fatalf("kept aside %v, want two distinct names", kept)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
