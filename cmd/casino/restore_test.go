package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"casino"
	"casino/backup"
	"casino/internal/testdb"
	"casino/internal/testpg"
	"casino/sqlstore"
)

var (
	bkBinOnce sync.Once
	bkBinPath string
	bkBinErr  error
)

// bkBinary builds casino once per test run, for tests that must run (and
// kill -9) a real process.
func bkBinary(t testing.TB) string {
	t.Helper()
	bkBinOnce.Do(func() {
		// One fixed folder per user and checkout, so repeated runs do not
		// pile up binaries in /tmp, and two checkouts tested at once never
		// run each other's build; built under a private name, then renamed
		// in (a concurrent run may be executing the previous one).
		sum := sha256.Sum256([]byte(testpg.RepoRoot()))
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("casino-bk-bin-%d-%x", os.Getuid(), sum[:4]))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			bkBinErr = err
			return
		}
		bkBinPath = filepath.Join(dir, "casino")
		tmp := fmt.Sprintf("%s.%d", bkBinPath, os.Getpid())
		build := exec.Command("go", "build", "-o", tmp, "./cmd/casino")
		build.Dir = testpg.RepoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			bkBinErr = fmt.Errorf("go build: %v: %s", err, out)
			return
		}
		bkBinErr = os.Rename(tmp, bkBinPath)
	})
	if bkBinErr != nil {
		t.Fatal(bkBinErr)
	}
	return bkBinPath
}

// bkSeed writes a recognisable state: n tenants named by label.
func bkSeed(t testing.TB, url, label string, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := sqlstore.Now()
	for i := 0; i < n; i++ {
		slug := fmt.Sprintf("%s-%d", label, i)
		if _, err := db.ExecContext(ctx, `INSERT INTO tenants (name, slug, created_at, updated_at) VALUES (?, ?, ?, ?)`, label, slug, now, now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_events (ts, action, target, after) VALUES (?, 'tenant.create', ?, '{"payload":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}')`, now, slug); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO settings (tenant_id, key, type, value, updated_at) VALUES (NULL, ?, 'string', ?, ?)`, "label-"+label, `"`+label+`"`, now); err != nil {
		t.Fatal(err)
	}
}

// bkState renders the tables that a restore replaces (versions is left out:
// every serve start bumps it).
func bkState(t testing.TB, url string) string {
	t.Helper()
	return bkRender(t, url, true)
}

// bkCore is bkState without audit_events: a restore carries the live
// database's later audit events into the restored data, so the events are
// the backup's plus those.
func bkCore(t testing.TB, url string) string {
	t.Helper()
	return bkRender(t, url, false)
}

func bkRender(t testing.TB, url string, audit bool) string {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatalf("open after restore: %v", err)
	}
	defer db.Close()
	var b strings.Builder
	qs := []string{
		"SELECT id, name, slug, status FROM tenants ORDER BY id",
		"SELECT key, value FROM settings ORDER BY key",
		"SELECT version, name FROM schema_migrations ORDER BY version",
	}
	if audit {
		qs = append(qs, "SELECT id, action, target, COALESCE(after, '') FROM audit_events ORDER BY id")
	}
	for _, q := range qs {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			for _, v := range vals {
				b.WriteString(v.String + "|")
			}
			b.WriteString("\n")
		}
		rows.Close()
	}
	return b.String()
}

// bkIntegrity checks the database opens and passes its integrity check.
func bkIntegrity(t testing.TB, url string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatalf("database does not open: %v", err)
	}
	defer db.Close()
	if db.Dialect() == sqlstore.SQLite {
		var s string
		if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&s); err != nil || s != "ok" {
			t.Fatalf("integrity_check: %q %v", s, err)
		}
		return
	}
	if _, err := db.RowCounts(ctx); err != nil {
		t.Fatalf("database unreadable: %v", err)
	}
}

