package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"casino/dr"
	"casino/internal/testpg"
)

// localBackend is a real casino serve started as an operator would, with
// its pid in run/backend.pid.
type localBackend struct {
	Work, Run, PIDFile, URL, Addr string
	Env                           []string
}

// startLocalBackend starts bin as 'casino serve' in a folder of its own,
// with env (and nothing else) as its environment, on a free port; the
// database is the relative sqlite:data/live.db unless extraEnv names
// another, so only the recorded folder and environment find it again. It
// waits for /api/ready.
func startLocalBackend(t *testing.T, f *drFixture, bin string, extraEnv ...string) *localBackend {
	t.Helper()
	lb := &localBackend{Work: t.TempDir(), Run: filepath.Join(f.Dir, "run")}
	lb.PIDFile = filepath.Join(lb.Run, "backend.pid")
	os.MkdirAll(lb.Run, 0o755)
	lb.Addr = freeAddr(t)
	lb.URL = "http://" + lb.Addr
	lb.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"CASINO_ADDR=" + lb.Addr,
		"CASINO_OWNER_PASSWORD=" + testOwnerPassword,
		"CASINO_JWT_KEY=local-jwt-canary-0123456789abcdef0123456789abcdef",
	}, extraEnv...)
	if !slices.ContainsFunc(lb.Env, func(kv string) bool { return strings.HasPrefix(kv, "DATABASE_URL=") }) {
		lb.Env = append(lb.Env, "DATABASE_URL=sqlite:data/live.db")
	}
	lb.start(t, bin)
	return lb
}

