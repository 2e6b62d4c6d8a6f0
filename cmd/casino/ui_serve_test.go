package main

import (
	"casino/internal/poll"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// These tests drive the console over plain HTTP against the real backend:
// the states a browser test would be slow to reach (freeze, throttling,
// maintenance, a dead backend).

// uiForm posts a form to the console the way a browser on the console's own
// page does (Sec-Fetch-Site: same-origin), without following redirects.
func uiForm(t *testing.T, u string, form url.Values, cookie *http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func uiGet(t *testing.T, u string, cookie *http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// uiLogin signs in through the console's login form and returns the cookie.
func uiLogin(t *testing.T, base, email, password string) *http.Cookie {
	t.Helper()
	resp, body := uiForm(t, base+"/login", url.Values{"email": {email}, "password": {password}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console login %s: %d\n%s", email, resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "casino_session" {
			return c
		}
	}
	t.Fatalf("console login %s: no session cookie", email)
	return nil
}

func ownerToken(t *testing.T, apiURL string) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code := apiCall(t, "POST", apiURL+"/api/v1/auth/login", "", map[string]string{"email": "admin@casino.com", "password": uiOwnerPassword}, &tok); code != 200 {
		t.Fatalf("owner login: %d", code)
	}
	return tok.AccessToken
}

func TestUILoginFreezeMaintenanceBanners(t *testing.T) {
	t.Parallel()
	srv := startServe(t, uiEnv(t), true)
	seedTenants(t, srv.URL)
	owner := uiLogin(t, srv.URL, "admin@casino.com", uiOwnerPassword)
	admin := uiLogin(t, srv.URL, uiAdminEmail, uiAdminPassword)
	tok := ownerToken(t, srv.URL)

	// Login freeze on: tenant admins are refused at the form with the
	// reason, a live tenant-admin session ends, the owner sees the banner.
	if code := apiCall(t, "POST", srv.URL+"/api/v1/admin/login-freeze", tok, map[string]any{"enabled": true, "reason": "incident 42"}, nil); code != 200 {
		t.Fatalf("freeze on: %d", code)
	}
	resp, body := uiForm(t, srv.URL+"/login", url.Values{"email": {uiAdminEmail}, "password": {uiAdminPassword}}, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `id="login-error"`) || !strings.Contains(body, "frozen") {
		t.Errorf("tenant admin login during the freeze: %d, want 503 with an inline freeze error\n%s", resp.StatusCode, body)
	}
	resp, _ = uiGet(t, srv.URL+"/tenants", admin)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "m=frozen") {
		t.Errorf("tenant admin session during the freeze: %d %q, want 303 to login with the freeze note", resp.StatusCode, loc)
	}
	resp, body = uiGet(t, srv.URL+"/tenants", owner)
	if resp.StatusCode != 200 || !strings.Contains(body, `class="banner"`) || !strings.Contains(body, "Login freeze is ON") || !strings.Contains(body, "incident 42") {
		t.Errorf("owner during the freeze: %d, want the freeze banner\n%s", resp.StatusCode, body)
	}
	apiCall(t, "POST", srv.URL+"/api/v1/admin/login-freeze", tok, map[string]any{"enabled": false}, nil)

	// Maintenance on, from the console's Settings page: the banner, reads
	// work, a change is refused inline.
	resp, body = uiForm(t, srv.URL+"/settings/switches/maintenance", url.Values{"enabled": {"true"}, "reason": {"restore drill"}}, owner)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/settings?ok=switch" {
		t.Fatalf("maintenance on from the console: %d %q\n%s", resp.StatusCode, loc, body)
	}
	_, body = uiGet(t, srv.URL+"/settings", owner)
	if !strings.Contains(body, `id="maintenance-off"`) || !strings.Contains(body, "restore drill") {
		t.Errorf("settings page does not show maintenance ON with its reason")
	}
	// A tenant admin cannot flip a switch, even by crafting the form.
	admin = uiLogin(t, srv.URL, uiAdminEmail, uiAdminPassword)
	if resp, _ := uiForm(t, srv.URL+"/settings/switches/login-freeze", url.Values{"enabled": {"true"}}, admin); resp.StatusCode == http.StatusSeeOther {
		t.Errorf("tenant admin turned the login freeze on through the console")
	}
	resp, body = uiGet(t, srv.URL+"/tenants", owner)
	if resp.StatusCode != 200 || !strings.Contains(body, "Maintenance mode is ON") {
		t.Errorf("owner during maintenance: %d, want the maintenance banner", resp.StatusCode)
	}
	resp, body = uiForm(t, srv.URL+"/tenants", url.Values{"name": {"Late Corp"}, "slug": {"late"}}, owner)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `id="form-error"`) || !strings.Contains(body, "maintenance") {
		t.Errorf("create during maintenance: %d, want 503 with the maintenance message inline\n%s", resp.StatusCode, body)
	}
	if resp, _ := uiForm(t, srv.URL+"/settings/switches/maintenance", url.Values{"enabled": {"false"}}, owner); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("maintenance off from the console: %d", resp.StatusCode)
	}
	resp, body = uiGet(t, srv.URL+"/tenants", owner)
	if strings.Contains(body, `class="banner"`) {
		t.Errorf("banner still shown with both switches off")
	}
}

