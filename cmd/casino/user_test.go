package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"casino/auth"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// cheapHashes swaps the Argon2id parameters for cheap ones for this test
// (the explicit test hook; production never reaches it).
func cheapHashes(t *testing.T) {
	t.Helper()
	old := testHasherConfig
	testHasherConfig = &auth.HasherConfig{Params: auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, MaxConcurrent: 4, AllowWeakForTests: true}
	t.Cleanup(func() { testHasherConfig = old })
}

type apiAnswer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// apiDo calls the API; body is sent as JSON when non-nil; xff, when set,
// becomes X-Forwarded-For (honoured only with --trusted-proxies).
func apiDo(t *testing.T, method, url, token string, body any, xff string) apiAnswer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := apiAnswer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	json.Unmarshal(raw, &a.Body)
	return a
}

func loginToken(t *testing.T, base, email, password string) string {
	t.Helper()
	a := apiDo(t, "POST", base+"/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, "")
	if a.Status != 200 {
		t.Fatalf("login %s on %s: %d %s", email, base, a.Status, a.Raw)
	}
	return a.Body["access_token"].(string)
}

// TestChecklistOwnerCapabilities runs the DR checklist's two commands
// verbatim with curl against a fresh casino serve.
func TestChecklistOwnerCapabilities(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "c.db"), "CASINO_OWNER_PASSWORD": "checklist-owner-password-1"}
	s := startServe(t, env, true)
	out, err := exec.Command(curl, "-s", "-X", "POST", s.URL+"/api/v1/auth/login",
		"-H", "Content-Type: application/json",
		"-d", `{"email":"admin@casino.com","password":"checklist-owner-password-1"}`).Output()
	if err != nil {
		t.Fatalf("curl login: %v", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 1800 {
		t.Fatalf("login answer: %s", out)
	}
	out, err = exec.Command(curl, "-s", s.URL+"/api/v1/tenants/capabilities", "-H", "Authorization: Bearer "+tok.AccessToken).Output()
	if err != nil {
		t.Fatalf("curl capabilities: %v", err)
	}
	if !regexp.MustCompile(`"is_owner":\s*true`).Match(out) {
		t.Errorf("capabilities: got %s, want \"is_owner\": true", out)
	}
}

// TestOwnerBootstrapGeneratedPassword: without CASINO_OWNER_PASSWORD the
// generated password is printed once, to stderr only, and works.
func TestOwnerBootstrapGeneratedPassword(t *testing.T) {
	t.Parallel()
	cheapHashes(t)
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "c.db"), "CASINO_OWNER_EMAIL": "Boss@Casino.com"}
	s := startServe(t, env, true)
	m := regexp.MustCompile(`password: (\S{20,})`).FindStringSubmatch(s.Stderr.String())
	if m == nil || !strings.Contains(s.Stderr.String(), "OWNER ACCOUNT CREATED") {
		t.Fatalf("no banner with a password on stderr:\n%s", s.Stderr)
	}
	if strings.Contains(s.Stdout.String(), m[1]) {
		t.Fatal("generated password reached the JSON log on stdout")
	}
	loginToken(t, s.URL, "boss@casino.com", m[1])
	s.Stop(t)
	s2 := startServe(t, env, true)
	if strings.Contains(s2.Stderr.String(), "password:") {
		t.Errorf("second start printed a password again:\n%s", s2.Stderr)
	}
	loginToken(t, s2.URL, "boss@casino.com", m[1])
}

// TestNoSecretsInLogs logs in, fails, calls, creates an admin and logs out
// with canary secrets, then proves no log line (stdout or stderr) holds a
// password, a token or an Authorization header.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	cheapHashes(t)
	const ownerCanary = "CANARY-owner-7f3a9c1e5b"
	const wrongCanary = "CANARY-wrong-2d8e4f6a0c"
	const adminCanary = "CANARY-admin-9b1c3d5e7f"
	const keyCanary = "CANARY-jwt-key-0123456789abcdef0123456789abcdef"
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "c.db"), "CASINO_OWNER_PASSWORD": ownerCanary, "CASINO_JWT_KEY": keyCanary, "CASINO_LOG_LEVEL": "debug"}
	s := startServe(t, env, true)
	tok := loginToken(t, s.URL, "admin@casino.com", ownerCanary)
	apiDo(t, "POST", s.URL+"/api/v1/auth/login", "", map[string]string{"email": "admin@casino.com", "password": wrongCanary}, "")
	apiDo(t, "POST", s.URL+"/api/v1/auth/login", "", map[string]string{"email": "nobody@casino.com", "password": wrongCanary}, "")
	apiDo(t, "GET", s.URL+"/api/v1/tenants/capabilities", tok, nil, "")
	apiDo(t, "GET", s.URL+"/api/v1/tenants/capabilities", "CANARY-bad-token", nil, "")
	tn := apiDo(t, "POST", s.URL+"/api/v1/tenants", tok, map[string]string{"name": "Canary", "slug": "canary"}, "")
	apiDo(t, "POST", fmt.Sprintf("%s/api/v1/tenants/%v/admins", s.URL, tn.Body["id"]), tok, map[string]string{"email": "c@casino.com", "password": adminCanary}, "")
	adminTok := loginToken(t, s.URL, "c@casino.com", adminCanary)
	apiDo(t, "GET", s.URL+"/api/v1/tenants", adminTok, nil, "")
	apiDo(t, "POST", s.URL+"/api/v1/auth/logout", tok, nil, "")
	apiDo(t, "GET", s.URL+"/api/v1/tenants", tok, nil, "")
	// A panic-free malformed body that echoes nothing either.
	apiDo(t, "POST", s.URL+"/api/v1/auth/login", "", map[string]any{"email": "x@y.z", "password": ownerCanary, "extra": ownerCanary}, "")
	cfgOut, _, _ := runCLI(t, env, "", "serve", "--print-config")
	s.Stop(t)
	logs := s.Stdout.String() + s.Stderr.String() + cfgOut
	if !strings.Contains(s.Stdout.String(), `"user_id"`) || !strings.Contains(s.Stdout.String(), `"tenant_id"`) {
		t.Errorf("request logs lack user_id/tenant_id:\n%s", s.Stdout)
	}
	for _, secret := range []string{"CANARY", tok, adminTok, tok[strings.LastIndex(tok, ".")+1:], "Bearer", "Authorization", "authorization"} {
		if strings.Contains(logs, secret) {
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, secret) {
					t.Errorf("secret %.12q... in log line: %s", secret, line)
				}
			}
		}
	}
}

