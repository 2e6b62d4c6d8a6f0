package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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
