package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"casino/dr"
	"casino/internal/testpg"
	"casino/internal/tests3"
)

// TestScenarioCWholeHostLoss is issue 11's Scenario C, whole. The old host
// seeds data, backs up (encrypted, signed) to the bucket, writes more, and
// declares an incident with the remote set. Then the host is lost: its
// PostgreSQL cluster stopped and its data directory deleted, and its working
// directory with the local backups and proof folder removed. A new host
// with a fresh cluster, an empty working directory, and nothing but the
// binary, the settings and the keys continues the incident (dr status
// --remote), restores the newest remote backup through dr run, serves,
// validates and closes: the RPO is measured from the restored backup's
// snapshot_at, the data equals the backup's manifest, and the mirrored
// proof verifies.
func TestScenarioCWholeHostLoss(t *testing.T) {
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{ObjectLock: true})
	f := newDRFixture(t)
	repo := f.Repo
	remote := "s3://" + bucket + "/prod"
	signing := newKey(t)
	ageID, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	// The settings and keys that live outside the host (secret store):
	// the same on both hosts, except the signing key, which the new host
	// does not need to restore.
	shared := map[string]string{
		"CASINO_BACKUP_REMOTE":     remote,
		"CASINO_BACKUP_VERIFY_KEY": string(signing.Public().PEM()),
		"CASINO_BACKUP_IDENTITY":   ageID.String(),
		"CASINO_OWNER_PASSWORD":    testOwnerPassword,
	}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		shared[k] = v
	}
	hostEnv := func(dir, dbURL string) map[string]string {
		env := map[string]string{
			"DATABASE_URL":        dbURL,
			"CASINO_BACKUP_DIR":   filepath.Join(dir, "backups"),
			"CASINO_DATA_DIR":     filepath.Join(dir, "data"),
			"CASINO_DR_PROOF_DIR": filepath.Join(dir, "proof"),
		}
		for k, v := range shared {
			env[k] = v
		}
		return env
	}

	// 1. The old host.
	oldPG := testpg.NewCluster(t)
	oldDB := oldPG.NewDatabase()
	oldDir := f.Dir
	old := hostEnv(oldDir, oldDB)
	old["CASINO_DR_PROOF_DIR"] = f.ProofDir
	old["CASINO_BACKUP_SIGNING_KEY"] = string(signing.PEM())
	old["CASINO_BACKUP_RECIPIENTS"] = ageID.Recipient().String()
	oldSrv := startServe(t, old, true) // creates the owner account
	bkSeed(t, oldDB, "before", 4)
	want := bkState(t, oldDB)
	if out, errOut, code := runCLI(t, old, "", "backup", "create", "--remote", "--lock-mode", "governance", "--lock-min", "1h"); code != 0 {
		t.Fatalf("backup create --remote: exit %d\n%s\n%s", code, out, errOut)
	}
	oh := &remoteHost{env: old, srv: srv}
	l, _ := oh.listing(t)
	if len(l.Backups) != 1 || !l.Backups[0].Trusted() || l.Backups[0].Manifest.Encryption == nil {
		t.Fatalf("remote listing after the backup: %+v", l)
	}
	bk := l.Backups[0]
	bkSeed(t, oldDB, "after", 2) // written after the snapshot: lost with the host
	impact := time.Now().UTC().Truncate(time.Second)
	out, errOut, code := runCLI(t, old, "", "dr", "declare", "--severity", "SEV-1", "--ic", "Ines", "--comms", "Carl",
		"--impact-start", impact.Format(time.RFC3339), "--baseline-p95", "1s", "--url", oldSrv.URL)
	if code != 0 || !strings.Contains(out, "mirror:") {
		t.Fatalf("dr declare: exit %d\n%s\n%s", code, out, errOut)
	}
	ids, _ := dr.List(f.ProofDir)
	if len(ids) != 1 {
		t.Fatalf("incidents on the old host: %v", ids)
	}
	id := ids[0]

	// 2. The host is lost: its database cluster with its data directory,
	// its working directory, local backups and proof folder.
	oldSrv.Stop(t)
	oldPG.Destroy()
	newDir := t.TempDir()
	chdir(t, newDir)
	if err := os.RemoveAll(oldDir); err != nil {
		t.Fatal(err)
	}

	// 3. A new host: a fresh cluster and an empty working directory; the
	// binary, the settings and the keys.
	newPG := testpg.NewCluster(t)
	newDB := newPG.NewDatabase()
	nu := hostEnv(newDir, newDB)
	bin := casinoBinary(t)
	// dr run starts the restore as a process: it reads the settings from
	// the process environment, as on a real host.
	for k, v := range nu {
		t.Setenv(k, v)
	}
	t.Setenv("CASINO_BACKUP_SIGNING_KEY", "")
	drNew := func(args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, nu, "", append([]string{"dr"}, args...)...)
		if code != 0 {
			t.Fatalf("new host: casino dr %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		}
		if strings.Contains(errOut, "NOT mirrored") {
			t.Errorf("new host: casino dr %s did not mirror:\n%s", strings.Join(args, " "), errOut)
		}
		return out
	}
	out = drNew("status", "--remote")
	if !strings.Contains(out, "rebuilt incident "+id) || !strings.Contains(out, "OPEN") {
		t.Fatalf("dr status --remote on the new host:\n%s", out)
	}
	drNew("scenario", "C", "--reason", "host lost with its disk", "--runbook", filepath.Join(repo, "docs/ops/dr_runbook.md"))
	rf := filepath.Join(newDir, "restore.json")
	drNew("run", "--result-file", rf, "--", bin, "restore", "--remote", "latest", "--yes", "--result-file", rf)

	// 4. The data is the backup's: the rows written after it are gone, and
	// each table holds the manifest's count (plus the restore's own
	// restore_id and audit event), before anything else writes to it.
	checkRestored(t, newDB, want, bk.Manifest.RowCounts, "versions")

	srvNew := startServe(t, nu, true)
	waitStatus(t, srvNew.URL+"/api/ready", http.StatusOK, 30*time.Second)
	for range 20 {
		if resp, err := http.Get(srvNew.URL + "/api/health"); err == nil {
			resp.Body.Close()
		}
	}
	logs := filepath.Join(newDir, "casino.log")
	if err := os.WriteFile(logs, []byte(srvNew.Stdout.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	vargs := []string{"validate", "--url", srvNew.URL, "--logs", logs}
	if _, err := os.Stat(chromium()); err == nil {
		vargs = append(vargs, "--browser")
	}
	out = drNew(vargs...)
	if !regexp.MustCompile(`(?m)^data\s+PASS`).MatchString(out) {
		t.Errorf("validate did not pass the data check:\n%s", out)
	}
	out = drNew("close", "--targets", filepath.Join(repo, "docs/ops/dr_targets.json"))
	t.Logf("close:\n%s", out)

	var stat struct {
		State string          `json:"state"`
		Close *dr.CloseReport `json:"close"`
	}
	if err := json.Unmarshal([]byte(drNew("status", "--incident", id, "--json")), &stat); err != nil || stat.Close == nil || stat.Close.RPO == nil {
		t.Fatalf("status --json after close: %v %+v", err, stat)
	}
	rpo := stat.Close.RPO
	if !rpo.From.Equal(bk.Manifest.SnapshotAt) || !rpo.To.Equal(impact) || !strings.Contains(rpo.Basis, bk.Manifest.File) && !strings.Contains(rpo.Basis, bk.Name) {
		t.Errorf("RPO %+v: want from the restored backup's snapshot_at %s to the impact start %s", rpo, bk.Manifest.SnapshotAt, impact)
	}
	if want := max(impact.Sub(bk.Manifest.SnapshotAt), 0).Seconds(); rpo.Seconds != want || stat.State != "closed" {
		t.Errorf("RPO %.0f s, want %.0f s (state %s)", rpo.Seconds, want, stat.State)
	}

	// The incident's record, closed on the new host, is in the bucket and
	// verifies there.
	out = drNew("verify-proof", remote+"/proofs/"+id)
	if !strings.Contains(out, "hash chain intact") {
		t.Errorf("verify-proof of the mirrored record:\n%s", out)
	}
}
