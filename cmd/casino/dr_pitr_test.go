package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"casino"
	"casino/dr"
	"casino/internal/poll"
	"casino/internal/testpg"
	"casino/pitr"
	"casino/sqlstore"
)

// TestDRScenarioBWithPITRSQLite is a whole Scenario B incident on a SQLite
// deployment with Litestream: tenants are written and replicated, the damage
// (a tenant's rows deleted, more written) starts at impact_start; declare
// records PITR in force and the replica's window; the restore --to-time
// impact_start runs through dr run; a backend on the restored data passes
// validate; close measures the RPO from pitr.reached_at against the PITR
// target (1m), and says which configuration chose it.
func TestDRScenarioBWithPITRSQLite(t *testing.T) {
	f := newDRFixture(t)
	path := filepath.Join(f.Dir, "casino.db")
	replica := "file://" + filepath.Join(f.Dir, "replica")
	serveEnv := map[string]string{"DATABASE_URL": "sqlite:" + path, "CASINO_OWNER_PASSWORD": testOwnerPassword,
		"CASINO_PITR": "litestream", "CASINO_PITR_REPLICA": replica}
	// dr run's restore inherits the process environment, as in an
	// operator's shell.
	for k, v := range map[string]string{"DATABASE_URL": "sqlite:" + path, "CASINO_OWNER_PASSWORD": testOwnerPassword,
		"CASINO_PITR": "litestream", "CASINO_PITR_REPLICA": replica, "CASINO_BACKUP_DIR": filepath.Join(f.Dir, "backups"),
		"CASINO_PITR_SCRATCH_DIR": f.Dir} {
		t.Setenv(k, v)
		f.Env[k] = v
	}
	synced := func(at time.Time) {
		t.Helper()
		poll.Until(t, 30*time.Second, "the replica to sync past "+at.Format(time.RFC3339Nano), func() bool {
			w, err := pitr.LitestreamWindow(context.Background(), pitr.Replica{URL: replica})
			return err == nil && w.End.After(at)
		})
	}

	srv := startServe(t, serveEnv, true)
	tok := apiLogin(t, srv.URL, "admin@casino.com", testOwnerPassword)
	for _, slug := range []string{"acme", "bell", "crow"} {
		apiPost(t, srv.URL+"/api/v1/tenants", tok, map[string]string{"name": slug, "slug": slug}, nil)
	}
	synced(time.Now())
	impact := time.Now().UTC()
	// The damage: a tenant's rows deleted by a bad write, and business as
	// usual after it.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM tenants WHERE slug = 'bell'"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	apiPost(t, srv.URL+"/api/v1/tenants", tok, map[string]string{"name": "late", "slug": "late"}, nil)
	synced(time.Now())

	out := f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "Ines", "--comms", "Carl", "--impact-start", impact.Format(time.RFC3339Nano))
	if !strings.Contains(out, "PITR litestream (CASINO_PITR) from "+replica+", window ") {
		t.Errorf("declare does not record the configuration and window:\n%s", out)
	}
	f.mustDR(t, "scenario", "B", "--reason", "tenant bell deleted", "--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
	// contain: the backend stops (what replicas=0 does).
	if err := srv.Stop(t); err != nil {
		t.Fatal(err)
	}
	rf := filepath.Join(f.Dir, "restore.json")
	f.mustDR(t, "run", "--result-file", rf, "--", casinoBinary(t), "restore", "--to-time", impact.Format(time.RFC3339Nano), "--yes", "--json", "--result-file", rf)

	// The backend on the restored data. Replication stays off here: the
	// restored file starts a new history, and a new replica is the
	// runbook's next step, not this test's.
	srv = startServe(t, map[string]string{"DATABASE_URL": "sqlite:" + path, "CASINO_OWNER_PASSWORD": testOwnerPassword}, true)
	f.mustDR(t, "validate", "--url", srv.URL, "--checks", "health,ready,login,is_owner,data")
	var list struct{ Tenants []struct{ Slug string } }
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+apiLogin(t, srv.URL, "admin@casino.com", testOwnerPassword))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	var slugs []string
	for _, tn := range list.Tenants {
		slugs = append(slugs, tn.Slug)
	}
	if got := strings.Join(slugs, " "); !strings.Contains(got, "bell") || strings.Contains(got, "late") {
		t.Errorf("tenants after the restore to impact_start: %q, want bell back and late absent", got)
	}

	out = f.mustDR(t, "close", "--targets", filepath.Join(f.Repo, "docs/ops/dr_targets.json"))
	if !strings.Contains(out, "targets: scenario B with PITR (PITR litestream (CASINO_PITR)") {
		t.Errorf("close does not name the declared configuration:\n%s", out)
	}
	m := regexp.MustCompile(`RPO (\S+), target 1m0s: MET|RPO (\S+), target 1m: MET`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("close: want an RPO under the PITR target 1m, MET:\n%s", out)
	}
	// The close entry: RPO measured from pitr.reached_at, within seconds.
	j, _ := filepath.Glob(filepath.Join(f.ProofDir, "*.journal.jsonl"))
	if len(j) != 1 {
		t.Fatalf("journals: %v", j)
	}
	b, _ := os.ReadFile(j[0])
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var last struct {
		Type string         `json:"type"`
		Data dr.CloseReport `json:"data"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Type != dr.TypeClose {
		t.Fatalf("last journal entry: %v %s", err, lines[len(lines)-1])
	}
	rpo := last.Data.RPO
	if !strings.Contains(rpo.Basis, "pitr.reached_at") || rpo.Seconds > 5 || rpo.Target != "1m" {
		t.Errorf("RPO %+v: want from pitr.reached_at, at most a few seconds, target 1m", rpo)
	}
	proof, _ := os.ReadFile(filepath.Join(f.ProofDir, listProof(t, f.ProofDir)))
	if !strings.Contains(string(proof), "- recovery target: "+impact.Format(time.RFC3339Nano)+"; replay stopped at the target\n") ||
		!strings.Contains(string(proof), "- time reached (last recovered change): ") || !strings.Contains(string(proof), "- recovered from: \""+replica+"\"\n") {
		t.Errorf("the proof does not show the point-in-time facts:\n%s", proof)
	}
	t.Logf("Scenario B with PITR (SQLite, Litestream): RPO %s (%.3fs), target %s; RTO %s", rpo.Value, rpo.Seconds, rpo.Target, last.Data.RTO.Value)
}

// TestDRRecordPITRExternal: a point-in-time recovery run by CloudNativePG
// or pgBackRest is recorded with dr record-pitr: the recovered database's
// restore_id and row counts become validate's expectation, and close
// measures the RPO from --reached-at against the PITR target declared.
// Impossible records are refused.
func TestDRRecordPITRExternal(t *testing.T) {
	f := newDRFixture(t)
	recovered := testpg.NewDatabase(t) // what the CNPG Cluster's bootstrap.recovery produced
	bkSeed(t, recovered, "kept", 2)
	impact := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Second)
	f.Env["CASINO_OWNER_PASSWORD"] = testOwnerPassword
	f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b", "--impact-start", impact.Format(time.RFC3339), "--pitr", "wal", "--pitr-dir", filepath.Join(f.Dir, "nowhere"))
	f.mustDR(t, "scenario", "B", "--reason", "rows deleted", "--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
	target := impact.Add(-time.Second)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tool", "barman"}, `--tool "barman"`},
		{[]string{"--tool", "cnpg", "--reached-at", target.Add(time.Second).Format(time.RFC3339)}, "is after --target-time"},
		{[]string{"--tool", "cnpg"}, "--target-time and --reached-at are required"},
		{[]string{"--tool", "cnpg", "--reached-at", target.Add(-3 * time.Second).Format(time.RFC3339),
			"--recovery-end", "last completed transaction was at log time " + target.Add(-time.Second).Format("2006-01-02 15:04:05") + "+00"}, "pitr.recovery_end says the last completed transaction was at"},
		{[]string{"--tool", "cnpg", "--reached-at", target.Add(-3 * time.Second).Format(time.RFC3339)}, "--database-url names the recovered database"},
	} {
		args := append([]string{"record-pitr", "--target-time", target.Format(time.RFC3339)}, c.args...)
		if _, errOut, code := f.dr(t, args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("dr %v: exit %d, %q; want exit 2 naming %q", args, code, errOut, c.want)
		}
	}
	out := f.mustDR(t, "record-pitr", "--tool", "cnpg", "--source", "cluster casino-db-restore from s3://backups/cnpg",
		"--target-time", target.Format(time.RFC3339), "--reached-at", target.Add(-3*time.Second).Format(time.RFC3339), "--database-url", recovered,
		"--recovery-end", "recovery stopping before commit of transaction 812, time 2026-12-02 03:07:11.2+00")
	if !strings.Contains(out, "recorded cnpg point-in-time recovery") {
		t.Errorf("record-pitr: %s", out)
	}
	srv := startServe(t, map[string]string{"DATABASE_URL": recovered, "CASINO_OWNER_PASSWORD": testOwnerPassword}, true)
	f.mustDR(t, "validate", "--url", srv.URL, "--checks", "health,ready,login,is_owner,data")
	out = f.mustDR(t, "close", "--targets", filepath.Join(f.Repo, "docs/ops/dr_targets.json"))
	if !strings.Contains(out, "RPO 4s, target 1m: MET") || !strings.Contains(out, "with PITR (PITR wal (--pitr)") {
		t.Errorf("close after a recorded CNPG recovery: want RPO 4s against the PITR target 1m:\n%s", out)
	}
	proof, _ := os.ReadFile(filepath.Join(f.ProofDir, listProof(t, f.ProofDir)))
	if !strings.Contains(string(proof), "restored `cnpg point-in-time recovery` (facts from dr record-pitr --tool cnpg)") {
		t.Errorf("the proof does not show the recorded recovery")
	}
	j, _ := filepath.Glob(filepath.Join(f.ProofDir, "*.journal.jsonl"))
	if b, _ := os.ReadFile(j[0]); !strings.Contains(string(b), "recovery stopping before commit of transaction 812") {
		t.Errorf("the journal does not hold the recovery end line")
	}
}

// TestDrillToTimeSQLite: dr drill --to-time T rehearses a point-in-time
// recovery: the select phase recovers the Litestream replica to T into a
// signed scratch backup, the drill verifies, restores, boots and validates
// it like any backup, the copy holds what had synced by T and nothing
// written after, the PITR targets apply, and production and its backup
// folder are untouched but for the drill's rows.
func TestDrillToTimeSQLite(t *testing.T) {
	f := newDrillFixture(t, sqlstore.SQLite, false)
	path := strings.TrimPrefix(f.URL, "sqlite:")
	replica := "file://" + filepath.Join(t.TempDir(), "replica")
	ctx := context.Background()
	ls, err := pitr.StartLitestream(ctx, pitr.LitestreamOptions{DBPath: path, Replica: pitr.Replica{URL: replica}})
	if err != nil {
		t.Fatal(err)
	}
	synced := func(at time.Time) {
		t.Helper()
		poll.Until(t, 30*time.Second, "the replica to sync past "+at.Format(time.RFC3339Nano), func() bool {
			w, err := pitr.LitestreamWindow(ctx, pitr.Replica{URL: replica})
			return err == nil && w.End.After(at)
		})
	}
	synced(time.Now())
	T := time.Now()
	bkSeed(t, f.URL, "after", 1)
	synced(time.Now())
	if err := ls.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.snapshot(t) // production as the drill finds it
	if _, errOut, code := runCLI(t, f.Env, "", "dr", "drill", "--to-time", T.UTC().Format(time.RFC3339Nano), "--backup", "x.sql.gz"); code != 2 || !strings.Contains(errOut, "without --backup") {
		t.Errorf("--to-time with --backup: exit %d, %s", code, errOut)
	}
	d, errOut, code := f.drill(t, "--to-time", T.UTC().Format(time.RFC3339Nano), "--pitr-replica", replica)
	if code != 0 || d.Verdict != casino.DrillSuccessful {
		t.Fatalf("drill --to-time: exit %d, %s %q\n%s", code, d.Verdict, d.Reason, errOut)
	}
	if !strings.HasPrefix(d.PickReason, "point in time: recovered "+replica+" to "+T.UTC().Format(time.RFC3339Nano)+" (target_time)") {
		t.Errorf("pick reason %q", d.PickReason)
	}
	if d.RPOTargetSeconds != 60 || d.BackupSnapshotAt == nil || !d.BackupSnapshotAt.Equal(T.UTC()) {
		t.Errorf("RPO target %v (want the PITR target 60s), snapshot %v (want T %s)", d.RPOTargetSeconds, d.BackupSnapshotAt, T.UTC())
	}
	for _, p := range d.Phases {
		if !p.OK {
			t.Errorf("phase %s not ok: %s", p.Name, p.Detail)
		}
	}
	// The drilled copy had the tenants of T: its manifest's counts.
	proof, _ := os.ReadFile(d.ProofPath)
	if !strings.Contains(string(proof), "| rows_manifest | **PASS**") || !strings.Contains(string(proof), "point in time: recovered") {
		t.Errorf("the proof lacks the data check or the point-in-time pick")
	}
	f.checkAfter(t, d)
	t.Logf("drill --to-time: recovery %.2fs, backup age %.2fs (RPO exposure) against %vs", d.RecoverySeconds, d.BackupAgeSeconds, d.RPOTargetSeconds)
}

// pgStream is a private PostgreSQL cluster with a REPLICATION role, and
// `casino pitr stream` writing its folder in-process for the whole test.
type pgStream struct {
	Cluster *testpg.Cluster
	URL     string // production: a database on the cluster
	Dir     string // the stream folder (CASINO_PITR_DIR)
	Scratch string // CASINO_PITR_SCRATCH_DIR, reachable by the temporary server's user
	Work    string // a private folder; CASINO_BACKUP_DIR is Work/backups
	Env     map[string]string
	out     *syncBuffer
	stop    func()
}

// startPGStream starts the stream, with extra added to its environment
// (nil: none), and waits until it has a base backup and has caught up. It is
// stopped (and must exit cleanly) at Stop or when the test ends. seed, when
// non-nil, runs on production before the stream starts.
func startPGStream(t *testing.T, extra map[string]string, seed func(url string)) *pgStream {
	t.Helper()
	c := testpg.NewCluster(t)
	s := &pgStream{Cluster: c, URL: c.NewDatabase(), Work: t.TempDir(), out: &syncBuffer{}}
	if seed != nil {
		seed(s.URL)
	}
	db, err := sql.Open("pgx", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE ROLE casino_repl LOGIN REPLICATION"); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s.URL)
	u.User = url.User("casino_repl")
	u.Path = "/postgres" // the heartbeat's connection stays off the casino database
	s.Dir = filepath.Join(s.Work, "pitr")
	if s.Scratch, err = os.MkdirTemp("", "casino-pitr-test-"); err != nil {
		t.Fatal(err)
	}
	os.Chmod(s.Scratch, 0o711) // reachable by the temporary server's user
	t.Cleanup(func() { os.RemoveAll(s.Scratch) })
	s.Env = map[string]string{"CASINO_PITR_DIR": s.Dir, "CASINO_PITR_REPLICATION_URL": u.String(), "CASINO_PITR_SCRATCH_DIR": s.Scratch,
		"CASINO_BACKUP_DIR": filepath.Join(s.Work, "backups"), "CASINO_BACKUP_SIGNING_KEY": testBackupKey,
		"CASINO_BACKUP_VERIFY_KEY": string(testBackupKeys.Signer.Public().PEM())}
	for k, v := range extra {
		s.Env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var errOut syncBuffer
	go func() {
		done <- run(ctx, []string{"pitr", "stream"}, envFunc(s.Env), strings.NewReader(""), s.out, &errOut)
	}()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("pitr stream: %v\n%s", err, errOut.String())
			}
		})
	}
	t.Cleanup(s.stop)
	s.caughtUp(t, time.Now())
	return s
}

// Stop stops the stream and waits for it to exit.
func (s *pgStream) Stop() { s.stop() }

// caughtUp waits until the stream folder holds every commit up to at.
func (s *pgStream) caughtUp(t *testing.T, at time.Time) {
	t.Helper()
	if !poll.Wait(90*time.Second, func() bool {
		st, err := pitr.ReadStatus(s.Dir, time.Now())
		return err == nil && st.Window != nil && st.CaughtUpAt.After(at)
	}) {
		t.Fatalf("the stream did not catch up past %s:\n%s", at.Format(time.RFC3339Nano), s.out.String())
	}
}

// badRequest finds the first request of route in a JSON request log, as
// docs/ops/pitr.md's jq line does, and returns its request_id and when it
// started: ts is when the line was written (the response's end), so the
// request began duration_ms earlier.
func badRequest(t *testing.T, logPath, route string) (id string, started time.Time) {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		var ev struct {
			TS         time.Time `json:"ts"`
			Event      string    `json:"event"`
			RequestID  string    `json:"request_id"`
			Route      string    `json:"route"`
			DurationMS float64   `json:"duration_ms"`
		}
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Event == "request" && ev.Route == route {
			return ev.RequestID, ev.TS.Add(-time.Duration(ev.DurationMS * float64(time.Millisecond)))
		}
	}
	t.Fatalf("no %s request in %s", route, logPath)
	return "", time.Time{}
}

// TestDRScenarioBWithPITRPostgres is Scenario B on a PostgreSQL deployment
// with `casino pitr stream` running, one stream for the whole test.
//
// First two drills start side by side: dr drill --to-time T rehearses a
// point-in-time recovery into a scratch database (its proof records the
// target and the time reached, the copy holds what was committed by T),
// and a drill of the newest backup runs beside it; each gets its own
// scratch database, and production is untouched but for the drills' rows.
//
// Then the incident: a bad admin write (tenant bell renamed through the
// API) and business as usual after it. The impact start is the bad
// request's start, found in the backend's JSON log and confirmed by its
// request_id in the audit log; T is one second before it (docs/ops/pitr.md).
// declare --pitr wal records PITR on; contain stops the local backend;
// dr run journals casino restore --to-time T; restore-traffic brings the
// backend back; validate passes on the restored data (bell back, the later
// tenant gone); close measures the RPO (impact start minus the last
// recovered commit) against the PITR target of docs/ops/dr_targets.json,
// chosen by the declared configuration, and the proof shows the PITR facts.
func TestDRScenarioBWithPITRPostgres(t *testing.T) {
	f := newDRFixture(t)
	s := startPGStream(t, nil, nil)
	for k, v := range s.Env { // dr run's restore inherits the process environment
		t.Setenv(k, v)
	}
	t.Setenv("DATABASE_URL", s.URL)
	// The backend: a real process with its JSON log in run/backend.log.
	// Its first start migrates the database and creates the owner.
	lb := startLocalBackend(t, f, casinoBinary(t), "DATABASE_URL="+s.URL)

	// The drills.
	df := newDrillFixtureOn(t, sqlstore.Postgres, s.URL, true)
	for k, v := range s.Env {
		if k != "CASINO_BACKUP_DIR" {
			df.Env[k] = v
		}
	}
	s.caughtUp(t, time.Now())
	T1 := time.Now().UTC()
	bkSeed(t, s.URL, "after-t1", 1)
	s.caughtUp(t, time.Now())
	df.snapshot(t)
	type drillRun struct {
		d      casino.Drill
		errOut string
		code   int
	}
	runs := make(chan drillRun, 2)
	for _, args := range [][]string{{"--to-time", T1.Format(time.RFC3339Nano), "--pitr-dir", s.Dir}, {"--backup", filepath.Base(df.Backup)}} {
		go func() {
			out, errOut, code := runCLI(t, df.Env, "", append([]string{"dr", "drill", "--json"}, args...)...)
			var d casino.Drill
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				errOut += "\nnot a drill on stdout: " + out
			}
			runs <- drillRun{d, errOut, code}
		}()
	}
	var pitrDrill casino.Drill
	var drills []casino.Drill
	var scratches []string
	for range 2 {
		r := <-runs
		if r.code != 0 || r.d.Verdict != casino.DrillSuccessful {
			t.Fatalf("drill %s: exit %d, %s %q\n%s", r.d.ID, r.code, r.d.Verdict, r.d.Reason, r.errOut)
		}
		drills, scratches = append(drills, r.d), append(scratches, r.d.Scratch)
		if r.d.ToTime != nil {
			pitrDrill = r.d
		}
	}
	for _, d := range drills {
		df.checkAfter(t, d)
	}
	if scratches[0] == scratches[1] || !strings.Contains(scratches[0], "__drill_") {
		t.Errorf("the two drills' scratch databases: %v, want two", scratches)
	}
	d := pitrDrill
	if d.ToTime == nil || !d.ToTime.Equal(T1) || d.BackupSnapshotAt == nil || !d.BackupSnapshotAt.Equal(T1) || d.RPOTargetSeconds != 60 ||
		!strings.HasPrefix(d.PickReason, "point in time: recovered "+s.Dir+" to "+T1.Format(time.RFC3339Nano)+" (target_time)") {
		t.Errorf("drill --to-time: to_time %v, snapshot %v (want T %s), RPO target %v (want the PITR target 60s), pick %q", d.ToTime, d.BackupSnapshotAt, T1.Format(time.RFC3339Nano), d.RPOTargetSeconds, d.PickReason)
	}
	proof, _ := os.ReadFile(d.ProofPath)
	reached := regexp.MustCompile(`- time reached \(last recovered change\): (\S+)\n`).FindSubmatch(proof)
	var at time.Time
	if reached != nil {
		at, _ = time.Parse(time.RFC3339Nano, string(reached[1]))
	}
	if !strings.Contains(string(proof), "- recovery target: "+T1.Format(time.RFC3339Nano)+"; replay stopped at the target\n") || at.IsZero() || at.After(T1) ||
		!strings.Contains(string(proof), "- recovery end line: \"last completed transaction was at log time") {
		t.Errorf("the drill proof does not record the target %s and a time reached at or before it (%v):\n%s", T1.Format(time.RFC3339Nano), at, proof)
	}
	// The drilled copy held the tenants committed by T1 (3), not the one after.
	if !strings.Contains(string(proof), " tenants=3") {
		t.Errorf("the drilled copy's row counts do not show the 3 tenants committed by T1")
	}

	// The incident.
	f.Env["CASINO_OWNER_PASSWORD"] = testOwnerPassword
	tok := apiLogin(t, lb.URL, "admin@casino.com", testOwnerPassword)
	var bell casino.Tenant
	for _, slug := range []string{"acme", "bell", "crow"} {
		var tn casino.Tenant
		apiPost(t, lb.URL+"/api/v1/tenants", tok, map[string]string{"name": slug, "slug": slug}, &tn)
		if slug == "bell" {
			bell = tn
		}
	}
	lastGood := time.Now()
	// Quiet for more than the second T keeps from the bad write, waited
	// for on the stream.
	s.caughtUp(t, lastGood.Add(1500*time.Millisecond))
	if a := apiDo(t, "PATCH", fmt.Sprintf("%s/api/v1/tenants/%d", lb.URL, bell.ID), tok, map[string]string{"name": "BELL HACKED"}, ""); a.Status != 200 {
		t.Fatalf("the bad write: %d %s", a.Status, a.Raw)
	}
	apiPost(t, lb.URL+"/api/v1/tenants", tok, map[string]string{"name": "late", "slug": "late"}, nil)
	s.caughtUp(t, time.Now())

	// T from the logs: the bad request, confirmed by its request_id in the
	// audit log; the impact started when it did, T is a second before.
	reqID, impact := badRequest(t, filepath.Join(lb.Run, "backend.log"), "PATCH /api/v1/tenants/{id}")
	db, err := sql.Open("pgx", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	var action string
	if err := db.QueryRow("SELECT action FROM audit_events WHERE request_id = $1", reqID).Scan(&action); err != nil || action != "tenant.update" {
		t.Fatalf("audit event of request %s: %q %v", reqID, action, err)
	}
	db.Close()
	impact = impact.UTC()
	T := impact.Add(-time.Second)

	out := f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "Ines", "--comms", "Carl", "--impact-start", impact.Format(time.RFC3339Nano), "--pitr", "wal", "--pitr-dir", s.Dir)
	if !strings.Contains(out, "PITR wal (--pitr) from "+s.Dir+", window ") {
		t.Errorf("declare does not record PITR on and the window:\n%s", out)
	}
	f.mustDR(t, "scenario", "B", "--reason", "tenant bell renamed by request "+reqID, "--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
	oldPid := readPid(lb.PIDFile)
	f.mustDR(t, "contain", "--platform", "local", "--pid-dir", lb.Run, "--yes")
	waitFor(t, "the backend to stop", func() bool { return !dr.ProcessAlive(oldPid) })
	rf := filepath.Join(f.Dir, "restore.json")
	f.mustDR(t, "run", "--result-file", rf, "--", casinoBinary(t), "restore", "--to-time", T.Format(time.RFC3339Nano), "--yes", "--json", "--result-file", rf, "--terminate-connections")
	f.mustDR(t, "restore-traffic", "--yes")
	f.mustDR(t, "validate", "--url", lb.URL, "--checks", "health,ready,login,is_owner,data")
	req, _ := http.NewRequest("GET", lb.URL+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+apiLogin(t, lb.URL, "admin@casino.com", testOwnerPassword))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Tenants []casino.Tenant }
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	var names []string
	for _, tn := range list.Tenants {
		names = append(names, tn.Name)
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "bell") || strings.Contains(got, "BELL HACKED") || strings.Contains(got, "late") {
		t.Errorf("tenants after the restore to T: %q, want bell as it was and late absent", got)
	}

	out = f.mustDR(t, "close", "--targets", filepath.Join(f.Repo, "docs/ops/dr_targets.json"))
	if !strings.Contains(out, "targets: scenario B with PITR (PITR wal (--pitr)") || !regexp.MustCompile(`RPO \S+, target 1m: MET`).MatchString(out) {
		t.Errorf("close: want the PITR target 1m of the declared configuration, MET:\n%s", out)
	}
	j, _ := filepath.Glob(filepath.Join(f.ProofDir, "*.journal.jsonl"))
	if len(j) != 1 {
		t.Fatalf("journals: %v", j)
	}
	entries, err := dr.ReadJournal(j[0])
	if err != nil {
		t.Fatal(err)
	}
	st, err := dr.Fold(entries)
	if err != nil || st.Close == nil || st.Restored() == nil {
		t.Fatalf("journal: %v, close %v", err, st)
	}
	rpo, facts := st.Close.RPO, st.Restored().Facts.PITR
	// Every commit up to T is back: the last recovered one is at most T,
	// and no older than the last good write before the quiet second.
	if facts == nil || facts.Mode != "target_time" || facts.ReachedAt.After(T) || facts.ReachedAt.Before(lastGood.Add(-time.Second)) || facts.BaseBackupStartedAt.IsZero() {
		t.Fatalf("pitr facts %+v: want target_time, reached_at in [last good write, T %s], the base backup's start", facts, T.Format(time.RFC3339Nano))
	}
	if !strings.Contains(rpo.Basis, "pitr.reached_at") || !rpo.From.Equal(facts.ReachedAt) || !rpo.To.Equal(impact) || rpo.Target != "1m" || rpo.Met == nil || !*rpo.Met ||
		rpo.Seconds < 1 || rpo.Seconds > impact.Sub(lastGood).Seconds()+1 {
		t.Errorf("RPO %+v: want impact start %s minus pitr.reached_at %s, under the PITR target 1m", rpo, impact.Format(time.RFC3339Nano), facts.ReachedAt.Format(time.RFC3339Nano))
	}
	proof, _ = os.ReadFile(filepath.Join(f.ProofDir, listProof(t, f.ProofDir)))
	for _, want := range []string{"- recovery target: " + T.Format(time.RFC3339Nano) + "; replay stopped at the target\n",
		"- time reached (last recovered change): " + facts.ReachedAt.UTC().Format(time.RFC3339Nano) + "\n",
		"- recovery end line: \"last completed transaction was at log time ", "- base backup: \"" + facts.BaseBackup + "\", started ", " segments verified against signed manifests"} {
		if !strings.Contains(string(proof), want) {
			t.Errorf("the proof lacks %q", want)
		}
	}
	if out, errOut, code := f.dr(t, "verify-proof", filepath.Join(f.ProofDir, listProof(t, f.ProofDir))); code != 0 {
		t.Errorf("verify-proof: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("Scenario B with PITR (PostgreSQL, pitr stream): impact %s, T %s, reached %s (%s); RPO %s (%.3fs), target %s; RTO %s; WAL %d verified, unsigned %v",
		impact.Format(time.RFC3339Nano), T.Format(time.RFC3339Nano), facts.ReachedAt.Format(time.RFC3339Nano), facts.RecoveryEnd, rpo.Value, rpo.Seconds, rpo.Target, st.Close.RTO.Value, facts.VerifiedWAL, facts.UnsignedWAL)
}

// TestDRContradictoryPITRFacts: point-in-time facts that no recovery
// produces are refused when dr run captures them (the step fails, naming
// the contradiction); a journal that holds them anyway (rewritten with its
// chain recomputed) renders them as CONTRADICT, not "restored", and close
// measures no RPO from them.
func TestDRContradictoryPITRFacts(t *testing.T) {
	f := newDRFixture(t)
	impact := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b", "--impact-start", impact.Format(time.RFC3339), "--pitr", "wal", "--pitr-dir", filepath.Join(f.Dir, "nowhere"))
	f.mustDR(t, "scenario", "B", "--reason", "rows deleted", "--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
	T := impact.Add(-time.Second)
	facts := casino.RestoreFacts{FormatVersion: 1, RestoreID: strings.Repeat("5e", 16), StartedAt: impact.Add(time.Minute), FinishedAt: impact.Add(2 * time.Minute),
		Backup: casino.RestoredBackup{Name: "casino_pitr.sql.gz", SnapshotAt: T}, RowCounts: map[string]int64{"tenants": 2},
		Target: casino.RestoreTarget{Engine: "postgres", Database: "casino"},
		PITR: &casino.PITRFacts{TargetTime: &T, ReachedAt: T.Add(-4 * time.Second), Mode: "target_time", Source: "/pitr",
			BaseBackup: "20261202T020000Z", BaseBackupStartedAt: T.Add(-time.Hour)}}
	for _, c := range []struct {
		name string
		edit func(p *casino.PITRFacts)
		want string
	}{
		{"reached after the target", func(p *casino.PITRFacts) { p.ReachedAt = T.Add(9 * time.Second) }, "is after the recovery target"},
		{"reached before the base backup", func(p *casino.PITRFacts) { p.ReachedAt = T.Add(-2 * time.Hour) }, "is before the base backup 20261202T020000Z started"},
	} {
		bad := facts
		p := *facts.PITR
		c.edit(&p)
		bad.PITR = &p
		b, _ := json.Marshal(bad)
		rf := filepath.Join(f.Dir, "facts.json")
		os.WriteFile(rf, b, 0o644)
		if _, errOut, code := f.dr(t, "run", "--result-file", rf, "--", "true"); code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: dr run exit %d, %q; want a refusal naming %q", c.name, code, errOut, c.want)
		}
		// The same facts in a journal rewritten by hand.
		in, err := dr.Open(f.ProofDir, "", &dr.Redactor{})
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Append(dr.TypeRestore, dr.RestoreRecord{Step: "run casino restore", Source: "result file " + rf, Facts: bad}); err != nil {
			t.Fatal(err)
		}
	}
	out := f.mustDR(t, "close", "--targets", filepath.Join(f.Repo, "docs/ops/dr_targets.json"))
	if !strings.Contains(out, "RPO not known") || !strings.Contains(out, "contradict each other") || strings.Contains(out, "RPO 4s") {
		t.Errorf("close measured an RPO from contradictory facts:\n%s", out)
	}
	proofPath := filepath.Join(f.ProofDir, listProof(t, f.ProofDir))
	proof, _ := os.ReadFile(proofPath)
	if n := strings.Count(string(proof), "restore facts CONTRADICT each other (does not count) `casino_pitr.sql.gz`"); n != 2 || strings.Contains(string(proof), "— restored `casino_pitr.sql.gz`") ||
		strings.Count(string(proof), "restore facts of casino_pitr.sql.gz (point-in-time facts that contradict each other: does not count)") != 2 {
		t.Errorf("the proof (record and postmortem timeline) flags %d of the 2 contradictory restores, or renders one as restored:\n%s", n, proof)
	}
	if _, errOut, code := f.dr(t, "verify-proof", proofPath); code != 0 {
		t.Errorf("verify-proof: exit %d, %s", code, errOut)
	}
}
