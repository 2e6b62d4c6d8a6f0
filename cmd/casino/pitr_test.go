package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/internal/poll"
	"casino/internal/tests3"
	"casino/pitr"
)

// TestRestoreToTimePostgres drives `casino pitr stream`, `casino pitr status`
// and `casino restore --to-time` end to end: tenants created before T are
// back after a delete, tenants created after T are not, the facts name the
// instant reached, and a time outside the window is refused naming it.
func TestRestoreToTimePostgres(t *testing.T) {
	s := startPGStream(t, nil, func(u string) { bkSeed(t, u, "before", 3) })
	dbURL, env, dir, scratch, work := s.URL, s.Env, s.Dir, s.Scratch, s.Work
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	caughtUp := func(at time.Time) { t.Helper(); s.caughtUp(t, at) }

	out, errOut, code := runCLI(t, env, "", "pitr", "status", "--json")
	var st pitr.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Window == nil || st.NewestBase == nil {
		t.Fatalf("pitr status --json: exit %d, %s %s", code, out, errOut)
	}
	if out, _, code := runCLI(t, env, "", "pitr", "status"); code != 0 || !strings.Contains(out, "window:") || !strings.Contains(out, st.NewestBase.Name) {
		t.Errorf("pitr status: exit %d:\n%s", code, out)
	}

	bkSeed(t, dbURL, "before2", 2)
	T := time.Now()
	bkSeed(t, dbURL, "after", 2)
	if _, err := db.Exec("DELETE FROM tenants WHERE slug LIKE 'before%'"); err != nil {
		t.Fatal(err)
	}
	caughtUp(time.Now())

	// Outside the window: refused, naming it, nothing changed.
	out, errOut, code = runCLI(t, env, "", "restore", "--to-time", "2001-01-01T00:00:00Z", "--yes", "--target", dbURL)
	if code == 0 || !strings.Contains(errOut, "outside the recoverable window") || !strings.Contains(errOut, st.Window.Start.UTC().Format(time.RFC3339)) {
		t.Errorf("restore to 2001: exit %d, stderr %q; want a refusal naming the window", code, errOut)
	}

	// kill -9 while the temporary server runs, while its pg_dump streams into
	// the scratch database, and right before the swap:
	// the live database stays wholly old and no temporary server survives.
	tenants := func() string { t.Helper(); return tenantSlugs(t, db) }
	damaged := tenants()
	for _, point := range []string{"pitr_recovered", "restoring", "before_swap"} {
		penv := map[string]string{"BK_DIR": work, "CASINO_TEST_PAUSE_AT": point}
		for k, v := range env {
			penv[k] = v
		}
		cmd, lines, pout := bkSubprocess(t, penv, "restore", "--to-time", T.UTC().Format(time.RFC3339Nano), "--yes", "--target", dbURL, "--terminate-connections")
		paused := false
		for l := range lines {
			if l == "paused at "+point {
				paused = true
				break
			}
		}
		if !paused {
			cmd.Wait()
			t.Fatalf("restore never paused at %s:\n%s", point, pout.String())
		}
		cmd.Process.Kill()
		cmd.Wait()
		poll.Until(t, 20*time.Second, "kill -9 at "+point+": no process left under "+scratch, func() bool { return procsUnder(scratch) == 0 })
		if got := tenants(); got != damaged {
			t.Errorf("kill -9 at %s: live tenants %q, want the old state %q", point, got, damaged)
		}
	}

	out, errOut, code = runCLI(t, env, "", "restore", "--to-time", T.UTC().Format(time.RFC3339Nano), "--yes", "--target", dbURL, "--terminate-connections", "--json")
	if code != 0 {
		t.Fatalf("restore --to-time: exit %d\n%s\n%s", code, out, errOut)
	}
	var res casino.RestoreFacts
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.PITR == nil || res.RestoreID == "" {
		t.Fatalf("restore --json: %v: %s", err, out)
	}
	if res.PITR.Mode != "target_time" || res.PITR.ReachedAt.After(T) || res.PITR.RecoveryEnd == "" || res.PITR.TargetTime == nil || !res.PITR.TargetTime.Equal(T) {
		t.Errorf("pitr facts %+v: want target_time, reached_at <= %s, a recovery end line", res.PITR, T)
	}
	if res.PITR.VerifiedWAL+len(res.PITR.UnsignedWAL) == 0 || res.PITR.TrustUnsigned || len(res.PITR.UnsignedWAL) > pitr.MaxUnsignedTail+1 {
		t.Errorf("pitr facts: %d WAL segments verified, unsigned tail %v, trust_unsigned %v; want every replayed segment accounted for, a short tail, no override", res.PITR.VerifiedWAL, res.PITR.UnsignedWAL, res.PITR.TrustUnsigned)
	}
	slugs := tenantSlugs(t, db)
	want := "before-0 before-1 before-2 before2-0 before2-1"
	if got := slugs; got != want {
		t.Errorf("tenants after restore to T: %q, want %q", got, want)
	}
	// The audit log is append-only: events after T (the incident's trail)
	// are carried into the restored database.
	var trail int
	if err := db.QueryRow("SELECT count(*) FROM audit_events WHERE target LIKE 'after-%'").Scan(&trail); err != nil || trail != 2 {
		t.Errorf("audit events written after T in the restored database: %d (err %v), want 2", trail, err)
	}
	if !res.Backup.SnapshotAt.Equal(T) || res.Carried == nil || res.Carried.AuditEvents < 2 {
		t.Errorf("facts: snapshot_at %s (want T %s), carried %+v", res.Backup.SnapshotAt, T, res.Carried)
	}
	// One pass: what was restored is the stream itself, vouched for by the
	// key that signed its base backup, and the dump that streamed from the
	// temporary instance into the loader left its sha256.
	if res.Backup.KeyFingerprint != testBackupKeys.Signer.Public().Fingerprint() || res.Backup.Location != dir || !strings.HasPrefix(res.Backup.Name, "pitr-") || len(res.Backup.SHA256) != 64 {
		t.Errorf("facts backup %+v: want the stream %s, its signing key %s, the streamed sha256", res.Backup, dir, testBackupKeys.Signer.Public().Fingerprint())
	}
	if ents, _ := os.ReadDir(scratch); len(ents) != 0 {
		t.Errorf("scratch folder not emptied: %v", ents)
	}
}

