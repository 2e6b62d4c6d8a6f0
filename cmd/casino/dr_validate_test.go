package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"casino/internal/testpg"
)

const testOwnerPassword = "owner-pw-canary-7f3a91"

// serveSQLite starts casino serve on a fresh SQLite file with a known owner
// password, its request logs going to the returned server's Stdout.
func serveSQLite(t *testing.T, extra ...string) (*testServer, map[string]string) {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":          "sqlite:" + filepath.Join(t.TempDir(), "casino.db"),
		"CASINO_OWNER_PASSWORD": testOwnerPassword,
	}
	return startServe(t, env, len(extra) == 0, extra...), env
}

// validate runs dr validate against srv; it returns stdout, stderr, code.
func (f *drFixture) validate(t *testing.T, srv *testServer, args ...string) (string, string, int) {
	t.Helper()
	return f.dr(t, append([]string{"validate", "--url", srv.URL, "--email", "admin@casino.com", "--password-env", "CASINO_OWNER_PASSWORD"}, args...)...)
}

func versionOf(t *testing.T, srv *testServer) string {
	var v struct{ Version string }
	getJSON(t, srv.URL+"/api/version", &v)
	return v.Version
}

// failedChecks reads the names of failed checks from --json output.
func failedChecks(t *testing.T, out string) []string {
	t.Helper()
	var v struct{ Failed []string }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("validate --json output: %v\n%s", err, out)
	}
	return v.Failed
}

