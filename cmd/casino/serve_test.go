package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"casino/internal/logcheck"
	"casino/internal/poll"
	"casino/internal/testpg"
	"casino/logging"
	"casino/sqlstore"
)

// TestServeDefaultSQLite is the README's run command: no environment at all.
// It creates data/casino.db, answers health/ready/version, reuses the file on
// a second start and exits within 1 s of an idle Ctrl-C.
func TestServeDefaultSQLite(t *testing.T) {
	chdir(t, t.TempDir())
	env := map[string]string{"CASINO_OWNER_PASSWORD": "correct-horse-battery-staple-42"}

	s := startServe(t, env, true)
	checkVersion(t, s.URL, "sqlite")
	if resp, err := http.Get(s.URL + "/api/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`go_sql_open_connections{db_name="casino"}`, `casino_http_requests_total{code="200",method="GET",route="GET /api/health"}`, "casino_http_request_duration_seconds_bucket"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, err := os.Stat("data/casino.db"); err != nil {
		t.Fatalf("data/casino.db: %v", err)
	}
	start := time.Now()
	if err := s.Stop(t); err != nil {
		t.Fatalf("idle stop: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("idle server took %s to exit, want < 1s", d)
	}
	first := logcheck.Lines(t, s.Stdout.String())
	if n := len(logcheck.Events(first, logging.EventMigration)); n == 0 {
		t.Errorf("first start applied no migration")
	}
	if n := len(logcheck.Events(first, logging.EventShutdown)); n != 1 {
		t.Errorf("shutdown events: got %d, want 1", n)
	}

	// Second start: same file, nothing to migrate, one versions row.
	s2 := startServe(t, env, true)
	s2.Stop(t)
	second := logcheck.Lines(t, s2.Stdout.String())
	if n := len(logcheck.Events(second, logging.EventMigration)); n != 0 {
		t.Errorf("second start applied %d migrations, want 0 (file reused)", n)
	}
	db, err := sqlstore.Open(context.Background(), "sqlite:data/casino.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vs, err := db.Versions(context.Background())
	if err != nil || len(vs) != 1 || !vs[0].LastSeen.After(vs[0].FirstSeen) {
		t.Errorf("versions after two starts: %+v %v, want one row with last_seen > first_seen", vs, err)
	}
}

func checkVersion(t *testing.T, url, engine string) {
	t.Helper()
	var v map[string]any
	if code := getJSON(t, url+"/api/version", &v); code != 200 {
		t.Fatalf("version: %d", code)
	}
	for _, k := range []string{"version", "commit", "build_time", "go_version", "database"} {
		if s, _ := v[k].(string); s == "" {
			t.Errorf("version.%s empty: %v", k, v)
		}
	}
	if v["database"] != engine {
		t.Errorf("version.database: got %v, want %s", v["database"], engine)
	}
}

// TestServePostgres: the same against PostgreSQL, and migrate current prints
// the same version on both engines.
func TestServePostgres(t *testing.T) {
	url := testpg.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": url, "CASINO_OWNER_PASSWORD": "correct-horse-battery-staple-42"}
	s := startServe(t, env, true)
	checkVersion(t, s.URL, "postgres")
	s.Stop(t)
	logcheck.Lines(t, s.Stdout.String())

	pgOut, errOut, code := runCLI(t, env, "", "migrate", "current")
	if code != 0 {
		t.Fatalf("migrate current (postgres): %d %s", code, errOut)
	}
	chdir(t, t.TempDir())
	sqliteEnv := map[string]string{}
	if _, errOut, code := runCLI(t, sqliteEnv, "", "migrate", "up"); code != 0 {
		t.Fatalf("migrate up (sqlite): %s", errOut)
	}
	sqOut, errOut, code := runCLI(t, sqliteEnv, "", "migrate", "current")
	if code != 0 {
		t.Fatalf("migrate current (sqlite): %d %s", code, errOut)
	}
	if pgOut != sqOut || !strings.HasSuffix(strings.TrimSpace(pgOut), "(head)") {
		t.Errorf("migrate current differs: postgres %q, sqlite %q", pgOut, sqOut)
	}
	status, _, _ := runCLI(t, sqliteEnv, "", "migrate", "status")
	if !strings.Contains(status, "applied") {
		t.Errorf("migrate status: %s", status)
	}
}

// TestReadyFollowsPostgres stops PostgreSQL under a running casino serve:
// ready turns 503 within 2 s while health stays 200; when PostgreSQL comes
// back, ready returns to 200 without restarting casino.
func TestReadyFollowsPostgres(t *testing.T) {
	cluster := testpg.NewCluster(t)
	env := map[string]string{"DATABASE_URL": cluster.NewDatabase(), "CASINO_OWNER_PASSWORD": "correct-horse-battery-staple-42"}
	s := startServe(t, env, true)

	cluster.Stop()
	stopped := time.Now()
	waitStatus(t, s.URL+"/api/ready", 503, 2*time.Second)
	t.Logf("ready answered 503 %s after PostgreSQL stopped", time.Since(stopped).Round(time.Millisecond))
	if resp, err := http.Get(s.URL + "/api/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health while database down: %v %v", resp, err)
	}
	var body struct {
		Status string                     `json:"status"`
		Checks map[string]json.RawMessage `json:"checks"`
	}
	getJSON(t, s.URL+"/api/ready", &body)
	if body.Status != "fail" || !strings.Contains(string(body.Checks["database"]), `"fail"`) {
		t.Errorf("ready body must name the failing database check: %+v", body)
	}

	cluster.Start()
	waitStatus(t, s.URL+"/api/ready", 200, 10*time.Second)
	s.Stop(t)
	logcheck.Lines(t, s.Stdout.String())
}

// TestBadConfig: each bad setting exits 2 with one line naming the setting,
// and creates no file.
func TestBadConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"mysql url", map[string]string{"DATABASE_URL": "mysql://x"}, nil, "DATABASE_URL"},
		{"addr not a port", map[string]string{"CASINO_ADDR": "notaport"}, nil, "CASINO_ADDR"},
		{"addr port out of range", map[string]string{"CASINO_ADDR": ":99999"}, nil, "CASINO_ADDR"},
		{"log level", map[string]string{"CASINO_LOG_LEVEL": "loud"}, nil, "CASINO_LOG_LEVEL"},
		{"flag overrides env and is named", map[string]string{"DATABASE_URL": "sqlite:ok.db"}, []string{"--database-url", "redis://h"}, "--database-url"},
		{"postgres without db name", map[string]string{"DATABASE_URL": "postgres://u:pw@h:5432"}, nil, "DATABASE_URL"},
		{"role", map[string]string{"CASINO_ROLE": "everything"}, nil, "CASINO_ROLE"},
		{"frontend without backend", nil, []string{"--role", "frontend-admin"}, "CASINO_BACKEND_URL"},
		{"unknown flag", nil, []string{"--nope"}, "unknown flag -nope"},
		{"bad migrate flag", nil, []string{"--migrate=maybe"}, "migrate"},
		{"bad migrate env", map[string]string{"CASINO_MIGRATE": "no"}, nil, "CASINO_MIGRATE"},
		{"shutdown timeout env not a duration", map[string]string{"CASINO_SHUTDOWN_TIMEOUT": "soon"}, nil, "CASINO_SHUTDOWN_TIMEOUT"},
		{"shutdown timeout flag negative", nil, []string{"--shutdown-timeout=-1s"}, "--shutdown-timeout"},
		{"stray argument", nil, []string{"extra"}, "unexpected argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			chdir(t, dir)
			_, stderr, code := runCLI(t, c.env, "", append([]string{"serve"}, c.args...)...)
			if code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", code, stderr)
			}
			if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("want one line naming %q, got %q", c.want, stderr)
			}
			if strings.Contains(stderr, "pw@") {
				t.Errorf("password leaked: %q", stderr)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("bad config created files: %v", entries)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	if _, stderr, code := runCLI(t, nil, "", "frobnicate"); code != 2 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("unknown command: code %d, stderr %q", code, stderr)
	}
	out, _, code := runCLI(t, nil, "", "help")
	if code != 0 || !strings.Contains(out, "serve") || !strings.Contains(out, "migrate") {
		t.Errorf("help: %d %q", code, out)
	}
	for _, cmd := range []string{"serve", "migrate", "version"} {
		out, _, code := runCLI(t, nil, "", cmd, "-h")
		if code != 0 || strings.Count(out, "Usage: casino "+cmd) != 1 {
			t.Errorf("%s -h: want the usage once, got %d %q", cmd, code, out)
		}
	}
	if _, stderr, code := runCLI(t, nil, "", "migrate", "sideways"); code != 2 || !strings.Contains(stderr, "sideways") {
		t.Errorf("migrate sideways: %d %q", code, stderr)
	}
	out, _, _ = runCLI(t, nil, "", "version", "--json")
	var v map[string]string
	if json.Unmarshal([]byte(out), &v) != nil || v["version"] == "" || v["commit"] == "" {
		t.Errorf("version --json: %q", out)
	}
}

