package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"casino"
	"casino/backup"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestRestoreUndoKill9 kills a real `casino restore --undo` at each step:
// the database is always wholly the restored state or wholly the one kept
// aside, and the next --undo completes the swap.
func TestRestoreUndoKill9(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		dir, backups, res, newState := bkNewBackup(t, engine, 4)
		points := []string{"undo_before_swap", "undo_during_swap", "undo_after_swap"}
		if engine == sqlstore.SQLite {
			points = []string{"undo_before_swap", "undo_after_swap"}
		}
		for _, point := range points {
			t.Run(point, func(t *testing.T) {
				liveURL := testdb.URL(t, engine)
				bkSeed(t, liveURL, "old", 2)
				oldState := bkCore(t, liveURL)
				env := map[string]string{"DATABASE_URL": liveURL, "CASINO_BACKUP_DIR": backups, "BK_DIR": dir}
				if stdout, stderr, code := runCLI(t, env, "", "restore", res.Path, "--yes", "--no-safety-backup"); code != 0 {
					t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
				}
				if got := bkCore(t, liveURL); got != newState {
					t.Fatalf("after the restore the database is not the backup's")
				}
				env["CASINO_TEST_PAUSE_AT"] = point
				cmd, lines, out := bkSubprocess(t, env, "restore", "--undo", "--yes")
				if !waitPaused(lines, point) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("undo never paused at %s:\n%s", point, out)
				}
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				bkIntegrity(t, liveURL)
				got := bkCore(t, liveURL)
				want, next := newState, oldState
				if point == "undo_after_swap" {
					want, next = oldState, newState
				}
				switch got {
				case want:
				case oldState, newState:
					t.Fatalf("killed at %s: the database is the other whole state", point)
				default:
					t.Fatalf("killed at %s: the database is neither the restored nor the kept-aside state:\n%s", point, got)
				}
				delete(env, "CASINO_TEST_PAUSE_AT")
				if stdout, stderr, code := runCLI(t, env, "", "restore", "--undo", "--yes"); code != 0 || !strings.Contains(stdout, "undo complete") {
					t.Fatalf("the next --undo: exit %d\n%s%s", code, stdout, stderr)
				}
				bkIntegrity(t, liveURL)
				if got := bkCore(t, liveURL); got != next {
					t.Fatalf("after the next --undo the database is not the swapped state")
				}
			})
		}
	})
}

