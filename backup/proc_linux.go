package backup

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// dieWithParent makes a child (pg_dump, psql) receive SIGKILL when casino
// dies, so a kill -9 of a restore does not leave psql feeding a scratch
// database on its own. The signal follows the creating OS thread, so the
// caller runs the child with its goroutine locked to its thread (runLocked).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// growPipe asks for a 1 MiB pipe buffer (the default is 64 KiB), so pg_dump
// and the loader reading its output stall on each other less. A refusal
// (pipe-max-size) leaves the default.
func growPipe(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
	}
}
