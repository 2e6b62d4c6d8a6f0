package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/internal/testdb"
	"casino/internal/tests3"
	"casino/internal/testtool"
	"casino/sqlstore"
)

// scrape returns serve's /metrics as series -> value.
func scrape(t *testing.T, base string) (string, map[string]float64) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			m[line[:i]] = v
		}
	}
	return string(b), m
}

// recordTestDrill inserts a finished drill as `casino dr drill` does.
func recordTestDrill(t *testing.T, db *sqlstore.DB, id string, started time.Time, verdict casino.DrillVerdict, recovery, age float64) casino.Drill {
	t.Helper()
	ctx := context.Background()
	d := casino.Drill{ID: id, StartedAt: started, Engine: string(db.Engine()), Backup: "casino_db__" + id + ".sql.gz", PickReason: "latest", ProofPath: "/proofs/" + id + ".md"}
	if err := db.StartDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	if verdict == casino.DrillRunning {
		return d
	}
	fin := started.Add(time.Duration((recovery + 3) * float64(time.Second)))
	d.FinishedAt, d.Verdict, d.RecoverySeconds, d.BackupAgeSeconds = &fin, verdict, recovery, age
	d.RTOTargetSeconds, d.RPOTargetSeconds = 3600, 3600
	d.JournalHead = "sha256:" + strings.Repeat("0f", 32)
	d.Phases = []casino.DrillPhase{
		{Name: casino.DrillPhaseSelect, Seconds: 0.05, OK: true},
		{Name: casino.DrillPhaseVerify, Seconds: recovery * 0.2, OK: true},
		{Name: casino.DrillPhaseRestore, Seconds: recovery * 0.5, OK: verdict == casino.DrillSuccessful},
		{Name: casino.DrillPhaseBoot, Seconds: recovery * 0.1, OK: verdict == casino.DrillSuccessful},
		{Name: casino.DrillPhaseValidate, Seconds: recovery * 0.2, OK: verdict == casino.DrillSuccessful},
	}
	if verdict != casino.DrillSuccessful {
		d.Reason = "validate: table audit_events is missing in the restored data"
	}
	if err := db.FinishDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDRReadinessMetrics: serve's /metrics reports the drills table and the
// verification store (both engines), exports the targets in force, and the
// scrape passes promtool check metrics.
func TestDRReadinessMetrics(t *testing.T) {
	promtool := testtool.Need(t, "promtool")
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		url := testdb.URL(t, engine)
		srv := startServe(t, map[string]string{"DATABASE_URL": url, "CASINO_OWNER_PASSWORD": uiOwnerPassword, "CASINO_DR_PROOF_DIR": t.TempDir(), "CASINO_BACKUP_DIR": t.TempDir()}, true)
		db, err := sqlstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		now := time.Now().UTC().Truncate(time.Second)
		ok := recordTestDrill(t, db, "m1", now.Add(-30*time.Hour), casino.DrillSuccessful, 42.5, 1200)
		recordTestDrill(t, db, "m2", now.Add(-2*time.Hour), casino.DrillFailed, 17, 300)
		recordTestDrill(t, db, "m3", now.Add(-time.Minute), casino.DrillRunning, 0, 0)
		verified := now.Add(-20 * time.Minute)
		for _, v := range []casino.BackupVerification{
			{BackupName: "b1", SHA256: "a", Kind: "drill", OK: true, VerifiedAt: verified},
			{BackupName: "b2", SHA256: "b", Kind: "verify", OK: false, VerifiedAt: now.Add(-time.Minute)},
		} {
			if err := db.RecordVerification(context.Background(), v); err != nil {
				t.Fatal(err)
			}
		}

		body, m := scrape(t, srv.URL)
		want := map[string]float64{
			"casino_dr_readiness_up":                                                     1,
			"casino_drill_last_success_timestamp_seconds":                                float64(ok.FinishedAt.UnixNano()) / 1e9,
			"casino_drill_last_timestamp_seconds":                                        float64(now.Add(-2 * time.Hour).Unix()),
			"casino_drill_last_duration_seconds":                                         17,
			`casino_drill_last_verdict{verdict="FAILED"}`:                                1,
			`casino_drill_last_verdict{verdict="SUCCESSFUL"}`:                            0,
			`casino_drill_last_verdict{verdict="TIMED_OUT"}`:                             0,
			"casino_backup_last_verified_timestamp_seconds":                              float64(verified.Unix()),
			`casino_dr_target_rto_seconds{scenario="A"}`:                                 900,
			`casino_dr_target_rto_seconds{scenario="B"}`:                                 3600,
			`casino_dr_target_rto_seconds{scenario="C"}`:                                 7200,
			`casino_dr_target_rpo_seconds{scenario="B"}`:                                 3600,
			`casino_dr_target_rpo_seconds{scenario="C"}`:                                 3600,
			`casino_dr_pitr_mode{mode="off"}`:                                            1,
			`casino_dr_pitr_mode{mode="litestream"}`:                                     0,
			`casino_dr_pitr_mode{mode="wal"}`:                                            0,
			"casino_backup_last_success_timestamp_seconds":                               0,
			"casino_backup_remote_last_success_timestamp_seconds":                        0,
			`casino_http_requests_total{code="200",method="GET",route="GET /api/ready"}`: m[`casino_http_requests_total{code="200",method="GET",route="GET /api/ready"}`],
		}
		for k, v := range want {
			got, found := m[k]
			if !found || got != v {
				t.Errorf("%s = %v (present %v), want %v", k, got, found, v)
			}
		}
		if _, found := m[`casino_dr_target_rpo_seconds{scenario="A"}`]; found {
			t.Errorf("scenario A restores no data, yet an RPO target is exported")
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader([]byte(body))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

// TestDRStatusRemote: with the remote's settings, serve measures the
// remote's newest trusted backup against the RPO and says so; with wrong
// credentials the page still answers, naming the failure without the secret.
func TestDRStatusRemote(t *testing.T) {
	t.Parallel()
	srv := tests3.Plain(t)
	bucket := tests3.NewBucket(t, srv, tests3.BucketOptions{ObjectLock: true})
	h := newRemoteHost(t, srv, bucket, testdb.URL(t, sqlstore.SQLite), newKey(t), true)
	h.env["CASINO_OWNER_PASSWORD"] = uiOwnerPassword
	h.env["CASINO_DR_PROOF_DIR"] = t.TempDir()
	s := startServe(t, h.env, true)
	h.must(t, "backup", "create", "--remote", "--remote-only", "--allow-plaintext-remote")
	l, code := h.listing(t)
	if code != 0 || l.Newest() == nil {
		t.Fatalf("listing (exit %d): %+v", code, l)
	}
	var st casino.DRStatus
	if code := apiCall(t, "GET", s.URL+"/api/v1/admin/dr-status", ownerToken(t, s.URL), nil, &st); code != 200 {
		t.Fatalf("dr-status: %d", code)
	}
	if st.Compared != "remote" || st.Remote == nil || st.Remote.Name != l.Newest().Name || st.Remote.Error != "" || st.Remote.SnapshotAt == nil || st.Remote.AgeSeconds > 600 {
		t.Errorf("remote freshness %+v compared %q, want the remote's newest %s", st.Remote, st.Compared, l.Newest().Name)
	}
	if st.Local == nil || st.Local.Where != "local" || st.Local.SnapshotAt != nil {
		t.Errorf("local %+v, want the (empty, --remote-only) local folder listed too", st.Local)
	}

	// Wrong credentials: an answer naming the problem, never the secret.
	bad := maps.Clone(h.env)
	bad["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-4f1c9a7e2b"
	s2 := startServe(t, bad, true)
	resp, err := http.NewRequest("GET", s2.URL+"/api/v1/admin/dr-status", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Header.Set("Authorization", "Bearer "+ownerToken(t, s2.URL))
	r, err := http.DefaultClient.Do(resp)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || strings.Contains(string(body), "wrong-secret-4f1c9a7e2b") {
		t.Fatalf("dr-status with wrong credentials: %d %s", r.StatusCode, body)
	}
	st = casino.DRStatus{}
	json.Unmarshal(body, &st)
	if st.Compared != "remote" || st.Remote == nil || st.Remote.Error == "" || st.Remote.SnapshotAt != nil {
		t.Errorf("remote with wrong credentials: %+v, want an error and no backup", st.Remote)
	}
}
