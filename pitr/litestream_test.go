package pitr

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino/backup"
	"casino/sqlstore"
)

// TestSQLiteRecoverToTime is the SQLite acceptance test of issue 15, with
// Litestream replicating to a folder: rows written continuously, T noted,
// the replica synced past T, a tenant's rows deleted and more written;
// restoring to T brings back every row synced by T and none written after
// T, and Litestream's tables appear in no casino backup or manifest.
func TestSQLiteRecoverToTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "casino.db")
	replica := "file://" + filepath.Join(dir, "replica")
	db, err := sqlstore.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ls, err := StartLitestream(ctx, LitestreamOptions{DBPath: path, Replica: Replica{URL: replica}})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close(ctx)

	type row struct {
		slug       string
		start, end time.Time
	}
	var mu sync.Mutex
	var rows []row
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pace := time.NewTicker(5 * time.Millisecond) // pace, not synchronisation
		defer pace.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-pace.C:
			}
			slug := fmt.Sprintf("t%d-%d", 1+i%2, i)
			start := time.Now()
			now := sqlstore.Now()
			_, err := db.ExecContext(ctx, "INSERT INTO tenants (name, slug, created_at, updated_at) VALUES (?, ?, ?, ?)", slug, slug, now, now)
			if err == nil {
				mu.Lock()
				rows = append(rows, row{slug, start, time.Now()})
				mu.Unlock()
			}
		}
	}()
	snap := func() []row { mu.Lock(); defer mu.Unlock(); return append([]row(nil), rows...) }
	waitFor(t, 30*time.Second, "rows before T", func() bool { return len(snap()) >= 100 })
	waitFor(t, 30*time.Second, "two seconds of writes", func() bool { r := snap(); return r[len(r)-1].start.Sub(r[0].start) > 2*time.Second })
	T := time.Now()
	waitFor(t, 30*time.Second, "the replica to sync past T", func() bool {
		w, err := LitestreamWindow(ctx, Replica{URL: replica})
		return err == nil && w.End.After(T)
	})
	if _, err := db.ExecContext(ctx, "DELETE FROM tenants WHERE slug LIKE 't1-%'"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "rows after the delete", func() bool { r := snap(); return r[len(r)-1].start.After(T.Add(time.Second)) })
	close(stop)
	<-done
	all := snap()

	early := T.Add(-24 * time.Hour)
	if _, err := RestoreSQLite(ctx, Replica{URL: replica}, filepath.Join(dir, "early.db"), &early, time.Now()); !errors.Is(err, ErrOutsideWindow) {
		t.Errorf("restore to a day before: %v, want ErrOutsideWindow", err)
	}

	out := filepath.Join(dir, "restored.db")
	facts, err := RestoreSQLite(ctx, Replica{URL: replica}, out, &T, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := sql.Open("sqlite", out)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	got := map[string]bool{}
	rs, err := rdb.Query("SELECT slug FROM tenants")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var s string
		rs.Scan(&s)
		got[s] = true
	}
	rs.Close()
	var before, after int
	var newestBack time.Time
	// Litestream stamps a sync's LTX file when it writes it, after it read
	// the WAL: a commit acknowledged in between (1 ms before the stamp in
	// one loaded run) is in the next sync. What had synced by T is every
	// commit acknowledged before the stamp minus that window.
	const stampAfterRead = 250 * time.Millisecond
	for _, r := range all {
		switch {
		case r.end.After(facts.ReachedAt.Add(-stampAfterRead)) && !r.start.After(T):
			// inside the sync that made the stamp: either way is right
		case !r.end.After(facts.ReachedAt):
			before++
			if !got[r.slug] {
				t.Errorf("row %s committed %s, before the last sync by T (%s), is missing", r.slug, r.end.Format(time.RFC3339Nano), facts.ReachedAt.Format(time.RFC3339Nano))
			}
		case r.start.After(T):
			after++
			if got[r.slug] {
				t.Errorf("row %s written after T is back", r.slug)
			}
		}
		if got[r.slug] && r.end.After(newestBack) {
			newestBack = r.end
		}
	}
	if before < 100 || after == 0 || facts.Mode != "target_time" || facts.ReachedAt.After(T) || T.Sub(facts.ReachedAt) > 2*time.Second {
		t.Fatalf("%d rows before the last sync, %d after T; facts %+v; want >= 100, > 0, target_time, reached within 2s before T", before, after, facts)
	}
	t.Logf("restored to %s: last sync by T %s, newest row back committed %s before T (RPO), %d rows checked present, %d absent",
		T.Format(time.RFC3339Nano), facts.ReachedAt.Format(time.RFC3339Nano), T.Sub(newestBack).Round(time.Millisecond), before, after)

	// Litestream's tables are in the live file, never in a casino backup.
	var n int
	db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_litestream%' ESCAPE '\\'").Scan(&n)
	if n == 0 {
		t.Fatal("no _litestream tables in the live database: the test proves nothing")
	}
	sk, err := (*backup.Keys)(nil).Scratch()
	if err != nil {
		t.Fatal(err)
	}
	cr, err := backup.Create(ctx, backup.CreateOptions{Target: sqlstore.Target{Dialect: sqlstore.SQLite, Path: path}, Dir: filepath.Join(dir, "backups"), Compression: backup.None, Keys: sk})
	if err != nil {
		t.Fatal(err)
	}
	for k := range cr.Manifest.RowCounts {
		if strings.HasPrefix(k, "_litestream") {
			t.Errorf("manifest counts %s", k)
		}
	}
	bdb, err := sql.Open("sqlite", cr.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	bdb.QueryRow("SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_litestream%' ESCAPE '\\'").Scan(&n)
	if n != 0 {
		t.Errorf("backup %s holds %d _litestream tables", cr.Path, n)
	}
	if _, err := os.Stat(cr.Path); err != nil {
		t.Fatal(err)
	}
}

