package backup_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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

// TestPruneNeverCountsPreRestoreOrUntrusted: a forged backup whose
// snapshot_at lies in the future (signed with the valid key) is not the
// newest, is not counted toward --keep-last, and pre_restore_ safety copies
// are not counted either: prune keeps the real newest backups.
func TestPruneNeverCountsPreRestoreOrUntrusted(t *testing.T) {
	ctx := context.Background()
	live := testdb.Open(t, sqlstore.SQLite)
	seed(t, live, 1)
	dir := t.TempDir()
	var made []string
	for i := 0; i < 3; i++ {
		at := time.Now().Add(time.Duration(i-3) * time.Hour)
		r, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, r.Path)
	}
	pre, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir, Kind: backup.KindPreRestore})
	if err != nil {
		t.Fatal(err)
	}
	// The forgery: an old backup renamed to look new, snapshot_at next year.
	forged := filepath.Join(dir, "casino_db_20271231_000000.sqlite.gz")
	copyFile(t, made[0], forged)
	copyFile(t, casino.ManifestPath(made[0]), casino.ManifestPath(forged))
	editManifest(t, forged, func(m map[string]any) {
		m["file"] = filepath.Base(forged)
		m["snapshot_at"] = time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339Nano)
	})
	if n := backup.Newest(dir, tk); n == nil || n.Path != pre.Path {
		t.Errorf("newest = %+v, want the pre_restore copy %s (the forged one is not trusted)", n, pre.Path)
	}
	es, _ := backup.List(dir)
	backup.CheckSignatures(es, tk)
	var kept, deleted []string
	for _, d := range backup.PlanPrune(es, 2, 0) {
		if d.Keep {
			kept = append(kept, filepath.Base(d.Entry.Path))
		} else {
			deleted = append(deleted, filepath.Base(d.Entry.Path))
		}
	}
	sort.Strings(kept)
	want := []string{filepath.Base(made[1]), filepath.Base(made[2]), filepath.Base(forged), filepath.Base(pre.Path)}
	sort.Strings(want)
	if !reflect.DeepEqual(kept, want) || !reflect.DeepEqual(deleted, []string{filepath.Base(made[0])}) {
		t.Errorf("prune --keep-last 2 kept %v deleted %v; want kept %v deleted [%s]", kept, deleted, want, filepath.Base(made[0]))
	}
}

// TestLeftoverCleanupMatchesExactNames: cleanup removes only the names
// casino generates, never a file or database that merely starts like one.
func TestLeftoverCleanupMatchesExactNames(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		live := testdb.Open(t, engine)
		bdir := t.TempDir()
		dead := "4194303" // above pid_max's default: no such process
		ours := []string{filepath.Join(bdir, ".casino_db_20261202_030000.sql.gz.tmp-"+dead+"-0a1b2c3d")}
		theirs := []string{
			filepath.Join(bdir, ".notes.txt.tmp-"+dead+"-0a1b2c3d"),
			filepath.Join(bdir, ".casino_db_20261202_030000.sql.gz.tmp-"+dead+"-zzzz"),
		}
		if engine == sqlstore.SQLite {
			ours = append(ours, live.Target.Path+".restore-20261202T030000-"+dead, live.Target.Path+".restore-20261202T030000-"+dead+"-wal")
			theirs = append(theirs, live.Target.Path+".restore-notes.txt", live.Target.Path+".restore-20261202T030000-1.bak")
		}
		for _, p := range append(append([]string{}, ours...), theirs...) {
			os.WriteFile(p, []byte("x"), 0o600)
		}
		var ourDB, theirDB string
		if engine == sqlstore.Postgres {
			adb, err := sql.Open("pgx", testpg.ServerURL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer adb.Close()
			u := live.Target.URL
			name := u[strings.LastIndex(u, "/")+1:]
			if i := strings.IndexByte(name, '?'); i >= 0 {
				name = name[:i]
			}
			base := name
			if len(base) > 36 {
				base = base[:36]
			}
			ourDB, theirDB = base+"__rs_20261202030000_4242", base+"__rs_keepme"
			for _, n := range []string{ourDB, theirDB} {
				if _, err := adb.Exec(`CREATE DATABASE "` + n + `"`); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() {
				c, _ := sql.Open("pgx", testpg.ServerURL(t))
				c.Exec(`DROP DATABASE IF EXISTS "` + theirDB + `"`)
				c.Exec(`DROP DATABASE IF EXISTS "` + ourDB + `"`)
				c.Close()
			})
		}
		lock, err := backup.AcquireLock(ctx, live.Target)
		if err != nil {
			t.Fatal(err)
		}
		cleaned, err := backup.CleanLeftovers(ctx, live.Target, bdir)
		lock.Release()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ours {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("casino's leftover %s was not removed", p)
			}
		}
		for _, p := range theirs {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s is not a name casino generates, but cleanup removed it", p)
			}
		}
		joined := strings.Join(cleaned, "\n")
		if engine == sqlstore.Postgres && (!strings.Contains(joined, ourDB) || strings.Contains(joined, theirDB)) {
			t.Errorf("cleaned %v: want %s and not %s", cleaned, ourDB, theirDB)
		}
	})
}

// TestDiskFullSaysSo: a backup into a full file system fails with "no space
// left on device" and the path, and leaves nothing behind.
func TestDiskFullSaysSo(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must be able to mount a small tmpfs (root): %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		ctx := context.Background()
		live := testdb.Open(t, engine)
		seed(t, live, 1)
		// 256 KiB of random text: more than the folder holds, compressed.
		b := make([]byte, 192<<10)
		rand.Read(b)
		if _, err := live.ExecContext(ctx, `INSERT INTO settings (tenant_id, key, type, value, updated_at) VALUES (NULL, 'blob', 'string', ?, ?)`, `"`+hex.EncodeToString(b)+`"`, sqlstore.Now()); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(mnt, string(engine))
		_, err := backup.Create(ctx, backup.CreateOptions{Keys: tk, Target: live.Target, Dir: dir})
		if err == nil || !strings.Contains(casino.ErrorMessage(err), "no space left on device") || !strings.Contains(casino.ErrorMessage(err), dir) {
			t.Fatalf("backup into a full disk: %v, want 'no space left on device' and the path", err)
		}
		if es, _ := os.ReadDir(dir); len(es) != 0 {
			t.Errorf("a failed backup left %v", es)
		}
	})
}
