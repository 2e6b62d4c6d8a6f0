package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"casino/internal/testpg"
)

// drFixture is a working folder for dr tests: the test chdirs into it; the
// proof folder holds a copy of the canonical template.
type drFixture struct {
	Dir, ProofDir, Repo string
	Env                 map[string]string
}

func newDRFixture(t *testing.T) *drFixture {
	t.Helper()
	repo := testpg.RepoRoot()
	f := &drFixture{Dir: t.TempDir(), Repo: repo}
	f.ProofDir = filepath.Join(f.Dir, "proof")
	os.MkdirAll(f.ProofDir, 0o755)
	tpl, err := os.ReadFile(filepath.Join(repo, "docs/ops/restore_drill_proof/template.md"))
	if err != nil {
		tpl = []byte("# Restore drill / incident proof (test fixture)\n")
	}
	os.WriteFile(filepath.Join(f.ProofDir, "template.md"), tpl, 0o644)
	chdir(t, f.Dir)
	f.Env = map[string]string{"CASINO_DR_PROOF_DIR": f.ProofDir}
	return f
}

// dr runs 'casino dr ARGS' in-process with the fixture's env.
func (f *drFixture) dr(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCLI(t, f.Env, "", append([]string{"dr"}, args...)...)
}

// mustDR runs a dr command and fails the test unless it exits 0.
func (f *drFixture) mustDR(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := f.dr(t, args...)
	if code != 0 {
		t.Fatalf("casino dr %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// standins puts recording stand-ins for kubectl and docker first on PATH.
// Each appends its argv (one line, arguments separated by |) to the log
// and prints what the real tool would for the commands dr runs. The replica
// counts come from files the test may change.
func standins(t *testing.T) (logPath string) {
	t.Helper()
	bin := t.TempDir()
	logPath = filepath.Join(bin, "argv.log")
	os.WriteFile(filepath.Join(bin, "replicas.backend"), []byte("2"), 0o644)
	os.WriteFile(filepath.Join(bin, "replicas.frontend-admin"), []byte("1"), 0o644)
	kubectl := `#!/bin/sh
bin=$(dirname "$0")
(IFS='|'; echo "kubectl|$*") >> "$bin/argv.log"
case "$1 $2" in
"get deploy")
	cat "$bin/replicas.$3"; exit 0 ;;
"scale deploy/"*)
	# block here when the test asks, so it can kill the CLI mid-step
	if [ -f "$bin/block" ]; then sleep 30; fi
	echo "deployment.apps/${2#deploy/} scaled"; exit 0 ;;
"rollout status")
	# fail the rollout of a deployment the test names
	if [ -f "$bin/rollout-fails.${3#deploy/}" ]; then echo "error: deployment ${3#deploy/} exceeded its progress deadline" >&2; exit 1; fi
	echo "deployment \"${3#deploy/}\" successfully rolled out"; exit 0 ;;
esac
echo "kubectl stand-in: unexpected $*" >&2; exit 1
`
	docker := `#!/bin/sh
bin=$(dirname "$0")
(IFS='|'; echo "docker|$*") >> "$bin/argv.log"
case "$*" in
*" ps --all --format json "*)
	# after contain, the test may say what ps shows
	if [ -f "$bin/ps.json" ]; then cat "$bin/ps.json"; exit 0; fi
	echo '{"Service":"backend","State":"running","Name":"casino-backend-1"}'
	echo '{"Service":"frontend-admin","State":"running","Name":"casino-frontend-admin-1"}'
	echo '{"Service":"postgres","State":"running","Name":"casino-postgres-1"}'
	exit 0 ;;
*" stop "*|*" start "*)
	exit 0 ;;
esac
echo "docker stand-in: unexpected $*" >&2; exit 1
`
	os.WriteFile(filepath.Join(bin, "kubectl"), []byte(kubectl), 0o755)
	os.WriteFile(filepath.Join(bin, "docker"), []byte(docker), 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return logPath
}

// argvLog reads the stand-ins' log as lines, and empties it.
func argvLog(t *testing.T, path string) []string {
	t.Helper()
	b, _ := os.ReadFile(path)
	os.Remove(path)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// casinoBinary is this checkout's casino binary, for tests that need a real
// process (kill -9, scripts that exec casino): the one bkBinary builds once
// per test run.
func casinoBinary(t *testing.T) string {
	t.Helper()
	return bkBinary(t)
}