func TestUILoginThrottled(t *testing.T) {
	t.Parallel()
	srv := startServe(t, uiEnv(t), true)
	var resp *http.Response
	var body string
	for i := 0; i < 8; i++ {
		resp, body = uiForm(t, srv.URL+"/login", url.Values{"email": {"admin@casino.com"}, "password": {"wrong-password-" + string(rune('a'+i))}}, nil)
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password.") {
			t.Fatalf("attempt %d: %d, want 401 with the inline error", i+1, resp.StatusCode)
		}
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("no throttling after 8 failures: %d", resp.StatusCode)
	}
	if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many sign-in attempts. Try again in") {
		t.Errorf("throttled login: Retry-After %q, want it set and the retry time inline\n%s", resp.Header.Get("Retry-After"), body)
	}
}

func TestUIFrontendAdminBackendDown(t *testing.T) {
	t.Parallel()
	backend := startServe(t, uiEnv(t), true, "--role", "backend")
	fe := startServe(t, map[string]string{}, true, "--role", "frontend-admin", "--backend-url", backend.URL)
	owner := uiLogin(t, fe.URL, "admin@casino.com", uiOwnerPassword)
	if resp, _ := uiGet(t, fe.URL+"/tenants", owner); resp.StatusCode != 200 {
		t.Fatalf("tenants with the backend up: %d", resp.StatusCode)
	}

	backend.Stop(t)

	var ready struct {
		Status string `json:"status"`
		Checks map[string]struct {
			Status string `json:"status"`
		} `json:"checks"`
	}
	if code := getJSON(t, fe.URL+"/api/ready", &ready); code != 503 || ready.Checks["backend"].Status != "fail" {
		t.Errorf("frontend-admin /api/ready with the backend down: %d %+v, want 503 with backend fail", code, ready)
	}
	var health map[string]any
	if code := getJSON(t, fe.URL+"/api/health", &health); code != 200 || health["role"] != "frontend-admin" {
		t.Errorf("frontend-admin /api/health with the backend down: %d %v, want 200", code, health)
	}
	for _, p := range []string{"/tenants", "/settings/versions", "/audit"} {
		resp, body := uiGet(t, fe.URL+p, owner)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Backend unavailable") {
			t.Errorf("GET %s with the backend down: %d, want 503 'Backend unavailable'", p, resp.StatusCode)
		}
		for _, leak := range []string{"dial tcp", "connection refused", "goroutine", strings.TrimPrefix(backend.URL, "http://")} {
			if strings.Contains(body, leak) {
				t.Errorf("GET %s: the page leaks %q", p, leak)
			}
		}
	}
	resp, body := uiForm(t, fe.URL+"/login", url.Values{"email": {"admin@casino.com"}, "password": {uiOwnerPassword}}, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Backend unavailable") {
		t.Errorf("login with the backend down: %d, want 503", resp.StatusCode)
	}
	// Every answer of the frontend-admin role carries nosniff: its own
	// probes, its "not here" for /api/, console pages and their errors.
	for _, p := range []string{"/api/health", "/api/ready", "/api/v1/tenants", "/metrics", "/login", "/tenants", "/static/app.css"} {
		resp, _ := uiGet(t, fe.URL+p, owner)
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("frontend-admin GET %s (%d): X-Content-Type-Options = %q, want nosniff", p, resp.StatusCode, got)
		}
	}
	if !strings.Contains(fe.Stdout.String(), `"backend_unavailable"`) {
		t.Errorf("the frontend-admin did not log backend_unavailable")
	}
}

