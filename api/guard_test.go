package api_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"casino"
	"casino/auth"
	"casino/internal/testdb"
	"casino/sqlstore"
)

func TestThrottle(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		login := func(email, pw, ip string) *response {
			return e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": pw}, ip)
		}
		// Per account: 5 failures (from different IPs), then 429 even with
		// the right password.
		for i := 0; i < 5; i++ {
			if r := login(ownerEmail, "wrong", fmt.Sprintf("10.1.0.%d", i)); r.Status != 401 {
				t.Fatalf("failure %d: got %s", i+1, r)
			}
		}
		r := login(ownerEmail, ownerPassword, "10.1.1.1")
		if r.Status != 429 || r.errCode() != casino.ETHROTTLED {
			t.Fatalf("6th attempt, right password: got %s, want 429", r)
		}
		if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 800 || ra > 900 {
			t.Errorf("Retry-After: got %q, want about 900", r.Header.Get("Retry-After"))
		}
		// Per IP: 20 failures for different accounts, then 429 for anyone.
		for i := 0; i < 20; i++ {
			if r := login(fmt.Sprintf("user%d@casino.com", i), "wrong", "10.2.0.1"); r.Status != 401 {
				t.Fatalf("ip failure %d: got %s", i+1, r)
			}
		}
		login("someone-else@casino.com", "wrong", "10.2.0.1")
		login(ownerEmail, ownerPassword, "10.1.1.2") // throttled again: not audited again
		if r := login("someone-else@casino.com", "wrong", "10.2.0.1"); r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Errorf("21st from one IP: got %s, want 429", r)
		}
		if r := login("someone-else@casino.com", "wrong", "10.2.0.2"); r.Status != 401 {
			t.Errorf("other IP: got %s, want 401", r)
		}
		// Throttles are audited once per key and window, not per refused attempt.
		var n int
		e.db.QueryRow("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.login.throttled'").Scan(&n)
		if n != 2 {
			t.Errorf("throttled audit events: got %d, want 2", n)
		}
	})
}

func TestThrottleConfigurable(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, sqlstore.SQLite, func(_ *auth.HasherConfig, th *auth.ThrottleConfig) { th.MaxAccount = 2 })
	for i := 0; i < 2; i++ {
		e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": ownerEmail, "password": "wrong"})
	}
	if r := e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": ownerEmail, "password": ownerPassword}); r.Status != 429 {
		t.Errorf("3rd attempt with limit 2: got %s", r)
	}
}

func TestLoginFreeze(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		tenant := e.createTenant(owner, "frozen")
		admin := e.createAdmin(owner, tenant, "frozen-admin@casino.com")
		r := e.call("POST", "/api/v1/admin/login-freeze", owner, map[string]any{"enabled": true, "reason": "DR incident 42"})
		if r.Status != 200 || r.Body["enabled"] != true || r.Body["updated_by"] != ownerEmail {
			t.Fatalf("freeze on: %s", r)
		}
		if r := e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "frozen-admin@casino.com", "password": "tenant-admin-password-1"}); r.Status != 503 || r.errCode() != casino.ELOGINFROZEN || !strings.Contains(string(r.Raw), "DR incident 42") {
			t.Errorf("tenant admin login while frozen: got %s", r)
		}
		if r := e.call("GET", "/api/v1/tenants", admin, nil); r.Status != 503 || r.errCode() != casino.ELOGINFROZEN {
			t.Errorf("tenant admin token while frozen: got %s", r)
		}
		owner2 := e.login(ownerEmail, ownerPassword)
		st := e.call("GET", "/api/v1/admin/status", owner2, nil)
		if st.Body["login_freeze"].(map[string]any)["enabled"] != true {
			t.Errorf("status: %s", st.Raw)
		}
		if r := e.call("POST", "/api/v1/admin/login-freeze", owner2, map[string]any{"enabled": false}); r.Status != 200 {
			t.Fatalf("freeze off: %s", r)
		}
		if r := e.call("GET", "/api/v1/tenants", admin, nil); r.Status != 200 {
			t.Errorf("tenant admin token after freeze: got %s", r)
		}
		var n int
		e.db.QueryRow("SELECT COUNT(*) FROM audit_events WHERE action = 'admin.login_freeze'").Scan(&n)
		if n != 2 {
			t.Errorf("freeze audit events: got %d, want 2", n)
		}
	})
}