// bkSubprocess runs the casino binary with env, returning the started
// command and a channel of its stderr lines.
func bkSubprocess(t testing.TB, env map[string]string, args ...string) (*exec.Cmd, <-chan string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(bkBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if _, ok := env["CASINO_BACKUP_SIGNING_KEY"]; !ok {
		cmd.Env = append(cmd.Env, "CASINO_BACKUP_SIGNING_KEY="+testBackupKey)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = env["BK_DIR"]
	stderr, _ := cmd.StderrPipe()
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
		close(lines)
	}()
	return cmd, lines, out
}

// bkNewBackup seeds a fresh database of engine with n tenants labelled
// "new" and backs it up into DIR/backups: it returns DIR, the backup
// folder, the backup, and the state it holds (bkCore).
func bkNewBackup(t *testing.T, engine sqlstore.Dialect, n int) (dir, backups string, res *backup.CreateResult, state string) {
	t.Helper()
	dir = t.TempDir()
	backups = filepath.Join(dir, "backups")
	srcURL := testdb.URL(t, engine)
	bkSeed(t, srcURL, "new", n)
	src, _ := sqlstore.ParseURL(srcURL)
	res, err := backup.Create(context.Background(), backup.CreateOptions{Target: src, Dir: backups, Keys: testBackupKeys})
	if err != nil {
		t.Fatal(err)
	}
	return dir, backups, res, bkCore(t, srcURL)
}

// waitPaused waits (up to 60 s) for a process started by bkSubprocess to
// say it paused at point (CASINO_TEST_PAUSE_AT); false when it exited or
// the time ran out first.
func waitPaused(lines <-chan string, point string) bool {
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return false
			}
			if l == "paused at "+point {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// TestRestoreKill9 kills a real restore at each named point and checks that
// the database opens, passes its integrity check, is wholly the old or
// wholly the new state, and that the next restore or serve cleans up.
func TestRestoreKill9(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		// The backup: state "new".
		dir, backups, res, newState := bkNewBackup(t, engine, 5)

		points := []string{"verified", "backup_written", "safety_backup_done", "restoring", "scratch_ready", "carried", "before_swap", "during_swap", "after_swap"}
		if engine == sqlstore.SQLite {
			points = []string{"verified", "backup_written", "safety_backup_done", "scratch_ready", "carried", "before_swap", "kept_aside", "after_swap"}
		}
		for i, point := range points {
			t.Run(point, func(t *testing.T) {
				liveURL := testdb.URL(t, engine)
				bkSeed(t, liveURL, "old", 3)
				oldState := bkCore(t, liveURL)
				env := map[string]string{"DATABASE_URL": liveURL, "CASINO_BACKUP_DIR": backups, "CASINO_TEST_PAUSE_AT": point, "BK_DIR": dir}
				cmd, lines, out := bkSubprocess(t, env, "restore", res.Path, "--yes")
				if !waitPaused(lines, point) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("restore never paused at %s:\n%s", point, out)
				}
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				time.Sleep(100 * time.Millisecond) // let PostgreSQL notice the dead session

				bkIntegrity(t, liveURL)
				got := bkCore(t, liveURL)
				switch got {
				case oldState:
					if point == "after_swap" {
						t.Errorf("killed after the swap, but the database is the old state")
					}
				case newState:
					if point != "after_swap" {
						t.Errorf("killed at %s, before the swap committed, but the database is the new state", point)
					}
				default:
					t.Fatalf("killed at %s: the database is neither the old nor the new state:\n%s", point, got)
				}
				target, _ := sqlstore.ParseURL(liveURL)
				left, _ := backup.FindLeftovers(context.Background(), target, backups)
				t.Logf("killed at %s: leftovers %v", point, left)
				// After the swap the old database is kept aside: that is
				// not a leftover.
				wantLeft := point != "safety_backup_done" && point != "after_swap"
				if engine == sqlstore.Postgres && point == "verified" {
					wantLeft = false // nothing created yet
				}
				if wantLeft && len(left) == 0 {
					t.Errorf("killed at %s: expected leftovers to clean", point)
				}
				if len(left) == 0 {
					return
				}
				// Alternate who cleans: the next restore, or serve at start.
				if i%2 == 0 {
					stdout, stderr, code := runCLI(t, map[string]string{"DATABASE_URL": liveURL, "CASINO_BACKUP_DIR": backups}, "", "restore", res.Path, "--yes", "--no-safety-backup")
					if code != 0 {
						t.Fatalf("next restore: exit %d\n%s\n%s", code, stdout, stderr)
					}
					if !strings.Contains(stdout, "cleaned leftover") {
						t.Errorf("next restore did not report the leftovers:\n%s", stdout)
					}
					if got := bkCore(t, liveURL); got != newState {
						t.Errorf("after the next restore the database is not the backup's state")
					}
				} else {
					s := startServe(t, map[string]string{"DATABASE_URL": liveURL, "CASINO_BACKUP_DIR": backups}, true)
					if !strings.Contains(s.Stdout.String(), "backup_leftover_cleaned") {
						t.Errorf("serve did not report the leftovers:\n%s", s.Stdout)
					}
					s.Stop(t)
				}
				if left, _ := backup.FindLeftovers(context.Background(), target, backups); len(left) > 0 {
					t.Errorf("leftovers remain after cleanup: %v", left)
				}
				bkIntegrity(t, liveURL)
			})
		}
	})
}

