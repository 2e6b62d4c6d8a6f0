package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"casino/keys"
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

// TestDRCanaryEveryPatternForm plants a distinct secret in each form the
// redactor must recognise by pattern alone (none of them is in the
// environment dr reads), sends each through a dr path that journals it (a
// command line, a command's output, operator prose), and proves none reaches
// the proof folder or any dr command's own output, while a commit hash
// survives. It also asks every command for -h with a DATABASE_URL holding a
// password, in URL and in libpq form.
func TestDRCanaryEveryPatternForm(t *testing.T) {
	f := newDRFixture(t)
	bin := casinoBinary(t)
	pem, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	pemBody := strings.Split(string(pem.PEM()), "\n")[1]
	const (
		pgpw    = "cnry-pgpassword-a1"
		pgpw2   = "cnry-postgrespw-b2"
		jwtKey  = "cnry-jwt-key-c3"
		libpq   = "cnry-libpq-pw-d4"
		urlPW   = "cnry-urlpw-e5"
		flagPW  = "cnry-flag-pw-f6"
		flagEq  = "cnry-flag-eq-g7"
		bearer  = "cnryBearerTok0123456789h8"
		jwt     = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjbnJ5LWp3dCJ9.cnryJWTsignature_i9"
		age     = "AGE-SECRET-KEY-1CNRYQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQJ10"
		awsEnv  = "cnryAWSenvSecretKey0000000000000000000k11"
		awsCfg  = "cnryAWScfgSecretKey0000000000000000000l12"
		commit  = "0123456789abcdef0123456789abcdef01234567"
		prosePW = "cnry-prose-m13"
	)
	secrets := map[string]string{"PGPASSWORD=": pgpw, "POSTGRES_PASSWORD=": pgpw2, "CASINO_JWT_KEY=": jwtKey,
		"libpq password=": libpq, "URL userinfo": urlPW, "--password X": flagPW, "--password=X": flagEq,
		"Bearer": bearer, "JWT": jwt, "PEM private key": pemBody, "AGE-SECRET-KEY": age,
		"AWS key=value": awsEnv, "AWS config form": awsCfg, "password in prose": prosePW}

	// A real database with an owner, for 'casino user reset-password --generate'.
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	startServe(t, map[string]string{"DATABASE_URL": dbURL, "CASINO_OWNER_PASSWORD": "owner-password-for-canary"}, true)
	t.Setenv("DATABASE_URL", dbURL)
	os.WriteFile(filepath.Join(f.Dir, "key.pem"), pem.PEM(), 0o600)
	os.WriteFile(filepath.Join(f.Dir, "credentials"), []byte("[default]\naws_access_key_id = AKIACNRYEXAMPLE\naws_secret_access_key = "+awsCfg+"\n"), 0o600)

	var outputs []string
	do := func(wantOK bool, args ...string) string {
		t.Helper()
		out, errOut, code := f.dr(t, args...)
		if wantOK && code != 0 {
			t.Fatalf("casino dr %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
		own := out
		if args[0] == "run" {
			own = "" // stdout and stderr are the child's, live on the operator's terminal
			for _, l := range strings.Split(errOut, "\n") {
				if strings.HasPrefix(l, "casino:") {
					own += l + "\n"
				}
			}
		} else {
			own += errOut
		}
		outputs = append(outputs, "casino dr "+args[0]+"\n"+own)
		return errOut
	}
	do(true, "declare", "--severity", "SEV-2", "--ic", "ic", "--comms", "cm")
	do(true, "scenario", "B", "--reason", "leaked CASINO_JWT_KEY="+jwtKey+", the db password="+prosePW+" was in the ticket",
		"--runbook", filepath.Join(f.Repo, "docs/ops/dr_runbook.md"))
	do(true, "run", "--", "env", "PGPASSWORD="+pgpw, "sh", "-c", "exit 0", "x", "--password", flagPW, "--password="+flagEq)
	do(true, "run", "--", "sh", "-c", `echo "POSTGRES_PASSWORD=`+pgpw2+`"; echo "host=db user=casino password=`+libpq+` dbname=casino" >&2; `+
		`echo "Authorization: Bearer `+bearer+`"; echo "`+jwt+`"; echo "`+age+`"; echo "AWS_SECRET_ACCESS_KEY=`+awsEnv+`"; echo "commit `+commit+`"`)
	do(true, "run", "--", "cat", "key.pem", "credentials")
	// The generated password is printed once, to the operator's terminal.
	errOut := do(true, "run", "--", bin, "user", "reset-password", "--generate", "admin@casino.com")
	m := regexp.MustCompile(`password: (\S{20,})`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("reset-password --generate printed no password on the terminal:\n%s", errOut)
	}
	secrets["casino user reset-password --generate"] = m[1]
	do(true, "status")
	do(true, "close", "--targets", filepath.Join(f.Repo, "docs/ops/dr_targets.json"), "--summary", "restored from postgres://casino:"+urlPW+"@db:5432/casino")
	do(true, "verify-proof", filepath.Join(f.ProofDir, listProof(t, f.ProofDir)))
	do(true, "status", "--json", "--incident", listProof(t, f.ProofDir))

	assertNoSecrets(t, f.ProofDir, secrets)
	for _, o := range outputs {
		for name, s := range secrets {
			if strings.Contains(o, s) {
				t.Errorf("%s leaked in the output of %s", name, strings.SplitN(o, "\n", 2)[0])
			}
		}
	}
	journal, _ := os.ReadFile(filepath.Join(f.ProofDir, strings.TrimSuffix(listProof(t, f.ProofDir), ".md")+".journal.jsonl"))
	if !strings.Contains(string(journal), commit) {
		t.Errorf("the commit hash %s did not survive redaction", commit)
	}
	if !strings.Contains(string(journal), "generated secret password: ***") {
		t.Errorf("the journal does not show that a generated password was printed (and masked)")
	}

	// -h of every command, with secrets in the settings that flag defaults show.
	for _, form := range []string{"postgres://casino:" + urlPW + "@db:5432/casino", "host=db user=casino password=" + libpq + " dbname=casino"} {
		env := map[string]string{"DATABASE_URL": form, "CASINO_JWT_KEY": jwtKey, "PGPASSWORD": pgpw, "CASINO_BACKEND_URL": "http://u:" + urlPW + "@backend:8080"}
		for _, args := range helpInvocations() {
			out, errOut, code := runCLI(t, env, "", args...)
			if code != 0 {
				t.Errorf("casino %s: exit %d: %s", strings.Join(args, " "), code, errOut)
			}
			for name, s := range secrets {
				if strings.Contains(out+errOut, s) {
					t.Errorf("%s leaked in 'casino %s'", name, strings.Join(args, " "))
				}
			}
		}
	}
}

// helpInvocations is -h for every command and subcommand casino has.
func helpInvocations() [][]string {
	var out [][]string
	for _, c := range commands {
		out = append(out, []string{c.Name, "-h"})
	}
	for _, c := range drCommands {
		out = append(out, []string{"dr", c.Name, "-h"})
	}
	for _, sub := range []string{"create", "list", "verify", "prune"} {
		out = append(out, []string{"backup", sub, "-h"})
	}
	out = append(out, []string{"user", "reset-password", "-h"}, []string{"help"})
	return out
}
