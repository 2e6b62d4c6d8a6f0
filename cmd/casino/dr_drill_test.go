package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"filippo.io/age"

	"casino"
	"casino/backup"
	"casino/internal/testdb"
	"casino/internal/testpg"
	"casino/internal/tests3"
	"casino/keys"
	"casino/sqlstore"
)

// drillFixture is a production database with a signed backup, and the
// folders a drill reads and writes, each private to the test.
type drillFixture struct {
	Engine                       sqlstore.Dialect
	URL, BackupDir, ProofDir     string
	ScratchDir                   string
	Env                          map[string]string
	Backup                       string // the backup's path
	Manifest                     casino.BackupManifest
	backupsBefore, productionWas string
}

// newDrillFixture seeds production (tenants, an owner unless noOwner),
// backs it up, and records the backup folder and the production data, so
// the test can prove the drill changed neither.
func newDrillFixture(t *testing.T, engine sqlstore.Dialect, noOwner bool) *drillFixture {
	t.Helper()
	return newDrillFixtureOn(t, engine, testdb.URL(t, engine), noOwner)
}

// newDrillFixtureOn is newDrillFixture with production at url (a database
// on a private cluster, for a drill that reads its WAL stream).
func newDrillFixtureOn(t *testing.T, engine sqlstore.Dialect, url string, noOwner bool) *drillFixture {
	t.Helper()
	dir := t.TempDir()
	f := &drillFixture{Engine: engine, URL: url, BackupDir: filepath.Join(dir, "backups"),
		ProofDir: filepath.Join(dir, "proof"), ScratchDir: filepath.Join(dir, "scratch")}
	os.MkdirAll(f.ScratchDir, 0o700)
	bkSeed(t, f.URL, "drill", 3)
	if !noOwner {
		db, err := sqlstore.Open(context.Background(), f.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.EnsureOwner(context.Background(), "owner@casino.test", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	f.Env = map[string]string{"DATABASE_URL": f.URL, "CASINO_BACKUP_DIR": f.BackupDir, "CASINO_DR_PROOF_DIR": f.ProofDir,
		"CASINO_DRILL_SCRATCH_DIR": f.ScratchDir, "CASINO_CHROMIUM": chromium()}
	f.Backup, f.Manifest, _ = createdBackup(t, f.Env)
	f.snapshot(t)
	return f
}

func (f *drillFixture) snapshot(t *testing.T) {
	f.backupsBefore = folderDigest(t, f.BackupDir)
	f.productionWas = productionData(t, f.URL)
}

// drill runs 'casino dr drill --json ARGS' in-process and returns the
// drill it printed.
func (f *drillFixture) drill(t *testing.T, args ...string) (casino.Drill, string, int) {
	t.Helper()
	out, errOut, code := runCLI(t, f.Env, "", append([]string{"dr", "drill", "--json"}, args...)...)
	var d casino.Drill
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("dr drill --json: exit %d, not a drill: %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	return d, errOut, code
}

// checkAfter asserts what every drill leaves, whatever its verdict: the
// backup folder byte-identical, production's data unchanged but for the
// drills and verification rows, the row recorded as printed, the proof
// closed and verified, and no scratch target.
func (f *drillFixture) checkAfter(t *testing.T, d casino.Drill) {
	t.Helper()
	if got := folderDigest(t, f.BackupDir); got != f.backupsBefore {
		t.Errorf("the backup folder changed:\nbefore:\n%s\nafter:\n%s", f.backupsBefore, got)
	}
	if got := productionData(t, f.URL); got != f.productionWas {
		t.Errorf("production data changed beyond drills and backup_verifications:\nbefore:\n%s\nafter:\n%s", f.productionWas, got)
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, f.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Drills(ctx, 10)
	if err != nil || len(rows) == 0 {
		t.Fatalf("drills rows: %v %v", rows, err)
	}
	row := rows[0]
	for _, r := range rows { // drills run side by side: the row of this one
		if r.ID == d.ID {
			row = r
		}
	}
	if row.ID != d.ID || row.Verdict != d.Verdict || row.JournalHead != d.JournalHead || row.ProofPath != d.ProofPath || row.FinishedAt == nil || len(row.Phases) != len(d.Phases) {
		t.Errorf("drills row %+v\ndoes not record the drill printed %+v", row, d)
	}
	if d.Backup != "" {
		vs, err := db.LastVerifications(ctx)
		if v, ok := vs[d.Backup]; err != nil || !ok || v.Kind != "drill" || v.OK != (d.Verdict == casino.DrillSuccessful) || !strings.Contains(v.Detail, d.ID) {
			t.Errorf("verification of %s: %+v %v, want kind drill ok=%v naming drill %s", d.Backup, v, err, d.Verdict == casino.DrillSuccessful, d.ID)
		}
	}
	out, errOut, code := runCLI(t, f.Env, "", "dr", "verify-proof", d.ProofPath)
	if code != 0 {
		t.Errorf("verify-proof %s: exit %d\n%s\n%s", d.ProofPath, code, out, errOut)
	}
	proof, _ := os.ReadFile(d.ProofPath)
	if !bytes.Contains(proof, []byte("# DRILL PROOF")) || !bytes.Contains(proof, []byte("| status | CLOSED")) || !bytes.Contains(proof, []byte(d.JournalHead)) {
		t.Errorf("proof %s is not a closed DRILL PROOF naming head %s", d.ProofPath, d.JournalHead)
	}
	if left := f.scratchLeft(t); len(left) > 0 {
		t.Errorf("scratch left behind: %v", left)
	}
}

// scratchLeft lists what drills of this database left: scratch databases
// (PostgreSQL) or folders (SQLite), and work folders.
func (f *drillFixture) scratchLeft(t *testing.T) []string {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(f.ScratchDir, "casino-drill-*"))
	if f.Engine == sqlstore.Postgres {
		db, err := sqlstore.Open(context.Background(), testpg.WithDatabase(f.URL, "postgres")) // production's server
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		name := f.URL[strings.LastIndex(f.URL, "/")+1:]
		if i := strings.IndexByte(name, '?'); i >= 0 {
			name = name[:i]
		}
		if len(name) > 16 {
			name = name[:16] // the drill's scratch names keep 16 bytes of it
		}
		rows, err := db.QueryContext(context.Background(), "SELECT datname FROM pg_database WHERE datname LIKE ?", name+`\_\_drill\_%`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			rows.Scan(&n)
			left = append(left, n)
		}
	}
	return left
}

// folderDigest is every file under dir with its sha256 and mode.
func folderDigest(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			lines = append(lines, p+" "+err.Error())
			return nil
		}
		info, _ := de.Info()
		if de.IsDir() {
			lines = append(lines, fmt.Sprintf("%s/ %v", p, info.Mode()))
			return nil
		}
		b, _ := os.ReadFile(p)
		sum := sha256.Sum256(b)
		lines = append(lines, fmt.Sprintf("%s %v %s", p, info.Mode(), hex.EncodeToString(sum[:])))
		return nil
	})
	return strings.Join(lines, "\n")
}

// productionData renders every row of every table of the database but
// drills and backup_verifications.
func productionData(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`
	if db.Dialect() == sqlstore.Postgres {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		if n != "drills" && n != "backup_verifications" {
			tables = append(tables, n)
		}
	}
	rows.Close()
	var b strings.Builder
	for _, tb := range tables {
		rs, err := db.QueryContext(ctx, "SELECT * FROM "+tb)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rs.Columns()
		var lines []string
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rs.Scan(ptrs...)
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		rs.Close()
		sort.Strings(lines)
		fmt.Fprintf(&b, "%s (%d rows)\n%s\n", tb, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// TestDrillSucceeds: a drill on each engine (with --browser on SQLite)
// picks the newest backup, restores it into a scratch target, boots casino
// on it, passes every check, tears it down, and leaves a closed proof that
// holds every phase, a drills row and a verification record, while the
// backup folder and production's data stay as they were.
func TestDrillSucceeds(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		f := newDrillFixture(t, engine, false)
		var args []string
		if engine == sqlstore.SQLite {
			if _, err := os.Stat(chromium()); err == nil || os.Getenv("CI") == "true" {
				args = append(args, "--browser")
			} else {
				t.Logf("no Chromium at %s: the drill runs without --browser", chromium())
			}
		}
		d, errOut, code := f.drill(t, args...)
		if code != 0 || d.Verdict != casino.DrillSuccessful || d.Reason != "" {
			t.Fatalf("drill: exit %d, %s %q\n%s", code, d.Verdict, d.Reason, errOut)
		}
		if d.Backup != filepath.Base(f.Backup) || d.BackupSHA256 != f.Manifest.SHA256 || !strings.HasPrefix(d.PickReason, "latest: the newest of 1 trusted backups") {
			t.Errorf("picked %s (%s, %q), want %s", d.Backup, d.BackupSHA256, d.PickReason, filepath.Base(f.Backup))
		}
		want := []string{"select", "download", "verify", "decrypt", "restore", "migrate", "boot", "validate", "teardown"}
		var got []string
		for _, p := range d.Phases {
			got = append(got, p.Name)
			if !p.OK {
				t.Errorf("phase %s not ok: %s", p.Name, p.Detail)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("phases %v, want %v", got, want)
		}
		if d.RTOTargetSeconds != 3600 || d.RPOTargetSeconds != 3600 || d.RecoverySeconds <= 0 || d.BackupAgeSeconds <= 0 {
			t.Errorf("measures: recovery %v (target %v), backup age %v (target %v)", d.RecoverySeconds, d.RTOTargetSeconds, d.BackupAgeSeconds, d.RPOTargetSeconds)
		}
		proof, _ := os.ReadFile(d.ProofPath)
		for _, p := range want {
			if !bytes.Contains(proof, []byte("| "+p+" | ")) {
				t.Errorf("the proof's phase table has no %s", p)
			}
		}
		for _, s := range []string{"isolation check: ", "is not DATABASE_URL", "| login | **PASS**", "| rows_manifest | **PASS**", "| schema | **PASS**", "teardown: ", "verdict: SUCCESSFUL", "| RTO | "} {
			if !bytes.Contains(proof, []byte(s)) {
				t.Errorf("the proof does not hold %q", s)
			}
		}
		if len(args) > 0 && !bytes.Contains(proof, []byte("| browser | **PASS**")) {
			t.Errorf("--browser: no passed browser check in the proof")
		}
		f.checkAfter(t, d)

		// casino serve on production reads the drill back into its metrics.
		env := map[string]string{"CASINO_JWT_KEY": strings.Repeat("k", 40)}
		for k, v := range f.Env {
			env[k] = v
		}
		srv := startServe(t, env, true)
		body, err := httpGetBody(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, `casino_drill_last_verdict{verdict="SUCCESSFUL"} 1`) {
			t.Errorf("/metrics does not say the last drill SUCCESSFUL:\n%s", grepLines(body, "casino_drill_"))
		}
		for name, want := range map[string]float64{
			"casino_drill_last_duration_seconds":            d.RecoverySeconds,
			"casino_drill_last_success_timestamp_seconds":   float64(d.FinishedAt.UnixMicro()) / 1e6,
			"casino_backup_last_verified_timestamp_seconds": float64(d.FinishedAt.UnixMicro()) / 1e6,
		} {
			var got float64
			for _, l := range strings.Split(body, "\n") {
				if v, ok := strings.CutPrefix(l, name+" "); ok {
					fmt.Sscanf(v, "%g", &got)
				}
			}
			if got < want-1 || got > want+1 {
				t.Errorf("/metrics %s = %v, want %v:\n%s", name, got, want, grepLines(body, name))
			}
		}
	})
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// craftSQLiteBackup writes a signed copy of the fixture's SQLite backup
// whose database went through change first (an attacker or a bug holding
// the signing key): its manifest is rewritten to match, so only the
// drill's own checks can tell.
func craftSQLiteBackup(t *testing.T, f *drillFixture, name string, change func(path string)) string {
	t.Helper()
	raw, err := os.ReadFile(f.Backup)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	tmp := filepath.Join(t.TempDir(), "x.db")
	os.WriteFile(tmp, plain, 0o600)
	change(tmp)
	plain, _ = os.ReadFile(tmp)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	path := filepath.Join(f.BackupDir, name)
	os.WriteFile(path, gz.Bytes(), 0o600)
	m := f.Manifest
	sum := sha256.Sum256(gz.Bytes())
	m.File, m.SHA256, m.SizeBytes, m.UncompressedBytes = name, hex.EncodeToString(sum[:]), int64(gz.Len()), int64(len(plain))
	counts := map[string]int64{}
	for k, v := range m.RowCounts {
		counts[k] = v
	}
	m.RowCounts = counts
	mb, _ := json.MarshalIndent(m, "", "  ")
	os.WriteFile(casino.ManifestPath(path), mb, 0o600)
	os.WriteFile(casino.SignaturePath(path), testSign(mb), 0o600)
	return path
}

// TestDrillFailures: a drill that must fail fails with a named reason,
// leaves no scratch target, and is recorded (FAILED or TIMED_OUT) with a
// closed, verifiable proof. SQLite for every case; one PostgreSQL case
// whose copy was created before the failure proves the database is dropped.
func TestDrillFailures(t *testing.T) {
	cases := []struct {
		name    string
		engine  sqlstore.Dialect
		noOwner bool
		prepare func(t *testing.T, f *drillFixture) []string
		verdict casino.DrillVerdict
		reason  []string // the reason starts with the first and holds the others
	}{
		{name: "corrupted backup", engine: sqlstore.SQLite, prepare: func(t *testing.T, f *drillFixture) []string {
			b, _ := os.ReadFile(f.Backup)
			b[len(b)/2] ^= 0xff
			os.WriteFile(f.Backup, b, 0o600)
			return nil
		}, verdict: casino.DrillFailed, reason: []string{"verify: ", "sha256"}},
		{name: "wrong signature", engine: sqlstore.SQLite, prepare: func(t *testing.T, f *drillFixture) []string {
			other, err := keys.Generate()
			if err != nil {
				t.Fatal(err)
			}
			mb, _ := os.ReadFile(casino.ManifestPath(f.Backup))
			os.WriteFile(casino.SignaturePath(f.Backup), other.Sign(mb), 0o600)
			return []string{"--backup", filepath.Base(f.Backup)}
		}, verdict: casino.DrillFailed, reason: []string{"verify: ", "signature"}},
		{name: "restored data misses a table", engine: sqlstore.SQLite, prepare: func(t *testing.T, f *drillFixture) []string {
			p := craftSQLiteBackup(t, f, "casino_db_20200101_000000.sqlite.gz", func(path string) {
				db, err := sqlstore.Open(context.Background(), "sqlite:"+path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(context.Background(), "DROP TABLE versions"); err != nil {
					t.Fatal(err)
				}
				db.Close()
				os.Remove(path + "-wal")
				os.Remove(path + "-shm")
			})
			return []string{"--backup", filepath.Base(p)}
		}, verdict: casino.DrillFailed, reason: []string{"", "versions"}},
		{name: "timeout", engine: sqlstore.SQLite, prepare: func(t *testing.T, f *drillFixture) []string {
			return []string{"--timeout", "1ms"}
		}, verdict: casino.DrillTimedOut, reason: []string{"timeout: the drill did not finish within --timeout 1ms"}},
		{name: "target equal to DATABASE_URL", engine: sqlstore.SQLite, prepare: func(t *testing.T, f *drillFixture) []string {
			return []string{"--target", f.URL}
		}, verdict: casino.DrillFailed, reason: []string{"target_is_production: ", "is DATABASE_URL"}},
		{name: "postgres target equal to DATABASE_URL", engine: sqlstore.Postgres, prepare: func(t *testing.T, f *drillFixture) []string {
			return []string{"--target", f.URL}
		}, verdict: casino.DrillFailed, reason: []string{"target_is_production: ", "is DATABASE_URL"}},
		{name: "postgres copy without owner is dropped", engine: sqlstore.Postgres, noOwner: true, prepare: func(t *testing.T, f *drillFixture) []string {
			return nil
		}, verdict: casino.DrillFailed, reason: []string{"boot: ", "no owner"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own database, folders and scratch names
			f := newDrillFixture(t, tc.engine, tc.noOwner)
			args := tc.prepare(t, f)
			f.snapshot(t)
			d, errOut, code := f.drill(t, args...)
			if code != 1 || d.Verdict != tc.verdict {
				t.Fatalf("drill: exit %d, verdict %s (%s), want exit 1 and %s\n%s", code, d.Verdict, d.Reason, tc.verdict, errOut)
			}
			t.Logf("%s: %s", d.Verdict, d.Reason)
			if !strings.HasPrefix(d.Reason, tc.reason[0]) {
				t.Errorf("reason %q, want it to start with %q", d.Reason, tc.reason[0])
			}
			for _, s := range tc.reason[1:] {
				if !strings.Contains(d.Reason, s) {
					t.Errorf("reason %q does not name %q", d.Reason, s)
				}
			}
			if !strings.Contains(errOut, string(tc.verdict)) {
				t.Errorf("stderr does not say %s:\n%s", tc.verdict, errOut)
			}
			if last := d.Phases[len(d.Phases)-1]; last.Name != "teardown" || !last.OK {
				t.Errorf("last phase %+v, want a teardown that passed", last)
			}
			f.checkAfter(t, d)
		})
	}
}

// TestDrillKill9: a drill killed with kill -9 in mid-restore leaves its
// RUNNING row and its copy; the next drill marks the row FAILED
// (interrupted), closes its proof, removes the copy, and succeeds.
func TestDrillKill9(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		f := newDrillFixture(t, engine, false)
		env := map[string]string{"CASINO_TEST_PAUSE_AT": "loaded", "BK_DIR": t.TempDir()}
		for k, v := range f.Env {
			env[k] = v
		}
		cmd, lines, out := bkSubprocess(t, env, "dr", "drill")
		if !waitPaused(lines, "loaded") {
			cmd.Process.Kill()
			t.Fatalf("the drill never paused at loaded:\n%s", out)
		}
		// Mid-restore, production's backup lock is free: the drill locks
		// only its own target.
		prodTarget, _ := sqlstore.ParseURL(f.URL)
		lock, err := backup.AcquireLock(context.Background(), prodTarget)
		if err != nil {
			t.Errorf("production's lock while a drill restores: %v", err)
		} else {
			lock.Release()
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if len(f.scratchLeft(t)) == 0 {
			t.Fatal("the killed drill left no copy: the test would prove nothing")
		}
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, f.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		killed, err := db.Drills(ctx, 1)
		if err != nil || len(killed) != 1 || killed[0].Verdict != casino.DrillRunning {
			t.Fatalf("after kill -9: %+v %v, want one RUNNING row", killed, err)
		}

		// The killed drill's open proof is no incident for the dr commands.
		if out, errOut, code := runCLI(t, f.Env, "", "dr", "status"); code == 0 || !strings.Contains(errOut, "no open incident") {
			t.Errorf("dr status beside an interrupted drill's proof: exit %d\n%s\n%s", code, out, errOut)
		}
		d, errOut, code := f.drill(t)
		if code != 0 || d.Verdict != casino.DrillSuccessful {
			t.Fatalf("next drill: exit %d %s %q\n%s", code, d.Verdict, d.Reason, errOut)
		}
		rows, _ := db.Drills(ctx, 10)
		var old casino.Drill
		for _, r := range rows {
			if r.ID == killed[0].ID {
				old = r
			}
		}
		if old.Verdict != casino.DrillFailed || !strings.HasPrefix(old.Reason, "interrupted: ") || !strings.Contains(old.Reason, d.ID) {
			t.Errorf("the killed drill is recorded %s %q, want FAILED interrupted (cleaned by %s)", old.Verdict, old.Reason, d.ID)
		}
		proof, _ := os.ReadFile(d.ProofPath)
		if !bytes.Contains(proof, []byte("marked FAILED: interrupted")) || !bytes.Contains(proof, []byte("closed the interrupted drill's proof")) {
			t.Errorf("the proof does not record the cleanup")
		}
		if _, _, code := runCLI(t, f.Env, "", "dr", "verify-proof", old.ProofPath); code != 0 {
			t.Errorf("the interrupted drill's proof does not verify")
		}
		if b, _ := os.ReadFile(old.ProofPath); !bytes.Contains(b, []byte("| status | CLOSED")) {
			t.Errorf("the interrupted drill's proof is not closed")
		}
		f.checkAfter(t, d)
	})
}

// TestDrillRemote: with --remote the drill picks the newest backup in the
// bucket, downloads its pinned version into a private folder (the backup
// folder stays as it was), decrypts it with the age identity and succeeds.
func TestDrillRemote(t *testing.T) {
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{Versioning: true})
	f := newDrillFixture(t, sqlstore.SQLite, false)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	f.Env["CASINO_BACKUP_REMOTE"] = "s3://" + bucket + "/prod"
	f.Env["CASINO_BACKUP_RECIPIENTS"] = id.Recipient().String()
	f.Env["CASINO_BACKUP_IDENTITY"] = id.String()
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		f.Env[k] = v
	}
	if out, errOut, code := runCLI(t, f.Env, "", "backup", "create", "--remote", "--remote-only"); code != 0 {
		t.Fatalf("backup create --remote: exit %d\n%s\n%s", code, out, errOut)
	}
	f.snapshot(t)
	d, errOut, code := f.drill(t, "--remote")
	if code != 0 || d.Verdict != casino.DrillSuccessful {
		t.Fatalf("drill --remote: exit %d %s %q\n%s", code, d.Verdict, d.Reason, errOut)
	}
	if !strings.HasPrefix(d.BackupSource, "s3://"+bucket+"/prod/") || d.Backup == filepath.Base(f.Backup) || !strings.HasSuffix(d.Backup, ".age") {
		t.Errorf("picked %s from %s, want the encrypted remote-only backup from the bucket", d.Backup, d.BackupSource)
	}
	for _, p := range d.Phases {
		if p.Name == "download" && !strings.Contains(p.Detail, "pulled the pinned data version") {
			t.Errorf("download phase: %q", p.Detail)
		}
		if p.Name == "decrypt" && !strings.Contains(p.Detail, "age-encrypted") {
			t.Errorf("decrypt phase: %q", p.Detail)
		}
	}
	f.checkAfter(t, d)
}

// TestDrillCLIRefusals: flags that make no sense are usage errors (exit 2)
// before anything is recorded; a --backup that is a path, not a name in
// the backup folder, is a failed drill that names it and reads nothing
// outside the folder.
func TestDrillCLIRefusals(t *testing.T) {
	f := newDrillFixture(t, sqlstore.SQLite, false)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pick", "random-within"}, "wants a DURATION"},
		{[]string{"--pick", "random-within", "soon"}, "want a positive duration"},
		{[]string{"--pick", "oldest"}, `--pick "oldest"`},
		{[]string{"--pick", "random-within", "7d", "--backup", "x"}, "not both"},
		{[]string{"--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"--target", "mysql://db/casino"}, "--target"},
	} {
		out, errOut, code := runCLI(t, f.Env, "", append([]string{"dr", "drill"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("dr drill %v: exit %d, want a refusal naming %q\n%s\n%s", tc.args, code, tc.want, out, errOut)
		}
	}
	if got := productionData(t, f.URL); got != f.productionWas {
		t.Errorf("a refused drill changed production")
	}
	d, errOut, code := f.drill(t, "--backup", "../casino.db")
	if code != 1 || d.Verdict != casino.DrillFailed || !strings.HasPrefix(d.Reason, "pick: ") || !strings.Contains(d.Reason, "not a path") {
		t.Errorf("--backup ../casino.db: exit %d %s %q\n%s", code, d.Verdict, d.Reason, errOut)
	}
	f.checkAfter(t, d)
	// The AWS-style pick, with a flag after its window.
	d, errOut, code = f.drill(t, "--pick", "random-within", "7d", "--timeout", "5m")
	if code != 0 || d.Verdict != casino.DrillSuccessful || !strings.HasPrefix(d.PickReason, "random within 168h0m0s: drew 1 of the 1 trusted backups") {
		t.Errorf("--pick random-within 7d: exit %d %s %q (picked %s: %q)\n%s", code, d.Verdict, d.Reason, d.Backup, d.PickReason, errOut)
	}
	f.checkAfter(t, d)
}