func TestDRValidatePassesOnHealthyServer(t *testing.T) {
	f := newDRFixture(t)
	srv, _ := serveSQLite(t)
	f.Env["CASINO_OWNER_PASSWORD"] = testOwnerPassword
	f.mustDR(t, "declare", "--severity", "SEV-3", "--ic", "a", "--comms", "b", "--url", srv.URL, "--baseline-p95", "500ms")
	for range 20 {
		http.Get(srv.URL + "/api/health")
	}
	logs := filepath.Join(f.Dir, "casino.log")
	os.WriteFile(logs, []byte(srv.Stdout.String()), 0o644)
	out, errOut, code := f.validate(t, srv, "--logs", logs)
	if code != 0 {
		t.Fatalf("validate on a healthy server: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, c := range []string{"health", "ready", "version", "login", "is_owner", "ui", "logs_5xx", "logs_p95", "logs_errors"} {
		if !strings.Contains(out, "\n"+c+" ") {
			t.Errorf("table lacks %s:\n%s", c, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a check failed:\n%s", out)
	}
	proof, _ := os.ReadFile(filepath.Join(f.ProofDir, time.Now().UTC().Format("2006-01-02")+".md"))
	if !strings.Contains(string(proof), "| health | **PASS** |") || strings.Contains(string(proof), testOwnerPassword) {
		t.Errorf("proof lacks the table, or leaks the password:\n%s", proof)
	}
}

func TestDRValidateRefuses(t *testing.T) {
	f := newDRFixture(t)
	f.Env["CASINO_OWNER_PASSWORD"] = testOwnerPassword
	healthy, _ := serveSQLite(t)

	t.Run("ready 503", func(t *testing.T) {
		// casino serve on a private PostgreSQL cluster, which is then stopped:
		// /api/ready answers 503 with its database check failing.
		cluster := testpg.NewCluster(t)
		srv := startServe(t, map[string]string{"DATABASE_URL": cluster.NewDatabase(), "CASINO_OWNER_PASSWORD": testOwnerPassword}, true)
		cluster.Stop()
		waitStatus(t, srv.URL+"/api/ready", http.StatusServiceUnavailable, 10*time.Second)
		out, errOut, code := f.validate(t, srv, "--checks", "health,ready", "--json")
		if code != 1 || !strings.Contains(errOut, "FAIL: ready") {
			t.Fatalf("exit %d, stderr %s\n%s", code, errOut, out)
		}
		if got := failedChecks(t, out); len(got) != 1 || got[0] != "ready" {
			t.Fatalf("failed = %v, want [ready]", got)
		}
		// Its own request log now holds the 503s of /api/ready, minute after
		// minute the same: the 5xx rate is not dropping.
		for range 5 {
			http.Get(srv.URL + "/api/ready")
		}
		logs := filepath.Join(t.TempDir(), "casino.log")
		os.WriteFile(logs, []byte(srv.Stdout.String()), 0o644)
		out, errOut, code = f.validate(t, srv, "--checks", "logs_5xx,logs_errors", "--logs", logs)
		if code != 1 || !strings.Contains(errOut, "FAIL: logs_5xx") || !strings.Contains(out, "not dropping") {
			t.Fatalf("5xx not dropping: exit %d, stderr %s\n%s", code, errOut, out)
		}
		if !strings.Contains(out, "logs_errors") || !strings.Contains(out, "503 GET /api/ready") {
			t.Errorf("remaining errors not listed by request_id:\n%s", out)
		}
	})

	t.Run("version mismatch", func(t *testing.T) {
		out, errOut, code := f.validate(t, healthy, "--checks", "health,ready,version", "--expect-version", "v9.9.9-not-this")
		if code != 1 || !strings.Contains(errOut, "FAIL: version") || !strings.Contains(out, `expected "v9.9.9-not-this"`) {
			t.Fatalf("exit %d, stderr %s\n%s", code, errOut, out)
		}
		if _, _, code := f.validate(t, healthy, "--checks", "version", "--expect-version", versionOf(t, healthy)); code != 0 {
			t.Fatalf("matching version refused")
		}
	})

	t.Run("login fails", func(t *testing.T) {
		env := map[string]string{"CASINO_DR_PROOF_DIR": f.ProofDir, "WRONG_PW": "not-the-owner-password"}
		out, errOut, code := runCLI(t, env, "", "dr", "validate", "--url", healthy.URL, "--password-env", "WRONG_PW", "--checks", "login,is_owner,ui")
		if code != 1 || !strings.Contains(errOut, "FAIL: login, is_owner, ui") {
			t.Fatalf("exit %d, stderr %s\n%s", code, errOut, out)
		}
		if strings.Contains(out, "not-the-owner-password") {
			t.Fatalf("password leaked into output:\n%s", out)
		}
	})

	t.Run("is_owner false", func(t *testing.T) {
		tenantAdmin(t, healthy, "ta@example.com", "tenant-admin-pw-1234")
		env := map[string]string{"CASINO_DR_PROOF_DIR": f.ProofDir, "TA_PW": "tenant-admin-pw-1234"}
		out, errOut, code := runCLI(t, env, "", "dr", "validate", "--url", healthy.URL, "--email", "ta@example.com", "--password-env", "TA_PW", "--checks", "login,is_owner")
		if code != 1 || !strings.Contains(errOut, "FAIL: is_owner") || !strings.Contains(out, "is_owner=false") {
			t.Fatalf("exit %d, stderr %s\n%s", code, errOut, out)
		}
	})
}

// tenantAdmin creates a tenant and a tenant admin through the API as owner.
func tenantAdmin(t *testing.T, srv *testServer, email, password string) {
	t.Helper()
	tok := apiLogin(t, srv.URL, "admin@casino.com", testOwnerPassword)
	var tenant struct {
		ID int64 `json:"id"`
	}
	apiPost(t, srv.URL+"/api/v1/tenants", tok, map[string]string{"name": "Acme", "slug": "acme"}, &tenant)
	apiPost(t, srv.URL+"/api/v1/tenants/"+strconv.FormatInt(tenant.ID, 10)+"/admins", tok, map[string]string{"email": email, "password": password}, nil)
}

func apiLogin(t *testing.T, base, email, password string) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	apiPost(t, base+"/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, &tok)
	return tok.AccessToken
}

func apiPost(t *testing.T, url, token string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e any
		json.NewDecoder(resp.Body).Decode(&e)
		t.Fatalf("POST %s: %d %v", url, resp.StatusCode, e)
	}
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
}
