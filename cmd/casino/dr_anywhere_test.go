package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"casino/internal/poll"
)

// binServer is 'casino serve' run from the built binary, logging to a file.
type binServer struct {
	URL    string
	cmd    *exec.Cmd
	exited chan struct{}
}

func startBinServe(t *testing.T, bin, dir string, env []string, logPath string) *binServer {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	var stderr bytes.Buffer
	start, _ := os.Stat(logPath)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, logf, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &binServer{cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop(t) })
	poll.Until(t, 60*time.Second, "casino serve's startup event", func() bool {
		b, _ := os.ReadFile(logPath)
		if addr := startupAddr(string(b[start.Size():])); addr != "" {
			s.URL = "http://" + addr
		}
		select {
		case <-s.exited:
			t.Fatalf("casino serve exited at start: %s", stderr.String())
		default:
		}
		return s.URL != ""
	})
	waitStatus(t, s.URL+"/api/ready", 200, 30*time.Second)
	return s
}

// stop sends SIGTERM, as replicas=0 would, and waits for the exit.
func (s *binServer) stop(t *testing.T) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("casino serve did not exit within 30s of SIGTERM")
	}
}

// TestDRFromAnEmptyDirectoryWithOnlyTheBinary is issue 12's acceptance for
// the embedded defaults: in a folder that holds nothing but the casino
// binary (no docs/ops, no scripts, no checkout above it), on SQLite, the
// whole of declare → contain → scenario → run (the restore) →
// restore-traffic → validate → close works, and the proof records that
// the template, runbook and targets came from the binary.
func TestDRFromAnEmptyDirectoryWithOnlyTheBinary(t *testing.T) {
	built := casinoBinary(t)
	argvLogPath := standins(t) // kubectl stand-in on PATH: contain and restore-traffic record exact argv
	dir := t.TempDir()
	bin := filepath.Join(dir, "casino")
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("the folder holds %d entries, want only the binary", len(ents))
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "docs", "ops")); err == nil {
		t.Fatal("a docs/ops lies above the test folder")
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TZ=UTC",
		"DATABASE_URL=sqlite:" + filepath.Join(dir, "casino.db"), "CASINO_OWNER_PASSWORD=" + testOwnerPassword}
	casino := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run casino %s: %v", strings.Join(args, " "), err)
		}
		return out.String(), errb.String(), code
	}
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := casino(args...)
		if code != 0 {
			t.Fatalf("casino %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}

	logPath := filepath.Join(dir, "casino.log")
	srv := startBinServe(t, bin, dir, env, logPath)
	token := apiLogin(t, srv.URL, "admin@casino.com", testOwnerPassword)
	apiPost(t, srv.URL+"/api/v1/tenants", token, map[string]string{"name": "Before", "slug": "before"}, nil)
	must("backup", "create", "--dir", "backups")
	m, _ := filepath.Glob(filepath.Join(dir, "backups", "casino_db_*.sqlite.gz"))
	if len(m) != 1 {
		t.Fatalf("backups: %v", m)
	}
	backup, _ := filepath.Rel(dir, m[0])
	poll.NextSecond(t) // the incident starts after the snapshot

	out := must("dr", "declare", "--drill", "--severity", "SEV-2", "--ic", "Ines", "--comms", "Carl", "--url", srv.URL, "--baseline-p95", "1s")
	if !strings.Contains(out, "template embedded:template.md") {
		t.Errorf("declare did not use the embedded template:\n%s", out)
	}
	must("dr", "contain", "--platform", "kubernetes", "--yes")
	srv.stop(t) // what replicas=0 does
	out = must("dr", "scenario", "B", "--reason", "tenants table emptied")
	if !strings.Contains(out, "Scenario B") {
		t.Errorf("scenario B printed no runbook section:\n%s", out)
	}
	must("dr", "run", "--result-file", "restore.json", "--", "./casino", "restore", backup, "--yes", "--result-file", "restore.json")
	must("dr", "restore-traffic", "--yes")
	// Scaled back up, then restore-traffic waits for each rollout.
	if got := argvLog(t, argvLogPath); len(got) != 8 || !strings.Contains(got[4], "--replicas=2") || !strings.Contains(got[6], "rollout|status|deploy/backend") {
		t.Errorf("kubectl argv: %q", got)
	}
	srv = startBinServe(t, bin, dir, env, logPath) // what replicas=2 brings back
	out = must("dr", "validate", "--url", srv.URL, "--logs", "casino.log")
	if !strings.Contains(out, "PASS: every must-pass check passed") {
		t.Errorf("validate:\n%s", out)
	}
	out = must("dr", "close")
	if !strings.Contains(out, "RTO ") || !strings.Contains(out, "RPO ") || strings.Contains(out, "not known") {
		t.Errorf("close did not compute RTO and RPO:\n%s", out)
	}
	if strings.Count(out, ": MET") != 2 {
		t.Errorf("close against the embedded scenario B targets:\n%s", out)
	}

	proofs, _ := filepath.Glob(filepath.Join(dir, "docs/ops/restore_drill_proof", "*.md"))
	if len(proofs) != 1 {
		t.Fatalf("proofs: %v", proofs)
	}
	proof, _ := os.ReadFile(proofs[0])
	for _, want := range []string{
		"# DRILL PROOF", "from `embedded:template.md`", "Runbook section printed from `embedded:dr_runbook.md`",
		"targets from `embedded:dr_targets.json`", "done `run ./casino restore " + backup, "| data | **PASS** |",
	} {
		if !strings.Contains(string(proof), want) {
			t.Errorf("proof lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("proof:\n%s", proof)
	}
	if out := must("dr", "verify-proof", proofs[0]); !strings.Contains(out, "matches byte for byte") {
		t.Errorf("verify-proof: %s", out)
	}
}
