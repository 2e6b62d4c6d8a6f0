package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDRCanarySecretsNeverReachTheProof plants secrets of every kind the
// issue names, runs every dr command (passing and failing paths) with them
// in reach, and proves none reaches the proof folder, nor any command's
// output (except dr run's live copy of its child's output, which is the
// operator's own terminal).
func TestDRCanarySecretsNeverReachTheProof(t *testing.T) {
	f := newDRFixture(t)
	standins(t)
	const (
		ownerPW  = "canary-owner-pw-31337x"  // only in a variable with a plain name, via --password-env
		apiKey   = "canary-api-key-4242z"    // MY_API_KEY
		tokenVal = "canary-token-val-9090q"  // DEPLOY_TOKEN
		secret   = "canary-secret-val-6161w" // APP_SECRET
		urlPW    = "canary-url-pw-7777v"     // inside a URL in a plainly named variable
	)
	srv := startServe(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "c.db"), "CASINO_OWNER_PASSWORD": ownerPW}, true)
	bearer := apiLogin(t, srv.URL, "admin@casino.com", ownerPW)

	t.Setenv("MY_API_KEY", apiKey)
	t.Setenv("DEPLOY_TOKEN", tokenVal)
	t.Setenv("APP_SECRET", secret)
	t.Setenv("UPSTREAM", "postgres://svc:"+urlPW+"@db.internal:5432/casino")
	t.Setenv("SESSION", bearer)
	f.Env["OPERATOR_PW"] = ownerPW
	f.Env["WRONG_PW"] = "canary-wrong-pw-5555"
	secrets := map[string]string{"--password-env value": ownerPW, "KEY var": apiKey, "TOKEN var": tokenVal,
		"SECRET var": secret, "URL password": urlPW, "bearer token": bearer, "wrong password": "canary-wrong-pw-5555"}

	var outputs []string
	do := func(wantOK bool, args ...string) {
		t.Helper()
		out, errOut, code := f.dr(t, args...)
		if wantOK && code != 0 {
			t.Fatalf("casino dr %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
		if args[0] != "run" {
			outputs = append(outputs, "casino dr "+args[0]+"\n"+out+errOut)
			return
		}
		// dr run's own messages; the rest of its stderr is the child's, live
		for _, l := range strings.Split(errOut, "\n") {
			if strings.HasPrefix(l, "casino:") {
				outputs = append(outputs, "casino dr run\n"+l)
			}
		}
	}
	logs := filepath.Join(f.Dir, "casino.log")
	os.WriteFile(logs, []byte(srv.Stdout.String()), 0o644)

	do(true, "declare", "--severity", "SEV-1", "--ic", "ic", "--comms", "cm", "--url", srv.URL)
	do(true, "contain", "--platform", "kubernetes", "--dry-run")
	do(true, "contain", "--platform", "kubernetes", "--yes")
	do(true, "login-freeze", "on", "--url", srv.URL, "--password-env", "OPERATOR_PW", "--dry-run")
	do(true, "login-freeze", "on", "--url", srv.URL, "--password-env", "OPERATOR_PW", "--reason", "see postgres://svc:"+urlPW+"@db.internal", "--yes")
	do(false, "login-freeze", "off", "--url", srv.URL, "--password-env", "WRONG_PW", "--yes")
	do(true, "scenario", "A", "--reason", "token "+tokenVal+" seen in a URL postgres://svc:"+urlPW+"@db", "--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
	do(true, "run", "--", "sh", "-c", `echo "$MY_API_KEY $DEPLOY_TOKEN $APP_SECRET $UPSTREAM"; echo "Authorization: Bearer $SESSION" >&2; echo "{\"access_token\":\"$SESSION\"}"; echo "$SESSION"`)
	do(true, "run", "--", "echo", apiKey, "Bearer "+bearer, secret)
	do(false, "run", "--", "sh", "-c", `echo "$APP_SECRET" >&2; exit 4`)
	do(false, "run", "--", "echo", apiKey, "Bearer "+bearer, secret) // done: refused, naming the step
	do(true, "login-freeze", "off", "--url", srv.URL, "--password-env", "OPERATOR_PW", "--yes")
	do(true, "restore-traffic", "--dry-run")
	do(true, "restore-traffic", "--yes")
	do(false, "validate", "--url", srv.URL, "--password-env", "WRONG_PW", "--checks", "login,is_owner,ui")
	do(true, "validate", "--url", srv.URL, "--password-env", "OPERATOR_PW", "--logs", logs, "--baseline-p95", "1s")
	do(true, "validate", "--url", srv.URL, "--password-env", "OPERATOR_PW", "--checks", "login,is_owner", "--json")
	do(true, "status")
	do(true, "status", "--json")
	do(true, "close", "--targets", filepath.Join(f.Repo, "docs/ops/dr_targets.json"))
	do(true, "verify-proof", filepath.Join(f.ProofDir, listProof(t, f.ProofDir)))
	do(false, "run", "--", "echo", secret)

	assertNoSecrets(t, f.ProofDir, secrets)
	for _, o := range outputs {
		for name, s := range secrets {
			if strings.Contains(o, s) {
				t.Errorf("%s leaked in the output of %s", name, strings.SplitN(o, "\n", 2)[0])
			}
		}
	}
	proof, _ := os.ReadFile(filepath.Join(f.ProofDir, listProof(t, f.ProofDir)))
	for _, want := range []string{"Bearer ***", "postgres://svc:***@db.internal", "token *** seen"} {
		if !strings.Contains(string(proof), want) {
			t.Errorf("proof lacks %q: redaction should keep the shape", want)
		}
	}
}

func listProof(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "20*.md"))
	if len(m) != 1 {
		t.Fatalf("proofs: %v", m)
	}
	return filepath.Base(m[0])
}