func (lb *localBackend) start(t *testing.T, bin string) {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Dir, cmd.Env = lb.Work, lb.Env
	logf, err := os.OpenFile(filepath.Join(lb.Run, "backend.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait() // reap it, so it does not linger as a zombie that looks alive
	os.WriteFile(lb.PIDFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	t.Cleanup(func() { killPidfile(lb.PIDFile) })
	waitStatus(t, lb.URL+"/api/ready", http.StatusOK, 60*time.Second)
}

// killPidfile kills whatever a pidfile names (the test's own processes).
func killPidfile(path string) {
	if pid := readPid(path); pid > 0 && dr.ProcessAlive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		waitPidGone(pid, 10*time.Second)
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(to) // a running binary cannot be rewritten in place (ETXTBSY)
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// proofFolderText is every file of the proof folder, concatenated.
func proofFolderText(t *testing.T, dir string) string {
	t.Helper()
	var all bytes.Buffer
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			all.Write(b)
		}
		return nil
	})
	return all.String()
}

// TestDRRestoreTrafficLocalReplaysRecordedEnvironment is issue 12's empty
// database: contain records the local backend's binary (and sha256),
// arguments, folder and environment, the secrets only in a 0600 file
// outside the proof folder; restore-traffic, run from a shell without
// DATABASE_URL, starts it on the recorded database (the tenant written
// before is there), waits for ready and the recorded version, refuses a
// changed binary unless --binary, and never overwrites a live pidfile.
func TestDRRestoreTrafficLocalReplaysRecordedEnvironment(t *testing.T) {
	f := newDRFixture(t)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("CASINO_ADDR", "")
	// The operator's install: a copy of the binary, which a later build may replace.
	built := casinoBinary(t)
	bin := filepath.Join(t.TempDir(), "casino")
	copyFile(t, built, bin, 0o755)
	lb := startLocalBackend(t, f, bin)
	token := apiLogin(t, lb.URL, "admin@casino.com", testOwnerPassword)
	apiPost(t, lb.URL+"/api/v1/tenants", token, map[string]string{"name": "Recorded", "slug": "recorded"}, nil)
	oldPid := readPid(lb.PIDFile)

	f.mustDR(t, "declare", "--severity", "SEV-1", "--ic", "a", "--comms", "b", "--url", lb.URL)
	f.Env["CASINO_OWNER_PASSWORD"] = testOwnerPassword
	f.mustDR(t, "login-freeze", "on", "--url", lb.URL, "--reason", "incident", "--yes")
	delete(f.Env, "CASINO_OWNER_PASSWORD")
	f.mustDR(t, "contain", "--platform", "local", "--pid-dir", lb.Run, "--yes")
	waitFor(t, "the backend to stop", func() bool { return !dr.ProcessAlive(oldPid) })

	// What was recorded, and where the secrets went.
	in, err := dr.Open(f.ProofDir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := in.State.Platform
	be := ps.Components[1]
	if be.Name != "backend" || be.Exe != bin || be.ExeSHA256 != sha256File(t, bin) || be.Cwd != lb.Work {
		t.Fatalf("recorded backend: name %s exe %s sha %s cwd %s; want %s %s in %s", be.Name, be.Exe, be.ExeSHA256, be.Cwd, bin, sha256File(t, bin), lb.Work)
	}
	env := map[string]dr.EnvVar{}
	for _, v := range be.Env {
		env[v.Name] = v
	}
	if v := env["DATABASE_URL"]; v.Value != "sqlite:data/live.db" || v.Secret {
		t.Errorf("journal's DATABASE_URL: %+v", v)
	}
	for _, name := range []string{"CASINO_JWT_KEY", "CASINO_OWNER_PASSWORD"} {
		if v := env[name]; v.Value != dr.Redacted || !v.Secret {
			t.Errorf("journal's %s: %+v, want masked", name, v)
		}
	}
	fi, err := os.Stat(ps.SecretsFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file %s: %v, mode %v; want 0600", ps.SecretsFile, err, fi.Mode().Perm())
	}
	if rel, _ := filepath.Rel(f.ProofDir, ps.SecretsFile); !strings.HasPrefix(rel, "..") {
		t.Fatalf("secrets file %s is inside the proof folder", ps.SecretsFile)
	}
	if sf, _ := os.ReadFile(ps.SecretsFile); !strings.Contains(string(sf), "local-jwt-canary") {
		t.Fatalf("the secrets file lacks the recorded CASINO_JWT_KEY")
	}
	proof := proofFolderText(t, f.ProofDir)
	for _, secret := range []string{"local-jwt-canary-0123456789abcdef0123456789abcdef", testOwnerPassword} {
		if strings.Contains(proof, secret) {
			t.Errorf("a recorded secret reached the proof folder: %q", secret)
		}
	}
	if !strings.Contains(proof, "binary `"+bin+"` sha256 `"+sha256File(t, bin)+"`") {
		t.Errorf("the proof does not name the binary and its sha256")
	}

	out := f.mustDR(t, "restore-traffic", "--dry-run")
	if !strings.Contains(out, bin+" serve") || !strings.Contains(out, ps.SecretsFile) || !strings.Contains(out, "/api/ready and version") {
		t.Errorf("restore-traffic --dry-run:\n%s", out)
	}

	// A new build was installed at the recorded path: refused, nothing started.
	replaceFile(t, bin, append(mustReadBytes(t, built), 0))
	_, errOut, code := f.dr(t, "restore-traffic", "--yes")
	if code == 0 || !strings.Contains(errOut, "not the one contain recorded") || !strings.Contains(errOut, "--binary PATH") {
		t.Fatalf("restore-traffic with a changed binary: exit %d, %s", code, errOut)
	}
	if readPid(lb.PIDFile) != oldPid {
		t.Fatalf("a refused restore-traffic changed the pidfile")
	}

	// The recorded binary back: it comes up on the recorded database, with
	// the recorded environment, from this shell that has none of it.
	copyFile(t, built, bin, 0o755)
	out = f.mustDR(t, "restore-traffic", "--yes", "--force")
	pid := readPid(lb.PIDFile)
	if pid == oldPid || !dr.ProcessAlive(pid) {
		t.Fatalf("after restore-traffic: pidfile names %d (old %d), alive %v\n%s", pid, oldPid, dr.ProcessAlive(pid), out)
	}
	if !strings.Contains(out, "serving") || !strings.Contains(out, "/api/ready 200, version ") {
		t.Errorf("restore-traffic did not report the ready and version wait:\n%s", out)
	}
	environ, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if !bytes.Contains(environ, []byte("\x00DATABASE_URL=sqlite:data/live.db\x00")) && !bytes.HasPrefix(environ, []byte("DATABASE_URL=sqlite:data/live.db\x00")) {
		t.Errorf("the restarted backend's environment lacks the recorded DATABASE_URL")
	}
	cwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	if cwd != lb.Work {
		t.Errorf("the restarted backend runs in %s, want %s", cwd, lb.Work)
	}
	token = apiLogin(t, lb.URL, "admin@casino.com", testOwnerPassword)
	req, _ := http.NewRequest("GET", lb.URL+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := readAllClose(resp)
	if !strings.Contains(string(body), `"recorded"`) {
		t.Fatalf("the restarted backend does not serve the recorded database: tenants %s", body)
	}
	for _, p := range []string{filepath.Join(f.Dir, "data", "casino.db"), filepath.Join(lb.Work, "data", "casino.db")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a fresh default database appeared at %s", p)
		}
	}

	// A live pidfile is never overwritten, and no second backend starts.
	_, errOut, code = f.dr(t, "restore-traffic", "--yes", "--force")
	if code == 0 || !strings.Contains(errOut, "names pid "+strconv.Itoa(pid)+", which is running") {
		t.Fatalf("restore-traffic over a live pidfile: exit %d, %s", code, errOut)
	}
	if readPid(lb.PIDFile) != pid || !dr.ProcessAlive(pid) {
		t.Fatalf("the live pidfile was changed, or its process stopped")
	}

	// A different binary on purpose: --binary starts it, and the journal names it.
	syscall.Kill(pid, syscall.SIGTERM)
	waitFor(t, "the backend to stop", func() bool { return !dr.ProcessAlive(pid) })
	replaceFile(t, bin, append(mustReadBytes(t, built), 0))
	f.mustDR(t, "restore-traffic", "--yes", "--force", "--binary", built)
	if p := readPid(lb.PIDFile); p == pid || !dr.ProcessAlive(p) {
		t.Fatalf("restore-traffic --binary did not start a backend (pidfile %d)", p)
	}
	if proof := readProof(t, f); !strings.Contains(proof, "--binary "+built+" (sha256 "+sha256File(t, built)+") in place of the recorded "+bin) {
		t.Errorf("the proof does not name the --binary override")
	}

	// Closing the incident removes the clear-text environment: nothing
	// needs it any more, and it holds the database password.
	f.mustDR(t, "scenario", "B", "--reason", "rehearsal")
	out = f.mustDR(t, "close", "--unrecovered")
	if _, err := os.Stat(ps.SecretsFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after close the secrets file %s is still there (%v)", ps.SecretsFile, err)
	}
	if !strings.Contains(out, "removed "+ps.SecretsFile) {
		t.Errorf("close did not say it removed the secrets file:\n%s", out)
	}
}

// TestDRRestoreTrafficLocalPostgres: the recorded DATABASE_URL is a
// PostgreSQL one (password included); from a shell without it,
// restore-traffic brings the backend back on that database, not on the
// default SQLite file, and the password stays out of the proof folder.
func TestDRRestoreTrafficLocalPostgres(t *testing.T) {
	f := newDRFixture(t)
	t.Setenv("DATABASE_URL", "")
	dbURL := testpg.NewDatabase(t)
	lb := startLocalBackend(t, f, casinoBinary(t), "DATABASE_URL="+dbURL)
	token := apiLogin(t, lb.URL, "admin@casino.com", testOwnerPassword)
	apiPost(t, lb.URL+"/api/v1/tenants", token, map[string]string{"name": "On Postgres", "slug": "on-postgres"}, nil)
	oldPid := readPid(lb.PIDFile)
	f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "a", "--comms", "b", "--url", lb.URL)
	f.mustDR(t, "contain", "--platform", "local", "--pid-dir", lb.Run, "--yes")
	waitFor(t, "the backend to stop", func() bool { return !dr.ProcessAlive(oldPid) })
	f.mustDR(t, "restore-traffic", "--yes")
	token = apiLogin(t, lb.URL, "admin@casino.com", testOwnerPassword)
	req, _ := http.NewRequest("GET", lb.URL+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := readAllClose(resp)
	if !strings.Contains(string(body), `"on-postgres"`) {
		t.Fatalf("the restarted backend does not serve the recorded PostgreSQL database: %s", body)
	}
	if _, err := os.Stat(filepath.Join(lb.Work, "data", "casino.db")); err == nil {
		t.Errorf("the restarted backend created the default SQLite database")
	}
	if u, err := url.Parse(dbURL); err == nil {
		if pw, ok := u.User.Password(); ok && len(pw) >= 4 && strings.Contains(proofFolderText(t, f.ProofDir), pw) {
			t.Errorf("the database password reached the proof folder")
		}
	}
}

// TestDRRestoreTrafficLocalFailsLoudly: a port already taken, and a
// process that dies at start, make restore-traffic fail non-zero; the
// journal says which, and the pidfile is left as it was (never the dead pid).
func TestDRRestoreTrafficLocalFailsLoudly(t *testing.T) {
	f := newDRFixture(t)
	lb := startLocalBackend(t, f, casinoBinary(t))
	oldPid := readPid(lb.PIDFile)
	f.mustDR(t, "declare", "--severity", "SEV-2", "--ic", "a", "--comms", "b", "--url", lb.URL)
	f.mustDR(t, "contain", "--platform", "local", "--pid-dir", lb.Run, "--yes")
	waitFor(t, "the backend to stop", func() bool { return !dr.ProcessAlive(oldPid) })

	// Port in use: another process listens where the backend would.
	ln, err := net.Listen("tcp", lb.Addr)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := f.dr(t, "restore-traffic", "--yes")
	ln.Close()
	if code == 0 || !strings.Contains(errOut, "the port is already in use") || strings.Contains(out, "traffic restored") {
		t.Fatalf("restore-traffic with the port taken: exit %d\n%s\n%s", code, out, errOut)
	}
	if readPid(lb.PIDFile) != oldPid {
		t.Errorf("the pidfile changed although nothing started")
	}
	if proof := readProof(t, f); !strings.Contains(proof, "FAILED `restore-traffic`") || !strings.Contains(proof, lb.Addr+" already accepts connections") {
		t.Errorf("the proof does not say the port was taken")
	}

	// Dies at start: the recorded database is no longer one.
	db := filepath.Join(lb.Work, "data", "live.db")
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		os.Remove(p)
	}
	os.WriteFile(db, []byte(strings.Repeat("not a database\n", 300)), 0o600)
	start := time.Now()
	out, errOut, code = f.dr(t, "restore-traffic", "--yes", "--force")
	if code == 0 || !strings.Contains(errOut, "the process exited at start") {
		t.Fatalf("restore-traffic with a backend that dies: exit %d\n%s\n%s", code, out, errOut)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("the death was noticed after %s, not when it happened", d)
	}
	if readPid(lb.PIDFile) != oldPid {
		t.Errorf("the pidfile was overwritten with the dead pid")
	}
	proof := readProof(t, f)
	if !strings.Contains(proof, "the process exited at start") || !strings.Contains(proof, "last lines of "+filepath.Join(lb.Run, "backend.log")) {
		t.Errorf("the proof does not say the process died, with its log:\n%s", proof)
	}
	if strings.Contains(proof, "local-jwt-canary-0123456789abcdef0123456789abcdef") {
		t.Errorf("the recorded JWT key reached the proof")
	}
}

// replaceFile puts b at path as a new file (a binary that ran cannot be
// rewritten in place).
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	os.Remove(path)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustReadBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readAllClose(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	return b.Bytes(), err
}
