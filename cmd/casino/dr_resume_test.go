package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startKillable starts the real casino binary in its own process group.
func startKillable(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(casinoBinary(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the stand-ins it left behind
		cmd.Wait()
	})
	return cmd
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fileContains(path, s string) bool {
	b, _ := os.ReadFile(path)
	return strings.Contains(string(b), s)
}

func TestDRResumeAfterKill9(t *testing.T) {
	f := newDRFixture(t)
	log := standins(t)
	bin := filepath.Dir(log)
	f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "ann", "--comms", "bo")
	journal := filepath.Join(f.ProofDir, time.Now().UTC().Format("2006-01-02")+".journal.jsonl")

	// contain blocks inside the first kubectl scale; kill -9 the CLI there.
	os.WriteFile(filepath.Join(bin, "block"), nil, 0o644)
	cmd := startKillable(t, "dr", "contain", "--platform", "kubernetes", "--yes", "--proof-dir", f.ProofDir)
	waitFor(t, "contain to reach kubectl scale", func() bool { return fileContains(log, "scale|deploy/frontend-admin") })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	os.Remove(filepath.Join(bin, "block"))

	status := f.mustDR(t, "status")
	for _, want := range []string{"INTERRUPTED  contain", "recorded before containment (kubernetes): frontend-admin=1 backend=2"} {
		if !strings.Contains(status, want) {
			t.Errorf("status after kill -9 lacks %q:\n%s", want, status)
		}
	}
	if !fileContains(journal, `"type":"recorded_state"`) || fileContains(journal, `"type":"step_end"`) {
		t.Fatalf("journal after kill -9 should hold the recorded state and no step end")
	}

	// The cluster is half-contained now: a fresh recording would say 0.
	os.WriteFile(filepath.Join(bin, "replicas.frontend-admin"), []byte("0"), 0o644)
	argvLog(t, log)
	out := f.mustDR(t, "contain", "--platform", "kubernetes", "--yes")
	if !strings.Contains(out, "resuming") {
		t.Errorf("second contain did not say it resumed:\n%s", out)
	}
	want := []string{"kubectl|scale|deploy/frontend-admin|--replicas=0", "kubectl|scale|deploy/backend|--replicas=0"}
	if got := argvLog(t, log); !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed contain ran %q, want %q (no second recording)", got, want)
	}
	// Done now: not rerun without --force.
	if _, errOut, code := f.dr(t, "contain", "--platform", "kubernetes", "--yes"); code == 0 || !strings.Contains(errOut, "step already done") {
		t.Fatalf("third contain: exit %d: %s", code, errOut)
	}
	if got := argvLog(t, log); got != nil {
		t.Fatalf("refused contain ran %q", got)
	}
	f.mustDR(t, "restore-traffic", "--yes")
	want = []string{"kubectl|scale|deploy/backend|--replicas=2", "kubectl|scale|deploy/frontend-admin|--replicas=1", "kubectl|rollout|status|deploy/backend|--timeout=2m0s", "kubectl|rollout|status|deploy/frontend-admin|--timeout=2m0s"}
	if got := argvLog(t, log); !reflect.DeepEqual(got, want) {
		t.Fatalf("restore-traffic after resume ran %q, want the first recorded counts %q", got, want)
	}

	// dr run killed mid-command: interrupted, and may run again.
	marker := filepath.Join(f.Dir, "ran")
	cmd = startKillable(t, "dr", "run", "--proof-dir", f.ProofDir, "--", "sh", "-c", "echo x >> "+marker+"; sleep 30")
	// The command runs before dr run journals its pid: wait for both, or a
	// kill in between leaves no child to find (a race the test, not dr, had).
	waitFor(t, "dr run to start its command and journal its pid", func() bool {
		return fileContains(marker, "x") && fileContains(journal, `"type":"step_child"`)
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// The CLI is gone; the command it started (sleep 30) is not.
	status = f.mustDR(t, "status")
	if !strings.Contains(status, "RUNNING      run sh -c") || !strings.Contains(status, "its command, pid") {
		t.Errorf("status with the command still running:\n%s", status)
	}
	if _, errOut, code := f.dr(t, "run", "--", "sh", "-c", "echo x >> "+marker+"; sleep 30"); code == 0 || !strings.Contains(errOut, "still running") {
		t.Fatalf("rerun while the first is still running: exit %d: %s", code, errOut)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	waitFor(t, "the orphaned command to die", func() bool {
		return strings.Contains(f.mustDR(t, "status"), "INTERRUPTED  run sh -c")
	})
	status = f.mustDR(t, "status")
	if !strings.Contains(status, "INTERRUPTED  run sh -c") {
		t.Errorf("status after killing dr run:\n%s", status)
	}
	f.mustDR(t, "run", "--", "sh", "-c", "echo y >> "+marker)
	if _, errOut, code := f.dr(t, "run", "--", "sh", "-c", "echo y >> "+marker); code == 0 || !strings.Contains(errOut, "--force") {
		t.Fatalf("rerun of a done command: exit %d: %s", code, errOut)
	}
	f.mustDR(t, "run", "--force", "--", "sh", "-c", "echo y >> "+marker)
	if b, _ := os.ReadFile(marker); string(b) != "x\ny\ny\n" {
		t.Fatalf("marker = %q: the done command ran without --force, or --force did not run it", b)
	}
	if _, errOut, code := f.dr(t, "verify-proof", filepath.Join(f.ProofDir, time.Now().UTC().Format("2006-01-02")+".md")); code != 0 {
		t.Fatalf("verify-proof after kill -9: %d %s", code, errOut)
	}
}
