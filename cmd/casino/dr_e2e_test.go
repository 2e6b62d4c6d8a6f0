package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"casino/internal/testpg"
)

// TestDRWholeIncidentEndToEnd is issue 7's acceptance: with casino serve
// running on PostgreSQL, declare → contain (stand-ins for kubectl) →
// login-freeze → scenario B → dr run -- ./scripts/restore_postgres.sh →
// restore-traffic → validate (all pass) → close; the proof holds every step,
// RTO and RPO are computed against the targets, the hash chain verifies, and
// no canary secret appears anywhere in the proof folder.
func TestDRWholeIncidentEndToEnd(t *testing.T) {
	f := newDRFixture(t)
	argv := standins(t)
	if err := os.Symlink(filepath.Join(f.Repo, "scripts"), filepath.Join(f.Dir, "scripts")); err != nil {
		t.Fatal(err)
	}
	dbURL := testpg.NewDatabase(t)
	backups := filepath.Join(f.Dir, "backups")
	const canary = "canary-secret-e2e-5150-zq"
	// The process environment, as an operator's shell would have it: dr
	// collects secrets from it, and the restore script needs it.
	t.Setenv("CASINO_OWNER_PASSWORD", testOwnerPassword)
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("CASINO_BIN", casinoBinary(t))
	t.Setenv("CASINO_BACKUP_DIR", backups)
	t.Setenv("DR_CANARY_SECRET", canary)
	for k, v := range map[string]string{"CASINO_OWNER_PASSWORD": testOwnerPassword, "DATABASE_URL": dbURL, "CASINO_BACKUP_DIR": backups} {
		f.Env[k] = v
	}

	srv := startServe(t, map[string]string{"DATABASE_URL": dbURL, "CASINO_OWNER_PASSWORD": testOwnerPassword}, true)
	token := apiLogin(t, srv.URL, "admin@casino.com", testOwnerPassword)
	apiPost(t, srv.URL+"/api/v1/tenants", token, map[string]string{"name": "Before", "slug": "before"}, nil)

	// The hourly backup, taken before the impact.
	out, errOut, code := runCLI(t, f.Env, "", "backup", "create", "--dir", backups, "--json")
	if code != 0 {
		t.Fatalf("backup create: %d %s %s", code, out, errOut)
	}
	var bk struct {
		Path string `json:"path"`
		File string `json:"file"`
	}
	json.Unmarshal([]byte(out), &bk)
	bkFile := bk.Path
	if bkFile == "" {
		m, _ := filepath.Glob(filepath.Join(backups, "casino_db_*.sql.gz"))
		if len(m) == 0 {
			t.Fatalf("no backup file; backup create said %s", out)
		}
		bkFile = m[0]
	}
	rel, _ := filepath.Rel(f.Dir, bkFile)
	// the incident: data written after the snapshot, which the restore loses
	apiPost(t, srv.URL+"/api/v1/tenants", token, map[string]string{"name": "After", "slug": "after"}, nil)
	time.Sleep(1100 * time.Millisecond) // impact starts after the snapshot
	impact := time.Now().UTC().Truncate(time.Second)

	// 1. declare
	f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "Ines", "--comms", "Carl",
		"--impact-start", impact.Format(time.RFC3339), "--url", srv.URL, "--baseline-p95", "1s")

	f.mustDR(t, "login-freeze", "on", "--url", srv.URL, "--reason", "restoring", "--yes")

	// 2. contain, with exact argv; the stand-in cannot stop the in-process
	// server, so the test does what replicas=0 would.
	f.mustDR(t, "contain", "--platform", "kubernetes", "--yes")
	srv.Stop(t)
	logsBefore := srv.Stdout.String()
	want := []string{
		"kubectl|get|deploy|frontend-admin|-o|jsonpath={.spec.replicas}",
		"kubectl|get|deploy|backend|-o|jsonpath={.spec.replicas}",
		"kubectl|scale|deploy/frontend-admin|--replicas=0",
		"kubectl|scale|deploy/backend|--replicas=0",
	}
	if got := argvLog(t, argv); !reflect.DeepEqual(got, want) {
		t.Fatalf("contain argv:\n got %q\nwant %q", got, want)
	}

	// 3. scenario B prints its runbook section
	out = f.mustDR(t, "scenario", "B", "--reason", "tenants table emptied", "--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
	if !strings.Contains(out, "Scenario B") || !strings.Contains(out, "restore_postgres.sh") {
		t.Errorf("scenario B output lacks its runbook section:\n%s", out)
	}

	// 4. the restore, through dr run; and a command whose output holds secrets
	// The restore's typed facts are what dr close measures the RPO from.
	facts := restoreEmitsFacts(t)
	if facts {
		rf := filepath.Join(f.Dir, "restore.json")
		f.mustDR(t, "run", "--result-file", rf, "--", "./scripts/restore_postgres.sh", rel, "--result-file", rf)
	} else {
		f.mustDR(t, "run", "--", "./scripts/restore_postgres.sh", rel)
	}
	t.Setenv("SESSION", token) // not secret by name: the bearer pattern must catch it
	f.mustDR(t, "run", "--", "sh", "-c", `echo "secret=$DR_CANARY_SECRET"; echo "Authorization: Bearer $SESSION"; echo "$SESSION"; echo "$DATABASE_URL"`)

	// 5. restore traffic to exactly the recorded counts, unfreeze, validate
	f.mustDR(t, "restore-traffic", "--yes")
	want = []string{"kubectl|scale|deploy/backend|--replicas=2", "kubectl|scale|deploy/frontend-admin|--replicas=1", "kubectl|rollout|status|deploy/backend|--timeout=2m0s", "kubectl|rollout|status|deploy/frontend-admin|--timeout=2m0s"}
	if got := argvLog(t, argv); !reflect.DeepEqual(got, want) {
		t.Fatalf("restore-traffic argv:\n got %q\nwant %q", got, want)
	}
	// what replicas=2 brings back: a backend on the restored database
	srv = startServe(t, map[string]string{"DATABASE_URL": dbURL, "CASINO_OWNER_PASSWORD": testOwnerPassword}, true)
	f.mustDR(t, "login-freeze", "off", "--url", srv.URL, "--yes")
	waitStatus(t, srv.URL+"/api/ready", http.StatusOK, 30*time.Second)
	for range 30 {
		http.Get(srv.URL + "/api/health")
	}
	logs := filepath.Join(f.Dir, "casino.log")
	os.WriteFile(logs, []byte(logsBefore+srv.Stdout.String()), 0o644)
	vargs := []string{"validate", "--url", srv.URL, "--email", "admin@casino.com", "--password-env", "CASINO_OWNER_PASSWORD", "--logs", logs}
	if _, err := os.Stat(chromium()); err == nil {
		vargs = append(vargs, "--browser")
	} else {
		t.Logf("no Chromium at %s: validate runs without --browser", chromium())
	}
	if facts {
		out = f.mustDR(t, vargs...)
		t.Logf("validate:\n%s", out)
	} else {
		// Without the restore's facts nothing says a restore happened: the
		// data check compares with the summary recorded at declare, which
		// held the tenant written after the snapshot.
		out, _, code := f.dr(t, vargs...)
		if code == 0 || !strings.Contains(out, "tenants has 1 rows, fewer than the 2 expected") {
			t.Errorf("validate without restore facts: exit %d, want data to fail naming tenants:\n%s", code, out)
		}
	}

	// the restored data is the snapshot's
	var list struct {
		Tenants []struct{ Slug string }
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+apiLogin(t, srv.URL, "admin@casino.com", testOwnerPassword))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
	}
	var slugs []string
	for _, tn := range list.Tenants {
		slugs = append(slugs, tn.Slug)
	}
	if !reflect.DeepEqual(slugs, []string{"before"}) {
		t.Errorf("tenants after restore = %v, want [before]", slugs)
	}

	// 6. close
	closeArgs := []string{"close", "--targets", filepath.Join(f.Repo, "docs/ops/dr_targets.json")}
	if !facts {
		if _, errOut, code := f.dr(t, closeArgs...); code == 0 || !strings.Contains(errOut, "failed data") {
			t.Errorf("close after a failed data check: exit %d, want a refusal:\n%s", code, errOut)
		}
		closeArgs = append(closeArgs, "--unrecovered")
	}
	out = f.mustDR(t, closeArgs...)
	t.Logf("close:\n%s", out)
	if facts && (!strings.Contains(out, "RTO ") || !strings.Contains(out, "target 60m0s: MET") && !strings.Contains(out, "target 60m: MET")) {
		t.Errorf("close did not report RTO met against scenario B:\n%s", out)
	}
	switch {
	case facts && (!strings.Contains(out, "RPO ") || strings.Contains(out, "RPO not known")):
		t.Errorf("close did not compute RPO from the restore's facts:\n%s", out)
	case !facts && !strings.Contains(out, "RPO not known (the journal holds no restore facts"):
		t.Errorf("casino restore cannot write its facts yet, so the RPO must be not known, not guessed:\n%s", out)
	}

	id := time.Now().UTC().Format("2006-01-02")
	proofPath := filepath.Join(f.ProofDir, id+".md")
	proof, _ := os.ReadFile(proofPath)
	for _, want := range []string{
		"INCIDENT PROOF", "incident_start_utc", "impact_start_utc | " + impact.Format(time.RFC3339),
		"kubectl scale deploy/backend --replicas=0", "recorded state before containment", "`backend`: 2 replicas",
		"decided scenario B", "./scripts/restore_postgres.sh " + rel, "done `run ./scripts/restore_postgres.sh",
		"kubectl scale deploy/backend --replicas=2", "login-freeze on", "login-freeze off",
		"| health | **PASS** |", "| is_owner | **PASS** |", "| ui | **PASS** |", "| logs_5xx | **PASS** |",
		"| RTO |", "| RPO |", "MET", "## Postmortem", "### Root cause", "### Corrective actions", "### Follow-ups",
		"secret=***", "Bearer ***",
	} {
		if !strings.Contains(string(proof), want) {
			t.Errorf("proof lacks %q", want)
		}
	}
	if t.Failed() || os.Getenv("DR_SHOW_PROOF") != "" {
		t.Logf("proof:\n%s", proof)
	}

	// the hash chain verifies; the incident is read-only
	if out := f.mustDR(t, "verify-proof", proofPath); !strings.Contains(out, "hash chain intact") {
		t.Errorf("verify-proof: %s", out)
	}
	if _, errOut, code := f.dr(t, "run", "--incident", id, "--", "true"); code == 0 || !strings.Contains(errOut, "closed") {
		t.Errorf("dr run on a closed incident: exit %d: %s", code, errOut)
	}
	if _, errOut, code := f.dr(t, "run", "--", "true"); code == 0 || !strings.Contains(errOut, "no open incident") {
		t.Errorf("dr run with no open incident: exit %d: %s", code, errOut)
	}
	status := f.mustDR(t, "status", "--incident", id)
	if !strings.Contains(status, "CLOSED") || !strings.Contains(status, "RTO ") {
		t.Errorf("status of the closed incident:\n%s", status)
	}

	// no canary anywhere in the proof folder
	secrets := map[string]string{"owner password": testOwnerPassword, "planted secret": canary, "bearer token": token}
	if u, err := url.Parse(dbURL); err == nil {
		if p, ok := u.User.Password(); ok && len(p) >= 4 {
			secrets["database password"] = p
		}
	}
	assertNoSecrets(t, f.ProofDir, secrets)
}

func chromium() string { return (&drValidatorPaths{}).chromium() }

type drValidatorPaths struct{}

func (drValidatorPaths) chromium() string {
	if p := os.Getenv("CASINO_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// assertNoSecrets fails if any file under dir holds any of the secrets.
func assertNoSecrets(t *testing.T, dir string, secrets map[string]string) {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, _ := os.ReadFile(p)
		for name, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s leaked into %s", name, p)
			}
		}
		return nil
	})
	if n < 2 {
		t.Fatalf("only %d files in %s: nothing was checked", n, dir)
	}
}

// restoreEmitsFacts reports whether this build's casino restore writes its
// typed facts (--result-file); until it does, dr close must not compute an
// RPO from a restore, and the end-to-end test asserts exactly that.
func restoreEmitsFacts(t *testing.T) bool {
	t.Helper()
	out, _, _ := runCLI(t, nil, "", "restore", "-h")
	if !strings.Contains(out, "-result-file") {
		t.Log("casino restore has no --result-file yet: the RPO stays not known")
		return false
	}
	return true
}