func TestUISuspendActivateTenant(t *testing.T) {
	t.Parallel()
	srv := startServe(t, uiEnv(t), true)
	seedTenants(t, srv.URL)
	owner := uiLogin(t, srv.URL, "admin@casino.com", uiOwnerPassword)
	var list struct {
		Tenants []struct {
			ID   int64  `json:"id"`
			Slug string `json:"slug"`
		} `json:"tenants"`
	}
	apiCall(t, "GET", srv.URL+"/api/v1/tenants", ownerToken(t, srv.URL), nil, &list)
	var acme int64
	for _, tn := range list.Tenants {
		if tn.Slug == "acme" {
			acme = tn.ID
		}
	}
	status := fmt.Sprintf("%s/tenants/%d/status", srv.URL, acme)

	resp, body := uiForm(t, status, url.Values{"status": {"suspended"}, "return": {"/tenants"}}, owner)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/tenants?ok=suspended" {
		t.Fatalf("suspend: %d %q\n%s", resp.StatusCode, loc, body)
	}
	_, body = uiGet(t, srv.URL+"/tenants?ok=suspended", owner)
	if !strings.Contains(body, `<span class="badge suspended">suspended</span>`) || !strings.Contains(body, "Tenant suspended.") {
		t.Errorf("tenants list after suspend lacks the status or the confirmation")
	}
	resp, body = uiForm(t, srv.URL+"/login", url.Values{"email": {uiAdminEmail}, "password": {uiAdminPassword}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "suspended") || !strings.Contains(body, `id="login-error"`) {
		t.Errorf("suspended tenant's admin login: %d, want 403 with an inline message\n%s", resp.StatusCode, body)
	}

	resp, _ = uiForm(t, status, url.Values{"status": {"active"}}, owner)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != fmt.Sprintf("/tenants/%d?ok=activated", acme) {
		t.Fatalf("activate: %d %q", resp.StatusCode, loc)
	}
	uiLogin(t, srv.URL, uiAdminEmail, uiAdminPassword)

	// A tenant admin cannot suspend, even by crafting the form.
	admin := uiLogin(t, srv.URL, uiAdminEmail, uiAdminPassword)
	resp, _ = uiForm(t, status, url.Values{"status": {"suspended"}}, admin)
	if resp.StatusCode == http.StatusSeeOther {
		t.Errorf("tenant admin suspended their tenant through the console")
	}
}

// TestUIAllModeGoesThroughTheAPI proves role all's console uses the API
// handler, as split mode does over the network: each UI request's backend
// calls appear in the log as API requests carrying the UI request's id.
func TestUIAllModeGoesThroughTheAPI(t *testing.T) {
	t.Parallel()
	srv := startServe(t, uiEnv(t), true)
	uiLogin(t, srv.URL, "admin@casino.com", uiOwnerPassword)
	type line struct {
		Event     string `json:"event"`
		RequestID string `json:"request_id"`
		Route     string `json:"route"`
		Status    int    `json:"status_code"`
	}
	var ui, apiLogin *line
	for _, l := range strings.Split(srv.Stdout.String(), "\n") {
		var x line
		if json.Unmarshal([]byte(l), &x) != nil || x.Event != "request" {
			continue
		}
		switch x.Route {
		case "POST /login":
			ui = &x
		case "POST /api/v1/auth/login":
			apiLogin = &x
		}
	}
	if ui == nil || apiLogin == nil {
		t.Fatalf("want request lines for the console's POST /login and the API's POST /api/v1/auth/login\n%s", srv.Stdout)
	}
	if ui.RequestID != apiLogin.RequestID || ui.Status != 303 || apiLogin.Status != 200 {
		t.Errorf("console line %+v and API line %+v: want one request id, 303 and 200", *ui, *apiLogin)
	}
}