// TestScenarioBVerbatim runs the checklist's Scenario B lines as written:
//
//	./scripts/restore_postgres.sh backups/casino_db_YYYYMMDD_HHMMSS.sql.gz
//	(restart backend)
//
// against DATABASE_URL, with the backend running during the restore: the
// restore refuses until --terminate-connections ends its sessions.
func TestScenarioBVerbatim(t *testing.T) {
	url := testpg.NewDatabase(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "scripts", "lib"), 0o755)
	for _, name := range []string{"restore_postgres.sh", "backup_postgres.sh", "lib/casino.sh"} {
		script, err := os.ReadFile(filepath.Join(testpg.RepoRoot(), "scripts", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "scripts", name), script, 0o755)
	}
	chdir(t, dir)
	env := map[string]string{"DATABASE_URL": url, "CASINO_OWNER_PASSWORD": uiOwnerPassword}
	scriptEnv := []string{"DATABASE_URL=" + url, "PATH=" + filepath.Dir(bkBinary(t)) + ":" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CASINO_BACKUP_SIGNING_KEY=" + testBackupKey}

	s := startServe(t, env, true, "--role", "backend")
	owner := ownerToken(t, s.URL)
	bkSeed(t, url, "good", 4)
	bcmd := exec.Command("./scripts/backup_postgres.sh", "--json")
	bcmd.Dir, bcmd.Env = dir, scriptEnv
	stdout, err := bcmd.Output()
	if err != nil {
		t.Fatalf("./scripts/backup_postgres.sh: %v\n%s", err, stdout)
	}
	var created struct {
		Path     string
		Manifest casino.BackupManifest
	}
	json.Unmarshal(stdout, &created)
	name := filepath.Base(created.Path)
	if !strings.HasPrefix(name, "casino_db_") || !strings.HasSuffix(name, ".sql.gz") {
		t.Fatalf("backup name %q", name)
	}
	want := bkCore(t, url)
	// The incident: bad data arrives.
	bkSeed(t, url, "bad", 2)
	db, _ := sql.Open("pgx", url)
	db.Exec(`UPDATE tenants SET name = 'corrupted'`)
	db.Close()

	// The containment the backend answered before the restore: a login
	// freeze, written after the backup. It must survive the restore.
	if code := apiCall(t, "POST", s.URL+"/api/v1/admin/login-freeze", owner, map[string]any{"enabled": true, "reason": "scenario B"}, nil); code != 200 {
		t.Fatalf("freeze on: %d", code)
	}
	// With the backend still connected the restore refuses, naming it:
	// its writes after the snapshot would be lost.
	cmd := exec.Command("./scripts/restore_postgres.sh", "backups/"+name)
	cmd.Dir = dir
	cmd.Env = scriptEnv
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "other sessions are connected") || !strings.Contains(string(out), "x casino") || !strings.Contains(string(out), "--terminate-connections") {
		t.Fatalf("restore beside a connected backend: err %v, want a refusal naming the casino serve sessions:\n%s", err, out)
	}
	if got := bkCore(t, url); !strings.Contains(got, "corrupted") {
		t.Fatalf("the refused restore changed the database")
	}
	cmd = exec.Command("./scripts/restore_postgres.sh", "backups/"+name, "--terminate-connections")
	cmd.Dir = dir
	cmd.Env = scriptEnv
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("./scripts/restore_postgres.sh backups/%s: %v\n%s", name, err, out)
	}
	t.Logf("restore output:\n%s", out)
	for _, w := range []string{"restore complete", "data-loss window", "safety backup", "terminated", "kept aside"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("restore output lacks %q", w)
		}
	}
	// docker compose -f docker-compose.prod.yml restart backend
	s.Stop(t)
	s = startServe(t, env, true, "--role", "backend")
	waitStatus(t, s.URL+"/api/ready", 200, 30*time.Second)
	var st casino.SystemStatus
	if code := apiCall(t, "GET", s.URL+"/api/v1/admin/status", owner, nil, &st); code != 200 || !st.LoginFreeze.Enabled || st.LoginFreeze.Reason != "scenario B" {
		t.Errorf("after the restore the freeze answered before the termination is lost: %d %+v", code, st)
	}
	if got := bkCore(t, url); got != want {
		t.Errorf("after Scenario B the data does not match the backup:\n got %s\nwant %s", got, want)
	}
	// The script's usage on bad arguments.
	bad := exec.Command("./scripts/restore_postgres.sh")
	bad.Dir = dir
	bad.Env = cmd.Env
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "usage:") {
		t.Errorf("script without arguments: err %v, output %s", err, out)
	}
}

