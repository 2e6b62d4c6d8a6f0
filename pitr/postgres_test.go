package pitr

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino/internal/testpg"

	"casino/internal/poll"
)

// pgSetup is a private cluster with a REPLICATION role and one database
// holding a rows table.
type pgSetup struct {
	c       *testpg.Cluster
	replURL string // the replication role, on the test database
	dbURL   string
	dbName  string
}

func newPGSetup(t *testing.T) *pgSetup {
	t.Helper()
	c := testpg.NewCluster(t)
	dbURL := c.NewDatabase()
	u, _ := url.Parse(dbURL)
	db := openDB(t, dbURL)
	for _, q := range []string{
		"CREATE ROLE casino_repl LOGIN REPLICATION",
		"CREATE TABLE rows (id bigserial PRIMARY KEY, tenant int NOT NULL, n int NOT NULL)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ru := *u
	ru.User = url.User("casino_repl")
	return &pgSetup{c: c, replURL: ru.String(), dbURL: dbURL, dbName: strings.Trim(u.Path, "/")}
}

func openDB(t *testing.T, u string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// written is one insert: its id and the client's clock around the call.
type written struct {
	id         int64
	tenant     int
	start, end time.Time
}

// writer inserts one row per transaction until stopped, alternating tenants.
type writer struct {
	mu   sync.Mutex
	rows []written
	stop chan struct{}
	done chan struct{}
}

func startWriter(t *testing.T, db *sql.DB) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		pace := time.NewTicker(2 * time.Millisecond) // pace, not synchronisation
		defer pace.Stop()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-pace.C:
			}
			tenant := 1 + i%2
			start := time.Now()
			var id int64
			err := db.QueryRow("INSERT INTO rows (tenant, n) VALUES ($1, $2) RETURNING id", tenant, i).Scan(&id)
			end := time.Now()
			if err != nil {
				continue // a server restart; the row did not commit
			}
			w.mu.Lock()
			w.rows = append(w.rows, written{id: id, tenant: tenant, start: start, end: end})
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *writer) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *writer) snapshot() []written {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]written(nil), w.rows...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, d, what, cond)
}

// waitCaughtUp waits until the stream folder holds every commit before at.
func waitCaughtUp(t *testing.T, dir string, at time.Time) {
	t.Helper()
	waitFor(t, 60*time.Second, "the stream to catch up past "+at.Format(time.RFC3339Nano), func() bool {
		st, err := ReadStatus(dir, time.Now())
		return err == nil && st.Window != nil && st.CaughtUpAt.After(at)
	})
}

func startStream(t *testing.T, s *pgSetup, dir string) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Stream(ctx, StreamOptions{URL: s.replURL, Dir: dir, BaseEvery: time.Hour, Heartbeat: 200 * time.Millisecond, Signer: &testSigner,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Stream: %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return stop
}

// recoveredIDs recovers dir to target and returns the ids in rows, with the
// recovery's outcome.
func recoveredIDs(t *testing.T, dir, dbName string, target *time.Time) (map[int64]int, *Recovered) {
	t.Helper()
	ids := map[int64]int{}
	rec, err := RecoverPostgres(context.Background(), RecoverOptions{Dir: dir, Target: target, Database: dbName, ScratchDir: scratchDir(t), Verify: testVerifier},
		func(ctx context.Context, r *Recovered) error {
			db, err := sql.Open("pgx", r.URL)
			if err != nil {
				return err
			}
			defer db.Close()
			rs, err := db.QueryContext(ctx, "SELECT id, tenant FROM rows")
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				var id int64
				var tenant int
				if err := rs.Scan(&id, &tenant); err != nil {
					return err
				}
				ids[id] = tenant
			}
			return rs.Err()
		})
	if err != nil {
		t.Fatalf("RecoverPostgres: %v", err)
	}
	if _, err := os.Stat(rec.ScratchDir); !os.IsNotExist(err) {
		t.Errorf("scratch folder %s still there after recovery (err %v)", rec.ScratchDir, err)
	}
	if err := syscall.Kill(rec.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("temporary postgres (pid %d) still running after recovery: %v", rec.PID, err)
	}
	return ids, rec
}

// scratchDir is a folder the temporary server's user can reach (t.TempDir's
// parents are 0700 root when the tests run as root).
func scratchDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "casino-pitr-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o711)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

var timeline1Seg = regexp.MustCompile(`^00000001[0-9A-F]{16}(\.partial)?$`)

// assertNoNewTimeline checks the stream's WAL folder holds timeline 1 only.
func assertNoNewTimeline(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !timeline1Seg.MatchString(e.Name()) {
			t.Errorf("stream WAL folder got %s: a recovery wrote into it", e.Name())
		}
	}
}