func TestMaintenance(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		if r := e.call("POST", "/api/v1/admin/maintenance", owner, map[string]any{"enabled": true, "reason": "restore"}); r.Status != 200 {
			t.Fatalf("maintenance on: %s", r)
		}
		if r := e.call("POST", "/api/v1/tenants", owner, map[string]string{"name": "X", "slug": "xx"}); r.Status != 503 || !strings.Contains(string(r.Raw), "maintenance") {
			t.Errorf("mutation in maintenance: got %s", r)
		}
		if r := e.call("PUT", "/api/v1/settings/k", owner, map[string]any{"type": "int", "value": 1}); r.Status != 503 {
			t.Errorf("setting in maintenance: got %s", r)
		}
		for _, p := range []string{"/api/v1/tenants", "/api/v1/settings", "/api/v1/audit", "/api/v1/versions", "/api/v1/admin/status"} {
			if r := e.call("GET", p, owner, nil); r.Status != 200 {
				t.Errorf("read %s in maintenance: got %s", p, r)
			}
		}
		if r := e.call("GET", "/api/ready", "", nil); r.Status != 200 {
			t.Errorf("/api/ready in maintenance: got %s", r)
		}
		// Login still works so the owner can lift it.
		owner2 := e.login(ownerEmail, ownerPassword)
		if r := e.call("POST", "/api/v1/admin/maintenance", owner2, map[string]any{"enabled": false}); r.Status != 200 {
			t.Fatalf("maintenance off: %s", r)
		}
		if r := e.call("POST", "/api/v1/tenants", owner, map[string]string{"name": "X", "slug": "xx"}); r.Status != 201 {
			t.Errorf("mutation after maintenance: got %s", r)
		}
	})
}

func TestTenantsAndSuspension(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		// Validation and conflicts.
		r := e.call("POST", "/api/v1/tenants", owner, map[string]string{"name": "", "slug": "A!"})
		if r.Status != 400 {
			t.Fatalf("invalid tenant: %s", r)
		}
		fields := r.Body["error"].(map[string]any)["fields"].(map[string]any)
		if fields["name"] == nil || fields["slug"] == nil {
			t.Errorf("fields: %v", fields)
		}
		if r := e.call("POST", "/api/v1/tenants", owner, map[string]string{"name": strings.Repeat("n", 101), "slug": "ok-slug"}); r.Status != 400 {
			t.Errorf("101-char name: %s", r)
		}
		id := e.createTenant(owner, "acme")
		if r := e.call("POST", "/api/v1/tenants", owner, map[string]string{"name": "Other", "slug": "acme"}); r.Status != 409 {
			t.Errorf("duplicate slug: %s", r)
		}
		admin := e.createAdmin(owner, id, "acme-admin@casino.com")
		if r := e.call("POST", fmt.Sprintf("/api/v1/tenants/%d/admins", id), owner, map[string]string{"email": "ACME-admin@casino.com", "password": "another-password-1"}); r.Status != 409 {
			t.Errorf("duplicate admin email: %s", r)
		}
		if r := e.call("POST", fmt.Sprintf("/api/v1/tenants/%d/admins", id), owner, map[string]string{"email": "not-an-email", "password": "short"}); r.Status != 400 {
			t.Errorf("invalid admin: %s", r)
		}
		// Pagination.
		for i := 0; i < 3; i++ {
			e.createTenant(owner, fmt.Sprintf("page-%d", i))
		}
		p := e.call("GET", "/api/v1/tenants?limit=2&offset=1", owner, nil)
		if p.Body["total"] != float64(4) || len(p.Body["tenants"].([]any)) != 2 {
			t.Errorf("page: %s", p.Raw)
		}
		if r := e.call("GET", "/api/v1/tenants?limit=abc", owner, nil); r.Status != 400 {
			t.Errorf("bad limit: %s", r)
		}
		// Suspend: admin login refused, token refused; activate restores.
		if r := e.call("PATCH", fmt.Sprintf("/api/v1/tenants/%d", id), owner, map[string]string{"status": "suspended"}); r.Status != 200 || r.Body["status"] != "suspended" {
			t.Fatalf("suspend: %s", r)
		}
		if r := e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "acme-admin@casino.com", "password": "tenant-admin-password-1"}); r.Status != 403 {
			t.Errorf("suspended admin login: %s", r)
		}
		if r := e.call("GET", "/api/v1/tenants", admin, nil); r.Status != 401 {
			t.Errorf("suspended admin token: %s", r)
		}
		if r := e.call("PATCH", fmt.Sprintf("/api/v1/tenants/%d", id), owner, map[string]string{"status": "active"}); r.Status != 200 {
			t.Fatalf("activate: %s", r)
		}
		e.login("acme-admin@casino.com", "tenant-admin-password-1")
		if r := e.call("PATCH", fmt.Sprintf("/api/v1/tenants/%d", id), owner, map[string]string{"status": "gone"}); r.Status != 400 {
			t.Errorf("bad status: %s", r)
		}
		var n int
		e.db.QueryRow("SELECT COUNT(*) FROM audit_events WHERE action = 'tenant.update' AND before IS NOT NULL AND after IS NOT NULL").Scan(&n)
		if n != 2 {
			t.Errorf("tenant.update audit events with before/after: got %d, want 2", n)
		}
	})
}