// Every serve setting is read the same way: the environment variable, then
// the flag over it. --shutdown-timeout has its variable too.
func TestConfigEnvThenFlag(t *testing.T) {
	t.Parallel()
	env := map[string]string{"CASINO_SHUTDOWN_TIMEOUT": "7s", "CASINO_MIGRATE": "off", "CASINO_UI_READY_TIMEOUT": "3s", "CASINO_ROLE": "backend"}
	for _, tt := range []struct {
		args []string
		want map[string]any
	}{
		{nil, map[string]any{"shutdown_timeout": "7s", "migrate": false, "ui_ready_timeout": "3s", "role": "backend"}},
		{[]string{"--shutdown-timeout=9s", "--migrate=on", "--ui-ready-timeout=4s", "--role=all"}, map[string]any{"shutdown_timeout": "9s", "migrate": true, "ui_ready_timeout": "4s", "role": "all"}},
	} {
		out, stderr, code := runCLI(t, env, "", append([]string{"serve", "--print-config"}, tt.args...)...)
		var got map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("print-config %v: exit %d %s %s", tt.args, code, out, stderr)
		}
		for k, want := range tt.want {
			if got[k] != want {
				t.Errorf("args %v: %s = %v, want %v", tt.args, k, got[k], want)
			}
		}
	}
}

