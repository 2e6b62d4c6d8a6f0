package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"casino/dr"
)

// TestDRContainLocalByPidfile contains a real local process found by its
// pidfile, and restore-traffic starts it again with its recorded command
// line in its recorded folder, writing the new pid.
func TestDRContainLocalByPidfile(t *testing.T) {
	if _, err := exec.LookPath("kill"); err != nil {
		t.Skip("no kill(1) on PATH")
	}
	f := newDRFixture(t)
	run := filepath.Join(f.Dir, "run")
	os.MkdirAll(run, 0o755)
	work := t.TempDir()
	cmd := exec.Command("sleep", "300")
	cmd.Dir = work
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait() // reap it, so it does not linger as a zombie that looks alive
	os.WriteFile(filepath.Join(run, "backend.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "a", "--comms", "b")

	out := f.mustDR(t, "contain", "--platform", "local", "--pid-dir", run, "--dry-run")
	if !strings.Contains(out, "kill -TERM "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("dry-run:\n%s", out)
	}
	f.mustDR(t, "contain", "--platform", "local", "--pid-dir", run, "--yes")
	waitFor(t, "the process to stop", func() bool { return !dr.ProcessAlive(cmd.Process.Pid) })

	out = f.mustDR(t, "restore-traffic", "--dry-run")
	if !strings.Contains(out, "nohup") || !strings.Contains(out, " sleep 300") || !strings.Contains(out, work) {
		t.Fatalf("restore-traffic dry-run:\n%s", out)
	}
	f.mustDR(t, "restore-traffic", "--yes")
	var pid int
	waitFor(t, "a new pidfile", func() bool {
		b, _ := os.ReadFile(filepath.Join(run, "backend.pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0 && pid != cmd.Process.Pid
	})
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	time.Sleep(50 * time.Millisecond)
	if !dr.ProcessAlive(pid) {
		t.Fatalf("restarted process %d is not running", pid)
	}
	cwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if cwd != work || string(cmdline) != "sleep\x00300\x00" {
		t.Fatalf("restarted %q in %s, want sleep 300 in %s", cmdline, cwd, work)
	}
}