func TestSettingsTypedAndAudited(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		for _, c := range []struct {
			typ   string
			value any
			want  int
		}{
			{"int", 5, 200}, {"int", 5.5, 400}, {"int", "5", 400},
			{"bool", true, 200}, {"bool", 1, 400},
			{"string", "x", 200}, {"string", 1, 400},
			{"json", map[string]any{"a": []int{1}}, 200},
			{"float", 1, 400},
		} {
			r := e.call("PUT", "/api/v1/settings/k-"+c.typ, owner, map[string]any{"type": c.typ, "value": c.value})
			if r.Status != c.want {
				t.Errorf("%s %v: got %s, want %d", c.typ, c.value, r, c.want)
			}
		}
		if r := e.call("PUT", "/api/v1/settings/BAD%20KEY", owner, map[string]any{"type": "int", "value": 1}); r.Status != 400 {
			t.Errorf("bad key: %s", r)
		}
		e.call("PUT", "/api/v1/settings/k-int", owner, map[string]any{"type": "int", "value": 6})
		list := e.call("GET", "/api/v1/settings", owner, nil)
		if list.Body["scope"] != "platform" || len(list.Body["settings"].([]any)) != 4 {
			t.Errorf("platform settings: %s", list.Raw)
		}
		a := e.call("GET", "/api/v1/audit?action=setting.update", owner, nil)
		ev := a.Body["events"].([]any)[0].(map[string]any)
		if fmt.Sprint(ev["before"].(map[string]any)["value"]) != "5" || fmt.Sprint(ev["after"].(map[string]any)["value"]) != "6" || ev["request_id"] == "" {
			t.Errorf("audit of setting change: %v", ev)
		}
		if a.Body["total"] != float64(5) {
			t.Errorf("setting.update events: %v", a.Body["total"])
		}
		if r := e.call("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z", owner, nil); r.Body["total"] != float64(0) {
			t.Errorf("time filter: %s", r.Raw)
		}
		if r := e.call("GET", "/api/v1/audit?since=yesterday", owner, nil); r.Status != 400 {
			t.Errorf("bad since: %s", r)
		}
		v := e.call("GET", "/api/v1/versions", owner, nil)
		if v.Status != 200 || v.Body["current"] == nil {
			t.Errorf("versions: %s", v)
		}
	})
}

// TestRehashOnLogin: a hash made with other parameters is replaced at the
// next successful login.
func TestRehashOnLogin(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		other, _ := auth.NewHasher(auth.HasherConfig{Params: auth.Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, AllowWeakForTests: true})
		old, _ := other.Hash(context.Background(), ownerPassword)
		if err := e.db.UpdatePasswordHash(context.Background(), 1, old); err != nil {
			t.Fatal(err)
		}
		e.login(ownerEmail, ownerPassword)
		c, _ := e.db.FindCredentials(context.Background(), ownerEmail)
		if !strings.HasPrefix(c.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("hash after login: %s", c.PasswordHash)
		}
		e.login(ownerEmail, ownerPassword)
		var n int
		e.db.QueryRow("SELECT COUNT(*) FROM audit_events WHERE action = 'user.password_rehash'").Scan(&n)
		if n != 1 {
			t.Errorf("rehash audit events: %d, want 1", n)
		}
	})
}

// TestThrottleConcurrentGuesses: a burst of parallel guesses cannot all
// slip past the check before failures are recorded; with one hashing slot
// exactly MaxAccount guesses are tried.
func TestThrottleConcurrentGuesses(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine, func(hc *auth.HasherConfig, _ *auth.ThrottleConfig) { hc.MaxConcurrent = 1 })
		var mu sync.Mutex
		got := map[int]int{}
		var wg sync.WaitGroup
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": ownerEmail, "password": "guess"}, fmt.Sprintf("10.3.0.%d", i))
				mu.Lock()
				got[r.Status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if got[401] != 5 || got[429] != 25 {
			t.Errorf("30 parallel guesses: got statuses %v, want 5x401 and 25x429", got)
		}
	})
}
