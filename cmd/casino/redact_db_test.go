package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoDatabasePasswordInErrors (issue 14, finding 6): a DATABASE_URL in
// libpq keyword/value form, which casino does not accept, is never echoed
// with its password by any command, whether it comes from the environment,
// --database-url or restore --target.
func TestNoDatabasePasswordInErrors(t *testing.T) {
	t.Parallel()
	const canary = "kw-canary-7781"
	urls := []string{
		"host=db.internal port=5432 user=casino password=" + canary + " dbname=casino_db sslmode=disable",
		"password='" + canary + " x' host=db dbname=casino_db",
		"host=db password=" + canary + ":x dbname=casino_db",
		"postgres://casino@127.0.0.1:1/casino_db?password=" + canary,
		"postgres://casino:" + canary + "@127.0.0.1:1/casino_db?connect_timeout=1",
		"postgres://casino:" + canary + "@:bad",
	}
	runs := [][]string{
		{"serve"}, {"migrate", "up"}, {"migrate", "current"}, {"migrate", "status"},
		{"backup", "create"}, {"backup", "list"}, {"backup", "verify"}, {"backup", "prune"},
		{"restore", "--latest", "--yes"}, {"user", "reset-password", "--generate", "a@casino.com"}, {"user", "unlock", "a@casino.com"},
		{"admin", "status"}, {"admin", "login-freeze", "on"}, {"admin", "maintenance", "off"},
		{"dr", "validate"}, {"dr", "status"}, {"dr", "checks"}, {"dev", "seed"}, {"version"},
		{"pitr", "status"}, {"pitr", "stream"}, {"restore", "--to-time", "2026-12-01T00:00:00Z", "--yes"},
	}
	seen := map[string]bool{}
	for _, u := range urls {
		for _, args := range runs {
			seen[args[0]] = true
			env := map[string]string{"DATABASE_URL": u, "CASINO_BACKUP_DIR": filepath.Join(t.TempDir(), "b"), "CASINO_DR_DIR": t.TempDir()}
			variants := [][]string{args}
			if args[0] == "restore" {
				variants = append(variants, append(append([]string{}, args...), "--target", u))
			}
			for _, a := range variants {
				// serve waits up to 30 s for a database; 2 s show its retries.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				out, errOut := runCLICtx(ctx, env, a...)
				cancel()
				if strings.Contains(out+errOut, canary) {
					t.Errorf("casino %s with DATABASE_URL %q printed the password:\n%s%s", strings.Join(a, " "), u, out, errOut)
				}
			}
		}
	}
	for _, c := range commands {
		if !seen[c.Name] {
			t.Errorf("command %s is not covered", c.Name)
		}
	}
}

// runCLICtx is runCLI under ctx, for commands that might wait.
func runCLICtx(ctx context.Context, env map[string]string, args ...string) (stdout, stderr string) {
	var out, errb syncBuffer
	err := run(ctx, args, envFunc(env), strings.NewReader(""), &out, &errb)
	exitCode(err, &errb)
	return out.String(), errb.String()
}