// TestRestoreCLIRefusals covers the refusals the command line adds: a plan
// without --yes, a path outside the backup folder, a corrupt file; all exit
// non-zero and leave the database unchanged.
func TestRestoreCLIRefusals(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	url := "sqlite:" + filepath.Join(dir, "data", "casino.db")
	env := map[string]string{"DATABASE_URL": url}
	bkSeed(t, url, "v1", 2)
	created, _, _ := createdBackup(t, env)
	bkSeed(t, url, "v2", 1)
	before := bkState(t, url)
	outside := filepath.Join(t.TempDir(), filepath.Base(created))
	data, _ := os.ReadFile(created)
	os.WriteFile(outside, data, 0o600)
	corrupt := strings.Replace(created, "casino_db_", "casino_db_9", 1)
	data[len(data)/2] ^= 1
	os.WriteFile(corrupt, data, 0o600)
	mb, _ := os.ReadFile(casino.ManifestPath(created))
	cm := []byte(strings.Replace(string(mb), filepath.Base(created), filepath.Base(corrupt), 1))
	os.WriteFile(casino.ManifestPath(corrupt), cm, 0o600)
	os.WriteFile(casino.SignaturePath(corrupt), testSign(cm), 0o600)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no --yes prints the plan", []string{"restore", created}, "re-run with --yes"},
		{"escapes the backup folder", []string{"restore", outside, "--yes"}, "outside the backup folder"},
		{"dot-dot escape", []string{"restore", "backups/../" + filepath.Base(created), "--yes"}, "outside the backup folder"},
		{"flipped byte", []string{"restore", corrupt, "--yes"}, "checksum mismatch"},
	}
	for _, tc := range cases {
		stdout, stderr, code := runCLI(t, env, "", tc.args...)
		if code == 0 || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%s: exit %d, want non-zero and %q in:\n%s%s", tc.name, code, tc.want, stdout, stderr)
		}
		if got := bkState(t, url); got != before {
			t.Errorf("%s: the database changed", tc.name)
		}
	}
	stdout, stderr, code := runCLI(t, env, "", "restore", created, "--dry-run")
	if code != 0 || !strings.Contains(stdout, "dry run: nothing was changed") || bkState(t, url) != before {
		t.Errorf("--dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, env, "", "restore", created, "--yes", "--json")
	var res casino.RestoreFacts
	if err := json.Unmarshal([]byte(stdout), &res); code != 0 || err != nil || res.Backup.SnapshotAt.IsZero() || len(res.RestoreID) != 32 {
		t.Errorf("restore --json: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	stdout, _, code = runCLI(t, env, "", "backup", "list", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(stdout), &list); code != 0 || err != nil || len(list) < 2 {
		t.Errorf("backup list --json: %d %v %s", code, err, stdout)
	}
}

// TestBackupVerifyAndPruneCLI covers backup verify (flags after FILE, as
// operators type them), list and prune's dry run and --yes.
func TestBackupVerifyAndPruneCLI(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "casino.db")}
	bkSeed(t, env["DATABASE_URL"], "p", 1)
	for i := 0; i < 3; i++ {
		if _, stderr, code := runCLI(t, env, "", "backup", "create"); code != 0 {
			t.Fatal(stderr)
		}
	}
	newest := backup.Newest("backups", testBackupKeys)
	stdout, stderr, code := runCLI(t, env, "", "backup", "verify", newest.Path, "--json")
	if code != 0 || !strings.Contains(stdout, `"ok": true`) {
		t.Fatalf("verify: %d %s %s", code, stdout, stderr)
	}
	stdout, _, _ = runCLI(t, env, "", "backup", "list")
	if !strings.Contains(stdout, "ago") || strings.Count(stdout, "casino_db_") != 3 {
		t.Errorf("list after verify:\n%s", stdout)
	}
	stdout, _, code = runCLI(t, env, "", "backup", "prune", "--keep-last", "1")
	if es, _ := backup.List("backups"); code != 0 || len(es) != 3 || !strings.Contains(stdout, "dry run") {
		t.Errorf("prune dry run: exit %d, %d left\n%s", code, len(es), stdout)
	}
	stdout, _, code = runCLI(t, env, "", "backup", "prune", "--keep-last", "1", "--yes")
	if es, _ := backup.List("backups"); code != 0 || len(es) != 1 || es[0].Name != newest.Name {
		t.Errorf("prune --yes: exit %d, left %v\n%s", code, es, stdout)
	}
	if _, _, code := runCLI(t, env, "", "backup", "prune"); code != 2 {
		t.Errorf("prune without retention: exit %d, want 2", code)
	}
	empty := filepath.Join("backups", "casino_db_20200101_000000.sqlite.gz")
	os.WriteFile(empty, nil, 0o600)
	if _, stderr, code := runCLI(t, env, "", "backup", "verify", empty, "--force-unverified"); code != 1 || !strings.Contains(stderr, "empty") {
		t.Errorf("verify empty file: exit %d %s", code, stderr)
	}
}