// TestUIExpiredTokenGoesToLogin: a token past its expiry (not revoked) sends
// the user back to the sign-in page with the message, as a revoked one does.
func TestUIExpiredTokenGoesToLogin(t *testing.T) {
	t.Parallel()
	env := uiEnv(t)
	env["CASINO_TOKEN_TTL"] = "1s"
	srv := startServe(t, env, true)
	owner := uiLogin(t, srv.URL, "admin@casino.com", uiOwnerPassword)
	if owner.MaxAge != 1 {
		t.Errorf("cookie Max-Age %d, want the token's 1 s lifetime", owner.MaxAge)
	}
	if resp, _ := uiGet(t, srv.URL+"/tenants", owner); resp.StatusCode != 200 {
		t.Fatalf("fresh token: %d", resp.StatusCode)
	}
	// The backend allows 5 s of clock leeway past exp: poll until it
	// refuses the token, well past that.
	var resp *http.Response
	poll.Wait(30*time.Second, func() bool {
		resp, _ = uiGet(t, srv.URL+"/tenants", owner)
		return resp.StatusCode != http.StatusOK
	})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "m=expired") {
		t.Fatalf("expired token: %d %q, want 303 to login with the expiry note", resp.StatusCode, loc)
	}
	if c := resp.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("the expired session's cookie was not cleared: %v", resp.Header["Set-Cookie"])
	}
	_, body := uiGet(t, srv.URL+resp.Header.Get("Location"), nil)
	if !strings.Contains(body, "Your session has expired or was revoked.") {
		t.Errorf("login page lacks the expiry message")
	}
}

// TestUIAuditFilters: the audit page filters by tenant and by action, and a
// tenant admin sees only their tenant's events.
func TestUIAuditFilters(t *testing.T) {
	t.Parallel()
	srv := startServe(t, uiEnv(t), true)
	seedTenants(t, srv.URL)
	owner := uiLogin(t, srv.URL, "admin@casino.com", uiOwnerPassword)
	var list struct {
		Tenants []struct {
			ID   int64  `json:"id"`
			Slug string `json:"slug"`
		} `json:"tenants"`
	}
	apiCall(t, "GET", srv.URL+"/api/v1/tenants", ownerToken(t, srv.URL), nil, &list)
	ids := map[string]int64{}
	for _, tn := range list.Tenants {
		ids[tn.Slug] = tn.ID
	}
	// Tenant column values of the audit table.
	tenants := func(body string) []string {
		var out []string
		for _, row := range strings.Split(body, "<tr>")[1:] {
			cells := strings.Split(row, "<td>")
			if len(cells) > 4 {
				out = append(out, strings.TrimSpace(strings.SplitN(cells[4], "<", 2)[0]))
			}
		}
		return out
	}
	_, body := uiGet(t, fmt.Sprintf("%s/audit?tenant=%d", srv.URL, ids["acme"]), owner)
	got := tenants(body)
	if len(got) == 0 {
		t.Fatalf("no events for tenant acme\n%s", body)
	}
	for _, g := range got {
		if g != "Acme Casino" {
			t.Errorf("tenant filter acme shows an event of %q", g)
		}
	}
	_, body = uiGet(t, srv.URL+"/audit?action=tenant_admin.create", owner)
	if !strings.Contains(body, "<code>tenant_admin.create</code>") || strings.Contains(body, "<code>tenant.create</code>") {
		t.Errorf("action filter tenant_admin.create shows other actions")
	}
	admin := uiLogin(t, srv.URL, uiAdminEmail, uiAdminPassword)
	_, body = uiGet(t, srv.URL+"/audit", admin)
	if strings.Contains(body, "Bellagio") || strings.Contains(body, `id="filter-tenant"`) {
		t.Errorf("tenant admin's audit page shows another tenant or the tenant filter")
	}
	own := tenants(body)
	if len(own) == 0 {
		t.Errorf("tenant admin sees no events at all")
	}
	for _, g := range own {
		if g != "Acme Casino" {
			t.Errorf("tenant admin sees an event of tenant %q", g)
		}
	}
}
