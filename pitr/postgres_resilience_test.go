package pitr

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain doubles as `casino pitr stream` for the resilience test, so that
// it has a process to kill -9.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CASINO_PITR_TEST_STREAM_DIR"); dir != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		err := Stream(ctx, StreamOptions{URL: os.Getenv("CASINO_PITR_TEST_STREAM_URL"), Dir: dir, BaseEvery: time.Hour,
			Heartbeat: 200 * time.Millisecond, Signer: &testSigner, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startStreamProcess(t *testing.T, s *pgSetup, dir string, log *syncBuf) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CASINO_PITR_TEST_STREAM_DIR="+dir, "CASINO_PITR_TEST_STREAM_URL="+s.replURL)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func slotActive(t *testing.T, db *sql.DB) bool {
	var active bool
	if err := db.QueryRow("SELECT active FROM pg_replication_slots WHERE slot_name = $1", DefaultSlot).Scan(&active); err != nil {
		t.Fatalf("slot: %v", err)
	}
	return active
}

// TestStreamSurvivesKillAndRestart: a stream killed with kill -9 and
// restarted loses no WAL (the slot kept it), streaming resumes by itself
// after a PostgreSQL restart, and a lost slot is recreated with a new base
// backup, saying so.
func TestStreamSurvivesKillAndRestart(t *testing.T) {
	t.Parallel()
	s := newPGSetup(t)
	dir := t.TempDir()
	var log syncBuf
	p := startStreamProcess(t, s, dir, &log)
	waitFor(t, 90*time.Second, "a base backup and a recoverable window", func() bool {
		st, err := ReadStatus(dir, time.Now())
		return err == nil && st.Window != nil
	})
	db := openDB(t, s.dbURL)
	w := startWriter(t, db)
	waitFor(t, 30*time.Second, "rows", func() bool { return len(w.snapshot()) >= 20 })

	p.Process.Kill() // kill -9
	p.Wait()
	killedAt := time.Now()
	// pg_receivewal dies with it (else it would hold the slot forever).
	waitFor(t, 10*time.Second, "the slot to go inactive", func() bool { return !slotActive(t, db) })
	waitFor(t, 30*time.Second, "rows while the stream is down", func() bool {
		r := w.snapshot()
		return r[len(r)-1].start.After(killedAt.Add(300 * time.Millisecond))
	})
	var retained int64
	if err := db.QueryRow("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1", DefaultSlot).Scan(&retained); err != nil || retained <= 0 {
		t.Errorf("the slot retains %d bytes while nobody reads it (err %v); want > 0", retained, err)
	}
	startStreamProcess(t, s, dir, &log)
	waitCaughtUp(t, dir, time.Now())

	w.halt()
	s.c.Stop()
	s.c.Start()
	w2 := startWriter(t, db)
	waitFor(t, 30*time.Second, "rows after the PostgreSQL restart", func() bool { return len(w2.snapshot()) >= 20 })
	w2.halt()
	rows := append(w.snapshot(), w2.snapshot()...)
	waitCaughtUp(t, dir, rows[len(rows)-1].end) // resumed by itself

	ids, rec := recoveredIDs(t, dir, s.dbName, nil)
	for _, r := range rows {
		if _, ok := ids[r.id]; !ok {
			t.Errorf("row %d (written %s) lost", r.id, r.end.Format(time.RFC3339Nano))
		}
	}
	if rec.Facts.Mode != "end_of_wal" {
		t.Errorf("mode %q, want end_of_wal", rec.Facts.Mode)
	}
	t.Logf("%d rows across a kill -9 of the stream and a PostgreSQL restart all recovered; %s", len(rows), rec.Facts.RecoveryEnd)
	if _, err := os.Stat(filepath.Join(dir, "old")); !os.IsNotExist(err) {
		t.Errorf("old/ exists: the slot was wrongly taken for lost (err %v)\n%s", err, log.String())
	}

	// The slot disappears (a failover): recreated, old WAL moved aside, a new
	// base backup, and recovery works again.
	before, _ := ReadStatus(dir, time.Now())
	waitFor(t, 30*time.Second, "the slot to be dropped", func() bool {
		db.Exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", DefaultSlot)
		_, err := db.Exec("SELECT pg_drop_replication_slot($1)", DefaultSlot)
		return err == nil
	})
	waitFor(t, 90*time.Second, "a new base backup after the slot loss", func() bool {
		st, err := ReadStatus(dir, time.Now())
		return err == nil && st.NewestBase != nil && st.NewestBase.Name != before.NewestBase.Name && st.Window != nil && st.SlotLostAt != nil
	})
	if !bytes.Contains([]byte(log.String()), []byte("replication slot was gone")) {
		t.Errorf("the stream did not say the slot was gone:\n%s", log.String())
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "old")); len(ents) != 1 {
		t.Errorf("old/ holds %d entries, want the cut-off WAL and bases in one", len(ents))
	}
	var last int64
	if err := db.QueryRow("INSERT INTO rows (tenant, n) VALUES (3, 0) RETURNING id").Scan(&last); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, dir, time.Now())
	ids, _ = recoveredIDs(t, dir, s.dbName, nil)
	if _, ok := ids[last]; !ok {
		t.Errorf("row %d written after the slot was recreated is not recovered", last)
	}
}

// TestStreamPrunes: with KeepBase, older base backups and the WAL before the
// oldest kept one go, the window starts at that base backup, and a recovery
// still works.
func TestStreamPrunes(t *testing.T) {
	t.Parallel()
	s := newPGSetup(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Stream(ctx, StreamOptions{URL: s.replURL, Dir: dir, BaseEvery: time.Second, KeepBase: 2, Heartbeat: 200 * time.Millisecond, Signer: &testSigner,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Stream did not return within 30s of cancel")
		}
	}()
	seen := map[string]bool{}
	var bases []*BaseBackup
	waitFor(t, 120*time.Second, "four base backups, two kept", func() bool {
		bases, _ = listBases(dir)
		for _, b := range bases {
			seen[b.Name] = true
		}
		return len(seen) >= 4 && len(bases) == 2
	})
	segs, segSize, err := walSegments(filepath.Join(dir, "wal"), 1)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := parseLSN(bases[0].StartLSN)
	if segs[0].no > start/uint64(segSize) {
		t.Fatalf("oldest WAL segment %s is after the oldest kept base backup's start %s", segs[0].name, bases[0].StartLSN)
	}
	db := openDB(t, s.dbURL)
	var id int64
	if err := db.QueryRow("INSERT INTO rows (tenant, n) VALUES (1, 1) RETURNING id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, dir, time.Now())
	bases, _ = listBases(dir)
	segs, _, _ = walSegments(filepath.Join(dir, "wal"), 1)
	start, _ = parseLSN(bases[0].StartLSN)
	for _, sg := range segs {
		if sg.no < start/uint64(segSize) && !sg.partial {
			t.Errorf("segment %s, before the oldest kept base backup's start %s, was kept", sg.name, bases[0].StartLSN)
		}
	}
	st, _ := ReadStatus(dir, time.Now())
	if !st.Window.Start.Equal(bases[0].FinishedAt) {
		t.Errorf("window starts %s, want the oldest kept base backup's end %s", st.Window.Start, bases[0].FinishedAt)
	}
	ids, _ := recoveredIDs(t, dir, s.dbName, nil)
	if _, ok := ids[id]; !ok {
		t.Errorf("row %d not recovered after pruning", id)
	}
	t.Logf("%d base backups taken, %d kept; oldest WAL segment %s, oldest kept base starts at %s", len(seen), len(bases), segs[0].name, bases[0].StartLSN)
}