// TestServeBackupMetrics checks /metrics reports the newest backup.
func TestServeBackupMetrics(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "casino.db")}
	bkSeed(t, env["DATABASE_URL"], "m", 1)
	if _, stderr, code := runCLI(t, env, "", "backup", "create"); code != 0 {
		t.Fatal(stderr)
	}
	m := backup.Newest("backups", testBackupKeys).Manifest
	s := startServe(t, env, true)
	resp, err := httpGetBody(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("casino_backup_last_size_bytes %d", m.SizeBytes)
	for _, w := range []string{"casino_backup_last_success_timestamp_seconds 1.", want, "casino_backup_last_duration_seconds"} {
		if !strings.Contains(resp, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
}

func httpGetBody(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestRestoreBadFilesCLI runs every bad-file case of the issue through the
// command line, both engines: each exits non-zero with a clear message, and
// the live database is the same before and after.
func TestRestoreBadFilesCLI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		dir := t.TempDir()
		chdir(t, dir)
		url := testdb.URL(t, engine)
		if engine == sqlstore.SQLite {
			url = "sqlite:" + filepath.Join(dir, "casino.db")
		}
		env := map[string]string{"DATABASE_URL": url}
		bkSeed(t, url, "live", 2)
		created, _, _ := createdBackup(t, env)
		bkSeed(t, url, "later", 1)
		good, _ := os.ReadFile(created)
		goodManifest, _ := os.ReadFile(casino.ManifestPath(created))
		other := map[sqlstore.Dialect]string{sqlstore.SQLite: "postgres", sqlstore.Postgres: "sqlite"}[engine]
		editManifest := func(f func(m map[string]any)) []byte {
			var m map[string]any
			json.Unmarshal(goodManifest, &m)
			f(m)
			b, _ := json.Marshal(m)
			return b
		}
		outside := t.TempDir()
		cases := []struct {
			name     string
			data     []byte
			manifest []byte // nil: no manifest
			path     string // default backups/<name>
			want     string
		}{
			{"truncated file", good[:len(good)/2], goodManifest, "", "truncated"},
			{"flipped byte mid-file", func() []byte { b := append([]byte(nil), good...); b[len(b)/2] ^= 0x20; return b }(), goodManifest, "", "checksum mismatch"},
			{"wrong checksum in the manifest", good, editManifest(func(m map[string]any) { m["sha256"] = strings.Repeat("ab", 32) }), "", "checksum mismatch"},
			{"manifest from the other engine", good, editManifest(func(m map[string]any) { m["engine"] = other }), "", "mismatched manifest"},
			{"empty file", []byte{}, goodManifest, "", "empty"},
			{"missing manifest", good, nil, "", "no manifest"},
			{"path escaping the backup folder", good, goodManifest, filepath.Join(outside, filepath.Base(created)), "outside the backup folder"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := tc.path
				if p == "" {
					p = created
				}
				os.WriteFile(p, tc.data, 0o600)
				if tc.manifest != nil {
					os.WriteFile(casino.ManifestPath(p), tc.manifest, 0o600)
					// signed with the valid key: the check under test refuses it
					os.WriteFile(casino.SignaturePath(p), testSign(tc.manifest), 0o600)
				} else {
					os.Remove(casino.ManifestPath(p))
				}
				before := bkState(t, url)
				stdout, stderr, code := runCLI(t, env, "", "restore", p, "--yes")
				if code == 0 || !strings.Contains(stderr, tc.want) {
					t.Errorf("exit %d, want non-zero and a message with %q; stderr:\n%s\nstdout:\n%s", code, tc.want, stderr, stdout)
				}
				if after := bkState(t, url); after != before {
					t.Errorf("the live database changed")
				}
				// restore the good pair for the next case
				os.WriteFile(created, good, 0o600)
				os.WriteFile(casino.ManifestPath(created), goodManifest, 0o600)
			})
		}
	})
}
