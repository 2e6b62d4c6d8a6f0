package backup

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes a child (pg_dump, psql) receive SIGKILL when casino
// dies, so a kill -9 of a restore does not leave psql feeding a scratch
// database on its own. The signal follows the creating OS thread, so the
// caller runs the child with its goroutine locked to its thread (runLocked).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