// TestReplicasShareStateAndSurviveRestart runs two casino serve processes on
// one database: a token from one works on the other; throttling, logout
// and the login freeze set through one apply on the other and survive a
// restart; the break-glass CLI lifts the freeze and toggles maintenance.
func TestReplicasShareStateAndSurviveRestart(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		cheapHashes(t)
		env := map[string]string{"DATABASE_URL": testdb.URL(t, engine), "CASINO_OWNER_PASSWORD": "replica-owner-password-1"}
		args := []string{"--trusted-proxies", "127.0.0.1/32"}
		s1 := startServe(t, env, true, args...)
		s2 := startServe(t, env, true, args...)
		owner := loginToken(t, s1.URL, "admin@casino.com", "replica-owner-password-1")
		if a := apiDo(t, "GET", s2.URL+"/api/v1/tenants/capabilities", owner, nil, ""); a.Status != 200 || a.Body["is_owner"] != true {
			t.Fatalf("s1's token on s2: %d %s", a.Status, a.Raw)
		}
		tn := apiDo(t, "POST", s1.URL+"/api/v1/tenants", owner, map[string]string{"name": "Replica", "slug": "replica"}, "")
		for _, email := range []string{"victim@casino.com", "ops@casino.com"} {
			if a := apiDo(t, "POST", fmt.Sprintf("%s/api/v1/tenants/%v/admins", s2.URL, tn.Body["id"]), owner, map[string]string{"email": email, "password": "tenant-admin-password-1"}, ""); a.Status != 201 {
				t.Fatalf("create admin: %d %s", a.Status, a.Raw)
			}
		}
		// Throttle: 5 failures on s1, the 6th on s2 is 429 even when right.
		for i := 0; i < 5; i++ {
			apiDo(t, "POST", s1.URL+"/api/v1/auth/login", "", map[string]string{"email": "victim@casino.com", "password": "wrong"}, fmt.Sprintf("10.9.0.%d", i))
		}
		throttled := func(base string) {
			t.Helper()
			a := apiDo(t, "POST", base+"/api/v1/auth/login", "", map[string]string{"email": "victim@casino.com", "password": "tenant-admin-password-1"}, "10.9.1.1")
			if a.Status != 429 || a.Header.Get("Retry-After") == "" {
				t.Errorf("%s: throttled account: got %d %s", base, a.Status, a.Raw)
			}
		}
		throttled(s2.URL)
		// Revocation: logout on s1, refused on s2.
		spare := loginToken(t, s2.URL, "admin@casino.com", "replica-owner-password-1")
		if a := apiDo(t, "POST", s1.URL+"/api/v1/auth/logout", owner, nil, ""); a.Status != 204 {
			t.Fatalf("logout: %d %s", a.Status, a.Raw)
		}
		if a := apiDo(t, "GET", s2.URL+"/api/v1/tenants", owner, nil, ""); a.Status != 401 {
			t.Errorf("revoked token on s2: %d %s", a.Status, a.Raw)
		}
		// Freeze on s2, felt on s1.
		opsTok := loginToken(t, s1.URL, "ops@casino.com", "tenant-admin-password-1")
		if a := apiDo(t, "POST", s2.URL+"/api/v1/admin/login-freeze", spare, map[string]any{"enabled": true, "reason": "replica drill"}, ""); a.Status != 200 {
			t.Fatalf("freeze: %d %s", a.Status, a.Raw)
		}
		frozen := func(base string) {
			t.Helper()
			if a := apiDo(t, "POST", base+"/api/v1/auth/login", "", map[string]string{"email": "ops@casino.com", "password": "tenant-admin-password-1"}, "10.9.2.1"); a.Status != 503 {
				t.Errorf("%s: admin login while frozen: %d %s", base, a.Status, a.Raw)
			}
			if a := apiDo(t, "GET", base+"/api/v1/tenants", opsTok, nil, ""); a.Status != 503 {
				t.Errorf("%s: admin token while frozen: %d %s", base, a.Status, a.Raw)
			}
		}
		frozen(s1.URL)

		// Restart both: everything holds.
		s1.Stop(t)
		s2.Stop(t)
		s3 := startServe(t, env, true, args...)
		throttled(s3.URL)
		frozen(s3.URL)
		if a := apiDo(t, "GET", s3.URL+"/api/v1/tenants", owner, nil, ""); a.Status != 401 {
			t.Errorf("revoked token after restart: %d %s", a.Status, a.Raw)
		}
		if a := apiDo(t, "GET", s3.URL+"/api/v1/tenants", spare, nil, ""); a.Status != 200 {
			t.Errorf("valid owner token after restart: %d %s", a.Status, a.Raw)
		}
		// Break-glass: lift the freeze straight on the database.
		if out, errOut, code := runCLI(t, env, "", "admin", "login-freeze", "off"); code != 0 || !strings.Contains(out, `"enabled": false`) {
			t.Fatalf("admin login-freeze off: %d %s %s", code, out, errOut)
		}
		loginToken(t, s3.URL, "ops@casino.com", "tenant-admin-password-1")
		if out, errOut, code := runCLI(t, env, "", "admin", "maintenance", "on", "--reason", "restore"); code != 0 || !strings.Contains(out, `"enabled": true`) {
			t.Fatalf("admin maintenance on: %d %s %s", code, out, errOut)
		}
		if a := apiDo(t, "POST", s3.URL+"/api/v1/tenants", spare, map[string]string{"name": "M", "slug": "mm"}, ""); a.Status != 503 {
			t.Errorf("mutation in maintenance: %d %s", a.Status, a.Raw)
		}
		waitStatus(t, s3.URL+"/api/ready", 200, 5e9)
		status, _, _ := runCLI(t, env, "", "admin", "status")
		if !strings.Contains(status, `"reason": "restore"`) {
			t.Errorf("admin status: %s", status)
		}
		runCLI(t, env, "", "admin", "maintenance", "off")
		if a := apiDo(t, "POST", s3.URL+"/api/v1/tenants", spare, map[string]string{"name": "M", "slug": "mm"}, ""); a.Status != 201 {
			t.Errorf("mutation after maintenance: %d %s", a.Status, a.Raw)
		}
	})
}

