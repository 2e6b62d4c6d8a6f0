package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe buffer for a running command's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// envFunc turns a map into a getenv; nothing leaks in from the real
// environment.
func envFunc(env map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		if k == "CASINO_BACKUP_SIGNING_KEY" {
			return testBackupKey
		}
		return ""
	}
}

// runCLI runs casino in-process with args and env, and returns its output
// and exit code.
func runCLI(t testing.TB, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, envFunc(env), strings.NewReader(stdin), &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

// testServer is casino serve running in-process.
type testServer struct {
	URL    string
	Stdout *syncBuffer
	Stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startServe runs 'casino serve' with env and extra args on 127.0.0.1 at a
// free port, waits for the startup event, and stops it when the test ends.
// waitReady also waits for /api/ready to answer 200.
func startServe(t testing.TB, env map[string]string, waitReady bool, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	full := append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)
	go func() { s.done <- run(ctx, full, envFunc(env), strings.NewReader(""), s.Stdout, s.Stderr) }()
	t.Cleanup(func() { s.Stop(t) })
	deadline := time.Now().Add(60 * time.Second)
	for s.URL == "" {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("serve exited before startup: %v\nstdout:\n%s\nstderr:\n%s", err, s.Stdout, s.Stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if addr := startupAddr(s.Stdout.String()); addr != "" {
			s.URL = "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start within 60s\nstdout:\n%s\nstderr:\n%s", s.Stdout, s.Stderr)
		}
	}
	if waitReady {
		waitStatus(t, s.URL+"/api/ready", http.StatusOK, 30*time.Second)
	}
	return s
}

// Stop cancels the server (as SIGTERM would) and waits for it to exit.
func (s *testServer) Stop(t testing.TB) error {
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Errorf("serve did not exit within 30s of cancel")
		return fmt.Errorf("timeout")
	}
}

// startupAddr finds the addr of the startup event in JSON log output.
func startupAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Event string `json:"event"`
			Addr  string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "startup" {
			return ev.Addr
		}
	}
	return ""
}

// waitStatus polls url until it answers want, or fails the test.
func waitStatus(t testing.TB, url string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: want %d within %s, last: %s", url, want, within, last)
}

// getJSON fetches url and decodes the body into v, returning the status.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: decode: %v", url, err)
		}
	}
	return resp.StatusCode
}

// chdir changes into dir for the rest of the test. Tests that use it must
// not run in parallel.
func chdir(t testing.TB, dir string) {
	t.Helper()
	old, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(old) })
}