func TestPrintConfigRedacts(t *testing.T) {
	chdir(t, t.TempDir())
	env := map[string]string{"DATABASE_URL": "postgres://casino:hunter2-canary@db:5432/casino_db?sslmode=disable"}
	out, stderr, code := runCLI(t, env, "", "serve", "--print-config")
	if code != 0 {
		t.Fatalf("print-config: %d %s", code, stderr)
	}
	if strings.Contains(out, "hunter2-canary") {
		t.Errorf("password printed: %s", out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil || !strings.Contains(m["database_url"].(string), "casino:***@db") {
		t.Errorf("print-config: %v %s", err, out)
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("print-config created files: %v", entries)
	}
}

// TestSchemaNewerRefused protects the Scenario A rollback: an old binary
// must refuse a database a newer build migrated.
func TestSchemaNewerRefused(t *testing.T) {
	chdir(t, t.TempDir())
	if _, errOut, code := runCLI(t, nil, "", "migrate", "up"); code != 0 {
		t.Fatal(errOut)
	}
	db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(filepath.Join("data", "casino.db")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', '2030-01-01 00:00:00+00:00')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	latest := sqlstore.LatestVersion(sqlstore.SQLite)
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"serve", "--addr", "127.0.0.1:0", "--migrate=off"}, {"migrate", "up"}} {
		_, stderr, code := runCLI(t, nil, "", args...)
		if code == 0 || !strings.Contains(stderr, "99") || !strings.Contains(stderr, "newer than this binary") || !strings.Contains(stderr, "("+itoa(latest)+")") {
			t.Errorf("%v: want refusal naming both versions, got %d %q", args, code, stderr)
		}
	}
	out, _, code := runCLI(t, nil, "", "migrate", "current")
	if code != 0 || !strings.HasPrefix(out, "99 (newer") {
		t.Errorf("migrate current: %d %q", code, out)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDrainOnShutdown: after the signal, readiness fails at once while an
// in-flight request finishes; the server then exits cleanly.
func TestDrainOnShutdown(t *testing.T) {
	var draining atomic.Bool
	release := make(chan struct{})
	started := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	mux.HandleFunc("GET /api/ready", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.WriteHeader(503)
		}
	})
	cfg := &Config{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second}
	logs := &syncBuffer{}
	logger := logging.New(logs, slog.LevelInfo)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- listenAndServe(ctx, cfg, logger, mux, func() { draining.Store(true) },
			slog.String("role", "backend"), slog.String("version", "test"), slog.String("commit", "test"))
	}()
	var url string
	if !poll.Wait(30*time.Second, func() bool {
		if a := startupAddr(logs.String()); a != "" {
			url = "http://" + a
		}
		return url != ""
	}) {
		t.Fatalf("no startup event within 30s:\n%s", logs)
	}
	slowDone := make(chan string, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			slowDone <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		slowDone <- string(b)
	}()
	<-started
	cancel()
	poll.Until(t, 10*time.Second, "readiness flipped after shutdown", draining.Load)
	select {
	case err := <-done:
		t.Fatalf("server exited with a request in flight: %v", err)
	default:
	}
	close(release)
	if got := <-slowDone; got != "done" {
		t.Errorf("in-flight request: got %q, want done", got)
	}
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("shutdown: %v", err)
	}
	lines := logcheck.Lines(t, logs.String())
	if sd := logcheck.Events(lines, logging.EventShutdown); len(sd) != 1 || sd[0]["clean"] != true {
		t.Errorf("shutdown event: %v", sd)
	}
}
