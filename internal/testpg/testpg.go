// Package testpg gives tests a real PostgreSQL server: the shared one that
// scripts/ci/postgres.sh starts (CASINO_TEST_PG_URL), a fresh database per
// test, or a private cluster a test may stop and start.
//
// Without PostgreSQL a test skips, except under CI=true, where it fails: a
// skipped engine must never pass as tested.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

var (
	once      sync.Once
	serverURL string
	serverErr error
)

// unavailable skips the test, or fails it under CI=true.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is required in CI: %s", why)
	}
	t.Skipf("PostgreSQL not available: %s", why)
}

// RepoRoot returns the repository root (the folder holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ServerURL returns the admin URL of the shared test server, starting it with
// scripts/ci/postgres.sh when CASINO_TEST_PG_URL is unset.
func ServerURL(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if u := os.Getenv("CASINO_TEST_PG_URL"); u != "" {
			serverURL = u
			return
		}
		out, err := exec.Command("bash", filepath.Join(RepoRoot(), "scripts", "ci", "postgres.sh"), "url").Output()
		if err != nil {
			serverErr = fmt.Errorf("scripts/ci/postgres.sh: %v", err)
			return
		}
		serverURL = strings.TrimSpace(string(out))
	})
	if serverErr != nil {
		unavailable(t, serverErr.Error())
	}
	return serverURL
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// WithDatabase returns u with its database replaced by name.
func WithDatabase(u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	p.Path = "/" + name
	return p.String()
}

// NewDatabase creates an empty database on the shared server and returns its
// URL. It is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := ServerURL(t)
	name := randomName("casino_t_")
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		unavailable(t, err.Error())
	}
	t.Cleanup(func() { DropDatabase(admin, name) })
	return WithDatabase(admin, name)
}

// DropDatabase drops a database, terminating its connections first.
func DropDatabase(adminURL, name string) {
	db, err := sql.Open("pgx", adminURL)
	if err != nil {
		return
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

// BinDir finds the PostgreSQL server binaries.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", fmt.Errorf("no initdb under /usr/lib/postgresql/*/bin (run scripts/ci/postgres.sh)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// Cluster is a private PostgreSQL server a test may stop and start.
type Cluster struct {
	t    testing.TB
	bin  string
	dir  string
	port int
}

// NewCluster initialises and starts a private cluster on 127.0.0.1 at a free
// port. It is stopped and removed when the test ends.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		unavailable(t, err.Error())
	}
	dir, err := os.MkdirTemp("", "casino-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, bin: bin, dir: dir, port: freePort(t)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "no postgres user to run initdb as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
	}
	if out, err := c.cmd("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		unavailable(t, fmt.Sprintf("initdb: %v: %s", err, out))
	}
	t.Cleanup(func() {
		c.cmd("pg_ctl", "-D", c.data(), "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	})
	c.Start()
	return c
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off -c max_connections=200", c.port, c.dir)
	if out, err := c.cmd("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-o", opts, "-w", "start").CombinedOutput(); err != nil {
		c.t.Fatalf("pg_ctl start: %v: %s", err, out)
	}
}

// Stop stops the server at once, as a crash or a lost host would.
func (c *Cluster) Stop() {
	c.t.Helper()
	if out, err := c.cmd("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
		c.t.Fatalf("pg_ctl stop: %v: %s", err, out)
	}
}

// Destroy stops the server at once and deletes its data directory, as the
// loss of its host would. The cluster cannot be started again.
func (c *Cluster) Destroy() {
	c.t.Helper()
	c.Stop()
	if err := os.RemoveAll(c.data()); err != nil {
		c.t.Fatalf("remove the data directory: %v", err)
	}
}

// AdminURL is the URL of the cluster's postgres database.
func (c *Cluster) AdminURL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// NewDatabase creates a database on the cluster and returns its URL.
func (c *Cluster) NewDatabase() string {
	c.t.Helper()
	name := randomName("casino_c_")
	db, err := sql.Open("pgx", c.AdminURL())
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		c.t.Fatal(err)
	}
	return WithDatabase(c.AdminURL(), name)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