// TestRestoreToTimeSQLite: casino serve with CASINO_PITR=litestream
// replicates to a folder; restore --to-time T brings back the tenants synced
// by T, not those written after, through the ordinary restore steps; the
// serve settings refuse what Litestream cannot do safely.
func TestRestoreToTimeSQLite(t *testing.T) {
	work := t.TempDir()
	path := filepath.Join(work, "casino.db")
	replica := "file://" + filepath.Join(work, "replica")
	env := map[string]string{"DATABASE_URL": "sqlite:" + path, "CASINO_PITR": "litestream", "CASINO_PITR_REPLICA": replica,
		"CASINO_BACKUP_DIR": filepath.Join(work, "backups"), "CASINO_PITR_SCRATCH_DIR": work}

	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CASINO_PITR": "litestream"}, "CASINO_PITR_REPLICA=file:///path"},
		{map[string]string{"CASINO_PITR": "yes"}, "must be off, litestream (SQLite) or wal (PostgreSQL)"},
		{map[string]string{"CASINO_PITR": "wal"}, "for SQLite use litestream"},
		{map[string]string{"CASINO_PITR_REPLICA": "file://relative/x"}, "want file:///absolute/path"},
		{map[string]string{"CASINO_PITR_REPLICA": "s3://bucket/db", "CASINO_S3_CA_FILE": "/etc/ca.pem"}, "cannot use a custom CA"},
		{map[string]string{"CASINO_PITR_REPLICA": "s3://bucket/db"}, "no client-side encryption"},
		{map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1/db"}, "casino pitr stream"},
	} {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		for k, v := range c.env {
			e[k] = v
		}
		if c.env["CASINO_PITR"] == "litestream" {
			delete(e, "CASINO_PITR_REPLICA")
		}
		_, errOut, code := runCLI(t, e, "", "serve", "--print-config")
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("serve with %v: exit %d, %q; want exit 2 naming %q", c.env, code, errOut, c.want)
		}
	}

	srv := startServe(t, env, true)
	bkSeed(t, "sqlite:"+path, "before", 3)
	synced := func(at time.Time) {
		t.Helper()
		var err error
		if !poll.Wait(30*time.Second, func() bool {
			var w pitr.Window
			w, err = pitr.LitestreamWindow(context.Background(), pitr.Replica{URL: replica})
			return err == nil && w.End.After(at)
		}) {
			t.Fatalf("replica did not sync past %s: %v\n%s", at, err, srv.Stdout.String())
		}
	}
	// Litestream stamps changes when they sync: T is after "before" synced.
	synced(time.Now())
	T := time.Now()
	bkSeed(t, "sqlite:"+path, "after", 2)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM tenants WHERE slug LIKE 'before%'"); err != nil {
		t.Fatal(err)
	}
	synced(time.Now())
	// serve's /metrics carries the replica's lag: caught up, under a second.
	body, err := httpGetBody(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	lagRE := regexp.MustCompile(`(?m)^` + pitr.LitestreamLagMetric + ` ([0-9.e+-]+)$`)
	if m := lagRE.FindStringSubmatch(body); m == nil {
		t.Errorf("serve's /metrics has no %s", pitr.LitestreamLagMetric)
	} else if v, err := strconv.ParseFloat(m[1], 64); err != nil || v < 0 || v >= 2 {
		t.Errorf("%s = %s, want 0 <= lag < 2s while the replica keeps up", pitr.LitestreamLagMetric, m[1])
	}
	if err := srv.Stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	db.Close() // a restore refuses a database open elsewhere

	liveTenants := func() string {
		t.Helper()
		ldb, err := sql.Open("sqlite", path) // anew: a swap renames a new file in
		if err != nil {
			t.Fatal(err)
		}
		defer ldb.Close()
		return tenantSlugs(t, ldb)
	}
	damaged := liveTenants()

	// Outside the replica's window: refused, naming the window, nothing changed.
	w, err := pitr.LitestreamWindow(context.Background(), pitr.Replica{URL: replica})
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, env, "", "restore", "--to-time", "2001-01-01T00:00:00Z", "--yes")
	if code == 0 || !strings.Contains(errOut, "outside the recoverable window") || !strings.Contains(errOut, w.Start.UTC().Format(time.RFC3339)) {
		t.Errorf("restore to 2001: exit %d, stderr %q; want a refusal naming the window starting %s", code, errOut, w.Start.UTC().Format(time.RFC3339))
	}
	// kill -9 at each step of the restore: the live file is wholly the old
	// one until the swap, and wholly the restored one after it.
	for _, point := range []string{"verified", "loaded", "before_swap", "after_swap"} {
		penv := map[string]string{"BK_DIR": work, "CASINO_TEST_PAUSE_AT": point}
		for k, v := range env {
			penv[k] = v
		}
		cmd, lines, pout := bkSubprocess(t, penv, "restore", "--to-time", T.UTC().Format(time.RFC3339Nano), "--yes")
		if !waitPaused(lines, point) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("restore never paused at %s:\n%s", point, pout.String())
		}
		cmd.Process.Kill()
		cmd.Wait()
		if got := liveTenants(); got != damaged && got != "before-0 before-1 before-2" {
			t.Errorf("kill -9 at %s: live tenants %q, want wholly old %q or wholly restored", point, got, damaged)
		}
	}

	out, errOut, code := runCLI(t, env, "", "restore", "--to-time", T.UTC().Format(time.RFC3339Nano), "--yes", "--json")
	if code != 0 {
		t.Fatalf("restore --to-time: exit %d\n%s\n%s", code, out, errOut)
	}
	var res casino.RestoreFacts
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.PITR == nil || res.PITR.Mode != "target_time" || res.PITR.ReachedAt.After(T) {
		t.Fatalf("restore --json: %v: %s", err, out)
	}
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	slugs := tenantSlugs(t, db)
	if got, want := slugs, "before-0 before-1 before-2"; got != want {
		t.Errorf("tenants after restore to T: %q, want %q", got, want)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_litestream%' ESCAPE '\\'").Scan(&n)
	if n != 0 {
		t.Errorf("the restored database holds %d _litestream tables", n)
	}
	// The audit events written after T are carried over.
	if err := db.QueryRow("SELECT count(*) FROM audit_events WHERE target LIKE 'after-%'").Scan(&n); err != nil || n != 2 {
		t.Errorf("audit events written after T in the restored database: %d (err %v), want 2", n, err)
	}
}

