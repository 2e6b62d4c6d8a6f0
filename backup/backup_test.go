package backup_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"casino"
	"casino/backup"
	"casino/internal/poll"
	"casino/internal/testdb"
	"casino/internal/testpg"
	"casino/keys"
	"casino/sqlstore"
)

// seed fills every table a restore must bring back: tenants, users,
// settings, system state, versions and audit events.
func seed(t testing.TB, db *sqlstore.DB, tenants int) {
	t.Helper()
	ctx := context.Background()
	now := sqlstore.Now()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO users (tenant_id, email, password_hash, role, created_at, updated_at) VALUES (NULL, 'owner@example.com', '$argon2id$x', 'owner', ?, ?)`, now, now)
	for i := 1; i <= tenants; i++ {
		exec(`INSERT INTO tenants (name, slug, status, created_at, updated_at) VALUES (?, ?, 'active', ?, ?)`, fmt.Sprintf("Tenant %d", i), fmt.Sprintf("tenant-%d", i), now, now)
		var id int64
		if err := db.QueryRowContext(ctx, `SELECT id FROM tenants WHERE slug = ?`, fmt.Sprintf("tenant-%d", i)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		exec(`INSERT INTO users (tenant_id, email, password_hash, role, created_at, updated_at) VALUES (?, ?, '$argon2id$y', 'tenant_admin', ?, ?)`, id, fmt.Sprintf("admin%d@example.com", i), now, now)
		exec(`INSERT INTO settings (tenant_id, key, type, value, updated_at) VALUES (?, 'theme', 'string', '"dark"', ?)`, id, now)
		exec(`INSERT INTO audit_events (ts, actor_email, tenant_id, action, target, after) VALUES (?, 'owner@example.com', ?, 'tenant.create', ?, '{"k":"v"}')`, now, id, fmt.Sprintf("tenant-%d", i))
	}
	exec(`INSERT INTO settings (tenant_id, key, type, value, updated_at) VALUES (NULL, 'maintenance', 'bool', 'false', ?)`, now)
	exec(`INSERT INTO system_state (key, value, updated_at) VALUES ('jwt_key', '"secret"', ?)`, now)
	exec(`INSERT INTO versions (version, commit_hash, first_seen, last_seen) VALUES ('1.0.0', 'abc', ?, ?)`, now, now)
}

// tableRows renders every row of every table, ordered by the first column.
func tableRows(t testing.TB, url string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	for _, tbl := range sqlstore.Tables {
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+tbl+" ORDER BY 1")
		if err != nil {
			t.Fatalf("select %s: %v", tbl, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, v := range vals {
				switch x := v.(type) {
				case time.Time:
					parts = append(parts, x.UTC().Format(time.RFC3339Nano))
				case []byte:
					parts = append(parts, string(x))
				default:
					parts = append(parts, fmt.Sprint(x))
				}
			}
			row := strings.Join(parts, "|")
			if tbl == "system_state" && strings.HasPrefix(row, "restore_id|") || tbl == "audit_events" && strings.Contains(row, "|"+casino.ActionRestore+"|") {
				continue // the restore's own marks on the restored copy
			}
			out[tbl] = append(out[tbl], row)
		}
		rows.Close()
	}
	return out
}

// writer inserts audit events until stopped, recording when each insert
// started. Row i carries target "w-i".
type writer struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	started map[string]time.Time
	n       atomic.Int64
	err     error
}

func startWriter(t testing.TB, db *sqlstore.DB) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{}), started: map[string]time.Time{}}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			target := fmt.Sprintf("w-%d", i)
			w.mu.Lock()
			w.started[target] = time.Now().UTC()
			w.mu.Unlock()
			if _, err := db.ExecContext(context.Background(), `INSERT INTO audit_events (ts, action, target) VALUES (?, 'writer.insert', ?)`, sqlstore.Now(), target); err != nil {
				w.err = err
				return
			}
			w.n.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	return w
}

// waitFor polls cond until it holds, failing the test after within.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, within, what, cond)
}

func (w *writer) Stop(t testing.TB) {
	close(w.stop)
	<-w.done
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
}

func TestRoundTripWithConcurrentWriter(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		src := testdb.Open(t, engine)
		seed(t, src, 20)
		w := startWriter(t, src)
		waitFor(t, 30*time.Second, "20 writes before the backup", func() bool { return w.n.Load() >= 20 })
		dir := t.TempDir()
		res, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: src.Target, Dir: dir})
		if err != nil {
			w.Stop(t)
			t.Fatalf("create: %v", err)
		}
		n := w.n.Load()
		waitFor(t, 30*time.Second, "20 writes after the backup", func() bool { return w.n.Load() >= n+20 })
		w.Stop(t)
		m := res.Manifest

		// The files: UTC name, 0600, manifest fields.
		name := filepath.Base(res.Path)
		wantExt := map[sqlstore.Dialect]string{sqlstore.Postgres: ".sql.gz", sqlstore.SQLite: ".sqlite.gz"}[engine]
		if !strings.HasPrefix(name, "casino_db_") || !strings.HasSuffix(name, wantExt) {
			t.Errorf("backup name %q: want casino_db_YYYYMMDD_HHMMSS%s", name, wantExt)
		}
		for _, p := range []string{res.Path, casino.ManifestPath(res.Path)} {
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, err %v; want 0600", p, st.Mode().Perm(), err)
			}
		}
		if m.Engine != string(engine) || m.SchemaVersion != sqlstore.LatestVersion(engine) || m.SHA256 == "" || m.Source != src.Target.Identity() || m.FormatVersion != 1 {
			t.Errorf("manifest: %+v", m)
		}
		if strings.Contains(m.Source, "@") {
			t.Errorf("manifest source %q carries credentials", m.Source)
		}
		if m.RowCounts["tenants"] != 20 || m.RowCounts["users"] != 21 {
			t.Errorf("row counts %v: want 20 tenants, 21 users", m.RowCounts)
		}

		// Restore into a fresh target.
		dst := testdb.URL(t, engine)
		dt, _ := sqlstore.ParseURL(dst)
		rr, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: res.Path, Target: dt, BackupDir: dir})
		if err != nil {
			t.Fatalf("restore: %v", err)
		}
		// The restored copy holds the backup's rows plus its restore_id and
		// the audit event of the restore.
		wantCounts := map[string]int64{}
		for k, v := range m.RowCounts {
			wantCounts[k] = v
		}
		wantCounts["system_state"]++
		wantCounts["audit_events"]++
		if !reflect.DeepEqual(rr.RowCounts, wantCounts) {
			t.Errorf("restored counts %v, want the manifest's %v and the restore_id row", rr.RowCounts, m.RowCounts)
		}
		got := tableRows(t, dst)
		all := tableRows(t, src.Target.URL)
		for _, tbl := range sqlstore.Tables {
			if int64(len(got[tbl])) != m.RowCounts[tbl] {
				t.Errorf("%s: restored %d rows, manifest says %d", tbl, len(got[tbl]), m.RowCounts[tbl])
			}
			if tbl == "audit_events" {
				continue
			}
			if !reflect.DeepEqual(got[tbl], all[tbl]) {
				t.Errorf("%s differs after restore:\n got %v\nwant %v", tbl, got[tbl], all[tbl])
			}
		}
		// audit_events: exactly the source's first rows (the snapshot), and
		// no writer row whose insert started after snapshot_at.
		ae := got["audit_events"]
		if !reflect.DeepEqual(ae, all["audit_events"][:len(ae)]) {
			t.Errorf("restored audit_events are not a prefix of the source's")
		}
		present := map[string]bool{}
		for _, r := range ae {
			if strings.Contains(r, "writer.insert") {
				parts := strings.Split(r, "|")
				for _, p := range parts {
					if strings.HasPrefix(p, "w-") {
						present[p] = true
					}
				}
			}
		}
		after, before := 0, 0
		for target, at := range w.started {
			if at.After(m.SnapshotAt) {
				after++
				if present[target] {
					t.Errorf("writer row %s started at %s, after snapshot_at %s, yet it is in the backup", target, at, m.SnapshotAt)
				}
			} else if present[target] {
				before++
			}
		}
		if after == 0 || before == 0 {
			t.Errorf("writer rows: %d in the backup, %d started after the snapshot; want both > 0", before, after)
		}
		t.Logf("%s: %d writer rows in the backup, %d after snapshot_at, backup %d bytes", engine, before, after, m.SizeBytes)
	})
}

// dbState is everything a failed restore must leave unchanged.
func dbState(t testing.TB, url string) string {
	b, _ := json.Marshal(tableRows(t, url))
	return string(b)
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func editManifest(t testing.TB, path string, f func(m map[string]any)) {
	t.Helper()
	mp := casino.ManifestPath(path)
	b, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	f(m)
	b, _ = json.Marshal(m)
	os.WriteFile(mp, b, 0o600)
	// Signed with the valid key, as an attacker holding it would: what
	// refuses the backup is then the check under test, not the signature.
	os.WriteFile(casino.SignaturePath(path), testSigner.Sign(b), 0o600)
}

func TestRestoreRefusesBadFiles(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		live := testdb.Open(t, engine)
		seed(t, live, 3)
		dir := t.TempDir()
		good, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		// Change the live data after the backup, so a restore would show.
		live.ExecContext(ctx, `INSERT INTO system_state (key, value, updated_at) VALUES ('after', '1', ?)`, sqlstore.Now())
		other := map[sqlstore.Dialect]string{sqlstore.SQLite: casino.EnginePostgres, sqlstore.Postgres: casino.EngineSQLite}[engine]
		cases := []struct {
			name    string
			mangle  func(path string)
			wantErr string
		}{
			{"truncated", func(p string) {
				st, _ := os.Stat(p)
				os.Truncate(p, st.Size()/2)
			}, "truncated"},
			{"flipped byte", func(p string) {
				b, _ := os.ReadFile(p)
				b[len(b)/2] ^= 0x55
				os.WriteFile(p, b, 0o600)
			}, "checksum mismatch"},
			{"wrong checksum in manifest", func(p string) {
				editManifest(t, p, func(m map[string]any) { m["sha256"] = strings.Repeat("0", 64) })
			}, "checksum mismatch"},
			{"manifest of the other engine", func(p string) {
				editManifest(t, p, func(m map[string]any) { m["engine"] = other })
			}, "mismatched manifest"},
			{"empty file", func(p string) { os.WriteFile(p, nil, 0o600) }, "empty"},
			{"missing manifest", func(p string) { os.Remove(casino.ManifestPath(p)) }, "no manifest"},
			{"schema newer than the binary", func(p string) {
				editManifest(t, p, func(m map[string]any) { m["schema_version"] = 999 })
			}, "newer than this binary"},
			{"manifest of another file", func(p string) {
				editManifest(t, p, func(m map[string]any) { m["file"] = "casino_db_19990101_000000" + filepath.Ext(p) })
			}, "describes"},
			{"manifest edited, signature not renewed", func(p string) {
				b, _ := os.ReadFile(casino.ManifestPath(p))
				os.WriteFile(casino.ManifestPath(p), []byte(strings.Replace(string(b), `"kind": "manual"`, `"kind": "scheduled"`, 1)), 0o600)
			}, "signature does not verify"},
			{"signature missing", func(p string) { os.Remove(casino.SignaturePath(p)) }, "unsigned"},
			{"signed by another key", func(p string) {
				other, _ := keys.Generate()
				editManifest(t, p, func(m map[string]any) { m["key_fingerprint"] = other.Public().Fingerprint() })
				b, _ := os.ReadFile(casino.ManifestPath(p))
				os.WriteFile(casino.SignaturePath(p), other.Sign(b), 0o600)
			}, "not among the verify keys"},
			{"snapshot_at in the future", func(p string) {
				editManifest(t, p, func(m map[string]any) {
					m["snapshot_at"] = time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339Nano)
				})
			}, "lies in the future"},
			{"snapshot_at after the file was written", func(p string) {
				old := time.Now().Add(-48 * time.Hour)
				os.Chtimes(p, old, old)
				editManifest(t, p, func(m map[string]any) { m["snapshot_at"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano) })
			}, "later than the file itself"},
			{"stream longer than signed (bomb)", func(p string) {
				editManifest(t, p, func(m map[string]any) { m["uncompressed_bytes"] = m["uncompressed_bytes"].(float64) - 1 })
			}, "goes on past"},
			{"stream shorter than signed", func(p string) {
				editManifest(t, p, func(m map[string]any) { m["uncompressed_bytes"] = m["uncompressed_bytes"].(float64) + 1 })
			}, "ends short"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				bdir := t.TempDir()
				p := filepath.Join(bdir, filepath.Base(good.Path))
				copyFile(t, good.Path, p)
				copyFile(t, casino.ManifestPath(good.Path), casino.ManifestPath(p))
				copyFile(t, casino.SignaturePath(good.Path), casino.SignaturePath(p))
				tc.mangle(p)
				before := dbState(t, live.Target.URL)
				// PostgreSQL checks the stream's length while it loads the
				// scratch database, after the safety backup and the session
				// check (the test's own pool holds a session).
				streamed := engine == sqlstore.Postgres && strings.HasPrefix(tc.name, "stream ")
				_, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: p, Target: live.Target, BackupDir: bdir, TerminateConnections: streamed})
				if err == nil || !strings.Contains(casino.ErrorMessage(err)+err.Error(), tc.wantErr) {
					t.Fatalf("restore: err %v, want one saying %q", err, tc.wantErr)
				}
				if after := dbState(t, live.Target.URL); after != before {
					t.Errorf("live database changed by a refused restore")
				}
				left, _ := backup.FindLeftovers(ctx, live.Target, bdir)
				if len(left) > 0 {
					t.Errorf("leftovers after a refused restore: %v", left)
				}
				es, _ := os.ReadDir(bdir)
				for _, e := range es {
					if strings.HasPrefix(e.Name(), "pre_restore_") && !streamed {
						t.Errorf("a refused restore took a safety backup: %s", e.Name())
					}
				}
			})
		}
		t.Run("missing manifest with force-unverified", func(t *testing.T) {
			bdir := t.TempDir()
			p := filepath.Join(bdir, filepath.Base(good.Path))
			copyFile(t, good.Path, p)
			live.Close() // SQLite: a restore refuses a file another connection holds open
			if _, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: p, Target: live.Target, BackupDir: bdir, ForceUnverified: true}); err != nil {
				t.Fatalf("forced restore: %v", err)
			}
			if n := tableRows(t, live.Target.URL)["system_state"]; len(n) != 1 {
				t.Errorf("after restore system_state = %v, want the backup's one row", n)
			}
		})
	})
}

func TestSafetyBackupRestoresPreviousState(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		live := testdb.Open(t, engine)
		seed(t, live, 2)
		dir := t.TempDir()
		old, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		seed2 := func() {
			live.ExecContext(ctx, `INSERT INTO tenants (name, slug, created_at, updated_at) VALUES ('Late', 'late', ?, ?)`, sqlstore.Now(), sqlstore.Now())
		}
		seed2()
		live.Close()
		want := dbState(t, live.Target.URL)
		rr, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: old.Path, Target: live.Target, BackupDir: dir})
		if err != nil {
			t.Fatalf("restore: %v", err)
		}
		if rr.SafetyBackup == "" || !strings.HasPrefix(filepath.Base(rr.SafetyBackup), "pre_restore_casino_db_") {
			t.Fatalf("safety backup %q", rr.SafetyBackup)
		}
		if dbState(t, live.Target.URL) == want {
			t.Fatal("restore changed nothing")
		}
		if _, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: rr.SafetyBackup, Target: live.Target, BackupDir: dir, NoSafetyBackup: true}); err != nil {
			t.Fatalf("restore the safety backup: %v", err)
		}
		if got := dbState(t, live.Target.URL); got != want {
			t.Errorf("after restoring the safety backup:\n got %s\nwant %s", got, want)
		}
	})
}

func TestSameSecondNamesDoNotCollide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.SQLite)
	seed(t, live, 1)
	dir := t.TempDir()
	fixed := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	var names []string
	for i := 0; i < 3; i++ {
		r, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir, Now: func() time.Time { return fixed }})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(r.Path))
		if r.Manifest.File != names[i] {
			t.Errorf("manifest file %q for %q", r.Manifest.File, names[i])
		}
	}
	want := []string{"casino_db_20261129_030000.sqlite.gz", "casino_db_20261129_030000_2.sqlite.gz", "casino_db_20261129_030000_3.sqlite.gz"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	es, _ := backup.List(dir)
	if len(es) != 3 {
		t.Errorf("list: %d entries", len(es))
	}
}

func TestLockRefusesSecondOperation(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		live := testdb.Open(t, engine)
		seed(t, live, 1)
		l, err := backup.AcquireLock(ctx, live.Target)
		if err != nil {
			t.Fatal(err)
		}
		_, err = backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: t.TempDir()})
		if casino.ErrorCode(err) != casino.ECONFLICT || !errors.Is(err, backup.ErrLocked) || !strings.Contains(casino.ErrorMessage(err), "wait for it to finish") {
			t.Errorf("backup while locked: %v, want a conflict that is backup.ErrLocked", err)
		}
		l.Release()
		if _, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: t.TempDir()}); err != nil {
			t.Errorf("backup after release: %v", err)
		}
	})
}

func TestPruneKeepsLastAndDaily(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var es []backup.Entry
	// newest first: 3 today, 2 yesterday, 1 each of the 3 days before
	offsets := []time.Duration{0, -1 * time.Hour, -2 * time.Hour, -24 * time.Hour, -25 * time.Hour, -48 * time.Hour, -72 * time.Hour, -96 * time.Hour}
	for i, o := range offsets {
		es = append(es, backup.Entry{Name: fmt.Sprintf("b%d", i), Manifest: &casino.BackupManifest{SnapshotAt: base.Add(o)}})
	}
	plan := backup.PlanPrune(es, 2, 3)
	var kept []string
	for _, d := range plan {
		if d.Keep {
			kept = append(kept, d.Entry.Name)
		}
	}
	want := []string{"b0", "b1", "b3", "b5"}
	if !reflect.DeepEqual(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
}

func TestPostgresRefusesOlderPgDump(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.Postgres)
	fake := t.TempDir()
	os.WriteFile(filepath.Join(fake, "pg_dump"), []byte("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n"), 0o755)
	_, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: t.TempDir(), PGBinDir: fake})
	if err == nil || !strings.Contains(casino.ErrorMessage(err), "older than the server") {
		t.Fatalf("create with pg_dump 9.6: %v, want a refusal naming the version", err)
	}
}

func TestPostgresRefusesImplausibleDump(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.Postgres)
	seed(t, live, 3)
	// A pg_dump that "succeeds" with an empty schema-only dump.
	fake := t.TempDir()
	os.WriteFile(filepath.Join(fake, "pg_dump"), []byte("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 99.0'; exit 0; fi\necho '-- dump'\necho '-- PostgreSQL database dump complete'\n"), 0o755)
	dir := t.TempDir()
	_, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir, PGBinDir: fake})
	if err == nil || !strings.Contains(err.Error()+casino.ErrorMessage(err), "implausible") {
		t.Fatalf("create with an empty dump: %v, want a refusal", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("a refused backup left files: %v", es)
	}
}

func TestVerifyNeverRewritesManifest(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		live := testdb.Open(t, engine)
		seed(t, live, 2)
		dir := t.TempDir()
		comp, ext := backup.Zstd, ".zst"
		if engine == sqlstore.SQLite {
			comp, ext = backup.None, ".sqlite" // the direct path: the copy is the backup
		}
		r, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir, Compression: comp})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(r.Path, ext) {
			t.Errorf("%s backup named %s", comp, r.Path)
		}
		vo := backup.VerifyOptions{Keys: tk}
		if engine == sqlstore.Postgres {
			vo.Deep, vo.AdminURL = true, live.Target.URL
		}
		before, _ := os.ReadFile(casino.ManifestPath(r.Path))
		res, err := backup.Verify(ctx, r.Path, vo)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if !reflect.DeepEqual(res.RowCounts, r.Manifest.RowCounts) && engine == sqlstore.SQLite {
			t.Errorf("verify counts %v, manifest %v", res.RowCounts, r.Manifest.RowCounts)
		}
		if after, _ := os.ReadFile(casino.ManifestPath(r.Path)); string(after) != string(before) {
			t.Error("verify rewrote the signed manifest")
		}
		if res.KeyFingerprint != testSigner.Public().Fingerprint() || len(res.Overrides) != 0 {
			t.Errorf("verify: key %q overrides %v, want %s and none", res.KeyFingerprint, res.Overrides, testSigner.Public().Fingerprint())
		}
		t.Logf("checks: %v", res.Checks)
	})
}

// TestPostgresRestoreAsApplicationRole runs backup and restore as a plain
// role with only CREATEDB that owns its database (not a superuser): the
// privileges docs/ops/backup_restore.md says the swap needs.
func TestPostgresRestoreAsApplicationRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := testpg.ServerURL(t)
	adb, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer adb.Close()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	role, dbname := "casino_app_"+suffix, "casino_role_"+suffix
	if _, err := adb.ExecContext(ctx, "CREATE ROLE "+role+" LOGIN CREATEDB PASSWORD 'app-secret'"); err != nil {
		t.Skipf("cannot create a role: %v", err)
	}
	t.Cleanup(func() {
		c, _ := sql.Open("pgx", admin)
		defer c.Close()
		rows, _ := c.Query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, dbname+"%")
		var names []string
		for rows != nil && rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		for _, n := range names {
			c.Exec("DROP DATABASE IF EXISTS " + n + " WITH (FORCE)")
		}
		c.Exec("DROP ROLE IF EXISTS " + role)
	})
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+dbname+" OWNER "+role); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(testpg.WithDatabase(admin, dbname))
	u.User = url.UserPassword(role, "app-secret")
	appURL := u.String()
	db, err := sqlstore.Open(ctx, appURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	seed(t, db, 3)
	target := db.Target
	dir := t.TempDir()
	res, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: target, Dir: dir})
	if err != nil {
		t.Fatalf("backup as %s: %v", role, err)
	}
	if strings.Contains(string(encodeJSON(res.Manifest)), "app-secret") {
		t.Error("the manifest carries the password")
	}
	want := dbState(t, appURL)
	db.ExecContext(ctx, `UPDATE tenants SET name = 'changed'`)
	// the application keeps a session open: the restore refuses, naming
	// it, until told to terminate it
	if _, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: res.Path, Target: target, BackupDir: dir}); casino.ErrorCode(err) != casino.ECONFLICT || !strings.Contains(err.Error(), "other sessions are connected") {
		t.Fatalf("restore beside an open session: err %v, want a conflict naming it", err)
	}
	rr, err := backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: res.Path, Target: target, BackupDir: dir, TerminateConnections: true})
	if err != nil {
		t.Fatalf("restore as %s: %v", role, err)
	}
	db.Close()
	if got := dbState(t, appURL); got != want {
		t.Errorf("after the restore as %s the data differs from the backup", role)
	}
	var owner string
	adb.QueryRowContext(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, dbname).Scan(&owner)
	if owner != role {
		t.Errorf("restored database owned by %q, want %q", owner, role)
	}
	if rr.SafetyBackup == "" {
		t.Error("no safety backup")
	}
}

func encodeJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// TestSQLiteRestoreRefusesOpenDatabase: a SQLite file another connection
// holds open (casino serve) is not swapped: its writer would keep appending
// to the -wal that SQLite would then replay onto the new file.
func TestSQLiteRestoreRefusesOpenDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.SQLite)
	seed(t, live, 2)
	dir := t.TempDir()
	res, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	live.ExecContext(ctx, `INSERT INTO system_state (key, value, updated_at) VALUES ('x', '1', CURRENT_TIMESTAMP)`)
	before := dbState(t, live.Target.URL)
	_, err = backup.Restore(ctx, backup.RestoreOptions{Keys: tk, File: res.Path, Target: live.Target, BackupDir: dir})
	if casino.ErrorCode(err) != casino.ECONFLICT || !strings.Contains(casino.ErrorMessage(err), "stop casino serve") {
		t.Fatalf("restore over an open database: %v, want a conflict asking to stop serve", err)
	}
	if dbState(t, live.Target.URL) != before {
		t.Error("the database changed")
	}
	if left, _ := backup.FindLeftovers(ctx, live.Target, dir); len(left) > 0 {
		t.Errorf("leftovers: %v", left)
	}
	if es, _ := backup.List(dir); len(es) != 1 {
		t.Errorf("a refused restore took a safety backup: %d backups", len(es))
	}
}