// TestRestoreFactsCLI: --json prints exactly one casino.RestoreFacts on
// stdout, --result-file writes the same, the restored database carries the
// restore_id, a dry run says so and writes nothing; backup list shows the
// kept-aside database with its size, and prune --kept-aside is a dry run
// unless --yes.
func TestRestoreFactsCLI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		dir := t.TempDir()
		chdir(t, dir)
		url := testdb.URL(t, engine)
		env := map[string]string{"DATABASE_URL": url}
		bkSeed(t, url, "v1", 2)
		created, _, _ := createdBackup(t, env)
		bkSeed(t, url, "v2", 1)

		decode := func(s string) casino.RestoreFacts {
			t.Helper()
			var f casino.RestoreFacts
			d := json.NewDecoder(strings.NewReader(s))
			d.DisallowUnknownFields()
			if err := d.Decode(&f); err != nil {
				t.Fatalf("not one RestoreFacts object: %v\n%s", err, s)
			}
			if d.More() {
				t.Fatalf("more than one JSON value on stdout:\n%s", s)
			}
			return f
		}
		stdout, stderr, code := runCLI(t, env, "", "restore", created, "--dry-run", "--json")
		if code != 0 {
			t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
		}
		if f := decode(stdout); !f.DryRun || f.KeptAside != "" || f.Backup.Name != filepath.Base(created) {
			t.Errorf("dry-run facts %+v", f)
		}
		if !strings.Contains(stderr, "dry run: nothing was changed") {
			t.Errorf("dry run: the human text belongs on stderr:\n%s", stderr)
		}

		resultFile := filepath.Join(dir, "facts.json")
		stdout, stderr, code = runCLI(t, env, "", "restore", created, "--yes", "--json", "--result-file", resultFile)
		if code != 0 {
			t.Fatalf("restore --json: exit %d\n%s%s", code, stdout, stderr)
		}
		f := decode(stdout)
		fileBytes, _ := os.ReadFile(resultFile)
		if g := decode(string(fileBytes)); g.RestoreID != f.RestoreID || !bytes.Contains(fileBytes, []byte(f.Backup.SHA256)) {
			t.Errorf("--result-file differs from --json:\n%s\n%s", fileBytes, stdout)
		}
		if len(f.RestoreID) != 32 || f.DryRun || f.Backup.SHA256 == "" || f.Backup.SnapshotAt.IsZero() || f.KeptAside == "" || f.Carried == nil || f.RowCounts["tenants"] != 2 || f.Target.Engine != string(engine) {
			t.Errorf("facts %+v", f)
		}
		if !strings.HasPrefix(f.Backup.KeyFingerprint, "SHA256:") {
			t.Errorf("facts backup %+v: want the signing key's fingerprint", f.Backup)
		}
		if engine == sqlstore.Postgres && (f.Target.Database == "" || f.Target.SystemIdentifier == "") {
			t.Errorf("facts target %+v: want database and system_identifier", f.Target)
		}
		if engine == sqlstore.SQLite && f.Target.Path == "" {
			t.Errorf("facts target %+v: want the path", f.Target)
		}
		db, err := sqlstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		var v string
		db.QueryRowContext(context.Background(), `SELECT value FROM system_state WHERE key = 'restore_id'`).Scan(&v)
		db.Close()
		var rid struct {
			RestoreID  string    `json:"restore_id"`
			Backup     string    `json:"backup"`
			RestoredAt time.Time `json:"restored_at"`
		}
		if err := json.Unmarshal([]byte(v), &rid); err != nil || rid.RestoreID != f.RestoreID || rid.Backup != f.Backup.Name || rid.RestoredAt.IsZero() {
			t.Errorf("system_state restore_id = %q, facts restore_id %s", v, f.RestoreID)
		}

		stdout, _, code = runCLI(t, env, "", "backup", "list")
		kept := filepath.Base(f.KeptAside)
		if code != 0 || !strings.Contains(stdout, "kept aside by restores") || !strings.Contains(stdout, kept) {
			t.Errorf("backup list does not show %s:\n%s", kept, stdout)
		}
		stdout, stderr, code = runCLI(t, env, "", "backup", "prune", "--kept-aside", "--older-than", "0s")
		if code != 0 || !strings.Contains(stdout, "would remove "+kept) || !strings.Contains(stdout, "dry run") {
			t.Errorf("prune --kept-aside dry run: exit %d\n%s%s", code, stdout, stderr)
		}
		if k, _ := backup.ListKeptAside(context.Background(), mustTarget(t, url)); len(k) != 1 {
			t.Errorf("a dry-run prune removed %v", k)
		}
		if _, _, code := runCLI(t, env, "", "backup", "prune", "--kept-aside"); code != 2 {
			t.Errorf("prune --kept-aside without --older-than: exit %d, want 2", code)
		}
		stdout, stderr, code = runCLI(t, env, "", "backup", "prune", "--kept-aside", "--older-than", "7d", "--yes")
		if k, _ := backup.ListKeptAside(context.Background(), mustTarget(t, url)); code != 0 || len(k) != 1 {
			t.Errorf("prune --older-than 7d removed a fresh kept-aside database: exit %d %v\n%s%s", code, k, stdout, stderr)
		}
		stdout, stderr, code = runCLI(t, env, "", "backup", "prune", "--kept-aside", "--older-than", "0s", "--yes")
		if k, _ := backup.ListKeptAside(context.Background(), mustTarget(t, url)); code != 0 || len(k) != 0 || !strings.Contains(stdout, "removed "+kept) {
			t.Errorf("prune --yes: exit %d, left %v\n%s%s", code, k, stdout, stderr)
		}
		if _, stderr, code := runCLI(t, env, "", "restore", "--undo", "--yes"); code == 0 || !strings.Contains(stderr, "nothing to undo") {
			t.Errorf("--undo with nothing kept aside: exit %d %s", code, stderr)
		}
	})
}

func mustTarget(t testing.TB, url string) sqlstore.Target {
	t.Helper()
	tg, err := sqlstore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}
