package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: what the operator types goes into
// master; the command reads it from slave, which is a real terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+itoaInt(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func itoaInt(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestDRContainTypedConfirmation(t *testing.T) {
	f := newDRFixture(t)
	log := standins(t)
	f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "a", "--comms", "b")
	runTTY := func(typed string) (string, int) {
		m, s := openPTY(t)
		m.Write([]byte(typed + "\n"))
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"dr", "contain", "--platform", "kubernetes"}, envFunc(f.Env), s, &out, &errb)
		code := exitCode(err, &errb)
		return errb.String(), code
	}
	errOut, code := runTTY("yes")
	if code == 0 || !strings.Contains(errOut, "Type CONTAIN to proceed") || !strings.Contains(errOut, "not confirmed") {
		t.Fatalf("typing yes: exit %d, %s", code, errOut)
	}
	if got := argvLog(t, log); got != nil {
		t.Fatalf("unconfirmed contain ran %q", got)
	}
	errOut, code = runTTY("CONTAIN")
	if code != 0 {
		t.Fatalf("typing CONTAIN: exit %d, %s", code, errOut)
	}
	if got := argvLog(t, log); len(got) != 4 {
		t.Fatalf("confirmed contain ran %q", got)
	}
	// /dev/null is a character device but no terminal: refused, not prompted.
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"dr", "restore-traffic"}, envFunc(f.Env), null, &out, &errb)
	if code := exitCode(err, &errb); code != 2 || !strings.Contains(errb.String(), "--yes") {
		t.Fatalf("restore-traffic < /dev/null: exit %d, %s", code, errb.String())
	}
}