// TestResetPasswordCLI: the break-glass reset replaces the password from
// stdin (or generates one) and refuses the tokens issued before it.
func TestResetPasswordCLI(t *testing.T) {
	t.Parallel()
	cheapHashes(t)
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "c.db"), "CASINO_OWNER_PASSWORD": "first-owner-password-1"}
	s := startServe(t, env, true)
	old := loginToken(t, s.URL, "admin@casino.com", "first-owner-password-1")
	out, errOut, code := runCLI(t, env, "second-owner-password-2\n", "user", "reset-password", "ADMIN@casino.com")
	if code != 0 || !strings.Contains(out, "reset") || strings.Contains(out+errOut, "second-owner-password-2") {
		t.Fatalf("reset-password: %d %q %q", code, out, errOut)
	}
	if a := apiDo(t, "GET", s.URL+"/api/v1/tenants", old, nil, ""); a.Status != 401 {
		t.Errorf("token from before the reset: %d", a.Status)
	}
	fresh := loginToken(t, s.URL, "admin@casino.com", "second-owner-password-2")
	if a := apiDo(t, "GET", s.URL+"/api/v1/tenants", fresh, nil, ""); a.Status != 200 {
		t.Errorf("token right after the reset: %d %s", a.Status, a.Raw)
	}
	// Generated: printed once to stderr.
	out, errOut, code = runCLI(t, env, "", "user", "reset-password", "admin@casino.com")
	m := regexp.MustCompile(`password: (\S{20,})`).FindStringSubmatch(errOut)
	if code != 0 || m == nil || strings.Contains(out, m[1]) {
		t.Fatalf("generated reset: %d %q %q", code, out, errOut)
	}
	loginToken(t, s.URL, "admin@casino.com", m[1])
	if _, errOut, code := runCLI(t, env, "", "user", "reset-password", "ghost@casino.com"); code != 1 || !strings.Contains(errOut, "no user") {
		t.Errorf("unknown user: %d %s", code, errOut)
	}
	if _, _, code := runCLI(t, env, "short\n", "user", "reset-password", "admin@casino.com"); code != 2 {
		t.Errorf("short password: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t, env, "", "admin", "login-freeze", "maybe"); code != 2 {
		t.Errorf("admin login-freeze maybe: exit %d, want 2", code)
	}
}