// procsUnder counts processes whose command line names a path under dir.
func procsUnder(dir string) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir+"/") {
			n++
		}
	}
	return n
}

// TestPITRStreamNeedsSigningKey: what the stream writes is signed so that a
// recovery can refuse a changed file; without a key it does not start, and
// with a remote it does not start without age recipients.
func TestPITRStreamNeedsSigningKey(t *testing.T) {
	env := map[string]string{"CASINO_BACKUP_SIGNING_KEY": "", "CASINO_PITR_DIR": t.TempDir(), "CASINO_PITR_REPLICATION_URL": "postgres://repl@127.0.0.1:1/postgres"}
	_, errOut, code := runCLI(t, env, "", "pitr", "stream")
	if code != 2 || !strings.Contains(errOut, "no backup signing key") {
		t.Errorf("pitr stream without a signing key: exit %d, %q", code, errOut)
	}
	env["CASINO_BACKUP_SIGNING_KEY"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
	if _, errOut, code := runCLI(t, env, "", "pitr", "stream"); code != 2 || !strings.Contains(errOut, "CASINO_BACKUP_SIGNING_KEY") || strings.Contains(errOut, "not a key") {
		t.Errorf("pitr stream with a bad key: exit %d, %q", code, errOut)
	}
	// A remote gets the WAL encrypted: no recipients, no stream.
	env["CASINO_BACKUP_SIGNING_KEY"] = testBackupKey
	env["CASINO_BACKUP_REMOTE"] = "s3://casino-wal/prod"
	env["CASINO_S3_ENDPOINT"], env["CASINO_S3_INSECURE"] = "http://127.0.0.1:1", "1"
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "casino", "casino-secret-not-used"
	if _, errOut, code := runCLI(t, env, "", "pitr", "stream"); code != 2 || !strings.Contains(errOut, "set CASINO_BACKUP_RECIPIENTS") {
		t.Errorf("pitr stream to a remote without recipients: exit %d, %q", code, errOut)
	}
}

// TestRestoreToTimeSQLiteS3 is Litestream replicating to S3 (versitygw):
// refused without --allow-plaintext-remote (Litestream cannot encrypt) and
// with CASINO_S3_CA_FILE (its client takes no custom CA); with the machine's
// AWS_CA_BUNDLE set, which the AWS SDK refuses beside Litestream's HTTP
// client, it replicates anyway and leaves the variable as it was; restore
// --to-time T from the bucket brings back what had synced by T.
func TestRestoreToTimeSQLiteS3(t *testing.T) {
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{})
	t.Setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt") // as this machine and many CI images have it
	work := t.TempDir()
	path := filepath.Join(work, "casino.db")
	replica := "s3://" + bucket + "/casino-db"
	env := map[string]string{"DATABASE_URL": "sqlite:" + path, "CASINO_PITR": "litestream", "CASINO_PITR_REPLICA": replica,
		"CASINO_BACKUP_DIR": filepath.Join(work, "backups"), "CASINO_PITR_SCRATCH_DIR": work}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	delete(env, "AWS_CA_BUNDLE") // the process's own is the one the SDK reads
	if _, errOut, code := runCLI(t, env, "", "serve", "--print-config"); code != 2 || !strings.Contains(errOut, "no client-side encryption") || !strings.Contains(errOut, "--allow-plaintext-remote") {
		t.Errorf("serve with an s3 replica, no --allow-plaintext-remote: exit %d, %q", code, errOut)
	}
	env["CASINO_PITR_ALLOW_PLAINTEXT_REMOTE"] = "1"
	withCA := map[string]string{"CASINO_S3_CA_FILE": "/etc/ssl/certs/ca-certificates.crt"}
	for k, v := range env {
		withCA[k] = v
	}
	if _, errOut, code := runCLI(t, withCA, "", "serve", "--print-config"); code != 2 || !strings.Contains(errOut, "cannot use a custom CA") {
		t.Errorf("serve with an s3 replica and CASINO_S3_CA_FILE: exit %d, %q", code, errOut)
	}
	rep := pitr.Replica{URL: replica, Getenv: func(k string) string { return env[k] }}
	synced := func(at time.Time) {
		t.Helper()
		// The window's end read from an S3 replica moves with Litestream's
		// level-1 compaction, every 30 s: a 30 s deadline raced it.
		poll.Until(t, 75*time.Second, "the S3 replica to sync past "+at.Format(time.RFC3339Nano), func() bool {
			w, err := pitr.LitestreamWindow(context.Background(), rep)
			return err == nil && w.End.After(at)
		})
	}

	srv2 := startServe(t, env, true)
	bkSeed(t, "sqlite:"+path, "before", 3)
	synced(time.Now())
	T := time.Now()
	bkSeed(t, "sqlite:"+path, "after", 2)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM tenants WHERE slug LIKE 'before%'"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	synced(time.Now())
	if err := srv2.Stop(t); err != nil {
		t.Fatalf("serve: %v\n%s", err, srv2.Stdout.String())
	}
	if got := os.Getenv("AWS_CA_BUNDLE"); got != "/etc/ssl/certs/ca-certificates.crt" {
		t.Errorf("AWS_CA_BUNDLE is %q after replication, want it left as it was", got)
	}
	out, errOut, code := runCLI(t, env, "", "restore", "--to-time", T.UTC().Format(time.RFC3339Nano), "--yes", "--json")
	if code != 0 {
		t.Fatalf("restore --to-time from S3: exit %d\n%s\n%s", code, out, errOut)
	}
	var res casino.RestoreFacts
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.PITR == nil || res.PITR.Mode != "target_time" || res.PITR.Source != replica || res.PITR.ReachedAt.After(T) {
		t.Fatalf("restore --json: %v: %s", err, out)
	}
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	slugs := tenantSlugs(t, db)
	if got, want := slugs, "before-0 before-1 before-2"; got != want {
		t.Errorf("tenants after restore to T from S3: %q, want %q", got, want)
	}
}

// tenantSlugs lists db's tenant slugs in order, space-separated.
func tenantSlugs(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SELECT slug FROM tenants ORDER BY slug")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var slugs []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		slugs = append(slugs, s)
	}
	return strings.Join(slugs, " ")
}
