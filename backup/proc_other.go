//go:build !linux

package backup

import (
	"os"
	"os/exec"
)

// dieWithParent is a no-op where the kernel has no parent-death signal; the
// children still end when their pipe to casino closes.
func dieWithParent(cmd *exec.Cmd) {}

// growPipe keeps the default pipe buffer where it cannot be set.
func growPipe(f *os.File) {}