// TestLitestreamLagMetric: with Litestream replicating to a folder, the lag
// casino serve exposes stays under a second while the replica keeps up, idle
// or not; when the replica cannot be written (its folder replaced by a
// file), it grows past the sync interval with every write left unconfirmed,
// and falls back once the replica is writable again; the same when
// Litestream cannot read the WAL into its shadow folder, which the
// replica's own sync time alone would not show.
func TestLitestreamLagMetric(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "casino.db")
	repDir := filepath.Join(dir, "replica")
	db, err := sqlstore.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ls, err := StartLitestream(ctx, LitestreamOptions{DBPath: path, Replica: Replica{URL: "file://" + repDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close(ctx)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewLitestreamCollector(ls))
	lag := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 1 || mfs[0].GetName() != LitestreamLagMetric {
			t.Fatalf("gather: %v %v", mfs, err)
		}
		return mfs[0].GetMetric()[0].GetGauge().GetValue()
	}
	insert := func(slug string) {
		t.Helper()
		now := sqlstore.Now()
		if _, err := db.ExecContext(ctx, "INSERT INTO tenants (name, slug, created_at, updated_at) VALUES (?, ?, ?, ?)", slug, slug, now, now); err != nil {
			t.Fatal(err)
		}
	}
	insert("a")
	waitFor(t, 30*time.Second, "a first sync", func() bool { v := lag(); return v >= 0 && v < 1 })
	// Idle for longer than the alert's patience per sample: still caught up.
	idleFrom := time.Now()
	waitFor(t, 30*time.Second, "two idle seconds", func() bool { return time.Since(idleFrom) > 2*time.Second && lag() < 1 })

	if err := os.RemoveAll(repDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(repDir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	insert("b")
	waitFor(t, 30*time.Second, "the lag to grow while the replica cannot be written", func() bool { return lag() > 3 })
	t.Logf("lag with a broken replica: %.1fs", lag())
	// Repaired, the replica catches up and the lag falls back.
	if err := os.Remove(repDir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the lag to fall back once the replica is writable", func() bool { v := lag(); return v >= 0 && v < 1 })

	// Litestream cannot read the WAL into its own files (its shadow folder
	// broken, as by a full disk): the replica still syncs "successfully",
	// with nothing new to send, yet the change is not in it. The lag grows.
	ltxDir := filepath.Join(dir, ".casino.db-litestream", "ltx")
	if _, err := os.Stat(ltxDir); err != nil {
		t.Fatalf("Litestream's shadow folder moved (a Litestream upgrade?): %v", err)
	}
	if err := os.Rename(ltxDir, ltxDir+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ltxDir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	insert("c")
	waitFor(t, 30*time.Second, "the lag to grow while the WAL cannot be read", func() bool { return lag() > 3 })
	t.Logf("lag with a broken shadow folder: %.1fs", lag())
	os.Remove(ltxDir)
	if err := os.Rename(ltxDir+".aside", ltxDir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the lag to fall back once the WAL reads again", func() bool { v := lag(); return v >= 0 && v < 1 })
}
