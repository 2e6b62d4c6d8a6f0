package api_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/backup"
	"casino/docs/ops"
	"casino/dr"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// newReadiness is the DR readiness over db: the built-in targets, an empty
// backup folder and an empty proof folder, all real.
func newReadiness(t testing.TB, db *sqlstore.DB) *dr.Readiness {
	t.Helper()
	targets, err := dr.ParseTargets(ops.Targets, "embedded:dr_targets.json")
	if err != nil {
		t.Fatal(err)
	}
	backups := t.TempDir()
	return &dr.Readiness{
		Drills: db, Verifications: db, Targets: targets, TargetsSource: "embedded:dr_targets.json",
		ProofDir: t.TempDir(),
		Local: func(context.Context) casino.BackupFreshness {
			f := casino.BackupFreshness{Where: "local", Location: backups}
			if e := backup.Newest(backups, nil); e != nil {
				f.Name = e.Name
			}
			return f
		},
	}
}

// recordDrill inserts a finished drill through the drills store, as
// `casino dr drill` does: StartDrill, then FinishDrill.
func recordDrill(t testing.TB, db *sqlstore.DB, id string, started time.Time, verdict casino.DrillVerdict, recovery, age float64, proof string) casino.Drill {
	t.Helper()
	ctx := context.Background()
	d := casino.Drill{ID: id, StartedAt: started, Engine: string(db.Engine()), Backup: "casino_db__" + id + ".sql.gz", PickReason: "latest"}
	if err := db.StartDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	if verdict == casino.DrillRunning {
		return d
	}
	fin := started.Add(time.Duration(recovery+5) * time.Second)
	d.FinishedAt, d.Verdict, d.RecoverySeconds, d.BackupAgeSeconds = &fin, verdict, recovery, age
	d.RTOTargetSeconds, d.RPOTargetSeconds = 3600, 3600
	d.ProofPath, d.JournalHead = proof, "sha256:"+strings.Repeat("ab", 32)
	d.Phases = []casino.DrillPhase{{Name: casino.DrillPhaseSelect, Seconds: 0.1, OK: true}, {Name: casino.DrillPhaseRestore, Seconds: recovery - 1, OK: verdict == casino.DrillSuccessful}}
	if verdict != casino.DrillSuccessful {
		d.Reason = "restore: table users missing"
	}
	if err := db.FinishDrill(ctx, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDRStatus: GET /api/v1/admin/dr-status is the owner's alone (a tenant
// admin gets 403, a stranger 401), and reports the drills, the last
// verification and the open incidents from the real tables and folder.
func TestDRStatus(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		tenant := e.createTenant(owner, "dr-acme")
		admin := e.createAdmin(owner, tenant, "dr-admin@casino.com")

		if r := e.call("GET", "/api/v1/admin/dr-status", "", nil); r.Status != 401 {
			t.Errorf("no token: %s, want 401", r)
		}
		if r := e.call("GET", "/api/v1/admin/dr-status", admin, nil); r.Status != 403 || r.errCode() != casino.EFORBIDDEN {
			t.Errorf("tenant admin: %s, want 403 forbidden", r)
		}
		r := e.call("GET", "/api/v1/admin/dr-status", owner, nil)
		if r.Status != 200 {
			t.Fatalf("owner: %s", r)
		}
		if r.Body["last_drill"] != nil || len(r.Body["trend"].([]any)) != 0 || r.Body["compared"] != "local" {
			t.Errorf("before any drill: %s", r.Raw)
		}
		if r.Body["rto_target_seconds"] != 3600.0 || r.Body["rpo_target_seconds"] != 3600.0 || r.Body["scenario"] != "B" {
			t.Errorf("targets: rto %v rpo %v scenario %v, want scenario B's 3600/3600", r.Body["rto_target_seconds"], r.Body["rpo_target_seconds"], r.Body["scenario"])
		}

		now := time.Now().UTC().Truncate(time.Second)
		recordDrill(t, e.db, "d1", now.Add(-72*time.Hour), casino.DrillSuccessful, 40, 1800, "/proofs/d1.md")
		recordDrill(t, e.db, "d2", now.Add(-48*time.Hour), casino.DrillFailed, 12, 600, "/proofs/d2.md")
		recordDrill(t, e.db, "d3", now.Add(-time.Hour), casino.DrillSuccessful, 55, 900, "/elsewhere/d3.md")
		if err := e.db.RecordVerification(context.Background(), casino.BackupVerification{BackupName: "b1", SHA256: "x", Kind: "drill", OK: true, VerifiedAt: now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.proofDir, "d3.md"), []byte("# DRILL PROOF d3\n<script>alert(1)</script>\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// An open incident, and a drill's journal left open: only the
		// first is an incident.
		for _, d := range []dr.Declaration{
			{Severity: "SEV-2", IC: "ic", Comms: "cm", IncidentStart: now.Add(-time.Hour), ImpactStart: now.Add(-2 * time.Hour)},
			{Severity: "SEV-3", IC: "ic", Comms: "cm", IncidentStart: now.Add(-time.Hour), ImpactStart: now.Add(-2 * time.Hour), Drill: true},
		} {
			if _, err := dr.Declare(e.proofDir, dr.Source{Name: "t", Text: []byte("# t\n")}, d, &dr.Redactor{}, now); err != nil {
				t.Fatal(err)
			}
		}

		r = e.call("GET", "/api/v1/admin/dr-status", owner, nil)
		if r.Status != 200 {
			t.Fatalf("owner: %s", r)
		}
		var ids []string
		for _, p := range r.Body["trend"].([]any) {
			ids = append(ids, p.(map[string]any)["id"].(string))
		}
		if got := strings.Join(ids, ","); got != "d1,d2,d3" {
			t.Errorf("trend %s, want d1,d2,d3 (oldest first)", got)
		}
		last := r.Body["last_drill"].(map[string]any)
		if last["id"] != "d3" || last["verdict"] != "SUCCESSFUL" || len(last["phases"].([]any)) != 2 || r.Body["proof_readable"] != true {
			t.Errorf("last drill %v proof_readable %v, want d3 SUCCESSFUL with 2 phases and a readable proof", last, r.Body["proof_readable"])
		}
		if r.Body["last_verified_at"] == nil {
			t.Errorf("last_verified_at missing: %s", r.Raw)
		}
		inc := r.Body["open_incidents"].([]any)
		if len(inc) != 1 || inc[0].(map[string]any)["severity"] != "SEV-2" {
			t.Errorf("open incidents %v, want the SEV-2 only (a drill's journal is no incident)", inc)
		}

		// The proof: served as plain text, owner only.
		p := e.call("GET", "/api/v1/admin/drills/d3/proof", owner, nil)
		if p.Status != 200 || !strings.HasPrefix(string(p.Raw), "# DRILL PROOF d3") || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") || p.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("proof: %d %q %q", p.Status, p.Header.Get("Content-Type"), p.Raw)
		}
		if p := e.call("GET", "/api/v1/admin/drills/d3/proof", admin, nil); p.Status != 403 {
			t.Errorf("proof as tenant admin: %s, want 403", p)
		}
	})
}

// TestDrillProofHostile: ids and recorded proof paths that try to leave the
// proof folder get a 4xx, never a file from elsewhere and never a 500.
func TestDrillProofHostile(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, sqlstore.SQLite)
	owner := e.login(ownerEmail, ownerPassword)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.md")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	// A row naming a path outside the folder: only its base name is looked
	// up, inside the folder, where it is not.
	recordDrill(t, e.db, "escape", now.Add(-3*time.Hour), casino.DrillSuccessful, 10, 10, secret)
	recordDrill(t, e.db, "dots", now.Add(-2*time.Hour), casino.DrillSuccessful, 10, 10, "/proofs/../../"+filepath.Base(outside)+"/secret.md")
	// A symlink in the folder that points out of it.
	if err := os.Symlink(secret, filepath.Join(e.proofDir, "link.md")); err != nil {
		t.Fatal(err)
	}
	recordDrill(t, e.db, "link", now.Add(-time.Hour), casino.DrillSuccessful, 10, 10, "/proofs/link.md")
	// A proof name that is not a .md file.
	recordDrill(t, e.db, "journal", now, casino.DrillSuccessful, 10, 10, "/proofs/x.journal.jsonl")

	for _, c := range []struct {
		id   string
		want int
	}{
		{"escape", 404}, {"dots", 404}, {"link", 404}, {"journal", 404}, {"nope", 404},
		{url.PathEscape("../../etc/passwd"), 400}, {"..", 404}, {url.PathEscape("d3.md\x00"), 400},
		{strings.Repeat("a", 65), 400}, {"%2e%2e%2fsecret", 400},
	} {
		r := e.call("GET", "/api/v1/admin/drills/"+c.id+"/proof", owner, nil)
		if r.Status != c.want || strings.Contains(string(r.Raw), "SECRET") {
			t.Errorf("proof of %q: %s, want %d without the file", c.id, r, c.want)
		}
	}
	if r := e.call("GET", "/api/v1/admin/dr-status", owner, nil); r.Status != 200 || r.Body["proof_readable"] != false {
		t.Errorf("dr-status with a proof that is a symlink out: %s, want proof_readable false", fmt.Sprint(r.Status))
	}
}
