package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/internal/testpg"
	"casino/sqlstore"
)

// writeTestFacts writes restore facts as casino restore --json prints them.
func writeTestFacts(t *testing.T, path, name string, snap time.Time, dry bool) {
	t.Helper()
	f := casino.RestoreFacts{FormatVersion: 1, RestoreID: strings.Repeat("5e", 16), DryRun: dry,
		Backup:    casino.RestoredBackup{Name: name, SHA256: strings.Repeat("ab", 32), SnapshotAt: snap},
		RowCounts: map[string]int64{"tenants": 2, "users": 3},
		Target:    casino.RestoreTarget{Engine: "sqlite", Path: "/srv/casino/casino.db"}}
	b, _ := json.Marshal(f)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDRRunJournalsRestoreFactsAndCloseUsesThem: dr run captures the facts a
// restore prints (stdout) or writes (--result-file) into a typed entry, and
// dr close computes the RPO from that entry alone: a backup named _2, named
// bare on a command line with --dir, and a dry run afterwards that must not
// count.
func TestDRRunJournalsRestoreFactsAndCloseUsesThem(t *testing.T) {
	f := newDRFixture(t)
	impact := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b", "--impact-start", impact.Format(time.RFC3339))
	f.mustDR(t, "scenario", "B", "--reason", "rows gone", "--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
	real := filepath.Join(f.Dir, "real.json")
	writeTestFacts(t, real, "casino_db_20261129_020000_2.sql.gz", impact.Add(-90*time.Minute), false)
	// The command line names the backup bare, inside --dir: nothing is read from it.
	f.mustDR(t, "run", "--", "sh", "-c", "cat real.json", "restore", "--dir", "backups", "casino_db_20261129_020000_2.sql.gz", "--json")
	dry := filepath.Join(f.Dir, "dry.json")
	writeTestFacts(t, dry, "casino_db_20261129_030000.sql.gz", impact.Add(-10*time.Minute), true)
	out := filepath.Join(f.Dir, "result.json")
	_, errOut, code := f.dr(t, "run", "--result-file", out, "--", "cp", "dry.json", out)
	if code != 0 || !strings.Contains(errOut, "dry run (does not count for RPO)") {
		t.Fatalf("dry run: exit %d\n%s", code, errOut)
	}
	closeOut := f.mustDR(t, "close", "--targets", filepath.Join(f.Repo, "docs/ops/dr_targets.json"))
	if !strings.Contains(closeOut, "RPO 1h30m0s") {
		t.Errorf("close: want RPO 1h30m0s from the _2 backup's snapshot_at, not the dry run's:\n%s", closeOut)
	}
	proof, _ := os.ReadFile(filepath.Join(f.ProofDir, listProof(t, f.ProofDir)))
	for _, want := range []string{"restored `casino_db_20261129_020000_2.sql.gz` (facts from stdout)", "dry run of a restore (does not count)", "snapshot_at of the restored backup casino_db_20261129_020000_2.sql.gz"} {
		if !strings.Contains(string(proof), want) {
			t.Errorf("proof lacks %q", want)
		}
	}
}

// TestDRRunRestoreFactsRefusals: a result file that is missing or not facts
// fails the step (journaled), and a restore that printed no facts leaves the
// RPO unknown rather than guessed from its command line.
func TestDRRunRestoreFactsRefusals(t *testing.T) {
	f := newDRFixture(t)
	f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b")
	f.mustDR(t, "scenario", "B", "--reason", "rows gone", "--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
	if _, errOut, code := f.dr(t, "run", "--result-file", "nope.json", "--", "true"); code == 0 || !strings.Contains(errOut, "--result-file") {
		t.Errorf("missing result file: exit %d, %s", code, errOut)
	}
	os.WriteFile(filepath.Join(f.Dir, "bad.json"), []byte(`{"format_version":1,"restore_id":"nothex","backup":{"name":"x"}}`), 0o644)
	if _, errOut, code := f.dr(t, "run", "--result-file", "bad.json", "--", "true", "2"); code == 0 || !strings.Contains(errOut, "restore_id") {
		t.Errorf("bad facts: exit %d, %s", code, errOut)
	}
	// a restore script of old, naming a backup file in its command line
	f.mustDR(t, "run", "--", "echo", "restored casino_db_20261129_020000.sql.gz")
	closeOut := f.mustDR(t, "close", "--targets", filepath.Join(f.Repo, "docs/ops/dr_targets.json"))
	if !strings.Contains(closeOut, "RPO not known (the journal holds no restore facts") {
		t.Errorf("close guessed an RPO:\n%s", closeOut)
	}
}

// TestDRDeclareRefusesFutureTimes: an impact start in the future once gave
// a 27,022-hour RPO.
func TestDRDeclareRefusesFutureTimes(t *testing.T) {
	f := newDRFixture(t)
	future := time.Now().UTC().Add(48 * time.Hour).Format(time.RFC3339)
	for _, flag := range []string{"--impact-start", "--incident-start"} {
		_, errOut, code := f.dr(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b", flag, future)
		if code != 2 || !strings.Contains(errOut, "in the future") {
			t.Errorf("%s in the future: exit %d, %s", flag, code, errOut)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(f.ProofDir, "*.jsonl")); len(m) != 0 {
		t.Errorf("a refused declare left %v", m)
	}
}

// TestDRFalseRecoveryFailsData is issue 12's false recovery: after a
// restore, the operator starts the backend by hand on an empty database.
// Every probe passes there, but validate fails data naming the mismatch,
// and close refuses to compute an RTO from it. The backend on the restored
// copy then passes, and close measures. On both engines.
func TestDRFalseRecoveryFailsData(t *testing.T) {
	for _, engine := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			f := newDRFixture(t)
			newURL := func() string {
				if engine == sqlstore.Postgres {
					return testpg.NewDatabase(t)
				}
				return "sqlite:" + filepath.Join(t.TempDir(), "casino.db")
			}
			env := func(u string) map[string]string {
				return map[string]string{"DATABASE_URL": u, "CASINO_OWNER_PASSWORD": testOwnerPassword}
			}
			f.Env["CASINO_OWNER_PASSWORD"] = testOwnerPassword
			restored := newURL()
			srv := startServe(t, env(restored), true)
			tok := apiLogin(t, srv.URL, "admin@casino.com", testOwnerPassword)
			apiPost(t, srv.URL+"/api/v1/tenants", tok, map[string]string{"name": "Acme", "slug": "acme"}, nil)
			apiPost(t, srv.URL+"/api/v1/tenants", tok, map[string]string{"name": "Bell", "slug": "bell"}, nil)
			srv.Stop(t)
			// What the restore wrote into the copy, and what it printed.
			restoreID := "00112233445566778899aabbccddeeff"
			db, err := sqlstore.Open(context.Background(), restored)
			if err != nil {
				t.Fatal(err)
			}
			mark := `{"restore_id":"` + restoreID + `","backup":"casino_db_20261129_020000.sql.gz","restored_at":"2026-11-29T03:10:00Z"}`
			if _, err := db.ExecContext(context.Background(), "INSERT INTO system_state (key, value, updated_at) VALUES ('restore_id', ?, ?)", mark, sqlstore.Now()); err != nil {
				t.Fatal(err)
			}
			counts, _ := db.RowCounts(context.Background())
			db.Close()
			facts, _ := json.Marshal(casino.RestoreFacts{FormatVersion: 1, RestoreID: restoreID, RowCounts: counts,
				Backup: casino.RestoredBackup{Name: "casino_db_20261129_020000.sql.gz", SnapshotAt: time.Now().UTC().Add(-time.Hour)},
				Target: casino.RestoreTarget{Engine: string(engine)}})
			os.WriteFile(filepath.Join(f.Dir, "facts.json"), facts, 0o644)

			f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b")
			f.mustDR(t, "scenario", "B", "--reason", "tenants gone", "--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
			f.mustDR(t, "run", "--", "cat", "facts.json")

			// The mistake: a backend on a new, empty database.
			wrong := startServe(t, env(newURL()), true)
			checks := "health,ready,login,is_owner,data"
			out, _, code := f.dr(t, "validate", "--url", wrong.URL, "--checks", checks)
			if code == 0 || !strings.Contains(out, "FAIL: data") {
				t.Fatalf("validate on an empty database: exit %d, want data to fail:\n%s", code, out)
			}
			proof, _ := os.ReadFile(filepath.Join(f.ProofDir, listProof(t, f.ProofDir)))
			for _, want := range []string{"restore_id is none, expected " + restoreID, "tenants is empty, expected 2 rows"} {
				if !strings.Contains(string(proof), want) {
					t.Errorf("the data check does not name the mismatch %q", want)
				}
			}
			targets := filepath.Join(f.Repo, "docs/ops/dr_targets.json")
			if _, errOut, code := f.dr(t, "close", "--targets", targets); code != 1 || !strings.Contains(errOut, "does not run on the restored data") {
				t.Fatalf("close after the false recovery: exit %d, want a refusal:\n%s", code, errOut)
			}
			wrong.Stop(t)

			// The backend on the restored copy passes, and close measures.
			right := startServe(t, env(restored), true)
			f.mustDR(t, "validate", "--url", right.URL, "--checks", checks)
			closeOut := f.mustDR(t, "close", "--targets", targets)
			if !strings.Contains(closeOut, "RTO ") || strings.Contains(closeOut, "RTO not known") {
				t.Errorf("close after the real recovery:\n%s", closeOut)
			}
		})
	}
}
