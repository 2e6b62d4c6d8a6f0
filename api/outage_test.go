package api_test

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"casino"
	"casino/api"
	"casino/auth"
	"casino/internal/testpg"
	"casino/logging"
	"casino/sqlstore"

	"casino/internal/poll"
)

// tcpProxy forwards 127.0.0.1:<port> to target until cut, which closes the
// listener and every connection: the database then becomes unreachable
// from the server, as in an outage or a network partition.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	t.Cleanup(p.cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// outageEnv is an API server whose PostgreSQL is reached through a proxy
// the test can cut.
func outageEnv(t *testing.T) (*apiEnv, *tcpProxy, *url.URL) {
	t.Helper()
	raw := testpg.NewDatabase(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.ln.Addr().String()
	db, err := sqlstore.Open(context.Background(), viaProxy.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	hasher, _ := auth.NewHasher(auth.HasherConfig{Params: testParams, MaxConcurrent: 2, AllowWeakForTests: true})
	tokens, _ := auth.NewTokens(auth.NewKey(), 30*time.Minute)
	hash, _ := hasher.Hash(context.Background(), ownerPassword)
	if _, err := db.EnsureOwner(context.Background(), ownerEmail, hash); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	logger := logging.New(logs, 0)
	s := api.NewServer(api.Config{
		Logger: logger, Build: casino.Build(), Store: db, Versions: db, ReadyTimeout: 2 * time.Second,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Auth:           auth.NewService(db, hasher, tokens, auth.DefaultThrottle, logger),
		Hasher:         hasher, Tenants: db, Users: db, Settings: db, Audit: db, System: db,
	})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &apiEnv{t: t, db: db, srv: srv, lockedLogs: logs}, proxy, u
}

// TestReadyHidesDatabaseDetails (issue 14, finding 6): with the database
// down, /api/ready tells anyone which check failed, never the database's
// user, name, host or port; those go to the log, and the owner sees every
// detail at GET /api/v1/admin/ready.
func TestReadyHidesDatabaseDetails(t *testing.T) {
	t.Parallel()
	e, proxy, u := outageEnv(t)
	owner := e.login(ownerEmail, ownerPassword)
	r := e.call("GET", "/api/v1/admin/ready", owner, nil)
	checks, _ := r.Body["checks"].(map[string]any)
	schema, _ := checks["schema"].(map[string]any)
	if r.Status != 200 || schema["expected"] == nil || schema["duration_ms"] == nil {
		t.Errorf("owner's ready: got %s, want 200 with the schema versions and durations", r)
	}
	tok := e.createAdmin(owner, e.createTenant(owner, "ready"), "ready@casino.com")
	if r := e.call("GET", "/api/v1/admin/ready", tok, nil); r.Status != 403 {
		t.Errorf("tenant admin's ready: got %s, want 403", r)
	}
	if r := e.call("GET", "/api/v1/admin/ready", "", nil); r.Status != 401 {
		t.Errorf("anonymous admin ready: got %s, want 401", r)
	}

	proxy.cut()
	r = e.call("GET", "/api/ready", "", nil)
	if r.Status != 503 || r.Body["status"] != "fail" {
		t.Fatalf("ready with the database down: got %s", r)
	}
	checks, _ = r.Body["checks"].(map[string]any)
	for name, c := range checks {
		if keys := len(c.(map[string]any)); keys != 1 {
			t.Errorf("check %s carries %d fields, want status only: %s", name, keys, r.Raw)
		}
	}
	if db, _ := checks["database"].(map[string]any); db["status"] != "fail" {
		t.Errorf("database check: got %s", r.Raw)
	}
	user := u.User.Username()
	dbName := strings.TrimPrefix(u.Path, "/")
	_, port, _ := net.SplitHostPort(proxy.ln.Addr().String())
	for _, secret := range []string{"user=", user, dbName, port, "127.0.0.1", "dial", "connect"} {
		if strings.Contains(string(r.Raw), secret) {
			t.Errorf("public ready body reveals %q: %s", secret, r.Raw)
		}
	}
	if !waitFor(func() bool { return strings.Contains(e.lockedLogs.String(), `"event":"ready_check_failed"`) }) {
		t.Errorf("no ready_check_failed log line; logs:\n%s", e.lockedLogs.String())
	}
}

// TestDatabaseDownAnswers503 (issue 14, finding 8): an unreachable
// database answers 503 with Retry-After, not 500, on login (no token) and
// on an authenticated call.
func TestDatabaseDownAnswers503(t *testing.T) {
	t.Parallel()
	e, proxy, _ := outageEnv(t)
	owner := e.login(ownerEmail, ownerPassword)
	proxy.cut()
	for _, c := range []struct{ method, path, token string }{
		{"POST", "/api/v1/auth/login", ""},
		{"GET", "/api/v1/tenants", owner},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]string{"email": ownerEmail, "password": ownerPassword}
		}
		r := e.call(c.method, c.path, c.token, body)
		ra, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		if r.Status != 503 || r.errCode() != casino.EUNAVAILABLE || ra < 1 {
			t.Log(e.lockedLogs.String())
			t.Errorf("%s %s with the database down: got %s (Retry-After %q), want 503 with Retry-After", c.method, c.path, r, r.Header.Get("Retry-After"))
		}
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(cond func() bool) bool { return poll.Wait(5*time.Second, cond) }
