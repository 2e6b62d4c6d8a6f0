package pitr

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"casino/backup"
)

// findTool finds a PostgreSQL program of exactly the given major version:
// pg_receivewal and pg_basebackup of another major refuse the server or write
// what the other major cannot read, and a recovery must replay WAL with the
// server that wrote it. With binDir set only that folder is tried.
func findTool(name, binDir string, major int) (string, error) {
	var cands []string
	if binDir != "" {
		cands = []string{filepath.Join(binDir, name)}
	} else {
		cands = append(cands, filepath.Join("/usr/lib/postgresql", strconv.Itoa(major), "bin", name))
		if p, err := exec.LookPath(name); err == nil {
			cands = append(cands, p)
		}
	}
	var found []string
	for _, c := range cands {
		m, err := backup.ToolMajor(c)
		if err != nil {
			continue
		}
		if m == major {
			return c, nil
		}
		found = append(found, fmt.Sprintf("%s is version %d", c, m))
	}
	if len(found) == 0 {
		return "", fmt.Errorf("%s of PostgreSQL %d not found (looked in %s): install PostgreSQL %d's binaries, or set --pg-bin-dir", name, major, strings.Join(cands, ", "), major)
	}
	return "", fmt.Errorf("refusing %s of another major: the server is PostgreSQL %d but %s; install PostgreSQL %d's binaries, or set --pg-bin-dir", name, major, strings.Join(found, ", "), major)
}

// tail keeps the last bytes written to it: the end of a child's stderr for
// an error message.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// lineWriter calls fn once per complete line written to it.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// startLocked starts cmd so that it receives SIGKILL when casino dies (a
// kill -9 of casino must not leave pg_receivewal holding the slot, or a
// temporary server running). The signal follows the OS thread that forked
// the child, so the goroutine stays locked to it until the child is reaped:
// wait must be called on the returned channel's side only.
func startLocked(cmd *exec.Cmd) (<-chan error, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	// Its own process group, so that killing it reaches what it forked
	// (pg_basebackup forks its WAL receiver); and Wait does not hang on a
	// pipe a leftover child still holds.
	cmd.SysProcAttr.Setpgid = true
	cmd.WaitDelay = 10 * time.Second
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}

// runTool runs a short-lived tool to completion, killed when ctx ends or
// casino dies, and returns its stderr tail in the error.
func runTool(ctx context.Context, cmd *exec.Cmd, stdout io.Writer) (string, error) {
	var errb tail
	var all bytes.Buffer
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(&errb, &limitWriter{w: &all, n: 1 << 16})
	done, err := startLocked(cmd)
	if err != nil {
		return "", err
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return all.String(), ctx.Err()
	}
	if err != nil {
		return all.String(), fmt.Errorf("%s: %v: %s", filepath.Base(cmd.Path), err, errb.String())
	}
	return all.String(), nil
}

// limitWriter keeps at most n bytes and drops the rest.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if len(q) > l.n {
		q = q[:l.n]
	}
	l.n -= len(q)
	l.w.Write(q)
	return len(p), nil
}

// writeFileAtomic writes data under a temporary name, fsyncs it and renames
// it into place: a reader sees the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
