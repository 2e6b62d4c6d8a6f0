package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/dr"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// migratedURL returns the URL of a fresh, migrated database of engine.
func migratedURL(t *testing.T, engine sqlstore.Dialect) string {
	t.Helper()
	u := testdb.URL(t, engine)
	db, err := sqlstore.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return u
}

// freezeInDB reads the login freeze straight from the database.
func freezeInDB(t *testing.T, dbURL string) casino.Switch {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.SystemStatus(casino.NewBreakGlassContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return st.LoginFreeze
}

func lastFreeze(t *testing.T, f *drFixture) dr.FreezeRecord {
	t.Helper()
	in, err := dr.Open(f.ProofDir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.State.Freezes) == 0 {
		t.Fatal("no login_freeze entry in the journal")
	}
	return in.State.Freezes[len(in.State.Freezes)-1]
}

// TestDRLoginFreezeAPIDownUsesDatabase: with the API down (contained), dr
// login-freeze sets the switch in the database at DATABASE_URL, the way
// the API does (audited), and journals that it took that path; without
// DATABASE_URL it fails saying so. On both engines.
func TestDRLoginFreezeAPIDownUsesDatabase(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		f := newDRFixture(t)
		dbURL := migratedURL(t, engine)
		f.Env["DATABASE_URL"] = dbURL
		down := "http://" + freeAddr(t) // nothing listens: the API is down
		f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b")

		out := f.mustDR(t, "login-freeze", "on", "--url", down, "--reason", "incident 12", "--yes")
		if !strings.Contains(out, "admin login freeze is on, set in the database") {
			t.Errorf("login-freeze on with the API down:\n%s", out)
		}
		if sw := freezeInDB(t, dbURL); !sw.Enabled || sw.Reason != "incident 12" || sw.UpdatedBy != "cli" {
			t.Fatalf("the database's freeze after login-freeze on: %+v", sw)
		}
		db, _ := sqlstore.Open(context.Background(), dbURL)
		n := countSQL(t, db, `SELECT count(*) FROM audit_events WHERE action = '`+casino.ActionLoginFreeze+`'`)
		db.Close()
		if n != 1 {
			t.Errorf("audit events of the freeze: %d, want 1 (as the API writes)", n)
		}
		rec := lastFreeze(t, f)
		if rec.Path != dr.FreezeViaDatabase || !rec.OK || rec.Want != "on" || !strings.Contains(rec.APIProblem, "GET /api/health") {
			t.Errorf("journaled freeze: %+v", rec)
		}
		proof := proofFolderText(t, f.ProofDir)
		if !strings.Contains(proof, "login freeze on in the database") || !strings.Contains(proof, "The API was not used: GET /api/health") {
			t.Errorf("the proof does not say the database path was taken")
		}
		if u, err := url.Parse(dbURL); err == nil {
			if pw, ok := u.User.Password(); ok && len(pw) >= 4 && strings.Contains(proof, pw) {
				t.Errorf("the database password reached the proof")
			}
		}
		if status := f.mustDR(t, "status"); !strings.Contains(status, "login freeze: on") {
			t.Errorf("status:\n%s", status)
		}

		// No DATABASE_URL and no API: it fails, naming what to set.
		delete(f.Env, "DATABASE_URL")
		_, errOut, code := f.dr(t, "login-freeze", "off", "--url", down, "--yes")
		if code == 0 || !strings.Contains(errOut, "DATABASE_URL is not set") {
			t.Fatalf("login-freeze off, API down, no DATABASE_URL: exit %d, %s", code, errOut)
		}
		if !freezeInDB(t, dbURL).Enabled {
			t.Fatal("a failed login-freeze off changed the database")
		}
		f.Env["DATABASE_URL"] = dbURL
		f.mustDR(t, "login-freeze", "off", "--url", down, "--yes")
		if freezeInDB(t, dbURL).Enabled {
			t.Fatal("login-freeze off did not reach the database")
		}
	})
}