// TestPostgresRecoverToTime is the PostgreSQL acceptance test of issue 15:
// rows written continuously, T noted, a tenant's rows deleted and more
// written after T; recovery to T brings back every row committed before T
// and none after, records where it ended, leaves no temporary instance and
// writes no timeline into the stream.
func TestPostgresRecoverToTime(t *testing.T) {
	t.Parallel()
	s := newPGSetup(t)
	dir := t.TempDir()
	stop := startStream(t, s, dir)
	waitFor(t, 90*time.Second, "a base backup and a recoverable window", func() bool {
		st, err := ReadStatus(dir, time.Now())
		return err == nil && st.Window != nil
	})

	db := openDB(t, s.dbURL)
	w := startWriter(t, db)
	waitFor(t, 30*time.Second, "rows before T", func() bool { return len(w.snapshot()) >= 100 })
	T := time.Now()
	waitFor(t, 30*time.Second, "rows after T", func() bool {
		r := w.snapshot()
		return len(r) > 0 && r[len(r)-1].start.After(T.Add(50*time.Millisecond))
	})
	waitCaughtUp(t, dir, T)
	if _, err := db.Exec("DELETE FROM rows WHERE tenant = 1"); err != nil {
		t.Fatal(err)
	}
	deletedAt := time.Now()
	waitFor(t, 30*time.Second, "rows after the delete", func() bool {
		r := w.snapshot()
		return r[len(r)-1].start.After(deletedAt)
	})
	w.halt()
	all := w.snapshot()
	lastEnd := all[len(all)-1].end
	waitCaughtUp(t, dir, lastEnd)

	st, err := ReadStatus(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.NewestBase == nil || st.LagSeconds < 0 || st.LagSeconds > 5 || !st.Receiving {
		t.Errorf("status: newest base %v, lag %.1fs, receiving %v; want a base, lag under 5s, receiving", st.NewestBase, st.LagSeconds, st.Receiving)
	}

	// The metrics say what the status says.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(dir))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
	}
	if v := got["casino_pitr_window_start_timestamp_seconds"]; v != float64(st.Window.Start.UnixNano())/1e9 {
		t.Errorf("window start metric %f, status %s", v, st.Window.Start)
	}
	if v := got["casino_pitr_last_base_backup_timestamp_seconds"]; v != float64(st.NewestBase.FinishedAt.UnixNano())/1e9 {
		t.Errorf("last base backup metric %f, status %s", v, st.NewestBase.FinishedAt)
	}
	if v, ok := got["casino_pitr_wal_lag_seconds"]; !ok || v < 0 || v > 5 {
		t.Errorf("lag metric %f (present %v), want 0-5s", v, ok)
	}
	if v, ok := got["casino_pitr_slot_retained_bytes"]; !ok || v != float64(st.RetainedBytes) || v > 16<<20 {
		t.Errorf("slot retained bytes metric %f (present %v), status %d; want equal, under a segment while caught up", v, ok, st.RetainedBytes)
	}

	// Outside the window: refused, naming it.
	early := st.Window.Start.Add(-time.Hour)
	if _, err := RecoverPostgres(context.Background(), RecoverOptions{Dir: dir, Target: &early, Database: s.dbName, Verify: testVerifier}, nil); !errors.Is(err, ErrOutsideWindow) || !strings.Contains(err.Error(), st.Window.String()) {
		t.Errorf("recover to %s: got %v, want ErrOutsideWindow naming %s", early, err, st.Window)
	}
	future := time.Now().Add(time.Hour)
	if _, err := RecoverPostgres(context.Background(), RecoverOptions{Dir: dir, Target: &future, Database: s.dbName, Verify: testVerifier}, nil); !errors.Is(err, ErrOutsideWindow) {
		t.Errorf("recover to the future: got %v, want ErrOutsideWindow", err)
	}

	began := time.Now()
	ids, rec := recoveredIDs(t, dir, s.dbName, &T)
	took := time.Since(began)
	var before, after int
	var lastBefore time.Time
	for _, r := range all {
		switch {
		case r.end.Before(T):
			before++
			if _, ok := ids[r.id]; !ok {
				t.Errorf("row %d (tenant %d) committed before T is missing", r.id, r.tenant)
			}
			if r.start.After(lastBefore) {
				lastBefore = r.start
			}
		case r.start.After(T):
			after++
			if _, ok := ids[r.id]; ok {
				t.Errorf("row %d committed after T is back", r.id)
			}
		}
	}
	if before < 100 || after == 0 {
		t.Fatalf("test wrote %d rows before T and %d after; want >= 100 and > 0", before, after)
	}
	f := rec.Facts
	if f.Mode != "target_time" || f.ReachedAt.After(T) || f.ReachedAt.Before(lastBefore) || f.RecoveryEnd == "" || f.LastXID == 0 {
		t.Errorf("facts %+v: want mode target_time, reached_at in [%s, %s], a recovery end line and xid", f, lastBefore, T)
	}
	t.Logf("recovered to %s in %s: %d rows before T back, %d after absent; last recovered commit %s before T; %s",
		T.Format(time.RFC3339Nano), took.Round(time.Millisecond), before, after, T.Sub(f.ReachedAt).Round(time.Millisecond), f.RecoveryEnd)

	// A target after the last commit replays to the end of the WAL instead of
	// failing: the delete and every later row are there.
	T2 := time.Now()
	waitCaughtUp(t, dir, T2)
	ids2, rec2 := recoveredIDs(t, dir, s.dbName, &T2)
	if rec2.Facts.Mode != "end_of_wal" {
		t.Errorf("mode %q, want end_of_wal for a target after the last commit", rec2.Facts.Mode)
	}
	for _, r := range all {
		_, ok := ids2[r.id]
		switch {
		case r.tenant == 1 && r.end.Before(deletedAt):
			// deleted; a row racing the delete may be either way
		case r.start.After(deletedAt) && !ok:
			t.Errorf("row %d written after the delete is missing at the end of the WAL", r.id)
		case r.tenant == 2 && !ok:
			t.Errorf("row %d (tenant 2) missing at the end of the WAL", r.id)
		}
		if r.tenant == 1 && r.end.Before(deletedAt.Add(-time.Second)) && ok {
			t.Errorf("row %d of tenant 1, deleted before T2, is back", r.id)
		}
	}
	stop()
	assertNoNewTimeline(t, dir)
}