// TestDRLoginFreezeHoldsAcrossRestore: the freeze set before the restore
// (of a backup taken before the freeze) is still on after it, read back
// from the restored database; when the restored database has it off, dr
// run re-applies it; and when it cannot check, dr run fails naming what to
// run, which status repeats until it is done.
func TestDRLoginFreezeHoldsAcrossRestore(t *testing.T) {
	f := newDRFixture(t)
	bin := casinoBinary(t)
	dbURL := migratedURL(t, sqlstore.SQLite)
	backups := filepath.Join(f.Dir, "backups")
	f.Env["DATABASE_URL"] = dbURL
	// the restore runs as a child of dr run, with the operator's environment
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("CASINO_BACKUP_SIGNING_KEY", testBackupKey)
	out, errOut, code := runCLI(t, f.Env, "", "backup", "create", "--dir", backups, "--json")
	if code != 0 {
		t.Fatalf("backup create: %d %s %s", code, out, errOut)
	}
	var bk struct {
		Path string `json:"path"`
	}
	json.Unmarshal([]byte(out), &bk)
	if bk.Path == "" {
		t.Fatalf("backup create printed no path: %s", out)
	}
	if freezeInDB(t, dbURL).Enabled {
		t.Fatal("the backup was to be taken before the freeze")
	}
	down := "http://" + freeAddr(t)
	f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b")
	f.mustDR(t, "login-freeze", "on", "--url", down, "--reason", "restoring", "--yes")

	// The restore carries the freeze: checked in the database, it holds.
	_, errOut, code = f.dr(t, "run", "--", bin, "restore", "--yes", "--json", bk.Path)
	if code != 0 {
		t.Fatalf("dr run restore: exit %d\n%s", code, errOut)
	}
	rec := lastFreeze(t, f)
	if rec.Trigger != dr.FreezeTriggerRestore || rec.Path != dr.FreezeViaDatabase || !rec.OK || rec.Found != "on" || rec.Reapplied || rec.RestoreID == "" {
		t.Fatalf("freeze check after the restore: %+v", rec)
	}
	if !strings.Contains(errOut, "login freeze on after restore "+rec.RestoreID) || !strings.Contains(errOut, ": holds") {
		t.Errorf("dr run does not say the freeze held:\n%s", errOut)
	}
	if !freezeInDB(t, dbURL).Enabled {
		t.Fatal("the freeze is off after the restore")
	}

	// Something turns it off with the restore: dr run re-applies it.
	_, errOut, code = f.dr(t, "run", "--", "sh", "-c", `"$0" restore --yes --json "$1" && "$0" admin login-freeze off >&2`, bin, bk.Path)
	if code != 0 {
		t.Fatalf("dr run restore + freeze off: exit %d\n%s", code, errOut)
	}
	rec = lastFreeze(t, f)
	if !rec.OK || rec.Found != "off" || !rec.Reapplied {
		t.Fatalf("freeze check after a restore that lost it: %+v", rec)
	}
	if sw := freezeInDB(t, dbURL); !sw.Enabled || !strings.Contains(sw.Reason, "re-applied by casino dr after restore "+rec.RestoreID) {
		t.Fatalf("the freeze was not re-applied: %+v", sw)
	}
	if !strings.Contains(readProof(t, f), "was off, re-applied") {
		t.Errorf("the proof does not record the re-application")
	}

	// It cannot check (no DATABASE_URL) and the restore's facts say the
	// freeze was not carried: dr run fails, saying what to run.
	delete(f.Env, "DATABASE_URL")
	facts, _ := json.Marshal(casino.RestoreFacts{FormatVersion: 1, RestoreID: strings.Repeat("7c", 16),
		Backup:    casino.RestoredBackup{Name: "casino_db_20261129_020000.sqlite.gz", SnapshotAt: time.Now().UTC().Add(-time.Hour)},
		Carried:   &casino.CarriedState{LoginFreeze: false},
		RowCounts: map[string]int64{"tenants": 0}, Target: casino.RestoreTarget{Engine: "sqlite"}})
	os.WriteFile(filepath.Join(f.Dir, "facts.json"), facts, 0o644)
	_, errOut, code = f.dr(t, "run", "--", "cat", "facts.json")
	remedy := "casino dr login-freeze on --force --yes"
	if code == 0 || !strings.Contains(errOut, remedy) {
		t.Fatalf("dr run with the freeze lost and no way to check: exit %d, want the remedy %q\n%s", code, remedy, errOut)
	}
	if status := f.mustDR(t, "status"); !strings.Contains(status, "next: the incident set the login freeze on and the restored database has it off") {
		t.Errorf("status does not name the freeze as the next step:\n%s", status)
	}
	f.Env["DATABASE_URL"] = dbURL
	f.mustDR(t, "login-freeze", "on", "--url", down, "--force", "--yes")
	if status := f.mustDR(t, "status"); strings.Contains(status, "restored database has it") {
		t.Errorf("status still names the freeze after it was set again:\n%s", status)
	}
}
